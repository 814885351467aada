import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { ImageService } from '../engine/image-service.js';
import { RegistryClient, type Credentials } from '../oci/registry-client.js';
import { FolderContentStore, FolderMetadataStore } from '../store/folder/folder-store.js';

const gzipAsync = promisify(gzip);

/** Layers made here (builds, commits) are gzipped by zlib in libuv's thread pool. */
async function zlibGzip(data: Uint8Array): Promise<Uint8Array> {
  const out = await gzipAsync(data);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
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
