import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Engine } from '../engine/engine.js';
import { serveClientSession, serveGuestDockerClients } from '../engine/docker-cli/serve.js';
import { ClientSessionEndpoint } from '../vm/client-session.js';
import { encodeFrame, FrameParser } from '../vm/frame.js';
import { MsgType } from '../vm/protocol.js';
import { bootNodeEngine } from './boot.js';
import { LoopbackPorts } from './loopback-ports.js';
import { daemonPaths } from './daemon-paths.js';
import { nodeClientFiles } from './node-files.js';

/**
 * The Node daemon, as dockerd: one guest kept running, serving `berth`
 * clients on a Unix socket with the same client-session frames the guest's
 * `docker` uses (docs/protocol.md), one session per connection.
 */
export async function runDaemon(opts: { log?: (line: string) => void } = {}): Promise<{ engine: Engine; server: Server; stop: () => Promise<void> }> {
  const paths = daemonPaths();
  const log = opts.log ?? ((l: string) => process.stderr.write(`${new Date().toISOString()} ${l}\n`));
  mkdirSync(dirname(paths.socket), { recursive: true });
  const t0 = performance.now();
  const ports = new LoopbackPorts();
  const engine = await bootNodeEngine({ snapshots: true, onNotice: log, publisher: ports });
  log(`guest ${engine.vm.manifest.id} ready in ${Math.round(performance.now() - t0)} ms`);
  serveGuestDockerClients(engine);
  rmSync(paths.socket, { force: true });
  const server = createServer((socket) => serveConnection(engine, socket, log));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(paths.socket, resolve);
  });
  writeFileSync(paths.pid, String(process.pid));
  log(`listening on ${paths.socket}`);
  let stopping = false;
  engine.vm.onDeath((e) => {
    if (stopping) return;
    log(`guest died: ${e.message}`);
    void stop().then(() => process.exit(1));
  });
  const stop = async () => {
    stopping = true;
    server.close();
    ports.closeAll();
    rmSync(paths.socket, { force: true });
    rmSync(paths.pid, { force: true });
    await engine.vm.stop().catch(() => {});
  };
  return { engine, server, stop };
}

function serveConnection(engine: Engine, socket: Socket, log: (l: string) => void): void {
  let session: ClientSessionEndpoint | undefined;
  let finished = false;
  const send = (type: MsgType, payload?: Uint8Array) => {
    if (!socket.destroyed) socket.write(encodeFrame(type, 0, payload));
  };
  const parser = new FrameParser(
    (frame) => {
      if (frame.type === MsgType.CLIENT_OPEN && !session) {
        session = new ClientSessionEndpoint(frame.payload, send, () => {
          finished = true;
          socket.end();
        });
        log(`docker ${session.argv.join(' ')}`);
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
