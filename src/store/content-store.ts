/**
 * The content store: blobs addressed by their sha256 digest, nothing more.
 * References, tags, reference counts and garbage collection live above it
 * (src/engine/image-service.ts), as containerd keeps them in its metadata
 * layer. Backends: `memory/`, `folder/` (Node), `indexeddb/` (browser); every
 * one passes the shared suite in `testsuite.ts`.
 *
 * Lifecycle of a blob: `put` streams it in and checks size and digest while it
 * arrives; only a blob that matched becomes visible to `has`/`get`. A failed
 * or interrupted `put` leaves the store exactly as it was.
 */

export interface BlobInfo {
  /** `sha256:<64 hex>` */
  digest: string;
  size: number;
}

export interface ExpectedBlob {
  digest: string;
  /** When given, a blob of another size is refused. */
  size?: number;
}

/**
 * Reading role: what helpers that only look take. Every method taking a
 * digest rejects a malformed one (not `sha256:<64 lowercase hex>`) with a
 * TypeError: a caller's bug, unlike a BlobVerifyError.
 */
export interface BlobReader {
  has(digest: string): Promise<boolean>;
  /** The whole blob, or undefined when absent. */
  get(digest: string): Promise<Uint8Array | undefined>;
  info(digest: string): Promise<BlobInfo | undefined>;
  /** Sorted by digest. */
  list(): Promise<BlobInfo[]>;
}

/** Writing role. */
export interface BlobWriter {
  /**
   * Stores a blob, verifying it as it streams. Rejects with BlobVerifyError
   * (digest or size mismatch, truncated stream) and stores nothing then.
   * Storing a blob that is already present is a cheap no-op (data is drained
   * and verified all the same, so a wrong blob is still refused).
   */
  put(expected: ExpectedBlob, data: Uint8Array | ReadableStream<Uint8Array>, onProgress?: (bytes: number) => void): Promise<BlobInfo>;
}

/** Deleting role. */
export interface BlobDeleter {
  /** Removes a blob; false when it was not there. */
  delete(digest: string): Promise<boolean>;
}

export interface ContentStore extends BlobReader, BlobWriter, BlobDeleter {}

/**
 * Small JSON documents by key (image records, tags, credentials): the
 * metadata layer's storage. Writes of one key are atomic.
 */
export interface MetadataStore {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
  /** Keys starting with `prefix`, sorted. */
  keys(prefix?: string): Promise<string[]>;
}

/** A blob did not match what was expected of it. */
export class BlobVerifyError extends Error {
  override readonly name = 'BlobVerifyError';
  constructor(
    readonly expected: ExpectedBlob,
    readonly reason: 'digest' | 'size' | 'truncated',
    message: string,
  ) {
    super(message);
  }
}
