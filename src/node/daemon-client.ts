import { spawn } from 'node:child_process';
import { closeSync, existsSync, lstatSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { encodeClientOpen } from '../vm/client-session.js';
import { encodeFrame, FrameParser } from '../vm/frame.js';
import { MsgType } from '../vm/protocol.js';
import { ownerMayBeDaemon, ownerState, readLock, removeStaleLock, type LockOwner } from './daemon-lock.js';
import { DAEMON_RUNNING_EXIT, daemonPaths, openLogForAppend, prepareCacheDir } from './daemon-paths.js';

const BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));
const SIGNALS: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The socket must be this user's: the daemon behind it runs commands and
 * reads and writes files for the client.
 */
function checkSocketOwner(path: string): void {
  const uid = process.geteuid?.();
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (uid === undefined || !st || st.uid === uid) return;
  throw new Error(`${path} belongs to uid ${st.uid}, not to you (uid ${uid}): not using it`);
}

function tryConnect(path: string): Promise<Socket | undefined> {
  checkSocketOwner(path);
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve(undefined));
  });
}

/** Whether something answers on the daemon's socket (an older berth's daemon answers no requests). */
export async function daemonAnswers(): Promise<boolean> {
  const s = await tryConnect(daemonPaths().socket);
  s?.destroy();
  return !!s;
}

/** The daemon that holds the lock, starting or running; undefined when none does. */
function lockHolder(paths: ReturnType<typeof daemonPaths>): LockOwner | undefined {
  const lock = readLock(paths.pid);
  return lock?.owner && ownerMayBeDaemon(ownerState(lock.owner, paths.dir)) ? lock.owner : undefined;
}

/** Most daemons a client starts while waiting (each one that finds another holding the lock exits at once). */
const MAX_SPAWNS = 5;

/**
 * Connects to the daemon, starting it in the background first if needed.
 * Clients started at once may each start one; the lock lets one boot, the
 * others exit (DAEMON_RUNNING_EXIT) and every client waits for the socket.
 */
export async function connectDaemon(onStarting?: () => void, timeoutMs = 120_000): Promise<Socket> {
  const paths = daemonPaths();
  const first = await tryConnect(paths.socket);
  if (first) return first;
  onStarting?.();
  prepareCacheDir(paths.dir);
  let child: { exited: number | null } | undefined;
  let spawns = 0;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!child || child.exited !== null) {
      if (child && child.exited !== DAEMON_RUNNING_EXIT) break; // it failed: the log says why
      if (!lockHolder(paths)) {
        if (spawns++ >= MAX_SPAWNS) break;
        child = spawnDaemon(paths.log);
      }
    }
    await sleep(100);
    const s = await tryConnect(paths.socket);
    if (s) return s;
  }
  const tail = existsSync(paths.log) ? readFileSync(paths.log, 'utf8').split('\n').slice(-15).join('\n') : '';
  throw new Error(`the berth daemon did not start (log: ${paths.log})\n${tail}`);
}

function spawnDaemon(log: string): { exited: number | null } {
  const out = openLogForAppend(log);
  const child = spawn(process.execPath, [BIN, 'daemon', 'run'], { detached: true, stdio: ['ignore', out, out], env: process.env });
  closeSync(out);
  child.unref();
  const state = { exited: null as number | null };
  child.once('exit', (code) => (state.exited = code ?? 1));
  return state;
}

/**
 * Runs one docker command line through the daemon with this process's stdio,
 * as the docker CLI does against dockerd; resolves with the exit code.
 */
