import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  acquireDaemonLock,
  formatLock,
  isDaemonCommandLine,
  ownerState,
  parseLock,
  processStartTime,
  removeStaleLock,
} from '../../src/node/daemon-lock.js';

const REPO = join(import.meta.dirname, '../..');
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

const tempDir = () => mkdtempSync(join(tmpdir(), 'berth-lock-'));

/** A live process whose command line looks like `berth daemon run` (node -e ... /x/berth.js daemon run). */
function fakeDaemon(): ChildProcess {
  const c = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', '/nowhere/bin/berth.js', 'daemon', 'run'], { stdio: 'ignore' });
  children.push(c);
  return c;
}

function sleeper(): ChildProcess {
  const c = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(c);
  return c;
}

/** A pid that was in use a moment ago and is not now. */
function deadPid(): number {
  return spawnSync('true').pid!;
}

const settle = () => new Promise((r) => setTimeout(r, 150));

describe('lock file contents', () => {
  it('parses pid, start and folder, and refuses anything that is not a positive pid', () => {
    expect(parseLock(formatLock({ pid: 42, start: '123', dir: '/c' }))).toEqual({ pid: 42, start: '123', dir: '/c' });
    expect(parseLock('42\n')).toEqual({ pid: 42 });
    expect(parseLock('42')).toEqual({ pid: 42 }); // an older berth's pid file
    for (const bad of ['', '\n', '0', '-1', '-12', 'abc', ' ', '1e3', '99999999999']) expect(parseLock(bad), bad).toBeUndefined();
  });

  it('recognises berth daemon command lines only', () => {
    expect(isDaemonCommandLine(['/usr/bin/node', '/repo/bin/berth.js', 'daemon', 'run'])).toBe(true);
    expect(isDaemonCommandLine(['node', '/repo/node_modules/.bin/berth', 'daemon', 'run'])).toBe(true);
    expect(isDaemonCommandLine(['node', '/repo/bin/berth.js', 'daemon', 'stop'])).toBe(false);
    expect(isDaemonCommandLine(['node', '/repo/bin/berth.js', 'run', 'daemon', 'run'])).toBe(true);
    expect(isDaemonCommandLine(['sleep', '60'])).toBe(false);
    expect(isDaemonCommandLine(['node', 'other.js', 'daemon', 'run'])).toBe(false);
  });
});

describe('ownerState', () => {
  it('tells a berth daemon from a reused pid, a dead one and a copied folder', async () => {
    const d = fakeDaemon();
    const s = sleeper();
    await settle();
    const start = processStartTime(d.pid!);
    expect(start).toMatch(/^\d+$/);
    expect(ownerState({ pid: d.pid!, start })).toBe('berth-daemon');
    expect(ownerState({ pid: d.pid! })).toBe('berth-daemon');
    expect(ownerState({ pid: d.pid!, start: String(Number(start) + 1) })).toBe('other');
    expect(ownerState({ pid: d.pid!, dir: '/somewhere/else' }, tempDir())).toBe('other');
    expect(ownerState({ pid: s.pid! })).toBe('other');
    expect(ownerState({ pid: deadPid() })).toBe('gone');
  });
});

