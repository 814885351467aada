/**
 * What a stored snapshot is: one header line (JSON, below) and v86's state,
 * zstd-compressed. v86 reads a zstd state itself, in its wasm, while it
 * restores; compressed, the state is ~5 MB instead of ~15 MB, so the page
 * reads a third of the bytes from IndexedDB (Chromium restore ~20–40 ms
 * quicker; Node ~20 ms slower, still ~0.1 s). No v86 here: the page
 * compresses in a worker of its own that loads only this.
 */

/**
 * 2: the guest has a network card (snapshots without one cannot be restored into an emulator with one).
 * 3: 256 KiB of VGA memory instead of 2 MiB (v86 stores it whole in every state; the guest has no screen).
 * 4: the system image's bytes are not in the state (host-files.ts); the artifact supplies them.
 */
export const SNAPSHOT_FORMAT = 4;

export interface SnapshotHeader {
  format: number;
  /** snapshotKey(): guest artifacts, v86 version, memory size. */
  key: string;
  agent: { consumed: number; hello: Array<[string, string]> };
  /** stateCheck() of the state bytes as stored: catches a damaged file before v86 reads it. */
  check: number;
}

/** zstd level: 3 (its default) gave 4.8 MB in ~70 ms (Node), level 1 5.2 MB in ~55 ms. */
const ZSTD_LEVEL = 3;

/**
 * A fast checksum of the emulator state (~15 ms for 40 MB): each 32-bit word
 * goes through a bijective mix, so any single changed word changes the result.
 * Guards against damaged storage, not against tampering.
 */
export function stateCheck(bytes: Uint8Array): number {
  if (bytes.byteOffset % 4) bytes = bytes.slice();
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) {
    h = Math.imul(h ^ words[i]!, 0x9e3779b1);
    h ^= h >>> 15;
  }
  for (let i = words.length << 2; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x9e3779b1);
  return h >>> 0;
}

/** The header line and the state as one buffer; the header's check is computed here. */
export function joinSnapshot(header: Omit<SnapshotHeader, 'check'>, state: Uint8Array): Uint8Array {
  const head = new TextEncoder().encode(`${JSON.stringify({ ...header, check: stateCheck(state) })}\n`);
  const whole = new Uint8Array(head.length + state.length);
  whole.set(head);
  whole.set(state, head.length);
  return whole;
}

/** The header (undefined when unreadable) and a view of the state. */
export function splitSnapshot(whole: Uint8Array): { header: SnapshotHeader | undefined; state: Uint8Array } {
  const nl = whole.indexOf(10);
  let header: SnapshotHeader | undefined;
  try {
    header = nl > 0 ? (JSON.parse(new TextDecoder().decode(whole.subarray(0, nl))) as SnapshotHeader) : undefined;
  } catch {
    header = undefined;
  }
  return { header, state: whole.subarray(nl + 1) };
}

let zstd: Promise<typeof import('@bokuweb/zstd-wasm')> | undefined;

/**
 * A captured snapshot (GuestVM.captureSnapshot) with its state
 * zstd-compressed: what is stored. The compressor (~250 KB of wasm) is
 * loaded at the first call; its heap then stays as large as the largest
 * state it took (~35 MB), which is why the page calls this in a short-lived
 * worker (src/ui/snapshot-compressor.ts).
 */
export async function compressSnapshot(raw: Uint8Array): Promise<Uint8Array> {
  const { header, state } = splitSnapshot(raw);
  if (!header) throw new Error('not a captured snapshot (no header)');
  zstd ??= import('@bokuweb/zstd-wasm').then(async (z) => (await z.init(), z));
  zstd.catch(() => (zstd = undefined));
  const compressed = (await zstd).compress(state, ZSTD_LEVEL);
  return joinSnapshot(header, compressed);
}
