import type { EngineClient } from './engine-client.js';
import type { PrefetchedSnapshot } from './idb-snapshots.js';

/** What entry.ts started before the page's code loaded, for main.ts to take over. */
export const earlyStart: {
  value?: { engine: EngineClient; worker: Worker; snapshot: Promise<PrefetchedSnapshot | undefined> };
} = {};
