import { createStore, del, get, keys, set } from 'idb-keyval';
import type { SnapshotStore } from '../vm/start-guest.js';

/** VM snapshots in IndexedDB (a database of their own: they are large and replaced whole). */
export class IdbSnapshotStore implements SnapshotStore {
  private readonly store = createStore('berth-snapshots', 'snapshots');

  get(key: string): Promise<Uint8Array | undefined> {
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
