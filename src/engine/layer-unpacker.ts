import { createSHA256 } from 'hash-wasm';
import { createTarDecoder } from 'modern-tar';
import { GuestFsError, type GuestFs } from '../vm/guest-fs.js';
import { MediaType } from '../oci/types.js';

/** Where unpacked layers live in the 9p tree (the guest mounts the tree at /berth). */
export const LAYERS_DIR = '/layers';

export class UnsafeLayerError extends Error {
  override readonly name = 'UnsafeLayerError';
}

export interface UnpackResult {
  /** sha256 of the uncompressed tar: the layer's diff_id. */
  diffId: string;
  /** Bytes of uncompressed tar data. */
  bytes: number;
  entries: number;
  /** Directories the layer marks opaque (`.wh..wh..opq`). */
  opaqueDirs: string[];
  /** Entries skipped (device nodes and the like), with the reason. */
  warnings: string[];
}

/** The 9p path of a layer's unpacked tree, keyed by its diff_id. */
export function layerPath(diffId: string): string {
  return `${LAYERS_DIR}/${diffId.replace(/^sha256:/, '')}`;
}

function decompressor(mediaType: string): TransformStream<Uint8Array, Uint8Array> | undefined {
  if (mediaType.endsWith('gzip')) return new DecompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>;
  if (mediaType === MediaType.OciLayer || mediaType.endsWith('.tar')) return undefined;
  throw new UnsafeLayerError(`unsupported layer media type ${mediaType}`);
}

/**
 * Cleans a tar entry name to a relative path inside the layer. Refuses
 * absolute names and `..` components: a layer may only write below its root.
 */
export function safeEntryPath(name: string): string {
  if (name.startsWith('/')) throw new UnsafeLayerError(`layer entry "${name}" has an absolute path`);
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') throw new UnsafeLayerError(`layer entry "${name}" leaves the layer through ".."`);
    parts.push(p);
  }
  return parts.join('/');
}

/**
 * Unpacks one layer blob into the 9p tree at /layers/<diff_id>, once. The
 * tree is built in a hidden folder and renamed into place only when complete
 * and its diff_id checked, so no half-unpacked layer is ever visible.
 * OCI whiteouts become overlayfs whiteouts (char device 0:0).
 */
export async function unpackLayer(
  fs: GuestFs,
  blob: Uint8Array | ReadableStream<Uint8Array>,
  opts: { mediaType: string; diffId: string; onProgress?: (bytes: number) => void },
): Promise<UnpackResult & { path: string; reused: boolean }> {
  const final = layerPath(opts.diffId);
  if (fs.exists(final)) return { path: final, reused: true, diffId: opts.diffId, bytes: 0, entries: 0, opaqueDirs: [], warnings: [] };
  fs.mkdirp(LAYERS_DIR);
  const tmp = `${LAYERS_DIR}/.partial-${opts.diffId.replace(/^sha256:/, '').slice(0, 16)}-${Math.random().toString(36).slice(2, 8)}`;
  fs.mkdirp(tmp);
  try {
    const result = await unpackInto(fs, tmp, blob, opts);
    if (result.diffId !== opts.diffId) {
      throw new UnsafeLayerError(`layer content has diff_id ${result.diffId}, the image config says ${opts.diffId}`);
    }
    if (fs.exists(final)) {
      await fs.remove(tmp); // unpacked concurrently by someone else
      return { ...result, path: final, reused: true };
    }
    await fs.rename(tmp, final);
    return { ...result, path: final, reused: false };
  } catch (e) {
    await fs.remove(tmp);
    throw e;
  }
}

async function unpackInto(
  fs: GuestFs,
  root: string,
  blob: Uint8Array | ReadableStream<Uint8Array>,
  opts: { mediaType: string; onProgress?: (bytes: number) => void },
): Promise<UnpackResult> {
  const hasher = await createSHA256();
  hasher.init();
  let bytes = 0;
  const measure = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      hasher.update(chunk);
      bytes += chunk.length;
      opts.onProgress?.(bytes);
      controller.enqueue(chunk);
    },
  });
  let stream: ReadableStream<Uint8Array> = blob instanceof Uint8Array ? new Blob([blob as Uint8Array<ArrayBuffer>]).stream() : blob;
  const unzip = decompressor(opts.mediaType);
  if (unzip) stream = stream.pipeThrough(unzip);
  const entries = stream.pipeThrough(measure).pipeThrough(createTarDecoder({ strict: true }));

  const opaqueDirs: string[] = [];
  const warnings: string[] = [];
  const dirMeta: Array<[string, { mode: number; uid: number; gid: number; mtime: number }]> = [];
  let count = 0;
  for await (const entry of entries) {
    count++;
    const h = entry.header;
    const rel = safeEntryPath(h.name);
    const path = rel ? `${root}/${rel}` : root;
    const meta = {
      mode: h.mode ?? (h.type === 'directory' ? 0o755 : 0o644),
      uid: h.uid ?? 0,
      gid: h.gid ?? 0,
      mtime: h.mtime ? Math.floor(h.mtime.getTime() / 1000) : 0,
    };
    const slash = rel.lastIndexOf('/');
    const dir = slash === -1 ? '' : rel.slice(0, slash);
    const base = rel.slice(slash + 1);
    try {
      if (rel) fs.mkdirp(dir ? `${root}/${dir}` : root);
      if (base.startsWith('.wh.')) {
        if (base === '.wh..wh..opq') opaqueDirs.push(dir);
        else {
          const hidden = `${root}/${dir ? `${dir}/` : ''}${base.slice(4)}`;
          await fs.remove(hidden);
          fs.mknodChar(hidden, 0, 0);
        }
        await entry.body.cancel();
        continue;
      }
      switch (h.type ?? 'file') {
        case 'directory':
          if (rel) {
            const st = fs.stat(path);
            if (st && (st.mode & 0o170000) !== 0o040000) await fs.remove(path);
            fs.mkdirp(path);
          }
          dirMeta.push([path, meta]);
          await entry.body.cancel();
          break;
        case 'file': {
          const data = new Uint8Array(await new Response(entry.body).arrayBuffer());
          await fs.writeFile(path, data, meta);
          break;
        }
        case 'symlink':
          await entry.body.cancel();
          await fs.remove(path);
          fs.symlink(path, h.linkname ?? '', meta);
          break;
        case 'link': {
          await entry.body.cancel();
          const target = safeEntryPath(h.linkname ?? '');
          if (!target) throw new UnsafeLayerError(`hard link "${h.name}" has no target`);
          await fs.remove(path);
          fs.link(`${root}/${target}`, path);
          break;
        }
        default:
          await entry.body.cancel();
          warnings.push(`skipped ${h.type} "${h.name}": device nodes and fifos are not unpacked`);
      }
    } catch (e) {
      if (e instanceof GuestFsError && e.code === 'ENOTDIR') {
        throw new UnsafeLayerError(`layer entry "${h.name}" would be written through a symlink or file ("${dir}"), which is refused`);
      }
      throw e;
    }
  }
  // Directory metadata last: creating children must not be blocked by a read-only mode.
  for (const [path, meta] of dirMeta) fs.setMeta(path, meta);
  return { diffId: `sha256:${hasher.digest('hex')}`, bytes, entries: count, opaqueDirs, warnings };
}
