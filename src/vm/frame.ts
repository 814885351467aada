import { concat } from './bytes.js';
import { crc32 } from './crc32.js';
import { HEADER_SIZE, MAGIC0, MAGIC1, MAX_PAYLOAD, MsgType, type Frame } from './protocol.js';

const KNOWN_TYPES = new Set<number>(Object.values(MsgType));

export function encodeFrame(type: MsgType, id: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (payload.length > MAX_PAYLOAD) throw new RangeError(`frame payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD}`);
  const out = new Uint8Array(HEADER_SIZE + payload.length);
  const view = new DataView(out.buffer);
  out[0] = MAGIC0;
  out[1] = MAGIC1;
  out[2] = type;
  out[3] = 0;
  view.setUint32(4, id >>> 0, true);
  view.setUint32(8, payload.length, true);
  out.set(payload, HEADER_SIZE);
  view.setUint32(12, crc32(out.subarray(0, 12), payload), true);
  return out;
}

/** What the parser reports besides frames: bytes it had to skip and why. */
export interface FrameFault {
  reason: 'garbage' | 'bad-header' | 'bad-crc';
  skipped: number;
}

/**
 * Incremental frame parser with resynchronisation: bytes that do not start a
 * valid frame are skipped up to the next magic; a frame whose CRC fails is
 * skipped one byte past its magic, so a valid frame it swallowed is found.
 */
export class FrameParser {
  private buf = new Uint8Array(64 * 1024);
  private start = 0;
  private end = 0;

  constructor(
    private readonly onFrame: (frame: Frame) => void,
    private readonly onFault: (fault: FrameFault) => void = () => {},
  ) {}

  push(data: Uint8Array): void {
    this.append(data);
    this.parse();
  }

  /** Bytes held for a frame not yet complete. */
  get pending(): number {
    return this.end - this.start;
  }

  private append(data: Uint8Array): void {
    if (this.end + data.length > this.buf.length) {
      const live = this.end - this.start;
      if (live + data.length > this.buf.length) {
        const next = new Uint8Array(Math.max(live + data.length, this.buf.length * 2));
        next.set(this.buf.subarray(this.start, this.end), 0);
        this.buf = next;
      } else {
        this.buf.copyWithin(0, this.start, this.end);
      }
      this.start = 0;
      this.end = live;
    }
    this.buf.set(data, this.end);
    this.end += data.length;
  }

  private parse(): void {
    const b = this.buf;
    while (this.end - this.start >= 2) {
      const s = this.start;
      if (b[s] !== MAGIC0 || b[s + 1] !== MAGIC1) {
        let next = s + 1;
        while (next < this.end && !(b[next] === MAGIC0 && (next + 1 >= this.end || b[next + 1] === MAGIC1))) next++;
        this.onFault({ reason: 'garbage', skipped: next - s });
        this.start = next;
        continue;
      }
      if (this.end - s < HEADER_SIZE) return;
      const view = new DataView(b.buffer, b.byteOffset + s, HEADER_SIZE);
      const type = b[s + 2]!;
      const len = view.getUint32(8, true);
      if (len > MAX_PAYLOAD || !KNOWN_TYPES.has(type) || b[s + 3] !== 0) {
        this.onFault({ reason: 'bad-header', skipped: 1 });
        this.start = s + 1;
        continue;
      }
      if (this.end - s < HEADER_SIZE + len) return;
      const payload = b.slice(s + HEADER_SIZE, s + HEADER_SIZE + len);
      if (crc32(b.subarray(s, s + 12), payload) !== view.getUint32(12, true)) {
        this.onFault({ reason: 'bad-crc', skipped: 1 });
        this.start = s + 1;
        continue;
      }
      this.start = s + HEADER_SIZE + len;
      this.onFrame({ type: type as MsgType, id: view.getUint32(4, true), payload });
    }
    if (this.start === this.end) this.start = this.end = 0;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a tagged string list: each item is a one-letter tag and its value, NUL-terminated. */
export function encodeTags(items: ReadonlyArray<readonly [string, string]>): Uint8Array {
  const parts = items.map(([tag, value]) => {
    if (tag.length !== 1) throw new RangeError(`tag must be one character: ${tag}`);
    if (value.includes('\0')) throw new RangeError(`value for tag ${tag} contains a NUL byte`);
    return encoder.encode(`${tag}${value}\0`);
  });
  return concat(parts);
}

export function decodeTags(payload: Uint8Array): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const item of decoder.decode(payload).split('\0')) {
    if (item.length > 0) out.push([item[0]!, item.slice(1)]);
  }
  return out;
}

export function tagValue(tags: Array<[string, string]>, tag: string): string | undefined {
  return tags.find(([t]) => t === tag)?.[1];
}
