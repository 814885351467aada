/**
 * The page's entry: for the playground, start the engine's worker and read the
 * stored VM snapshot first, then load the page's own code (terminals, panels)
 * while both go on. Before, the worker started only once all of that code had
 * loaded, and the snapshot was read after the worker had.
 */
import { playgroundEngine } from './playground-engine.js';

if (!new URLSearchParams(location.search).has('embed')) playgroundEngine();
void import('./main.js');
