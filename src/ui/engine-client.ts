import * as Comlink from 'comlink';
import type { PlaygroundApi } from './playground-api.js';

export type EngineClient = Comlink.Remote<PlaygroundApi>;

/** Starts the engine's Web Worker (the emulator runs there) and returns its comlink client. */
export function startEngineWorker(): { engine: EngineClient; worker: Worker } {
  const worker = new Worker(new URL('./engine-worker.ts', import.meta.url), { type: 'module', name: 'berth-engine' });
  return { engine: Comlink.wrap<PlaygroundApi>(worker), worker };
}

/** The guest artifacts next to the page (`guest/` under the page's folder). */
export function defaultGuestUrl(): string {
  return new URL('guest/', document.baseURI).href;
}
