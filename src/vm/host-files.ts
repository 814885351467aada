/**
 * Files of the guest's 9p tree whose bytes the host keeps, outside v86's
 * state. v86 holds a file's bytes either in its state (saved whole into every
 * snapshot) or, for an inode marked "on storage", in its file storage keyed by
 * the inode's sha256, read when the guest reads. The guest's system image is
 * such a file: the host has it as an artifact anyway, so a snapshot leaves
 * its 9 MB out and a restored guest reads it from the artifact again.
 */

/** v86's inode status for "the bytes are in the file storage" (lib/filesystem.js STATUS_ON_STORAGE). */
export const STATUS_ON_STORAGE = 2;

/** v86's file storage interface (src/browser/filestorage.js). */
export interface V86FileStorage {
  read(sha256: string, offset: number, count: number, size: number): Promise<Uint8Array | null>;
  cache(sha256: string, data: Uint8Array): Promise<void>;
  uncache(sha256: string): void;
}

/**
 * Stands in for v86's file storage: files registered here are read from the
 * host's bytes (which may still be loading: a read waits for them); anything
 * else goes to v86's own storage.
 */
export class HostFileStorage implements V86FileStorage {
  private readonly files = new Map<string, () => Promise<Uint8Array>>();

  constructor(private readonly fallback: V86FileStorage) {}

  /**
   * `load` is called once, at the first read or load() of the file, whichever
   * comes first. `onError`: the bytes could not be had (the guest's read of
   * them would wait forever).
   */
  add(sha256: string, load: () => Promise<Uint8Array>, onError: (e: Error) => void): void {
    let loaded: Promise<Uint8Array> | undefined;
    this.files.set(sha256, () => {
      if (!loaded) {
        loaded = load();
        loaded.catch(onError);
      }
      return loaded;
    });
  }

  /** Starts loading a file ahead of the guest's first read of it. */
  load(sha256: string): void {
    this.files.get(sha256)?.().catch(() => {});
  }

  async read(sha256: string, offset: number, count: number, size: number): Promise<Uint8Array | null> {
    const file = this.files.get(sha256);
    if (!file) return this.fallback.read(sha256, offset, count, size);
    // Bytes that cannot be had stop the guest (onError); the read stays unanswered rather than
    // rejecting into v86's 9p server, which does not catch (an unhandled rejection in the worker).
    const data = await file().catch(() => new Promise<never>(() => {}));
    return data.subarray(offset, offset + count);
  }

  cache(sha256: string, data: Uint8Array): Promise<void> {
    return this.fallback.cache(sha256, data);
  }

  /** v86 drops a file's cached bytes when the guest closes it; ours stay for the next open. */
  uncache(sha256: string): void {
    if (!this.files.has(sha256)) this.fallback.uncache(sha256);
  }
}
