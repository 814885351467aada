import { readArtifact, readManifest, type ArtifactSource } from '../vm/artifacts.js';
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
    const listed = (manifest ??= await readManifest(source));
    // By hash, as the manifest lists them (the page's offline cache holds them so).
    await images.importLayout({ read: (p) => readArtifact(source, `images/${dir}/${p}`, listed) }, [ref]);
  }
}
