import { defaultGuestUrl, startEngineWorker, type EngineClient } from './engine-client.js';
import { prefetchSnapshot, type PrefetchedSnapshot } from './idb-snapshots.js';

export interface PlaygroundEngine {
  engine: EngineClient;
  worker: Worker;
  /** The stored snapshot, read while the worker loads. */
  snapshot: Promise<PrefetchedSnapshot | undefined>;
}

let started: PlaygroundEngine | undefined;

/**
 * The playground's engine worker and snapshot read, started once: entry.ts
 * calls it before the page's own code loads, main.ts takes the same one.
 */
export function playgroundEngine(): PlaygroundEngine {
  started ??= { ...startEngineWorker(), snapshot: prefetchSnapshot(defaultGuestUrl()) };
  return started;
}
