/**
 * The page's entry: for the playground, start the engine's worker and read the
 * stored VM snapshot first, then load the page's own code (terminals, panels)
 * while both go on. Before, the worker started only once all of that code had
 * loaded, and the snapshot was read after the worker had.
 */
import { startEngineWorker, defaultGuestUrl } from './engine-client.js';
import { prefetchSnapshot } from './idb-snapshots.js';
import { earlyStart } from './early-start.js';

if (!new URLSearchParams(location.search).has('embed')) {
  earlyStart.value = { ...startEngineWorker(), snapshot: prefetchSnapshot(defaultGuestUrl()) };
}
void import('./main.js');
