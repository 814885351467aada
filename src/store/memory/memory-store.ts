/**
 * In-memory backends: for tests and for short-lived engines that keep
 * nothing. Blobs are copied in and out, so callers cannot alter what is stored.
 */
import type { BlobInfo, ContentStore, ExpectedBlob, MetadataStore } from '../content-store.js';
import { checkExpected, parseDigest, receiveBlob, receiveWhole, toJson } from '../verify.js';

export class MemoryContentStore implements ContentStore {
  readonly #blobs = new Map<string, Uint8Array>();

  async has(digest: string): Promise<boolean> {
    parseDigest(digest);
    return this.#blobs.has(digest);
  }

  async get(digest: string): Promise<Uint8Array | undefined> {
    parseDigest(digest);
    return this.#blobs.get(digest)?.slice();
  }

  async info(digest: string): Promise<BlobInfo | undefined> {
    parseDigest(digest);
    const blob = this.#blobs.get(digest);
    return blob && { digest, size: blob.length };
  }

  async list(): Promise<BlobInfo[]> {
    return [...this.#blobs.keys()].sort().map((digest) => ({ digest, size: this.#blobs.get(digest)!.length }));
  }

  async put(expected: ExpectedBlob, data: Uint8Array | ReadableStream<Uint8Array>, onProgress?: (bytes: number) => void): Promise<BlobInfo> {
    checkExpected(expected, data);
    if (this.#blobs.has(expected.digest)) return receiveBlob(expected, data, () => {}, onProgress);
    const { info, bytes } = await receiveWhole(expected, data, onProgress);
    this.#blobs.set(info.digest, bytes);
    return info;
  }

  async delete(digest: string): Promise<boolean> {
    parseDigest(digest);
    return this.#blobs.delete(digest);
  }
}

export class MemoryMetadataStore implements MetadataStore {
  readonly #docs = new Map<string, string>();

  async get<T>(key: string): Promise<T | undefined> {
    const text = this.#docs.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  async set(key: string, value: unknown): Promise<void> {
    this.#docs.set(key, toJson(key, value));
  }

  async delete(key: string): Promise<void> {
    this.#docs.delete(key);
  }

  async keys(prefix = ''): Promise<string[]> {
    return [...this.#docs.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
}
