import { sha256Hex } from '../../oci/digest.js';
import { MediaType } from '../../oci/types.js';
import type { ImageService, StoredImage } from '../image-service.js';

/** A layer as an image record lists it. */
export type LayerEntry = StoredImage['layers'][number];

/** Whether an uncompressed tar holds no entry (only its end blocks, or nothing). */
export function isEmptyTar(tar: Uint8Array): boolean {
  for (let i = 0; i < Math.min(tar.length, 512); i++) if (tar[i] !== 0) return false;
  return true;
}

/**
 * Stores a layer made here (a COPY, a RUN step's changes, `commit`): the tar's
 * sha256 is its diff_id, its gzip the blob. The caller holds `lease` (from
 * ImageService.lease) on nothing yet: the returned release keeps the blob
 * until an image or the build cache refers to it.
 */
export async function writeLayer(images: ImageService, tar: Uint8Array): Promise<{ layer: LayerEntry; release: () => void }> {
  // The host's gzip may run off this thread: hash meanwhile.
  const [diffHex, blob] = await Promise.all([sha256Hex(tar), images.gzip(tar)]);
  const diffId = `sha256:${diffHex}`;
  const digest = `sha256:${await sha256Hex(blob)}`;
  const release = await images.lease([digest]);
  try {
    await images.storeBlob(blob, MediaType.OciLayerGzip, digest);
  } catch (e) {
    release();
    throw e;
  }
  return { layer: { digest, size: blob.length, mediaType: MediaType.OciLayerGzip, diffId }, release };
}
