/**
 * The page's entry: for the playground, start the engine's worker, read the
 * stored VM snapshot and ask for the boot first, then load the page's own code
 * (terminals, panels) while the guest starts. Loaded at once, that code's
 * parsing held up the snapshot read on this thread (restore ~0.39 → ~0.35 s).
 */
import { playgroundEngine } from './playground-engine.js';

const page = () => void import('./main.js');
if (new URLSearchParams(location.search).has('embed')) page();
else void playgroundEngine().requested.then(page, page);
