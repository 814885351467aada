import { createSHA256 } from 'hash-wasm';

export class DigestMismatchError extends Error {
  override readonly name = 'DigestMismatchError';
}

export async function sha256Hex(data: Uint8Array): Promise<string> {
  const h = await createSHA256();
  h.init();
  h.update(data);
  return h.digest('hex');
}

/** `sha256:<hex>` → `<hex>`; rejects other algorithms and malformed digests. */
export function digestHex(digest: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) throw new DigestMismatchError(`unsupported or malformed digest "${digest}" (only sha256 is supported)`);
  return m[1]!;
}

/** Checks a whole blob against its descriptor's digest and size. */
export async function verifyBlob(desc: { digest: string; size?: number }, data: Uint8Array, what = 'blob'): Promise<void> {
  const want = digestHex(desc.digest);
  if (desc.size !== undefined && desc.size !== data.length) {
    throw new DigestMismatchError(`${what} ${desc.digest}: expected ${desc.size} bytes, got ${data.length}`);
  }
  const got = await sha256Hex(data);
  if (got !== want) throw new DigestMismatchError(`${what} ${desc.digest}: content has digest sha256:${got}`);
}
