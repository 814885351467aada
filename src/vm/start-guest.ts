import { readManifest } from './artifacts.js';
import { GuestVM, SnapshotError, type GuestVMOptions } from './guest-vm.js';
import { compressSnapshot } from './snapshot-format.js';
import { DEFAULT_MEMORY_MIB, snapshotKey } from './snapshot-key.js';

/** Where snapshots are kept: a folder in Node, IndexedDB in the browser. */
export interface SnapshotStore {
  get(key: string): Promise<Uint8Array | undefined>;
  /** Stores the snapshot for `key` and drops any other (they belong to older guests). */
  put(key: string, data: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface StartedGuest {
  vm: GuestVM;
  restored: boolean;
  /** Why a snapshot was not used, for people. */
  notice?: string;
  /** Settles when a new snapshot is stored (compression and storage go on after the guest is ready). */
  saved: Promise<void>;
}

/**
 * Restores the guest from its snapshot when there is a good one; otherwise
 * boots it cold and saves a snapshot for next time. A corrupt or stale
 * snapshot is deleted and reported, never fatal.
 */
export async function startGuest(
  options: GuestVMOptions,
  store?: SnapshotStore,
  /** Turns a captured snapshot into what is stored (the page does it in a worker of its own). */
  compress: (raw: Uint8Array) => Promise<Uint8Array> = compressSnapshot,
): Promise<StartedGuest> {
  if (!store) return { vm: await GuestVM.boot(options), restored: false, saved: Promise.resolve() };
  const manifest = await readManifest(options.artifacts);
  const key = snapshotKey(manifest, options.memoryMiB ?? DEFAULT_MEMORY_MIB);
  let notice: string | undefined;
  const existing = await store.get(key).catch(() => undefined);
  if (existing) {
    try {
      return { vm: await GuestVM.restore({ ...options, snapshot: existing }), restored: true, saved: Promise.resolve() };
    } catch (e) {
      if (!(e instanceof SnapshotError)) throw e;
      notice = `The saved VM snapshot could not be used (${e.reason}: ${e.message}); booted fresh and saved a new one.`;
      await store.delete(key).catch(() => {});
    }
  }
  const vm = await GuestVM.boot(options);
  // Capture now, while the guest is idle (a fraction of a second); compress and store in the
  // background, after the caller has the guest.
  let saved: Promise<void>;
  try {
    const raw = await vm.captureSnapshot();
    saved = new Promise((resolve) => setTimeout(resolve, 0)).then(async () => store.put(key, await compress(raw)));
  } catch (e) {
    saved = Promise.reject(e as Error);
  }
  saved = saved.catch((e: Error) => {
    throw new Error(`Saving a VM snapshot failed (${e.message}); the next start boots cold again.`);
  });
  saved.catch(() => {});
  return { vm, restored: false, saved, ...(notice ? { notice } : {}) };
}
