import { createSHA256 } from 'hash-wasm';
import { createTarDecoder } from 'modern-tar';
import { decompressor, safeEntryPath, UnsafeLayerError } from './layer-unpacker.js';

/**
 * Reads a layer once before it is accepted into the store (pull, load): its
 * uncompressed sha256 must be the config's diff_id, and no entry may leave the
 * layer (`..`, absolute names, hard links out, or writes through a symlink
 * the layer itself made). The unpacker checks the same again when it writes.
 */
export async function scanLayer(blob: Uint8Array, mediaType: string, diffId: string): Promise<{ bytes: number; entries: number }> {
  const hasher = await createSHA256();
  hasher.init();
  let bytes = 0;
  let stream: ReadableStream<Uint8Array> = new Blob([blob as Uint8Array<ArrayBuffer>]).stream();
  const unzip = decompressor(mediaType);
  if (unzip) stream = stream.pipeThrough(unzip);
  const measured = stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, c) {
        hasher.update(chunk);
        bytes += chunk.length;
        c.enqueue(chunk);
      },
    }),
  );
  const symlinks = new Set<string>();
  let entries = 0;
  try {
    for await (const entry of measured.pipeThrough(createTarDecoder({ strict: true }))) {
      entries++;
      const h = entry.header;
      const rel = safeEntryPath(h.name);
      const parts = rel.split('/');
      for (let i = 1; i < parts.length; i++) {
        if (symlinks.has(parts.slice(0, i).join('/'))) {
          throw new UnsafeLayerError(`layer entry "${h.name}" would be written through a symlink ("${parts.slice(0, i).join('/')}"), which is refused`);
        }
      }
      if (h.type === 'symlink') symlinks.add(rel);
      else symlinks.delete(rel);
      if (h.type === 'link') safeEntryPath(h.linkname ?? '');
      await entry.body.cancel();
    }
  } catch (e) {
    if (e instanceof UnsafeLayerError) throw e;
    throw new UnsafeLayerError(`layer is not a readable tar${unzip ? ` (${mediaType})` : ''}: ${(e as Error).message}`);
  }
  // Drain whatever follows the tar's end marker so the digest covers every byte.
  const got = `sha256:${hasher.digest('hex')}`;
  if (got !== diffId) throw new UnsafeLayerError(`layer content has diff_id ${got}, the image config says ${diffId}`);
  return { bytes, entries };
}
