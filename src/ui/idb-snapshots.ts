import { createStore, del, get, keys, set } from 'idb-keyval';
import { readManifest, UrlArtifactSource } from '../vm/artifacts.js';
import { DEFAULT_MEMORY_MIB, snapshotKey } from '../vm/snapshot-key.js';
import type { SnapshotStore } from '../vm/start-guest.js';

/** A stored snapshot read ahead of boot, with the key it was found under. */
export interface PrefetchedSnapshot {
  key: string;
  data: Uint8Array;
}

/** VM snapshots in IndexedDB (a database of their own: they are large and replaced whole). */
export class IdbSnapshotStore implements SnapshotStore {
  private readonly store = createStore('berth-snapshots', 'snapshots');

  /** `prefetched`: what the page already read for this guest (see prefetchSnapshot), handed out once. */
  constructor(private prefetched?: PrefetchedSnapshot) {}

  get(key: string): Promise<Uint8Array | undefined> {
    const ahead = this.prefetched;
    this.prefetched = undefined;
    if (ahead?.key === key) return Promise.resolve(ahead.data);
    return get<Uint8Array>(key, this.store);
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    await set(key, data, this.store);
    for (const k of await keys(this.store)) if (k !== key) await del(k, this.store);
  }

  delete(key: string): Promise<void> {
    return del(key, this.store);
  }
}

/**
 * The page reads the guest's snapshot while the engine's worker is still
 * loading (~0.1 s each; one after the other before), then hands it over.
 * Undefined when there is none or it cannot be read: the worker looks again.
 */
export async function prefetchSnapshot(guestUrl: string): Promise<PrefetchedSnapshot | undefined> {
  try {
    const key = snapshotKey(await readManifest(new UrlArtifactSource(guestUrl)), DEFAULT_MEMORY_MIB);
    const data = await new IdbSnapshotStore().get(key);
    return data ? { key, data } : undefined;
  } catch {
    return undefined;
  }
}
