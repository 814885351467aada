import { readLayerTar, safeEntryPath, UnsafeLayerError, whiteoutTarget } from './layer-unpacker.js';

/**
 * Reads a layer once before it is accepted into the store (pull, load): its
 * uncompressed sha256 must be the config's diff_id, and no entry may leave the
 * layer (`..`, absolute names, hard links out, or writes through a symlink
 * the layer itself made). The unpacker checks the same again when it writes.
 */
export async function scanLayer(blob: Uint8Array, mediaType: string, diffId: string): Promise<{ bytes: number; entries: number }> {
  const { tar, entries } = await scanEntries(blob, mediaType);
  const got = tar.diffId();
  if (got !== diffId) throw new UnsafeLayerError(`layer content has diff_id ${got}, the image config says ${diffId}`);
  return { bytes: tar.bytes(), entries };
}

/** The entry checks alone: for layers made here from a container's changes (`build`'s RUN, `commit`). */
export async function scanEntries(blob: Uint8Array, mediaType: string): Promise<{ tar: Awaited<ReturnType<typeof readLayerTar>>; entries: number }> {
  const tar = await readLayerTar(blob, mediaType);
  const symlinks = new Set<string>();
  let entries = 0;
  try {
    for await (const entry of tar.entries) {
      entries++;
      const h = entry.header;
      const rel = safeEntryPath(h.name);
      const parts = rel.split('/');
      const base = parts[parts.length - 1]!;
      if (base.startsWith('.wh.') && base !== '.wh..wh..opq') whiteoutTarget(h.name, base);
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
    throw new UnsafeLayerError(`layer is not a readable tar (${mediaType}): ${(e as Error).message}`);
  }
  return { tar, entries };
}
