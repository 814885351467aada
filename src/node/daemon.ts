import { readdirSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Engine } from '../engine/engine.js';
import { serveClientSession, serveGuestDockerClients } from '../engine/docker-cli/serve.js';
import { ClientSessionEndpoint, parseClientOpen } from '../vm/client-session.js';
import { encodeFrame, FrameParser } from '../vm/frame.js';
import { MsgType } from '../vm/protocol.js';
import { bootNodeEngine } from './boot.js';
import { acquireDaemonLock, type LockOwner } from './daemon-lock.js';
import { daemonPaths, makePrivate, prepareCacheDir, rotateLog } from './daemon-paths.js';
import { storeDir } from './host.js';
import { LoopbackPorts } from './loopback-ports.js';
import { nodeClientFiles } from './node-files.js';
import { redactedCommandLine } from './redact.js';

/** Another daemon owns the cache folder (or answers on its socket): this one does not start. */
export class DaemonAlreadyRunning extends Error {
  constructor(
    message: string,
    readonly pid?: number,
  ) {
    super(message);
  }
}

export interface RunningDaemon {
  engine: Engine;
  server: Server;
  /** Stops serving, the guest and its containers; releases the lock. Once, however often called. */
  stop: () => Promise<void>;
  /** Settles once stopped (by stop(), a client's `daemon stop`, the guest's death) with the exit status for the process: 1 when the guest died. */
  stopped: Promise<number>;
}

/**
 * The Node daemon, as dockerd: one guest kept running, serving `berth`
 * clients on a Unix socket with the same client-session frames the guest's
 * `docker` uses (docs/protocol.md), one session per connection; a session
 * whose argv starts with `daemon` is a request to the daemon itself
 * (`daemon status`, `daemon stop`).
 *
 * One daemon per cache folder: it takes the lock (daemon-lock.ts) before
 * anything else, and never removes a socket something still answers on.
 */
export async function runDaemon(opts: { log?: (line: string) => void } = {}): Promise<RunningDaemon> {
  const paths = daemonPaths();
  const log = opts.log ?? ((l: string) => process.stderr.write(`${new Date().toISOString()} ${l}\n`));
  const warning = prepareCacheDir(paths.dir);
  const lock = await acquireDaemonLock(paths.pid, paths.dir);
  if (!lock.acquired) {
    throw new DaemonAlreadyRunning(`a berth daemon (pid ${lock.owner.pid}) already runs for ${paths.dir}; not starting another`, lock.owner.pid);
  }
  // However this process ends (a failed boot, process.exit on a signal), the lock goes with it.
  const release = () => lock.release();
  process.once('exit', release);
  let engine: Engine | undefined;
  const ports = new LoopbackPorts();
  // After a cold boot the snapshot is compressed and stored in the background; a stop waits for it.
  let snapshotSaved = Promise.resolve();
  try {
    await refuseIfAnswered(paths.socket);
    // Only the lock's holder rotates the log; what it logs from here lands in the fresh one.
    const rotated = rotateLog(paths.log, paths.oldLog);
    makePrivate(paths.log);
    if (rotated) log(`log rotated: the previous one is ${paths.oldLog}`);
    if (warning) log(`warning: ${warning}`);
    protectCredentialFiles(storeDir());

    const t0 = performance.now();
    let how = '';
    engine = await bootNodeEngine({
      snapshots: true,
      onNotice: log,
      publisher: ports,
      onStarted: ({ restored, saved }) => {
        how = restored ? 'restored from its snapshot' : 'booted cold';
        snapshotSaved = saved.then(() => log('snapshot saved for the next start'), (e: Error) => log(e.message));
      },
    });
    log(`guest ${engine.vm.manifest.id} ${how}, ready in ${Math.round(performance.now() - t0)} ms`);
    serveGuestDockerClients(engine);

    if (!lock.owns()) throw new DaemonAlreadyRunning(`lost the daemon lock ${paths.pid} while booting; not starting another daemon`);
    await refuseIfAnswered(paths.socket);
    rmSync(paths.socket, { force: true }); // nothing answers there: a dead daemon's
  } catch (e) {
    ports.closeAll();
    await engine?.vm.stop().catch(() => {});
    process.off('exit', release);
    release();
    throw e;
  }
  const running = engine;
  const identity: LockOwner = lock.owner;
  // Set before anything stops: the guest's death during stop() (vm.stop() reports it at once) is no crash.
  let stopRequested = false;
  let stopping: Promise<void> | undefined;
  let markStopped!: (code: number) => void;
  const stopped = new Promise<number>((r) => (markStopped = r));
  let exitCode = 0;
  const stop = () =>
    (stopping ??= (async () => {
      stopRequested = true;
      server.close();
      ports.closeAll();
      rmSync(paths.socket, { force: true });
      await running.vm.stop().catch(() => {});
      await snapshotSaved;
      process.off('exit', release);
      release();
      log('stopped');
      markStopped(exitCode);
    })());
  const control: DaemonControl = {
    info: () => ({ pid: identity.pid, ...(identity.start ? { start: identity.start } : {}), guest: running.vm.manifest.id }),
    stop: () => {
      log('stop requested by a client');
      void stop();
    },
  };
  const server = createServer((socket) => serveConnection(running, socket, log, control));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(paths.socket, resolve);
  });
  // The socket gets the umask's mode on creation; the folder (0700) keeps others out until this.
  makePrivate(paths.socket);
  log(`listening on ${paths.socket} (pid ${process.pid})`);
  running.vm.onDeath((e) => {
    if (stopRequested) return;
    log(`guest died: ${e.message}`);
    exitCode = 1;
    void stop();
  });
  return { engine: running, server, stop, stopped };
}