export async function runViaDaemon(argv: string[]): Promise<number> {
  const socket = await connectDaemon(() => {
    if (process.stderr.isTTY) process.stderr.write('berth: starting the daemon (boots the guest, about 3 s)…\n');
  });
  const send = (type: MsgType, payload?: Uint8Array) => socket.write(encodeFrame(type, 0, payload));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && (k === 'TERM' || k.startsWith('DOCKER_'))) env[k] = v;
  const stdinTty = !!process.stdin.isTTY;
  send(
    MsgType.CLIENT_OPEN,
    encodeClientOpen({
      argv,
      cwd: process.cwd(),
      env,
      ...(stdinTty ? { terminal: { rows: process.stdout.rows ?? 24, cols: process.stdout.columns ?? 80 } } : {}),
      stdoutIsTerminal: !!process.stdout.isTTY,
    }),
  );
  let raw = false;
  const restore = () => {
    if (raw && stdinTty) process.stdin.setRawMode(false);
    raw = false;
  };
  const onData = (d: Buffer) => send(MsgType.CLIENT_STDIN, new Uint8Array(d));
  const onEnd = () => send(MsgType.CLIENT_STDIN_EOF);
  // Stdin is read only once the command asks for it (run -i, load, login, ...), as docker
  // does: otherwise it stays for whoever reads it next (a `while read` loop, the shell).
  let reading = false;
  const readStdin = () => {
    if (reading) return;
    reading = true;
    process.stdin.on('data', onData);
    process.stdin.on('end', onEnd);
    process.stdin.resume();
  };
  const onResize = () => {
    const p = new Uint8Array(4);
    const v = new DataView(p.buffer);
    v.setUint16(0, process.stdout.rows ?? 24, true);
    v.setUint16(2, process.stdout.columns ?? 80, true);
    send(MsgType.CLIENT_RESIZE, p);
  };
  process.stdout.on('resize', onResize);
  const sigHandlers = Object.entries(SIGNALS).map(([name, num]) => {
    const h = () => {
      const p = new Uint8Array(4);
      new DataView(p.buffer).setInt32(0, num!, true);
      send(MsgType.CLIENT_SIGNAL, p);
    };
    process.on(name as NodeJS.Signals, h);
    return [name, h] as const;
  });
  const write = (stream: NodeJS.WriteStream, d: Uint8Array) => new Promise<void>((r) => (stream.write(d) ? r() : stream.once('drain', r)));
  return await new Promise<number>((resolve) => {
    let queue = Promise.resolve();
    let exitCode: number | undefined;
    const finish = (code: number) => {
      restore();
      process.stdout.off('resize', onResize);
      for (const [n, h] of sigHandlers) process.off(n, h);
      process.stdin.off('data', onData);
      process.stdin.off('end', onEnd);
      process.stdin.pause();
      void queue.then(() => resolve(code));
    };
    const parser = new FrameParser((f) => {
      switch (f.type) {
        case MsgType.CLIENT_STDOUT:
          queue = queue.then(() => write(process.stdout, f.payload));
          break;
        case MsgType.CLIENT_STDERR:
          queue = queue.then(() => write(process.stderr, f.payload));
          break;
        case MsgType.CLIENT_RAW:
          if (f.payload[0] === 1 && stdinTty) {
            raw = true;
            process.stdin.setRawMode(true);
          } else restore();
          break;
        case MsgType.CLIENT_WANT_STDIN:
          readStdin();
          break;
        case MsgType.CLIENT_EXIT:
          exitCode = new DataView(f.payload.buffer, f.payload.byteOffset, 4).getInt32(0, true);
          finish(exitCode);
          break;
      }
    });
    socket.on('data', (d: Buffer) => parser.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)));
    socket.on('close', () => {
      if (exitCode === undefined) {
        process.stderr.write('berth: lost connection to the daemon\n');
        finish(125);
      }
    });
  });
}

/** What the daemon says of itself (docs/protocol.md, "Daemon requests"). */
export interface DaemonInfo {
  pid: number;
  start?: string;
  guest?: string;
}

/**
 * Sends a request to the daemon itself (`status`, `stop`) on its socket;
 * undefined when nothing answers, or an older daemon that does not know it.
 */
