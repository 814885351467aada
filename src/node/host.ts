import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { constants as zlibConstants, crc32, deflateRaw, deflateRawSync } from 'node:zlib';
import { ImageService } from '../engine/image-service.js';
import { RegistryClient, type Credentials } from '../oci/registry-client.js';
import { FolderContentStore, FolderMetadataStore } from '../store/folder/folder-store.js';

const CHUNK = 1 << 20;
const SAMPLE = 64 << 10;
const deflateRawAsync = promisify(deflateRaw);

/** Whether deflate would gain little on a chunk: its first 64 KiB shrink by less than 5% at level 1. */
function incompressible(chunk: Uint8Array): boolean {
  const sample = chunk.subarray(0, SAMPLE);
  return deflateRawSync(sample, { level: 1 }).length > sample.length * 0.95;
}

/**
 * gzip for layers made here (builds, commits), by zlib in libuv's thread
 * pool: the data in 1 MiB chunks, each deflated on its own (in parallel)
 * and ended with a sync flush, so the blocks join into one deflate stream;
 * a chunk deflate cannot shrink (binaries, compressed files) is stored
 * instead (level 0), where deflating would run at ~30 MB/s here for nothing.
 * One gzip member (RFC 1952), the same bytes for the same input.
 */
export async function zlibGzip(data: Uint8Array): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += CHUNK) chunks.push(data.subarray(off, off + CHUNK));
  const blocks = await Promise.all(
    chunks.map((c) => deflateRawAsync(c, { level: incompressible(c) ? 0 : zlibConstants.Z_DEFAULT_COMPRESSION, finishFlush: zlibConstants.Z_SYNC_FLUSH })),
  );
  const header = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]); // no name, mtime 0, OS unknown (as Go's gzip writes)
  const finalBlock = Buffer.from([0x03, 0x00]); // an empty last block (fixed Huffman)
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data), 0);
  trailer.writeUInt32LE(data.length % 2 ** 32, 4);
  const all = Buffer.concat([header, ...blocks, finalBlock, trailer]);
  return new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
}

/** Where Berth keeps its state in Node: `$BERTH_CACHE`, default ~/.cache/berth. */
export function cacheDir(): string {
  return process.env['BERTH_CACHE'] ?? join(homedir(), '.cache', 'berth');
}

/** The image store folder: `$BERTH_STORE`, default <cache>/store. */
export function storeDir(): string {
  return process.env['BERTH_STORE'] ?? join(cacheDir(), 'store');
}

/**
 * Registry mirrors from `BERTH_REGISTRY_MIRRORS`, a comma-separated list of
 * `HOST=URL` (`docker.io=http://127.0.0.1:5000`).
 */
export function registryMirrors(env = process.env['BERTH_REGISTRY_MIRRORS']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of (env ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`BERTH_REGISTRY_MIRRORS: "${item}" is not HOST=URL`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

export interface ImageServiceOptions {
  dir?: string;
  mirrors?: Record<string, string>;
  credentials?: (host: string) => Credentials | undefined;
}

/** The image store in a folder, with a registry client for pulls. */
export function openImageService(opts: ImageServiceOptions = {}): ImageService {
  const dir = opts.dir ?? storeDir();
  const registry = new RegistryClient({
    mirrors: opts.mirrors ?? registryMirrors(),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
  });
  return new ImageService(new FolderContentStore(dir), new FolderMetadataStore(dir), registry, zlibGzip);
}
