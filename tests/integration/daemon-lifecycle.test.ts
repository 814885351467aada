import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatLock, processStartTime } from '../../src/node/daemon-lock.js';
import { daemonPaths } from '../../src/node/daemon-paths.js';
import { startRegistry, type TestRegistry } from '../fixtures/registry.js';

/**
 * The daemon's life as `berth` users meet it: concurrent first commands, a
 * stale or empty pid file, `daemon stop`, the modes of what it leaves on disk
 * and what its log says. One cache folder, one guest boot for the whole file.
 */

const BIN = join(import.meta.dirname, '../../bin/berth.js');
const CACHE = mkdtempSync(join(tmpdir(), 'berth-lifecycle-'));
const paths = daemonPaths(CACHE);
const ENV = { ...process.env, BERTH_CACHE: CACHE, BERTH_STORE: undefined } as NodeJS.ProcessEnv;
const children: ChildProcess[] = [];

function berth(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: ENV, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function berthAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const c = spawn(process.execPath, [BIN, ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => c.once('close', (code) => resolve({ code, stdout, stderr })));
}

function sleeper(): ChildProcess {
  const c = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(c);
  return c;
}

const mode = (p: string) => statSync(p).mode & 0o777;
const log = () => (existsSync(paths.log) ? readFileSync(paths.log, 'utf8') : '');
/** Running (a zombie, dead but not yet reaped by a parent whose event loop spawnSync blocks, is not). */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

/** Processes running `daemon run` for this cache folder (by their environment). */
function daemonsOfThisCache(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (!cmd.includes('\0daemon\0run')) continue;
      if (readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(`BERTH_CACHE=${CACHE}`)) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

afterAll(() => {
  berth(['daemon', 'stop']);
  for (const c of children) c.kill('SIGKILL');
  rmSync(CACHE, { recursive: true, force: true });
});

describe('berth daemon stop without a daemon', () => {
  it('leaves alone the unrelated process a stale pid file names, and removes the file', () => {
    const s = sleeper();
    writeFileSync(paths.pid, `${s.pid}\n`);
    const r = berth(['daemon', 'stop']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('berth daemon was not running\n');
    expect(r.stderr).toMatch(/stale .*daemon\.pid: pid \d+ is not this berth daemon/);
    expect(alive(s.pid!)).toBe(true);
    expect(existsSync(paths.pid)).toBe(false);
  });

  it('signals nothing for an empty pid file (no kill(0): the caller’s process group survives)', async () => {
    writeFileSync(paths.pid, '');
    // Its own process group (detached): a signal to "pid 0" would end the shell and its sleeper.
    const sh = spawn('/bin/sh', ['-c', `sleep 30 & s=$!; "${process.execPath}" "${BIN}" daemon stop; kill -0 $s && echo sleeper-alive; kill $s`], {
      env: ENV,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(sh);
    let out = '';
    sh.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise((r) => sh.once('close', (c, sig) => r(sig ?? c)));
    expect(out).toBe('berth daemon was not running\nsleeper-alive\n');
    expect(code).toBe(0);
  });

  it('stops a verified berth daemon that does not answer on the socket yet, by SIGTERM', async () => {
    // A stand-in for a daemon still booting: its command line is `…/berth.js daemon run`.
    const fake = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', '/nowhere/bin/berth.js', 'daemon', 'run'], { stdio: 'ignore' });
    children.push(fake);
    await new Promise((r) => setTimeout(r, 200));
    writeFileSync(paths.pid, formatLock({ pid: fake.pid!, start: processStartTime(fake.pid!)!, dir: CACHE }));
    const r = berth(['daemon', 'stop']);
    expect(r.stdout).toBe(`berth daemon stopped (pid ${fake.pid})\n`);
    expect(fake.signalCode ?? (await new Promise((res) => fake.once('exit', (_c, sig) => res(sig))))).toBe('SIGTERM');
    expect(existsSync(paths.pid)).toBe(true); // the real daemon removes its own lock; the next start replaces this stale one
  });
});

describe('berth daemon', () => {
  let registry: TestRegistry;
  const PASSWORD = 'pw-Zq81-never-logged';
  beforeAll(async () => {
    registry = await startRegistry({ auth: 'basic', users: { tester: PASSWORD } });
    // What an older berth left: a wide folder, a big world-readable log, a world-readable login.
    chmodSync(CACHE, 0o755);
    writeFileSync(paths.log, `OLD-LOG-MARKER\n${'x'.repeat(1024 * 1024)}\n`, { mode: 0o644 });
    chmodSync(paths.log, 0o644);
    mkdirSync(join(CACHE, 'store', 'meta'), { recursive: true });
    const old = join(CACHE, 'store', 'meta', 'auth%2fold.example.json');
    writeFileSync(old, JSON.stringify({ username: 'u', password: 'old' }));
    chmodSync(old, 0o644);
  });
  afterAll(() => registry?.stop());

  it('starts once for commands started at once; all of them succeed', async () => {
    const results = await Promise.all([
      berthAsync(['run', '--rm', 'busybox', 'echo', 'one']),
      berthAsync(['ps', '-q']),
      berthAsync(['version']),
    ]);
    expect(results.map((r) => r.code), JSON.stringify(results)).toEqual([0, 0, 0]);
    expect(results[0]!.stdout).toBe('one\n');
    expect(results[2]!.stdout).toMatch(/^Client:/);
    expect(log().match(/ ready in \d+ ms/g)).toHaveLength(1);
    const status = berth(['daemon', 'status']);
    expect(status.code).toBe(0);
    const pid = Number(/running \(pid (\d+)\)/.exec(status.stdout)?.[1]);
    expect(daemonsOfThisCache()).toEqual([pid]);
  });

  it('keeps its folder and files to the user: 0700, socket, log, lock and logins 0600; the old log rotated', () => {
    expect(mode(CACHE)).toBe(0o700);
    expect(mode(paths.socket)).toBe(0o600);
    expect(mode(paths.log)).toBe(0o600);
    expect(mode(paths.pid)).toBe(0o600);
    expect(mode(paths.oldLog)).toBe(0o600);
    expect(readFileSync(paths.oldLog, 'utf8')).toMatch(/^OLD-LOG-MARKER\n/);
    expect(log()).not.toMatch(/OLD-LOG-MARKER/);
    expect(statSync(paths.log).size).toBeLessThan(64 * 1024);
    expect(mode(join(CACHE, 'store', 'meta', 'auth%2fold.example.json'))).toBe(0o600);
  });

  it('logs login without its password, and keeps the login in a 0600 file', () => {
    const r = berth(['login', '-u', 'tester', '-p', PASSWORD, registry.host]);
    expect(r.stdout, r.stderr).toBe('Login Succeeded\n');
    const r2 = berth(['login', '-u', 'tester', `--password=${PASSWORD}`, registry.host]);
    expect(r2.code, r2.stderr).toBe(0);
    expect(log()).toMatch(/docker login -u tester -p \*\*\* /);
    expect(log()).toMatch(/docker login -u tester --password=\*\*\* /);
    expect(log()).not.toContain(PASSWORD);
    const meta = join(CACHE, 'store', 'meta');
    const logins = readdirSync(meta).filter((n) => n.startsWith('auth%2f127.0.0.1'));
    expect(logins).toHaveLength(1);
    expect(mode(join(meta, logins[0]!))).toBe(0o600);
  });

  it('refuses to start a second daemon, and never removes the socket of one that answers', () => {
    const pid = Number(readFileSync(paths.pid, 'utf8').split('\n')[0]);
    const second = berth(['daemon', 'run']);
    expect(second.code).toBe(3);
    expect(second.stderr).toMatch(new RegExp(`a berth daemon \\(pid ${pid}\\) already runs`));
    // An older daemon kept no lock: the socket answering is what stops a new one.
    const lock = readFileSync(paths.pid);
    rmSync(paths.pid);
    const third = berth(['daemon', 'run']);
    expect(third.code).toBe(3);
    expect(third.stderr).toMatch(/something already answers on .*daemon\.sock/);
    writeFileSync(paths.pid, lock);
    expect(berth(['daemon', 'status']).stdout).toMatch(new RegExp(`running \\(pid ${pid}\\)`));
    expect(berth(['ps', '-q']).code).toBe(0);
    expect(daemonsOfThisCache()).toEqual([pid]);
  });

  it('stops on request and returns only once the daemon has exited', () => {
    const pid = Number(/running \(pid (\d+)\)/.exec(berth(['daemon', 'status']).stdout)?.[1]);
    const r = berth(['daemon', 'stop']);
    expect(r.stdout).toBe(`berth daemon stopped (pid ${pid})\n`);
    expect(alive(pid)).toBe(false);
    expect(existsSync(paths.socket)).toBe(false);
    expect(existsSync(paths.pid)).toBe(false);
    expect(log()).toMatch(/stop requested by a client\n[^]*Z stopped\n/);
    expect(log().match(/Z stopped\n/g)).toHaveLength(1);
    expect(log()).not.toMatch(/guest died/); // stopping the guest is no crash
    expect(berth(['daemon', 'status']).stdout).toMatch(/^berth daemon not running/);
    expect(berth(['daemon', 'stop']).stdout).toBe('berth daemon was not running\n');
  });
});
