/**
 * Node backends on a directory, laid out like containerd's local store:
 *
 *   <dir>/blobs/sha256/<hex>     verified blobs, never written in place
 *   <dir>/meta/<key>.json        metadata documents, key percent-encoded
 *   <dir>/tmp/                   writes in progress
 *
 * Every write goes to a fresh file in tmp/ and is renamed into place once
 * complete (and, for blobs, verified), so readers see the whole file or none.
 * A process killed mid-write can leave a file in tmp/, never a partial blob.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobInfo, ContentStore, ExpectedBlob, MetadataStore } from '../content-store.js';
import { checkExpected, parseDigest, receiveBlob, toJson } from '../verify.js';

export class FolderContentStore implements ContentStore {
  readonly #blobs: string;
  readonly #tmp: string;
  #ready: Promise<unknown> | undefined;

  constructor(readonly dir: string) {
    this.#blobs = join(dir, 'blobs', 'sha256');
    this.#tmp = join(dir, 'tmp');
  }

  #path(digest: string): string {
    return join(this.#blobs, parseDigest(digest));
  }

  async has(digest: string): Promise<boolean> {
    return (await this.info(digest)) !== undefined;
  }

  async get(digest: string): Promise<Uint8Array | undefined> {
    const buf = await ifExists(readFile(this.#path(digest)));
    // A plain Uint8Array, as the other backends return: Buffer's slice() shares memory.
    return buf && new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  async info(digest: string): Promise<BlobInfo | undefined> {
    const st = await ifExists(stat(this.#path(digest)));
    return st && { digest, size: st.size };
  }

  async list(): Promise<BlobInfo[]> {
    const names = (await ifExists(readdir(this.#blobs))) ?? [];
    const infos = await Promise.all(
      names.filter((n) => /^[a-f0-9]{64}$/.test(n)).sort().map((n) => this.info(`sha256:${n}`)),
    );
    return infos.filter((i) => i !== undefined);
  }

  async put(expected: ExpectedBlob, data: Uint8Array | ReadableStream<Uint8Array>, onProgress?: (bytes: number) => void): Promise<BlobInfo> {
    checkExpected(expected, data);
    if (await this.has(expected.digest)) return receiveBlob(expected, data, () => {}, onProgress);
    this.#ready ??= Promise.all([mkdir(this.#blobs, { recursive: true }), mkdir(this.#tmp, { recursive: true })]);
    await this.#ready;

    const tmp = join(this.#tmp, `${randomUUID()}.blob`);
    const file = await open(tmp, 'wx');
    try {
      let info: BlobInfo;
      try {
        info = await receiveBlob(expected, data, async (chunk) => {
          for (let at = 0; at < chunk.length; ) at += (await file.write(chunk, at)).bytesWritten;
        }, onProgress);
        // Durable before visible: a crash after the rename must not leave a short blob.
        await file.sync();
      } finally {
        await file.close();
      }
      // Two puts of one blob may race here; rename replaces atomically and both copies are identical.
      await rename(tmp, this.#path(info.digest));
      return info;
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async delete(digest: string): Promise<boolean> {
    return (await ifExists(unlink(this.#path(digest)).then(() => true))) ?? false;
  }
}

export class FolderMetadataStore implements MetadataStore {
  readonly #meta: string;
  readonly #tmp: string;
  #ready: Promise<unknown> | undefined;

  constructor(readonly dir: string) {
    this.#meta = join(dir, 'meta');
    this.#tmp = join(dir, 'tmp');
  }

  async get<T>(key: string): Promise<T | undefined> {
    const text = await ifExists(readFile(join(this.#meta, fileName(key)), 'utf8'));
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  async set(key: string, value: unknown): Promise<void> {
    const text = toJson(key, value);
    this.#ready ??= Promise.all([mkdir(this.#meta, { recursive: true }), mkdir(this.#tmp, { recursive: true })]);
    await this.#ready;
    const tmp = join(this.#tmp, `${randomUUID()}.json`);
    try {
      // The user's only (0600): logins (`auth/<host>`) hold a password, as Docker's config.json does.
      await writeFile(tmp, text, { flag: 'wx', mode: 0o600 });
      await rename(tmp, join(this.#meta, fileName(key)));
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(join(this.#meta, fileName(key)), { force: true });
  }

  async keys(prefix = ''): Promise<string[]> {
    const names = (await ifExists(readdir(this.#meta))) ?? [];
    return names
      .filter((n) => n.endsWith('.json'))
      .map((n) => decodeURIComponent(n.slice(0, -'.json'.length)))
      .filter((k) => k.startsWith(prefix))
      .sort();
  }
}

/**
 * Keys hold `/` and `:` (`image/docker.io/library/busybox:latest`). Every
 * byte outside [a-z0-9._-] is percent-encoded, upper case included, so keys
 * differing only in case stay apart on case-insensitive file systems (macOS,
 * Windows) and no name is reserved anywhere.
 */
function fileName(key: string): string {
  let out = '';
  for (const b of new TextEncoder().encode(key)) {
    const c = String.fromCharCode(b);
    out += /[a-z0-9._-]/.test(c) ? c : `%${b.toString(16).padStart(2, '0')}`;
  }
  return `${out}.json`;
}

/** The result, or undefined when the file is not there. */
async function ifExists<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}
