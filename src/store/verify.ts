/**
 * Input checks shared by the backends. Every `put` streams its data through
 * `receiveBlob`, which checks size and digest as the bytes arrive, so a
 * backend only decides where verified bytes go and when they become visible.
 */
import { createSHA256 } from 'hash-wasm';
import { BlobVerifyError, type BlobInfo, type ExpectedBlob } from './content-store.js';

const DIGEST = /^sha256:([a-f0-9]{64})$/;

/**
 * `sha256:<64 lowercase hex>` → the hex. Anything else is a TypeError: a
 * caller's bug, not a bad download, and never a path the folder backend
 * should build (`sha256:../..`).
 */
export function parseDigest(digest: string): string {
  const m = DIGEST.exec(digest);
  if (!m) throw new TypeError(`malformed digest ${JSON.stringify(digest)} (expected sha256:<64 lowercase hex>)`);
  return m[1]!;
}

/**
 * Rejects a malformed digest or size before anything is read, cancelling
 * the stream: nothing it would send could be stored.
 */
export function checkExpected(expected: ExpectedBlob, data: Uint8Array | ReadableStream<Uint8Array>): void {
  try {
    parseDigest(expected.digest);
    const { size } = expected;
    if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0)) {
      throw new TypeError(`invalid size ${size} for blob ${expected.digest}`);
    }
  } catch (e) {
    if (!(data instanceof Uint8Array)) data.cancel(e).catch(() => {});
    throw e;
  }
}

/**
 * Reads `data` to the end, hashing and counting as it goes, and hands each
 * chunk to `sink` before asking for the next. Rejects with BlobVerifyError
 * on a mismatch: as soon as more bytes than `expected.size` arrive ('size'),
 * or at the end ('truncated' when short of a known size, else 'digest').
 * On any failure the stream is cancelled so its source can stop sending.
 */
export async function receiveBlob(
  expected: ExpectedBlob,
  data: Uint8Array | ReadableStream<Uint8Array>,
  sink: (chunk: Uint8Array) => void | Promise<void>,
  onProgress?: (bytes: number) => void,
): Promise<BlobInfo> {
  checkExpected(expected, data);
  const { digest, size: want } = expected;
  const hash = await createSHA256();
  hash.init();
  let size = 0;
  const take = async (chunk: Uint8Array) => {
    if (want !== undefined && size + chunk.length > want) {
      throw new BlobVerifyError(expected, 'size', `blob ${digest} is more than ${want} bytes, the expected size (got at least ${size + chunk.length})`);
    }
    hash.update(chunk);
    size += chunk.length;
    await sink(chunk);
    if (chunk.length > 0) onProgress?.(size);
  };

  if (data instanceof Uint8Array) {
    await take(data);
  } else {
    const reader = data.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        await take(value);
      }
    } catch (e) {
      // Not awaited: a source slow to cancel must not hold up the rejection.
      reader.cancel(e).catch(() => {});
      throw e;
    } finally {
      reader.releaseLock();
    }
  }
  if (size === 0) onProgress?.(0);

  if (want !== undefined && size < want) {
    throw new BlobVerifyError(expected, 'truncated', `blob ${digest} is ${size} bytes, expected ${want} (truncated download)`);
  }
  const got = `sha256:${hash.digest('hex')}`;
  if (got !== digest) {
    throw new BlobVerifyError(expected, 'digest', `blob ${digest} has digest ${got} (expected ${digest})`);
  }
  return { digest, size };
}

/**
 * `receiveBlob` into memory, for backends that store whole values. Chunks
 * are copied as they arrive (a producer may reuse its buffer); with a known
 * size straight into one buffer, which the early size check keeps in bounds.
 */
export async function receiveWhole(
  expected: ExpectedBlob,
  data: Uint8Array | ReadableStream<Uint8Array>,
  onProgress?: (bytes: number) => void,
): Promise<{ info: BlobInfo; bytes: Uint8Array }> {
  checkExpected(expected, data);
  if (expected.size !== undefined) {
    const bytes = new Uint8Array(expected.size);
    let at = 0;
    const info = await receiveBlob(expected, data, (c) => { bytes.set(c, at); at += c.length; }, onProgress);
    return { info, bytes };
  }
  const chunks: Uint8Array[] = [];
  const info = await receiveBlob(expected, data, (c) => { chunks.push(c.slice()); }, onProgress);
  const bytes = new Uint8Array(info.size);
  let at = 0;
  for (const c of chunks) { bytes.set(c, at); at += c.length; }
  return { info, bytes };
}

/** Metadata values are kept as JSON text in every backend, so all behave alike. */
export function toJson(key: string, value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`metadata ${JSON.stringify(key)}: value has no JSON form`);
  return text;
}
