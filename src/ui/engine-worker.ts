/// <reference lib="webworker" />
// The engine's home in the browser: a Web Worker, so the page never blocks.
import * as Comlink from 'comlink';
import wasmUrl from 'v86/build/v86.wasm?url';
import { serveGuestDockerClients } from '../engine/docker-cli/serve.js';
import { Engine } from '../engine/engine.js';
import { importEmbeddedImages } from '../engine/embedded-images.js';
import { ImageService } from '../engine/image-service.js';
import { RegistryClient } from '../oci/registry-client.js';
import { IdbContentStore, IdbMetadataStore } from '../store/indexeddb/idb-store.js';
import type { GuestProcess } from '../vm/agent-client.js';
import { UrlArtifactSource } from '../vm/artifacts.js';
import type { BootProgress } from '../vm/guest-vm.js';
import { startGuest } from '../vm/start-guest.js';
import { IdbSnapshotStore } from './idb-snapshots.js';
import type { PlaygroundApi, ShellHandlers } from './playground-api.js';

let engine: Engine | undefined;
const sessions = new Map<number, GuestProcess>();
let nextSession = 1;

const SHELL_ENV = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  TERM: 'xterm-256color',
  PS1: 'berth:\\w\\$ ',
};

const api: PlaygroundApi = {
  async boot(onProgress: (p: BootProgress) => void) {
    const t0 = performance.now();
    const artifacts = new UrlArtifactSource(new URL('/guest/', self.location.href).href);
    // Images persist in IndexedDB across visits; the guest boots fresh.
    const images = new ImageService(new IdbContentStore(), new IdbMetadataStore(), new RegistryClient());
    await importEmbeddedImages(images, artifacts);
    const started = await startGuest(
      { artifacts, wasmPath: new URL(wasmUrl, self.location.href).href, onProgress },
      new IdbSnapshotStore(),
    );
    engine = new Engine(started.vm, images);
    serveGuestDockerClients(engine);
    return {
      bootMs: performance.now() - t0,
      guestId: started.vm.manifest.id,
      restored: started.restored,
      ...(started.notice ? { notice: started.notice } : {}),
    };
  },

  async openShell(rows: number, cols: number, handlers: ShellHandlers) {
    if (!engine) throw new Error('the engine is not booted');
    const proc = await engine.vm.agent.exec({
      argv: ['/bin/sh', '-l'],
      env: SHELL_ENV,
      cwd: '/root',
      tty: { rows, cols },
      stdin: true,
      onStdout: (d) => handlers.onData(d),
    });
    const session = nextSession++;
    sessions.set(session, proc);
    void proc.exit.then((s) => {
      sessions.delete(session);
      handlers.onExit(s.code);
    });
    return session;
  },

  async write(session: number, data: Uint8Array) {
    await sessions.get(session)?.write(data);
  },

  resize(session: number, rows: number, cols: number) {
    sessions.get(session)?.resize(rows, cols);
  },
};

Comlink.expose(api);
