import { createStore, del, get, keys, set } from 'idb-keyval';
import { UrlArtifactSource } from '../vm/artifacts.js';
import type { SnapshotStore } from '../vm/start-guest.js';

/** A stored snapshot read ahead of boot, with the key it was found under. */
export interface PrefetchedSnapshot {
  key: string;
  data: Uint8Array;
}

/** VM snapshots in IndexedDB (a database of their own: they are large and replaced whole). */
export class IdbSnapshotStore implements SnapshotStore {
  private readonly store = createStore('berth-snapshots', 'snapshots');

  /** `prefetched`: what the page already read for this guest (see prefetchForBoot), handed out once. */
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

  /** The one stored snapshot with its key; undefined when there is none, or several (an interrupted put). */
  async only(): Promise<PrefetchedSnapshot | undefined> {
    const stored = await keys<string>(this.store);
    if (stored.length !== 1) return undefined;
    const data = await get<Uint8Array>(stored[0]!, this.store);
    return data ? { key: stored[0]!, data } : undefined;
  }
}

/** What the page reads for its worker before boot (each undefined when there is none or it cannot be read). */
export interface BootPrefetch {
  /** The stored snapshot. */
  snapshot?: PrefetchedSnapshot;
  /** The guest manifest's bytes, so the worker need not fetch them again. */
  manifest?: Uint8Array;
}

/**
 * The page reads the stored snapshot and the guest manifest while the
 * engine's worker is still loading, both at once, then hands them over. The
 * snapshot is read without its key (the manifest's hash): the store keeps one
 * (put drops the others), and the worker uses it only if the key matches.
 */
export async function prefetchForBoot(guestUrl: string): Promise<BootPrefetch> {
  const [manifest, snapshot] = await Promise.all([
    new UrlArtifactSource(guestUrl).read('manifest.json').catch(() => undefined),
    new IdbSnapshotStore().only().catch(() => undefined),
  ]);
  return { ...(manifest && { manifest }), ...(snapshot && { snapshot }) };
}
