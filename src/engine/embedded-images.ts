import { readManifest, type ArtifactSource } from '../vm/artifacts.js';
import type { ImageService } from './image-service.js';

/** Images shipped with the guest artifacts (public/guest/images/NAME), so they run offline. */
export const EMBEDDED_IMAGES: Record<string, string> = {
  busybox: 'docker.io/library/busybox:latest',
};

/**
 * Puts the embedded images into the store unless their tag already names an
 * image (a pulled `busybox:latest` wins over the embedded one).
 */
export async function importEmbeddedImages(images: ImageService, source: ArtifactSource): Promise<void> {
  let manifest: Awaited<ReturnType<typeof readManifest>> | undefined;
  for (const [dir, ref] of Object.entries(EMBEDDED_IMAGES)) {
    if (await images.find(ref)) continue;
    manifest ??= await readManifest(source);
    const artifacts = manifest.artifacts;
    // By hash where the manifest lists the file (the page's offline cache holds them so).
    const sha256 = (p: string) => artifacts[`images/${dir}/${p}`]?.sha256;
    await images.importLayout({ read: (p) => source.read(`images/${dir}/${p}`, sha256(p) ? { sha256: sha256(p)! } : {}) }, [ref]);
  }
}
