import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDockerCommand } from '../src/engine/docker-cli/docker-cli.js';
import { ClientIO } from '../src/engine/docker-cli/io.js';
import type { Engine } from '../src/engine/engine.js';
import { bootNodeEngine } from '../src/node/boot.js';
import { openImageService } from '../src/node/host.js';
import { nodeClientFiles } from '../src/node/node-files.js';
import { summarize, type Summary } from './stats.js';

export interface BuildBench {
  /** A 5-step Dockerfile on busybox, nothing cached (`--no-cache`). */
  fiveStepColdMs: Summary;
  /** The same, every step cached. */
  fiveStepCachedMs: Summary;
  /** COPY of a 20 MB context (one file per MB): MB/s over the whole build. */
  copyMBps: Summary;
  copyMB: number;
  /** A RUN that writes 10 MB, and `run --rm` of the same command: the difference is the layer's commit. */
  runWrite10Ms: Summary;
  runRmWrite10Ms: Summary;
}

async function berth(engine: Engine, cwd: string, argv: string[]): Promise<void> {
  let err = '';
  const io = new ClientIO({ stdout: () => {}, stderr: (d) => (err += new TextDecoder().decode(d)), setRaw: () => {} }, cwd, {}, undefined, false);
  io.pushStdinEnd();
  const code = await runDockerCommand(engine, argv, io, nodeClientFiles);
  if (code !== 0) throw new Error(`berth ${argv.join(' ')} exited ${code}: ${err}`);
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Whole `build` commands (context packed, Dockerfile run, image recorded), on one booted guest. */
export async function benchBuild(n = 5): Promise<BuildBench> {
  // A store of its own: the benchmark's images and cache stay out of the user's.
  const engine = await bootNodeEngine({ images: openImageService({ dir: mkdtempSync(join(tmpdir(), 'berth-bench-store-')) }) });
  try {
    const five = mkdtempSync(join(tmpdir(), 'berth-bench-build-'));
    writeFileSync(join(five, 'app.txt'), 'hello\n');
    writeFileSync(join(five, 'Dockerfile'), 'FROM busybox\nENV GREETING=hi\nWORKDIR /app\nCOPY app.txt .\nRUN echo "$GREETING" > greeting.txt\nCMD ["cat", "greeting.txt"]\n');
    // Warm the JIT and unpack busybox once.
    await berth(engine, five, ['build', '-q', '--no-cache', '.']);
    const cold: number[] = [];
    const cached: number[] = [];
    for (let i = 0; i < n; i++) cold.push(await timed(() => berth(engine, five, ['build', '-q', '--no-cache', '-t', 'bench:five', '.'])));
    for (let i = 0; i < n; i++) cached.push(await timed(() => berth(engine, five, ['build', '-q', '-t', 'bench:five', '.'])));

    const big = mkdtempSync(join(tmpdir(), 'berth-bench-build-'));
    const mb = 20;
    for (let i = 0; i < mb; i++) {
      const data = new Uint8Array(1 << 20);
      for (let j = 0; j < data.length; j += 65536) crypto.getRandomValues(data.subarray(j, j + 65536));
      writeFileSync(join(big, `blob${i}`), data);
    }
    writeFileSync(join(big, 'Dockerfile'), 'FROM busybox\nCOPY . /data/\n');
    const copy: number[] = [];
    for (let i = 0; i < n; i++) copy.push(((mb * 1.048576) / (await timed(() => berth(engine, big, ['build', '-q', '--no-cache', '.'])))) * 1000);

    const write = mkdtempSync(join(tmpdir(), 'berth-bench-build-'));
    const cmd = 'dd if=/dev/zero of=/ten bs=1M count=10 2>/dev/null';
    writeFileSync(join(write, 'Dockerfile'), `FROM busybox\nRUN ${cmd}\n`);
    const runWrite: number[] = [];
    const runRm: number[] = [];
    for (let i = 0; i < n; i++) {
      runWrite.push(await timed(() => berth(engine, write, ['build', '-q', '--no-cache', '.'])));
      runRm.push(await timed(() => berth(engine, write, ['run', '--rm', 'busybox', 'sh', '-c', cmd])));
    }
    return {
      fiveStepColdMs: summarize(cold),
      fiveStepCachedMs: summarize(cached),
      copyMBps: summarize(copy),
      copyMB: mb * 1.048576,
      runWrite10Ms: summarize(runWrite),
      runRmWrite10Ms: summarize(runRm),
    };
  } finally {
    await engine.vm.stop();
  }
}
