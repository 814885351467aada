/**
 * The one suite every backend passes (as containerd's content/testsuite): a
 * backend's test file only says how to make a fresh, empty store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/oci/digest.js';
import { BlobVerifyError, type ContentStore, type ExpectedBlob, type MetadataStore } from '../../src/store/content-store.js';

export interface ContentStoreFixture {
  store: ContentStore;
  cleanup?: () => Promise<void>;
  /** What failed puts may have left behind (temp files); checked to be empty. */
  residue?: () => Promise<string[]>;
}

export interface MetadataStoreFixture {
  store: MetadataStore;
  cleanup?: () => Promise<void>;
}

/** Deterministic bytes, different for each seed. */
function bytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 17 + (i >> 8)) & 0xff;
  return out;
}

async function describeBlob(data: Uint8Array): Promise<Required<ExpectedBlob>> {
  return { digest: `sha256:${await sha256Hex(data)}`, size: data.length };
}

/**
 * A stream handing out `data` in `chunk`-byte pieces, one per pull, then
 * either closing or erroring (`fail`). `pulls` counts what was asked for.
 */
function streamOf(data: Uint8Array, chunk: number, fail?: Error) {
  const state = { pulls: 0, cancelled: false };
  let at = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        state.pulls++;
        if (at < data.length) {
          controller.enqueue(data.slice(at, at + chunk));
          at += chunk;
        } else if (fail) controller.error(fail);
        else controller.close();
      },
      cancel() {
        state.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
}

async function verifyError(p: Promise<unknown>): Promise<BlobVerifyError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(BlobVerifyError);
  return e as BlobVerifyError;
}

const EMPTY = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const MALFORMED = [
  '',
  'sha256:abc',
  `sha256:${'A'.repeat(64)}`,
  `sha512:${'a'.repeat(128)}`,
  `md5:${'a'.repeat(32)}`,
  `sha256:${'a'.repeat(64)}\n`,
  `sha256:../../${'a'.repeat(58)}`,
  'a'.repeat(64),
];

