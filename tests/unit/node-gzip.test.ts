import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { zlibGzip } from '../../src/node/host.js';

/** The Node host's gzip for built layers: chunks deflated apart (or stored) and joined into one gzip member. */
const random = (n: number) => {
  const d = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(d.subarray(i, i + 65536));
  return d;
};
const text = (n: number) => new TextEncoder().encode('hello layer\n'.repeat(Math.ceil(n / 12))).subarray(0, n);
const webGunzip = async (g: Uint8Array) => new Uint8Array(await new Response(new Blob([g as BlobPart]).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());

describe('zlibGzip', () => {
  it.each([
    ['empty', new Uint8Array(0)],
    ['a few bytes', new Uint8Array([1, 2, 3])],
    ['text across chunks', text(3 * 1024 * 1024 + 17)],
    ['random, then text', new Uint8Array([...random(2 * 1024 * 1024), ...text(1024 * 1024 + 5)])],
  ])('%s: zlib and DecompressionStream read it back; the same input gives the same bytes', async (_, data) => {
    const g = await zlibGzip(data);
    expect(Buffer.compare(gunzipSync(g), Buffer.from(data))).toBe(0);
    expect(Buffer.compare(Buffer.from(await webGunzip(g)), Buffer.from(data))).toBe(0);
    expect(Buffer.compare(Buffer.from(await zlibGzip(data)), Buffer.from(g))).toBe(0);
  });

  it('stores what deflate cannot shrink and deflates what it can', async () => {
    const r = random(2 * 1024 * 1024);
    expect((await zlibGzip(r)).length).toBeLessThan(r.length * 1.01);
    expect((await zlibGzip(text(2 * 1024 * 1024))).length).toBeLessThan(100_000);
  });
});
