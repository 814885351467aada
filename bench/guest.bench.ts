import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { Engine } from '../src/engine/engine.js';
import { bootEngine } from '../tests/helpers/engine.js';
import { summarize, type Summary } from './stats.js';

export interface GuestBench {
  /** The first execs into a new container on a new guest (v86's JIT still cold). */
  execFirstMs: Summary;
  /** After WARM_EXECS more. */
  execMs: Summary;
  channelOutMBps: Summary;
  channelInMBps: Summary;
  ninePWriteMBps: Summary;
  ninePReadMBps: Summary;
  compute: { workload: string; containerMs: Summary; bareGuestMs: Summary; nativeMs: Summary; ratioToBare: number; ratioToNative: number };
  memory: { idleRssMB: number; tenContainersRssMB: number; guestAvailIdleMB: number; guestAvailTenMB: number };
  scaling: Array<{ containers: number; runMs: number; hostRssMB: number; guestAvailMB: number }>;
}

const MB = 1e6;
const WARM_EXECS = 10;

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
}

async function guestAvailMB(engine: Engine): Promise<number> {
  const r = await engine.vm.agent.run(['/bin/cat', '/proc/meminfo']);
  return Number(/MemAvailable:\s+(\d+)/.exec(r.stdout)?.[1] ?? 0) / 1024;
}