describe('acquireDaemonLock', () => {
  it('takes a free lock 0600, refuses while a daemon holds it, and releases only its own', async () => {
    const dir = tempDir();
    const file = join(dir, 'daemon.pid');
    const mine = await acquireDaemonLock(file, dir);
    expect(mine.acquired).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(parseLock(readFileSync(file, 'utf8'))?.pid).toBe(process.pid);
    if (!mine.acquired) return;
    expect(mine.owns()).toBe(true);
    mine.release();
    expect(existsSync(file)).toBe(false);

    const d = fakeDaemon();
    await settle();
    writeFileSync(file, formatLock({ pid: d.pid!, start: processStartTime(d.pid!)!, dir }));
    const held = await acquireDaemonLock(file, dir);
    expect(held).toMatchObject({ acquired: false, owner: { pid: d.pid } });
    mine.release(); // not its lock any more: left alone
    expect(parseLock(readFileSync(file, 'utf8'))?.pid).toBe(d.pid);
  });

  it('replaces stale locks: a dead pid, a live unrelated process, garbage, an old empty file', async () => {
    const dir = tempDir();
    const file = join(dir, 'daemon.pid');
    const s = sleeper();
    await settle();
    for (const content of [`${deadPid()}\n`, `${s.pid}\n`, 'garbage', '']) {
      writeFileSync(file, content);
      const old = new Date(Date.now() - 60_000);
      utimesSync(file, old, old);
      const r = await acquireDaemonLock(file, dir);
      expect(r.acquired, JSON.stringify(content)).toBe(true);
      if (r.acquired) r.release();
    }
    expect(s.exitCode).toBeNull(); // nothing was signalled
  });

  it('removes a stale lock only if it is still the file judged stale', () => {
    const dir = tempDir();
    const file = join(dir, 'daemon.pid');
    writeFileSync(file, 'fresh\n');
    removeStaleLock(file, 'stale\n');
    expect(readFileSync(file, 'utf8')).toBe('fresh\n');
    removeStaleLock(file, 'fresh\n');
    expect(existsSync(file)).toBe(false);
  });

  // Processes named like a daemon (…/berth.js daemon run) race for one lock, as concurrent `berth` commands' daemons do.
  async function race(n: number, file: string, dir: string): Promise<{ acquired: boolean; pid: number }[]> {
    const script = join(dir, 'berth.js');
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    writeFileSync(
      script,
      `const { acquireDaemonLock } = await import(${JSON.stringify(join(REPO, 'src/node/daemon-lock.ts'))});
const { existsSync } = await import('node:fs');
console.log('ready');
while (!existsSync(${JSON.stringify(join(dir, 'go'))})) await new Promise((r) => setTimeout(r, 5));
const r = await acquireDaemonLock(${JSON.stringify(file)}, ${JSON.stringify(dir)});
console.log(JSON.stringify({ acquired: r.acquired, pid: process.pid }));
setTimeout(() => {}, 60000);
`,
    );
    const racers = Array.from({ length: n }, () => {
      const c = spawn(process.execPath, ['--import', 'tsx', script, 'daemon', 'run'], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(c);
      let out = '';
      const waiting: (() => void)[] = [];
      c.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        for (const w of waiting) w();
      });
      const lines = (count: number) =>
        new Promise<string[]>((resolve, reject) => {
          const check = () => {
            const l = out.split('\n');
            if (l.length > count) resolve(l.slice(0, count));
          };
          waiting.push(check);
          check();
          c.once('exit', (code) => reject(new Error(`racer exited ${code}`)));
        });
      return { ready: lines(1), result: lines(2).then((l) => JSON.parse(l[1]!) as { acquired: boolean; pid: number }) };
    });
    await Promise.all(racers.map((r) => r.ready)); // all loaded and waiting
    writeFileSync(join(dir, 'go'), '');
    return Promise.all(racers.map((r) => r.result));
  }

  it('lets exactly one of many simultaneous starts take it', async () => {
    const dir = tempDir();
    const file = join(dir, 'daemon.pid');
    const results = await race(6, file, dir);
    const winners = results.filter((r) => r.acquired);
    expect(winners).toHaveLength(1);
    expect(parseLock(readFileSync(file, 'utf8'))?.pid).toBe(winners[0]!.pid);
  }, 30_000);

  it('lets exactly one take over a stale lock when many find it at once', async () => {
    const dir = tempDir();
    const file = join(dir, 'daemon.pid');
    writeFileSync(file, `${deadPid()}\n`);
    const results = await race(6, file, dir);
    const winners = results.filter((r) => r.acquired);
    expect(winners).toHaveLength(1);
    expect(parseLock(readFileSync(file, 'utf8'))?.pid).toBe(winners[0]!.pid);
  }, 30_000);
});