export async function daemonRequest(request: 'status' | 'stop', timeoutMs = 5000): Promise<DaemonInfo | undefined> {
  const socket = await tryConnect(daemonPaths().socket);
  if (!socket) return undefined;
  return new Promise((resolve) => {
    let out = '';
    let code: number | undefined;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      let info: DaemonInfo | undefined;
      try {
        const parsed = JSON.parse(out) as DaemonInfo;
        if (code === 0 && Number.isSafeInteger(parsed.pid) && parsed.pid > 0) info = parsed;
      } catch {
        // not a daemon that answers requests
      }
      resolve(info);
    };
    const timer = setTimeout(done, timeoutMs);
    const parser = new FrameParser((f) => {
      if (f.type === MsgType.CLIENT_STDOUT) out += new TextDecoder().decode(f.payload);
      else if (f.type === MsgType.CLIENT_EXIT) {
        code = new DataView(f.payload.buffer, f.payload.byteOffset, 4).getInt32(0, true);
        done();
      }
    });
    socket.on('data', (d: Buffer) => parser.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)));
    socket.on('close', done);
    socket.on('error', () => {});
    socket.write(encodeFrame(MsgType.CLIENT_OPEN, 0, encodeClientOpen({ argv: ['daemon', request], cwd: '/', env: {}, stdoutIsTerminal: false })));
  });
}

export type StopResult =
  | { stopped: true; pid: number; via: 'request' | 'signal' }
  | { stopped: false; note?: string };

/**
 * Stops the daemon and waits until it has exited: asked on its socket, or,
 * when nothing answers there (a daemon still booting, or hung), by SIGTERM
 * to the pid in the lock file, and only if that process is that berth daemon
 * (its command line is `berth daemon run` and its start time the recorded
 * one). A stale pid file names another process or none: it is removed and
 * nothing is signalled; an empty or garbled one is left alone, unsignalled.
 */
export async function stopDaemon(opts: { timeoutMs?: number } = {}): Promise<StopResult> {
  const paths = daemonPaths();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const info = await daemonRequest('stop');
  if (info) {
    await waitForExit(paths, { pid: info.pid, ...(info.start ? { start: info.start } : {}) }, timeoutMs);
    return { stopped: true, pid: info.pid, via: 'request' };
  }
  const lock = readLock(paths.pid);
  if (!lock) return { stopped: false };
  if (!lock.owner) return { stopped: false, note: `${paths.pid} names no process; nothing signalled` };
  const { pid } = lock.owner;
  const state = ownerState(lock.owner, paths.dir);
  if (state === 'gone' || state === 'other') {
    removeStaleLock(paths.pid, lock.raw);
    return { stopped: false, note: `removed a stale ${paths.pid}: pid ${pid} ${state === 'gone' ? 'is not running' : 'is not this berth daemon'}` };
  }
  if (state === 'unknown') throw new Error(`cannot tell whether pid ${pid} (in ${paths.pid}) is a berth daemon on this system: stop it yourself if it is`);
  try {
    process.kill(pid, 'SIGTERM');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e; // it exited meanwhile
  }
  await waitForExit(paths, lock.owner, timeoutMs);
  return { stopped: true, pid, via: 'signal' };
}

/** Until the daemon's process is gone and its socket with it (a socket a new daemon answers on is that one's). */
async function waitForExit(paths: ReturnType<typeof daemonPaths>, owner: LockOwner, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = ownerMayBeDaemon(ownerState(owner));
    const socketIsItsOwn = existsSync(paths.socket) && (await daemonRequest('status', 1000))?.pid === owner.pid;
    if (!alive && !socketIsItsOwn) return;
    if (Date.now() > deadline) {
      throw new Error(
        `the berth daemon (pid ${owner.pid}) did not exit within ${Math.round(timeoutMs / 1000)} s${alive ? '' : ' (its socket still answers)'}; ` +
          `see ${paths.log}${alive ? `; to end it anyway: kill -KILL ${owner.pid}` : ''}`,
      );
    }
    await sleep(100);
  }
}
