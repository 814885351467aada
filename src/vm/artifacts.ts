/**
 * The guest artifacts that `npm run build:guest` writes to public/guest/, and
 * the narrow contract for reading them: a folder in Node, a URL in the browser.
 */
import { concat } from './bytes.js';

export interface GuestManifest {
  /** Hash over all artifacts; snapshots and caches key on it. */
  id: string;
  arch: 'i386';
  packages: Record<string, string>;
  artifacts: Record<string, { sha256: string; size: number }>;
}

export interface ArtifactSource {
  /** Where the artifacts come from, for messages. */
  readonly location: string;
  /**
   * Reads one artifact by its path relative to the guest folder; rejects with
   * ArtifactMissingError when it is not there, or another error when it cannot
   * be read (a network failure, say).
   */
  read(path: string, options?: ReadOptions): Promise<Uint8Array>;
}

export interface ReadOptions {
  /** The manifest's hash of the artifact: a source may serve its bytes from a cache (they cannot change). */
  sha256?: string;
  /** Bytes of it received so far, as they arrive (a download's progress). */
  onBytes?: (received: number) => void;
}

export const GUEST_BUILD_COMMAND = 'npm run build:guest';

export class GuestNotBuiltError extends Error {
  override readonly name = 'GuestNotBuiltError';
  constructor(location: string, missing: string) {
    super(`The guest is not built: ${missing} is missing in ${location}. Build it with \`${GUEST_BUILD_COMMAND}\` (about 5 minutes the first time).`);
  }
}

/** The source has no such artifact (a 404, ENOENT): the guest is not built, or not all of it. */
export class ArtifactMissingError extends Error {
  override readonly name = 'ArtifactMissingError';
}

/** Missing: the error that names the build command; anything else: what failed, and where. */
function readFailure(source: ArtifactSource, path: string, e: unknown): Error {
  if (e instanceof ArtifactMissingError) return new GuestNotBuiltError(source.location, path);
  return new Error(`${path} could not be read from ${source.location}: ${e instanceof Error ? e.message : String(e)}`);
}

export async function readManifest(source: ArtifactSource): Promise<GuestManifest> {
  let bytes: Uint8Array;
  try {
    bytes = await source.read('manifest.json');
  } catch (e) {
    throw readFailure(source, 'manifest.json', e);
  }
  const manifest = JSON.parse(new TextDecoder().decode(bytes)) as GuestManifest;
  for (const name of ['bzImage', 'initramfs.img', 'system.img', 'bios.bin']) {
    if (!manifest.artifacts?.[name]) throw new GuestNotBuiltError(source.location, name);
  }
  return manifest;
}

/**
 * Reads an artifact the manifest lists (by its hash, so a cache may answer),
 * turning a missing file into the error that names the build command.
 */
export async function readArtifact(source: ArtifactSource, path: string, manifest?: GuestManifest, onBytes?: (received: number) => void): Promise<Uint8Array> {
  const sha256 = manifest?.artifacts[path]?.sha256;
  try {
    return await source.read(path, { ...(sha256 && { sha256 }), ...(onBytes && { onBytes }) });
  } catch (e) {
    throw readFailure(source, path, e);
  }
}

/**
 * Artifacts served over HTTP (the page, or any static host). An artifact
 * read by its hash is asked for as `<path>?v=<sha256>`: static hosts ignore
 * the query, and the page's service worker answers such URLs from its cache
 * (public/sw.js). `manifest`: the manifest's bytes when the caller has just
 * read them (the page hands them to its worker), else fetched once.
 */
export class UrlArtifactSource implements ArtifactSource {
  private manifest: Promise<Uint8Array> | undefined;

  constructor(
    readonly location: string,
    options: { manifest?: Uint8Array } = {},
  ) {
    if (options.manifest) this.manifest = Promise.resolve(options.manifest);
  }

  read(path: string, options: ReadOptions = {}): Promise<Uint8Array> {
    if (path !== 'manifest.json') return this.fetch(path, options);
    if (!this.manifest) {
      const read = this.fetch(path, {});
      read.catch(() => this.manifest === read && (this.manifest = undefined)); // a failed read is tried again
      this.manifest = read;
    }
    return this.manifest;
  }

  private async fetch(path: string, { sha256, onBytes }: ReadOptions): Promise<Uint8Array> {
    const url = new URL(path, this.location.endsWith('/') ? this.location : `${this.location}/`);
    if (sha256) url.searchParams.set('v', sha256);
    const res = await fetch(url);
    if (res.status === 404) throw new ArtifactMissingError(`GET ${url}: 404`);
    if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${res.statusText}`);
    if (!onBytes || !res.body) return new Uint8Array(await res.arrayBuffer());
    const parts: Uint8Array[] = [];
    let received = 0;
    const reader = res.body.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      parts.push(r.value);
      onBytes((received += r.value.length));
    }
    return concat(parts);
  }
}
