import type { ArtifactSource } from '../vm/artifacts.js';
import { readLayoutImage } from '../oci/layout.js';
import type { ImageRecord } from './image-store.js';

/** Images shipped with the guest artifacts (public/guest/images/NAME), so they run offline. */
export const EMBEDDED_IMAGES: Record<string, string> = {
  busybox: 'docker.io/library/busybox:latest',
};

export async function loadEmbeddedImages(source: ArtifactSource): Promise<ImageRecord[]> {
  const out: ImageRecord[] = [];
  for (const [dir, ref] of Object.entries(EMBEDDED_IMAGES)) {
    const image = await readLayoutImage({ read: (p) => source.read(`images/${dir}/${p}`) });
    out.push({
      id: image.configDigest,
      manifestDigest: image.manifestDigest,
      references: [ref],
      config: image.config,
      layers: image.manifest.layers.map((descriptor, i) => ({ descriptor, diffId: image.config.rootfs.diff_ids[i]! })),
      readLayer: image.readLayer,
      size: image.manifest.layers.reduce((n, l) => n + l.size, 0),
    });
  }
  return out;
}
