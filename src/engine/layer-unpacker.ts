import { Decompress } from 'fzstd';
import { createSHA256 } from 'hash-wasm';
import { createTarDecoder, type ParsedTarEntry } from 'modern-tar';
import { GuestFsError, type GuestFs } from '../vm/guest-fs.js';
import { MediaType } from '../oci/types.js';
import { sha256Hex } from '../oci/digest.js';

/** Where unpacked layers live in the 9p tree (the guest mounts the tree at /berth). */
export const LAYERS_DIR = '/layers';

export class UnsafeLayerError extends Error {
  override readonly name = 'UnsafeLayerError';
}

/**
 * The name a whiteout entry (`.wh.NAME`) hides. `.wh.` alone, `.wh..` and
 * `.wh...` would hide the directory itself or its parent, which in the 9p
 * tree is every unpacked layer: refused, as a file a container may name so
 * (a RUN step's `touch .wh...`) must not delete other images' trees.
 */
export function whiteoutTarget(entryName: string, base: string): string {
  const target = base.slice(4);
  if (target === '' || target === '.' || target === '..' || target.includes('/')) {
    throw new UnsafeLayerError(`layer entry "${entryName}" is a whiteout of "${target}", which is refused`);
  }
  return target;
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

/**
 * The 9p path of a layer's unpacked tree. Keyed by the layer's chain ID (the
 * layer and everything below it, as containerd keys snapshots): an opaque
 * directory is turned into whiteouts for what the layers below hold, so the
 * tree depends on them. Images that share base layers share their trees.
 */
export function layerPath(chainId: string): string {
  return `${LAYERS_DIR}/${chainId.replace(/^sha256:/, '')}`;
}

/** OCI chain IDs of a stack of diff_ids, bottom first. */
export async function chainIds(diffIds: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev ? `sha256:${await sha256Hex(new TextEncoder().encode(`${prev} ${d}`))}` : d);
  }
  return out;
}

function zstdStream(): TransformStream<Uint8Array, Uint8Array> {
  let out: TransformStreamDefaultController<Uint8Array>;
  const d = new Decompress((chunk) => out.enqueue(chunk));
  return new TransformStream({
    start(c) {
      out = c;
    },
    transform(chunk) {
      d.push(chunk);
    },
    flush() {
      d.push(new Uint8Array(0), true);
    },
  });
}

function decompressor(mediaType: string): TransformStream<Uint8Array, Uint8Array> | undefined {
  if (mediaType.endsWith('gzip')) return new DecompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>;
  if (mediaType.endsWith('zstd')) return zstdStream();
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
  opts: {
    mediaType: string;
    diffId: string;
    /** Defaults to the diff_id: a bottom layer. */
    chainId?: string;
    /** The unpacked trees of the layers below, top first. */
    lowerPaths?: string[];
    onProgress?: (bytes: number) => void;
  },
): Promise<UnpackResult & { path: string; reused: boolean }> {
  const final = layerPath(opts.chainId ?? opts.diffId);
  if (fs.exists(final)) return { path: final, reused: true, diffId: opts.diffId, bytes: 0, entries: 0, opaqueDirs: [], warnings: [] };
  fs.mkdirp(LAYERS_DIR);
  const tmp = `${LAYERS_DIR}/.partial-${opts.diffId.replace(/^sha256:/, '').slice(0, 16)}-${Math.random().toString(36).slice(2, 8)}`;
  fs.mkdirp(tmp);
  try {
    const result = await unpackInto(fs, tmp, blob, opts);
    if (result.diffId !== opts.diffId) {
      throw new UnsafeLayerError(`layer content has diff_id ${result.diffId}, the image config says ${opts.diffId}`);
    }
    for (const dir of result.opaqueDirs) await hideLowerEntries(fs, tmp, dir, opts.lowerPaths ?? []);
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

/**
 * A layer blob as tar entries, decompressed per its media type, with the
 * sha256 and size of the uncompressed stream (its diff_id) once read through.
 */
export async function readLayerTar(
  blob: Uint8Array | ReadableStream<Uint8Array>,
  mediaType: string,
  onProgress?: (bytes: number) => void,
): Promise<{ entries: ReadableStream<ParsedTarEntry>; diffId: () => string; bytes: () => number }> {
  const hasher = await createSHA256();
  hasher.init();
  let bytes = 0;
  const measure = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      hasher.update(chunk);
      bytes += chunk.length;
      onProgress?.(bytes);
      controller.enqueue(chunk);
    },
  });
  let stream: ReadableStream<Uint8Array> = blob instanceof Uint8Array ? new Blob([blob as Uint8Array<ArrayBuffer>]).stream() : blob;
  const unzip = decompressor(mediaType);
  if (unzip) stream = stream.pipeThrough(unzip);
  return {
    entries: stream.pipeThrough(measure).pipeThrough(createTarDecoder({ strict: true })),
    diffId: () => `sha256:${hasher.digest('hex')}`,
    bytes: () => bytes,
  };
}

async function unpackInto(
  fs: GuestFs,
  root: string,
  blob: Uint8Array | ReadableStream<Uint8Array>,
  opts: { mediaType: string; onProgress?: (bytes: number) => void },
): Promise<UnpackResult> {
  const tar = await readLayerTar(blob, opts.mediaType, opts.onProgress);
  const entries = tar.entries;

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
          const hidden = `${root}/${dir ? `${dir}/` : ''}${whiteoutTarget(h.name, base)}`;
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
  return { diffId: tar.diffId(), bytes: tar.bytes(), entries: count, opaqueDirs, warnings };
}

/**
 * Overlayfs marks an opaque directory with an xattr, which 9p cannot store.
 * The same effect: a whiteout in this layer for every name the layers below
 * show in that directory and this layer does not have.
 */
async function hideLowerEntries(fs: GuestFs, root: string, dir: string, lowersTopFirst: string[]): Promise<void> {
  const here = dir ? `${root}/${dir}` : root;
  const own = new Set(fs.exists(here) ? fs.list(here) : []);
  const decided = new Set<string>();
  for (const lower of lowersTopFirst) {
    const st = fs.stat(dir ? `${lower}/${dir}` : lower);
    if (!st) continue;
    if ((st.mode & 0o170000) !== 0o040000) break; // a file or whiteout hides everything further down
    for (const name of fs.list(dir ? `${lower}/${dir}` : lower)) {
      if (decided.has(name)) continue;
      decided.add(name);
      const entry = fs.stat(`${lower}/${dir ? `${dir}/` : ''}${name}`)!;
      const isWhiteout = (entry.mode & 0o170000) === 0o020000 && entry.major === 0 && entry.minor === 0;
      if (!isWhiteout && !own.has(name)) fs.mknodChar(`${here}/${name}`, 0, 0);
    }
  }
}