export function contentStoreSuite(name: string, make: () => Promise<ContentStoreFixture>): void {
  describe(`content store: ${name}`, () => {
    let fx: ContentStoreFixture;
    let store: ContentStore;
    beforeEach(async () => {
      fx = await make();
      store = fx.store;
    });
    afterEach(async () => {
      await fx.cleanup?.();
    });

    /** Nothing visible, nothing left behind. */
    async function expectUntouched(before: unknown, ...digests: string[]) {
      expect(await store.list()).toEqual(before);
      for (const d of digests) {
        expect(await store.has(d)).toBe(false);
        expect(await store.get(d)).toBeUndefined();
      }
      expect((await fx.residue?.()) ?? []).toEqual([]);
    }

    it('stores a blob given as a Uint8Array', async () => {
      const data = bytes(1000);
      const want = await describeBlob(data);
      expect(await store.has(want.digest)).toBe(false);
      expect(await store.put(want, data)).toEqual(want);
      expect(await store.has(want.digest)).toBe(true);
      expect(await store.get(want.digest)).toEqual(data);
      expect(await store.info(want.digest)).toEqual(want);
      expect(await store.list()).toEqual([want]);
    });

    it('stores a blob streamed in many chunks', async () => {
      const data = bytes(100_000, 2);
      const want = await describeBlob(data);
      const { stream } = streamOf(data, 997);
      expect(await store.put(want, stream)).toEqual(want);
      expect(await store.get(want.digest)).toEqual(data);
    });

    it('stores a blob without a known size', async () => {
      const data = bytes(5000, 3);
      const { digest } = await describeBlob(data);
      expect(await store.put({ digest }, streamOf(data, 600).stream)).toEqual({ digest, size: 5000 });
      expect(await store.get(digest)).toEqual(data);
    });

    it('keeps its own copy', async () => {
      const data = bytes(100);
      const want = await describeBlob(data);
      await store.put(want, data);
      data[0]! ^= 0xff;
      const got = await store.get(want.digest);
      got![1]! ^= 0xff;
      expect(await store.get(want.digest)).toEqual(bytes(100));
    });

    it('lists every blob, sorted by digest', async () => {
      const wants = await Promise.all([1, 2, 3, 4].map((s) => describeBlob(bytes(10 * s, s))));
      for (const [i, w] of wants.entries()) await store.put(w, bytes(10 * (i + 1), i + 1));
      expect(await store.list()).toEqual([...wants].sort((a, b) => a.digest.localeCompare(b.digest)));
    });

    it('reports progress, rising to the size', async () => {
      const data = bytes(50_000, 4);
      const want = await describeBlob(data);
      const seen: number[] = [];
      await store.put(want, streamOf(data, 4096).stream, (n) => seen.push(n));
      expect(seen.length).toBeGreaterThanOrEqual(Math.ceil(50_000 / 4096));
      for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]!);
      expect(seen.at(-1)).toBe(50_000);
    });

    it('stores the empty blob', async () => {
      const seen: number[] = [];
      expect(await store.put({ digest: EMPTY, size: 0 }, new Uint8Array(0), (n) => seen.push(n))).toEqual({ digest: EMPTY, size: 0 });
      expect(seen).toEqual([0]);
      expect(await store.get(EMPTY)).toEqual(new Uint8Array(0));
      expect(await store.put({ digest: EMPTY }, streamOf(new Uint8Array(0), 1).stream)).toEqual({ digest: EMPTY, size: 0 });
      expect(await store.list()).toEqual([{ digest: EMPTY, size: 0 }]);
    });

    it('refuses a wrong digest and stores nothing', async () => {
      const kept = await describeBlob(bytes(10, 9));
      await store.put(kept, bytes(10, 9));
      const before = await store.list();
      const data = bytes(300, 5);
      const actual = await describeBlob(data);
      const claimed = await describeBlob(bytes(300, 6));
      const e = await verifyError(store.put(claimed, streamOf(data, 64).stream));
      expect(e.reason).toBe('digest');
      expect(e.expected).toEqual(claimed);
      expect(e.message).toBe(`blob ${claimed.digest} has digest ${actual.digest} (expected ${claimed.digest})`);
      await expectUntouched(before, claimed.digest, actual.digest);
    });

    it('refuses an oversized blob early, without reading it to the end', async () => {
      const data = bytes(100, 7);
      const want = await describeBlob(data);
      const long = new Uint8Array(10_000);
      long.set(data);
      const { stream, state } = streamOf(long, 10);
      const e = await verifyError(store.put(want, stream));
      expect(e.reason).toBe('size');
      expect(e.message).toMatch(/more than 100 bytes/);
      expect(state.pulls).toBeLessThan(20);
      expect(state.cancelled).toBe(true);
      await expectUntouched([], want.digest);
      expect((await verifyError(store.put(want, long))).reason).toBe('size');
    });

    it('refuses a truncated blob', async () => {
      const data = bytes(100, 8);
      const want = await describeBlob(data);
      const e = await verifyError(store.put(want, streamOf(data.slice(0, 60), 16).stream));
      expect(e.reason).toBe('truncated');
      expect(e.message).toBe(`blob ${want.digest} is 60 bytes, expected 100 (truncated download)`);
      await expectUntouched([], want.digest);
      // Without a size, a short blob is simply the wrong one.
      expect((await verifyError(store.put({ digest: want.digest }, data.slice(0, 60)))).reason).toBe('digest');
    });

    it('passes on a stream’s error and stores nothing', async () => {
      const data = bytes(1000, 10);
      const want = await describeBlob(data);
      const { stream } = streamOf(data.slice(0, 400), 100, new Error('connection reset'));
      await expect(store.put(want, stream)).rejects.toThrow('connection reset');
      await expectUntouched([], want.digest);
    });

    it('accepts a blob it already has, and still refuses a wrong one', async () => {
      const data = bytes(500, 11);
      const want = await describeBlob(data);
      await store.put(want, data);
      const seen: number[] = [];
      expect(await store.put(want, streamOf(data, 100).stream, (n) => seen.push(n))).toEqual(want);
      expect(seen.at(-1)).toBe(500);
      expect((await verifyError(store.put(want, bytes(500, 12)))).reason).toBe('digest');
      await expect(store.put(want, streamOf(data.slice(0, 200), 100, new Error('reset')).stream)).rejects.toThrow('reset');
      expect(await store.get(want.digest)).toEqual(data);
      expect(await store.list()).toEqual([want]);
      expect((await fx.residue?.()) ?? []).toEqual([]);
    });

    it('stores one copy when the same blob is put twice at once', async () => {
      const data = bytes(20_000, 13);
      const want = await describeBlob(data);
      const results = await Promise.all([store.put(want, streamOf(data, 1000).stream), store.put(want, data)]);
      expect(results).toEqual([want, want]);
      expect(await store.list()).toEqual([want]);
      expect(await store.get(want.digest)).toEqual(data);
    });

    it('deletes', async () => {
      const data = bytes(42, 14);
      const want = await describeBlob(data);
      expect(await store.delete(want.digest)).toBe(false);
      await store.put(want, data);
      expect(await store.delete(want.digest)).toBe(true);
      expect(await store.delete(want.digest)).toBe(false);
      expect(await store.has(want.digest)).toBe(false);
      expect(await store.get(want.digest)).toBeUndefined();
      expect(await store.info(want.digest)).toBeUndefined();
      expect(await store.list()).toEqual([]);
      // Gone means gone: it can come back only through put.
      await store.put(want, data);
      expect(await store.get(want.digest)).toEqual(data);
    });

    it.each(MALFORMED)('rejects the malformed digest %j before reading', async (digest) => {
      const { stream, state } = streamOf(bytes(10), 5);
      await expect(store.put({ digest }, stream)).rejects.toThrow(/malformed digest/);
      expect(state.pulls).toBe(0);
      await expect(store.put({ digest }, bytes(10))).rejects.toThrow(TypeError);
      await expect(store.has(digest)).rejects.toThrow(/malformed digest/);
      await expect(store.get(digest)).rejects.toThrow(/malformed digest/);
      await expect(store.info(digest)).rejects.toThrow(/malformed digest/);
      await expect(store.delete(digest)).rejects.toThrow(/malformed digest/);
      expect(await store.list()).toEqual([]);
    });

    it.each([-1, 1.5, Number.NaN])('rejects the size %s before reading', async (size) => {
      const { stream, state } = streamOf(bytes(10), 5);
      await expect(store.put({ digest: EMPTY, size }, stream)).rejects.toThrow(/invalid size/);
      expect(state.pulls).toBe(0);
    });
  });
}