/** Refuses to start when something answers on the socket path (a daemon without the lock: an older berth). */
async function refuseIfAnswered(path: string): Promise<void> {
  const answer = await new Promise<'answered' | 'free' | string>((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve('answered');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? 'free' : (e.code ?? e.message)));
  });
  if (answer === 'answered') throw new DaemonAlreadyRunning(`something already answers on ${path} (another berth daemon?); not starting another, and leaving its socket alone`);
  if (answer !== 'free') throw new DaemonAlreadyRunning(`cannot tell whether ${path} is in use (${answer}); not starting a daemon`);
}

/**
 * Credentials from `login` are JSON documents in the store's metadata
 * (`meta/auth%2f<host>.json`, FolderMetadataStore), password included, as
 * Docker keeps them (base64, no less readable) in config.json: their mode is
 * the protection. New ones are written 0600; older ones are made 0600 here.
 */
function protectCredentialFiles(store: string): void {
  const meta = join(store, 'meta');
  let names: string[];
  try {
    names = readdirSync(meta);
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith('auth%2f') && n.endsWith('.json')) makePrivate(join(meta, n));
}

interface DaemonControl {
  info(): { pid: number; start?: string; guest: string };
  stop(): void;
}

function serveConnection(engine: Engine, socket: Socket, log: (l: string) => void, control: DaemonControl): void {
  let session: ClientSessionEndpoint | undefined;
  let request = false;
  let finished = false;
  const send = (type: MsgType, payload?: Uint8Array) => {
    if (!socket.destroyed) socket.write(encodeFrame(type, 0, payload));
  };
  const parser = new FrameParser(
    (frame) => {
      if (frame.type === MsgType.CLIENT_OPEN && !session && !request) {
        const argv = parseClientOpen(frame.payload).argv;
        if (argv[0] === 'daemon') {
          request = true;
          finished = true;
          answerRequest(argv.slice(1), send, control);
          socket.end();
          return;
        }
        session = new ClientSessionEndpoint(frame.payload, send, () => {
          finished = true;
          socket.end();
        });
        log(`docker ${redactedCommandLine(session.argv)}`);
        void serveClientSession(engine, session, nodeClientFiles);
      } else session?.receive(frame);
    },
    () => socket.destroy(),
  );
  socket.on('data', (d: Buffer) => parser.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)));
  socket.on('error', () => {});
  socket.on('close', () => {
    if (session && !finished) {
      // The client went away: as if its terminal hung up.
      session.receive({ type: MsgType.CLIENT_SIGNAL, id: 0, payload: new Uint8Array([1, 0, 0, 0]) });
      session.receive({ type: MsgType.CLIENT_STDIN_EOF, id: 0, payload: new Uint8Array(0) });
    }
  });
}

/** `daemon status` / `daemon stop` (docs/protocol.md, "Daemon requests"): one JSON line on stdout, exit 0. */
function answerRequest(args: string[], send: (type: MsgType, payload?: Uint8Array) => void, control: DaemonControl): void {
  const exit = (code: number) => {
    const p = new Uint8Array(4);
    new DataView(p.buffer).setInt32(0, code, true);
    send(MsgType.CLIENT_EXIT, p);
  };
  const text = (s: string) => new TextEncoder().encode(s);
  const what = args.join(' ');
  if (what === 'status' || what === 'stop') {
    send(MsgType.CLIENT_STDOUT, text(`${JSON.stringify(control.info())}\n`));
    exit(0);
    if (what === 'stop') control.stop();
  } else {
    send(MsgType.CLIENT_STDERR, text(`berth daemon: unknown request '${what}' (status, stop)\n`));
    exit(125);
  }
}
