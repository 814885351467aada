import { readManifest } from './artifacts.js';
import { GuestVM, snapshotKey, SnapshotError, type GuestVMOptions } from './guest-vm.js';

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
  /** Why a snapshot was not used or not saved, for people. */
  notice?: string;
}

/**
 * Restores the guest from its snapshot when there is a good one; otherwise
 * boots it cold and saves a snapshot for next time. A corrupt or stale
 * snapshot is deleted and reported, never fatal.
 */
export async function startGuest(options: GuestVMOptions, store?: SnapshotStore): Promise<StartedGuest> {
  if (!store) return { vm: await GuestVM.boot(options), restored: false };
  const manifest = await readManifest(options.artifacts);
  const key = snapshotKey(manifest, options.memoryMiB ?? 256);
  let notice: string | undefined;
  const saved = await store.get(key).catch(() => undefined);
  if (saved) {
    try {
      return { vm: await GuestVM.restore({ ...options, snapshot: saved }), restored: true };
    } catch (e) {
      if (!(e instanceof SnapshotError)) throw e;
      notice = `The saved VM snapshot could not be used (${e.reason}: ${e.message}); booted fresh and saved a new one.`;
      await store.delete(key).catch(() => {});
    }
  }
  const vm = await GuestVM.boot(options);
  try {
    await store.put(key, await vm.snapshot());
  } catch (e) {
    notice = `${notice ? `${notice} ` : ''}Saving a VM snapshot failed (${(e as Error).message}); the next start boots cold again.`;
  }
  return { vm, restored: false, ...(notice ? { notice } : {}) };
}
