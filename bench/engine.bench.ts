import { bootNodeEngine } from '../src/node/boot.js';
import { summarize, type Summary } from './stats.js';

export interface EngineBench {
  coldBootMs: Summary;
  restoreMs: Summary;
  snapshotMB: number;
  /** The first runs on a new guest: v86 still interprets code its JIT has not compiled yet. */
  runTrueFirstMs: Summary;
  /** After WARM_RUNS more: the JIT has compiled crun's and the kernel's hot paths. */
  runTrueMs: Summary;
}

const WARM_RUNS = 10;

/**
 * Cold boot to agent-ready (a fresh emulator each time), and the latency of
 * `run --rm busybox true` on a booted guest with the image already unpacked:
 * the first n runs, then n more after WARM_RUNS.
 */
export async function benchEngine(n = 5): Promise<EngineBench> {
  const boots: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const engine = await bootNodeEngine();
    boots.push(performance.now() - t0);
    await engine.vm.stop();
  }
  // Snapshot restore to agent-ready (a ping answered).
  const { GuestVM } = await import('../src/vm/guest-vm.js');
  const { FolderArtifactSource, v86WasmPath } = await import('../src/node/folder-artifacts.js');
  const opts = { artifacts: new FolderArtifactSource(), wasmPath: v86WasmPath() };
  const base = await GuestVM.boot(opts);
  const snapshot = await base.snapshot(); // compressed, as the daemon and the page store it
  await base.stop();
  const restores: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const vm = await GuestVM.restore({ ...opts, snapshot });
    restores.push(performance.now() - t0);
    await vm.stop();
  }
  const engine = await bootNodeEngine();
  const runTrue = async () => {
    const t0 = performance.now();
    const { status } = await engine.run('busybox', { rm: true, cmd: ['true'] });
    if (status.code !== 0) throw new Error(`busybox true exited ${status.code}`);
    return performance.now() - t0;
  };
  const first: number[] = [];
  const warm: number[] = [];
  try {
    await engine.prepareLayers(await engine.images.resolve('busybox')); // unpack the layer first
    for (let i = 0; i < n; i++) first.push(await runTrue());
    for (let i = 0; i < WARM_RUNS; i++) await runTrue();
    for (let i = 0; i < n; i++) warm.push(await runTrue());
  } finally {
    await engine.vm.stop();
  }
  return {
    coldBootMs: summarize(boots),
    restoreMs: summarize(restores),
    snapshotMB: snapshot.length / 1e6,
    runTrueFirstMs: summarize(first),
    runTrueMs: summarize(warm),
  };
}
