import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeClientOpen } from '../vm/client-session.js';
import { encodeFrame, FrameParser } from '../vm/frame.js';
import { MsgType } from '../vm/protocol.js';
import { daemonPaths } from './daemon-paths.js';

const BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));
const SIGNALS: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };

function tryConnect(path: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve(undefined));
  });
}

/** Connects to the daemon, starting it in the background first if needed. */
export async function connectDaemon(onStarting?: () => void): Promise<Socket> {
  const paths = daemonPaths();
  const first = await tryConnect(paths.socket);
  if (first) return first;
  onStarting?.();
  mkdirSync(dirname(paths.log), { recursive: true });
  const out = openSync(paths.log, 'a');
  const child = spawn(process.execPath, [BIN, 'daemon', 'run'], { detached: true, stdio: ['ignore', out, out], env: process.env });
  child.unref();
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? 1));
  for (let i = 0; i < 1200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const s = await tryConnect(paths.socket);
    if (s) return s;
    if (exited !== null) break;
  }
  const tail = existsSync(paths.log) ? readFileSync(paths.log, 'utf8').split('\n').slice(-15).join('\n') : '';
  throw new Error(`the berth daemon did not start (log: ${paths.log})\n${tail}`);
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

/** Stops a running daemon; false when none was running. */
export async function stopDaemon(): Promise<boolean> {
  const paths = daemonPaths();
  if (!existsSync(paths.pid)) return false;
  const pid = Number(readFileSync(paths.pid, 'utf8'));
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return false;
  }
  for (let i = 0; i < 100 && existsSync(paths.socket); i++) await new Promise((r) => setTimeout(r, 100));
  return true;
}

