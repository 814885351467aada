/// <reference lib="webworker" />
/**
 * A short-lived worker that compresses one captured snapshot: the zstd
 * compressor's heap grows to ~35 MB for a state and wasm memory never
 * shrinks, so it lives here and goes when the worker ends, instead of staying
 * in the engine's worker; the guest also goes on running meanwhile.
 */
import { compressSnapshot } from '../vm/snapshot-format.js';

self.onmessage = async (e: MessageEvent<Uint8Array>) => {
  try {
    const packed = await compressSnapshot(e.data);
    self.postMessage({ ok: true, packed }, [packed.buffer]);
  } catch (err) {
    self.postMessage({ ok: false, message: err instanceof Error ? err.message : String(err) });
  }
};

