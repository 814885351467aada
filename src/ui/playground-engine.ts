import * as Comlink from 'comlink';
import { initialCorsProxy } from './cors-proxy.js';
import { defaultGuestUrl, startEngineWorker, type EngineClient } from './engine-client.js';
import { prefetchForBoot } from './idb-snapshots.js';
import type { BootProgress, BootResult, WorkerBootOptions } from './playground-api.js';
import { initialMirrors } from './registry-settings.js';

export interface PlaygroundEngine {
  engine: EngineClient;
  worker: Worker;
  /** The guest's boot (or restore), asked for as soon as the stored snapshot and the guest manifest are read. */
  booted: Promise<BootResult>;
  /** Settles once the worker has been asked to boot. */
  requested: Promise<void>;
  /** Boot progress: the latest report at once, then each new one. */
  onProgress(listener: (p: BootProgress) => void): void;
  /** The guest stopped serving after boot, with the reason (at once if it has). */
  onStopped(listener: (message: string) => void): void;
}

let started: PlaygroundEngine | undefined;

/**
 * The playground's engine worker and its boot, started once: entry.ts calls
 * it before the page's own code (terminals, panels) loads, and loads that
 * code only once the boot is asked for (parsing it held up the snapshot read
 * on the page's thread); main.ts takes the same one. The registry mirrors and
 * CORS proxy are the page's initial settings (the address, else saved ones).
 */
export function playgroundEngine(): PlaygroundEngine {
  if (started) return started;
  const { engine, worker } = startEngineWorker();
  const params = new URLSearchParams(location.search);
  const listeners = new Set<(p: BootProgress) => void>();
  let last: BootProgress | undefined;
  const progress = Comlink.proxy((p: BootProgress) => {
    last = p;
    for (const l of listeners) l(p);
  });
  const stopListeners = new Set<(message: string) => void>();
  let stopped: string | undefined;
  const onStopped = Comlink.proxy((message: string) => {
    stopped = message;
    for (const l of stopListeners) l(message);
  });
  const prefetched = prefetchForBoot(defaultGuestUrl());
  const booted = prefetched.then(({ snapshot, manifest }) => {
    const options: WorkerBootOptions = {
      guestUrl: defaultGuestUrl(),
      mirrors: initialMirrors(params).mirrors,
      corsProxy: initialCorsProxy(params).value,
      ...(snapshot && { snapshot }),
      ...(manifest && { manifest }),
    };
    return engine.boot(progress, snapshot ? Comlink.transfer(options, [snapshot.data.buffer]) : options, onStopped);
  });
  booted.catch(() => {}); // main.ts reports it
  started = {
    engine,
    worker,
    booted,
    requested: prefetched.then(() => undefined), // after booted's callback, which posts the request

    onProgress(listener) {
      listeners.add(listener);
      if (last) listener(last);
    },
    onStopped(listener) {
      stopListeners.add(listener);
      if (stopped !== undefined) listener(stopped);
    },
  };
  return started;
}
