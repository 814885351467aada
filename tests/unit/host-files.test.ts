import { describe, expect, it } from 'vitest';
import { HostFileStorage, type V86FileStorage } from '../../src/vm/host-files.js';

/** v86's MemoryFileStorage, as far as HostFileStorage uses it. */
function memoryStorage(): V86FileStorage & { files: Map<string, Uint8Array>; uncached: string[] } {
  const files = new Map<string, Uint8Array>();
  const uncached: string[] = [];
  return {
    files,
    uncached,
    read: async (sha, offset, count) => files.get(sha)?.subarray(offset, offset + count) ?? null,
    cache: async (sha, data) => void files.set(sha, data),
    uncache: (sha) => void uncached.push(sha),
  };
}

describe('HostFileStorage', () => {
  it('loads a file once, at its first read or load(), and serves ranges of it', async () => {
    let loads = 0;
    const storage = new HostFileStorage(memoryStorage());
    storage.add('img', async () => (loads++, new Uint8Array([10, 11, 12, 13, 14])), () => {});
    expect(loads).toBe(0);
    storage.load('img');
    storage.load('img');
    expect(loads).toBe(1);
    expect([...(await storage.read('img', 1, 3, 5))!]).toEqual([11, 12, 13]);
    expect([...(await storage.read('img', 4, 10, 5))!]).toEqual([14]);
    expect(loads).toBe(1);
  });

  it('keeps its files when v86 drops a closed file, and passes other files to v86’s storage', async () => {
    const inner = memoryStorage();
    const storage = new HostFileStorage(inner);
    storage.add('img', async () => new Uint8Array([1]), () => {});
    await storage.cache('other', new Uint8Array([7, 8]));
    storage.uncache('img');
    storage.uncache('other');
    expect(inner.uncached).toEqual(['other']);
    expect([...(await storage.read('img', 0, 1, 1))!]).toEqual([1]);
    expect([...(await storage.read('other', 1, 1, 2))!]).toEqual([8]);
  });

  it('reports bytes that cannot be had, and leaves the read unanswered instead of rejecting into v86', async () => {
    const errors: string[] = [];
    const storage = new HostFileStorage(memoryStorage());
    storage.add('img', () => Promise.reject(new Error('offline')), (e) => errors.push(e.message));
    const read = storage.read('img', 0, 1, 1);
    const settled = await Promise.race([read.then(() => 'settled', () => 'rejected'), new Promise((r) => setTimeout(() => r('pending'), 50))]);
    expect(settled).toBe('pending');
    expect(errors).toEqual(['offline']);
  });
});