/** Runs a shell script in the guest (outside containers) and waits for it. */
async function sh(engine: Engine, script: string, stdin?: Uint8Array): Promise<{ code: number; bytes: number }> {
  let bytes = 0;
  const p = await engine.vm.agent.exec({ argv: ['/bin/sh', '-c', script], env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin' }, stdin: !!stdin, onStdout: (d) => (bytes += d.length) });
  if (stdin) {
    await p.write(stdin);
    p.closeStdin();
  }
  return { code: (await p.exit).code, bytes };
}

export async function benchGuest(n = 5): Promise<GuestBench> {
  const engine = await bootEngine();
  try {
    const idleRssMB = process.memoryUsage().rss / MB;
    const guestAvailIdleMB = await guestAvailMB(engine);

    // exec into a running container: `docker exec c true`.
    const c = await engine.create('busybox', { cmd: ['sleep', '3600'], mounts: [{ type: 'volume', source: 'benchvol', target: '/vol', readonly: false }] });
    await engine.start(c.id);
    await new Promise((r) => setTimeout(r, 500));
    const execTrue = async () => {
      const [ms, status] = await timed(async () => (await engine.exec(c.id, { cmd: ['true'] })).exit);
      if (status.code !== 0) throw new Error('exec true failed');
      return ms;
    };
    const execsFirst: number[] = [];
    const execs: number[] = [];
    for (let i = 0; i < n; i++) execsFirst.push(await execTrue());
    for (let i = 0; i < WARM_EXECS; i++) await execTrue();
    for (let i = 0; i < n; i++) execs.push(await execTrue());

    // Control channel: 8 MB out of the guest, 8 MB into it.
    const size = 8 * 1024 * 1024;
    const outRates: number[] = [];
    const inRates: number[] = [];
    const payload = new Uint8Array(size).map((_, i) => i & 0xff);
    for (let i = 0; i < n; i++) {
      const [msOut, r] = await timed(() => sh(engine, `head -c ${size} /dev/zero`));
      if (r.bytes !== size) throw new Error(`channel out: got ${r.bytes} bytes`);
      outRates.push(size / MB / (msOut / 1000));
      const [msIn] = await timed(() => sh(engine, 'cat > /dev/null', payload));
      inRates.push(size / MB / (msIn / 1000));
    }

    // 9p inside a container: a volume lives in the 9p tree.
    const writes: number[] = [];
    const reads: number[] = [];
    const bytes9p = 16 * 1024 * 1024;
    for (let i = 0; i < n; i++) {
      const [w] = await timed(async () => (await engine.exec(c.id, { cmd: ['sh', '-c', `dd if=/dev/zero of=/vol/f bs=65536 count=${bytes9p / 65536} 2>/dev/null`] })).exit);
      writes.push(bytes9p / MB / (w / 1000));
      // Drop the guest's page cache so the read goes through 9p.
      await sh(engine, 'echo 3 > /proc/sys/vm/drop_caches');
      const [rd] = await timed(async () => (await engine.exec(c.id, { cmd: ['sh', '-c', 'cat /vol/f > /dev/null'] })).exit);
      reads.push(bytes9p / MB / (rd / 1000));
    }

    // Compute: sha256sum and gzip -1 of 16 MB of mixed data, in a container, bare in the guest, natively.
    const workSize = 16 * 1024 * 1024;
    const script = `head -c ${workSize} /tmp/work | sha256sum >/dev/null && gzip -1 -c /tmp/work > /dev/null`;
    const gen = `i=0; while [ $i -lt 64 ]; do head -c 262144 /bin/busybox; i=$((i+1)); done > /tmp/work`;
    await sh(engine, gen);
    await engine.exec(c.id, { cmd: ['sh', '-c', gen] }).then((p) => p.exit);
    const inContainer: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < n; i++) {
      const [a] = await timed(async () => (await engine.exec(c.id, { cmd: ['sh', '-c', script] })).exit);
      inContainer.push(a);
      const [b] = await timed(() => sh(engine, script));
      bare.push(b);
    }
    const { readFileSync } = await import('node:fs');
    const native: number[] = [];
    // Natively: the same work on 16 MiB of an executable (the guest uses busybox's; here node's).
    const chunk = readFileSync(process.execPath).subarray(0, 262144);
    const work = Buffer.concat(Array.from({ length: 64 }, () => chunk));
    for (let i = 0; i < n; i++) {
      const [ms] = await timed(async () => {
        createHash('sha256').update(work).digest();
        gzipSync(work, { level: 1 });
      });
      native.push(ms);
    }
    const cs = summarize(inContainer);
    const bs = summarize(bare);
    const ns = summarize(native);

    // Memory with 10 running containers, and how run latency and memory grow up to 50.
    const running = [c.id];
    const scaling: GuestBench['scaling'] = [];
    let tenRss = 0;
    let tenAvail = 0;
    for (let k = 2; k <= 50; k++) {
      const [ms, created] = await timed(async () => {
        const x = await engine.create('busybox', { cmd: ['sleep', '3600'] });
        await engine.start(x.id);
        return x;
      });
      running.push(created.id);
      if (k === 10) {
        await new Promise((r) => setTimeout(r, 500));
        tenRss = process.memoryUsage().rss / MB;
        tenAvail = await guestAvailMB(engine);
      }
      if ([2, 10, 25, 50].includes(k)) {
        // run --rm latency with k containers running
        const [runMs] = await timed(() => engine.run('busybox', { rm: true, cmd: ['true'] }));
        scaling.push({ containers: k, runMs: Math.round(runMs), hostRssMB: Math.round(process.memoryUsage().rss / MB), guestAvailMB: Math.round(await guestAvailMB(engine)) });
      }
      void ms;
    }
    for (const id of running) await engine.remove(id, { force: true }).catch(() => {});

    return {
      execFirstMs: summarize(execsFirst), execMs: summarize(execs),
      channelOutMBps: summarize(outRates),
      channelInMBps: summarize(inRates),
      ninePWriteMBps: summarize(writes),
      ninePReadMBps: summarize(reads),
      compute: {
        workload: 'sha256sum + gzip -1 of 16 MiB (busybox)',
        containerMs: cs,
        bareGuestMs: bs,
        nativeMs: ns,
        ratioToBare: cs.median / bs.median,
        ratioToNative: cs.median / ns.median,
      },
      memory: { idleRssMB: Math.round(idleRssMB), tenContainersRssMB: Math.round(tenRss), guestAvailIdleMB: Math.round(guestAvailIdleMB), guestAvailTenMB: Math.round(tenAvail) },
      scaling,
    };
  } finally {
    await engine.vm.stop();
  }
}
