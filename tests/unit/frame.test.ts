import { describe, expect, it } from 'vitest';
import { decodeTags, encodeFrame, encodeTags, FrameParser, type FrameFault } from '../../src/vm/frame.js';
import { crc32 } from '../../src/vm/crc32.js';
import { MsgType, type Frame } from '../../src/vm/protocol.js';

function collect() {
  const frames: Frame[] = [];
  const faults: FrameFault[] = [];
  const parser = new FrameParser((f) => frames.push(f), (f) => faults.push(f));
  return { frames, faults, parser };
}

describe('crc32', () => {
  it('matches the IEEE check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });
});

describe('FrameParser', () => {
  it('round-trips frames split at every byte boundary', () => {
    const a = encodeFrame(MsgType.STDOUT, 7, new TextEncoder().encode('hello'));
    const b = encodeFrame(MsgType.EXIT, 7, new Uint8Array(8));
    const all = new Uint8Array([...a, ...b]);
    for (let cut = 0; cut <= all.length; cut++) {
      const { frames, faults, parser } = collect();
      parser.push(all.subarray(0, cut));
      parser.push(all.subarray(cut));
      expect(frames.map((f) => [f.type, f.id, f.payload.length])).toEqual([
        [MsgType.STDOUT, 7, 5],
        [MsgType.EXIT, 7, 8],
      ]);
      expect(faults).toEqual([]);
    }
  });

  it('skips garbage before a frame and reports it', () => {
    const { frames, faults, parser } = collect();
    parser.push(new Uint8Array([1, 2, 3, 0x42, 9]));
    parser.push(encodeFrame(MsgType.PONG, 3));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.id).toBe(3);
    expect(faults.some((f) => f.reason === 'garbage')).toBe(true);
  });

  it('recovers the valid frame a truncated frame swallowed', () => {
    const { frames, faults, parser } = collect();
    const truncated = encodeFrame(MsgType.STDOUT, 1, new Uint8Array(40)).subarray(0, 30);
    parser.push(truncated);
    parser.push(encodeFrame(MsgType.PONG, 2, new Uint8Array(30)));
    parser.push(encodeFrame(MsgType.PONG, 3));
    expect(frames.map((f) => f.id)).toEqual([2, 3]);
    expect(faults.some((f) => f.reason === 'bad-crc')).toBe(true);
  });

  it('rejects a corrupted payload and an oversized length', () => {
    const { frames, faults, parser } = collect();
    const bad = encodeFrame(MsgType.STDOUT, 1, new Uint8Array([1, 2, 3]));
    bad[17] = bad[17]! ^ 0xff;
    parser.push(bad);
    const huge = encodeFrame(MsgType.STDOUT, 1);
    new DataView(huge.buffer).setUint32(8, 1 << 30, true);
    parser.push(huge);
    parser.push(encodeFrame(MsgType.PONG, 9));
    expect(frames.map((f) => f.id)).toEqual([9]);
    expect(faults.map((f) => f.reason)).toContain('bad-header');
  });

  it('refuses to encode a payload over the limit', () => {
    expect(() => encodeFrame(MsgType.STDIN, 1, new Uint8Array(65537))).toThrow(/exceeds/);
  });
});

describe('tagged strings', () => {
  it('round-trip and reject NUL in values', () => {
    const tags: Array<[string, string]> = [['a', 'sh'], ['a', '-c'], ['e', 'A=b=c'], ['n', '']];
    expect(decodeTags(encodeTags(tags))).toEqual(tags);
    expect(() => encodeTags([['a', 'x\0y']])).toThrow(/NUL/);
  });
});