export function metadataStoreSuite(name: string, make: () => Promise<MetadataStoreFixture>): void {
  describe(`metadata store: ${name}`, () => {
    let fx: MetadataStoreFixture;
    let store: MetadataStore;
    beforeEach(async () => {
      fx = await make();
      store = fx.store;
    });
    afterEach(async () => {
      await fx.cleanup?.();
    });

    it('gets what was set, and undefined for the rest', async () => {
      expect(await store.get('a')).toBeUndefined();
      await store.set('a', { n: 1 });
      expect(await store.get('a')).toEqual({ n: 1 });
      expect(await store.get('b')).toBeUndefined();
    });

    it('overwrites', async () => {
      await store.set('k', { v: 1, gone: true });
      await store.set('k', { v: 2 });
      expect(await store.get('k')).toEqual({ v: 2 });
      expect(await store.keys()).toEqual(['k']);
    });

    it('round-trips nested JSON, and hands out copies', async () => {
      const doc = { name: 'x', n: 1.5, ok: false, none: null, list: [1, 'two', { three: [3] }], deep: { a: { b: { c: 'é✓' } } } };
      await store.set('doc', doc);
      const got = await store.get<typeof doc>('doc');
      expect(got).toEqual(doc);
      got!.deep.a.b.c = 'changed';
      expect(await store.get('doc')).toEqual(doc);
      for (const v of ['text', 42, true, null, []]) {
        await store.set('scalar', v);
        expect(await store.get('scalar')).toEqual(v);
      }
    });

    it('stores values as JSON: dates become strings, undefined fields vanish', async () => {
      await store.set('j', { at: new Date(0), skip: undefined });
      expect(await store.get('j')).toEqual({ at: '1970-01-01T00:00:00.000Z' });
      await expect(store.set('u', undefined)).rejects.toThrow(TypeError);
      expect(await store.keys()).toEqual(['j']);
    });

    it('deletes, quietly when absent', async () => {
      await store.set('a', 1);
      await store.delete('a');
      await store.delete('a');
      await store.delete('never');
      expect(await store.get('a')).toBeUndefined();
      expect(await store.keys()).toEqual([]);
    });

    it('lists keys by prefix, sorted', async () => {
      for (const k of ['tag/b', 'image/z', 'tag/a', 'image/a', 'tags', 'tag/c/d']) await store.set(k, k);
      expect(await store.keys()).toEqual(['image/a', 'image/z', 'tag/a', 'tag/b', 'tag/c/d', 'tags']);
      expect(await store.keys('tag/')).toEqual(['tag/a', 'tag/b', 'tag/c/d']);
      expect(await store.keys('tag')).toEqual(['tag/a', 'tag/b', 'tag/c/d', 'tags']);
      expect(await store.keys('nothing')).toEqual([]);
    });

    it('keeps awkward keys apart', async () => {
      const keys = [
        'image/docker.io/library/busybox:latest',
        `image/localhost:5000/a/b@sha256:${'a'.repeat(64)}`,
        'tag/Latest',
        'tag/latest',
        '100%',
        'a b?c*d"e<f>g|h\\i',
        '..',
        '.',
        'ünïcødé/✓',
      ];
      for (const k of keys) await store.set(k, { k });
      expect(await store.keys()).toEqual([...keys].sort());
      for (const k of keys) expect(await store.get(k)).toEqual({ k });
      expect(await store.keys('image/localhost:5000/')).toEqual([keys[1]]);
    });

    it('leaves one whole value when a key is written concurrently', async () => {
      const values = Array.from({ length: 8 }, (_, i) => ({ i, pad: 'x'.repeat(10_000 * i) }));
      await Promise.all(values.map((v) => store.set('race', v)));
      expect(values).toContainEqual(await store.get('race'));
      expect(await store.keys()).toEqual(['race']);
    });
  });
}
