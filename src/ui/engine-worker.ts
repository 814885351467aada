/// <reference lib="webworker" />
// The engine's home in the browser: a Web Worker, so the page never blocks.
import * as Comlink from 'comlink';
import wasmUrl from 'v86/build/v86.wasm?url';
import { containerStatus } from '../engine/docker-cli/containers.js';
import { runDockerCommand } from '../engine/docker-cli/docker-cli.js';
import { shortCommand } from '../engine/docker-cli/format.js';
import { ClientIO } from '../engine/docker-cli/io.js';
import { guestClientFiles, serveGuestDockerClients } from '../engine/docker-cli/serve.js';
import { Engine } from '../engine/engine.js';
import { importEmbeddedImages } from '../engine/embedded-images.js';
import { isBerthError } from '../engine/errors.js';
import { GuestFiles, normalizeAbsolute } from '../engine/guest-files.js';
import { httpRequest, HttpProtocolError } from '../engine/http-over-tcp.js';
import { ImageService, type ImageRecord, type PullEvent } from '../engine/image-service.js';
import { familiarString, parseReference } from '../oci/reference.js';
import { RegistryClient } from '../oci/registry-client.js';
import { IdbContentStore, IdbMetadataStore } from '../store/indexeddb/idb-store.js';
import type { GuestProcess } from '../vm/agent-client.js';
import { concat } from '../vm/bytes.js';
import { UrlArtifactSource } from '../vm/artifacts.js';
import type { BootProgress } from '../vm/guest-vm.js';
import { startGuest } from '../vm/start-guest.js';
import { ConnectionRefusedError, type TcpStream } from '../vm/tcp-stream.js';
import { IdbSnapshotStore } from './idb-snapshots.js';
import type {
  CommandResult,
  ContainerSummary,
  DownloadedPath,
  FileTarget,
  ImageSummary,
  PlaygroundApi,
  PortErrorKind,
  PortRequest,
  PortResponse,
  PublishedPort,
  ShellHandlers,
  UploadEntry,
  VolumeSummary,
  WorkerBootOptions,
} from './playground-api.js';

let engine: Engine | undefined;
const sessions = new Map<number, GuestProcess>();
let nextSession = 1;
/** The registry client reads this map on every request, so replacing its entries re-points pulls. */
const mirrors: Record<string, string> = {};
/** Containers' outbound HTTP goes through this CORS proxy ('' for none); settable before boot. */
let corsProxy = '';
/** Settles when the snapshot of a cold boot is stored (at once after a restore). */
let snapshotSaved: Promise<void> = Promise.resolve();

const SHELL_ENV = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  TERM: 'xterm-256color',
  PS1: 'berth:\\w\\$ ',
};

function booted(): Engine {
  if (!engine) throw new Error('the engine is not booted');
  return engine;
}

/** The guest's files and containers' (the files panel, drag and drop, the embed API). */
const guestFiles = () => new GuestFiles(booted());

function imageSummary(r: ImageRecord): ImageSummary {
  const familiar = (s: string) => {
    try {
      return familiarString(parseReference(s));
    } catch {
      return s;
    }
  };
  return {
    id: r.id,
    tags: r.repoTags.map(familiar),
    digests: r.repoDigests.map(familiar),
    size: r.size,
    created: r.config.created ?? '',
  };
}

/** Layer progress arrives per chunk; the page needs a few updates a second. */
function throttlePullEvents(onEvent: (e: PullEvent) => void): (e: PullEvent) => void {
  const last = new Map<string, number>();
  return (e) => {
    if (e.type === 'layer' && e.status === 'downloading' && e.bytes > 0) {
      const now = performance.now();
      if (now - (last.get(e.digest) ?? 0) < 150) return;
      last.set(e.digest, now);
    }
    onEvent(e);
  };
}

/** A preview request gets this long to connect and answer. */
const PORT_REQUEST_TIMEOUT_MS = 60_000;

const portFailure = (kind: PortErrorKind, message: string): PortResponse => ({ ok: false, kind, message });

/** Waits for `p`, or rejects with the signal's reason; a stream that connects after that is closed. */
function connectWithin(p: Promise<TcpStream>, signal: AbortSignal): Promise<TcpStream> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (s) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) s.close();
        else resolve(s);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

async function requestPublishedPort(hostPort: number, request: PortRequest): Promise<PortResponse> {
  if (!engine) return portFailure('not-ready', 'the playground is still starting its Linux guest');
  const net = engine.network;
  const ports = net.publishedPorts().filter((p) => p.protocol === 'tcp');
  const published = ports.find((p) => p.hostPort === hostPort);
  if (!published) {
    const others = [...new Set(ports.map((p) => p.hostPort))].sort((a, b) => a - b);
    return portFailure(
      'not-published',
      `no running container publishes port ${hostPort}` + (others.length ? ` (published: ${others.join(', ')})` : ' (no container publishes a port)'),
    );
  }
  const where = `port ${hostPort} (container ${published.containerName}, port ${published.containerPort})`;
  const signal = AbortSignal.timeout(PORT_REQUEST_TIMEOUT_MS);
  const timedOut = (e: unknown) => e instanceof Error && e.name === 'TimeoutError';
  let stream: TcpStream;
  try {
    stream = await connectWithin(net.connectPublished(hostPort), signal);
  } catch (e) {
    if (e instanceof ConnectionRefusedError) return portFailure('refused', `connection refused: nothing listens on port ${published.containerPort} in container ${published.containerName} (published as ${hostPort})`);
    if (isBerthError(e, 'not-found')) return portFailure('not-published', e.message);
    if (timedOut(e)) return portFailure('timeout', `${where}: no connection within ${PORT_REQUEST_TIMEOUT_MS / 1000} s`);
    return portFailure('failed', `${where}: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    const res = await httpRequest(stream, { ...request, host: request.host ?? `localhost:${hostPort}` }, { signal });
    const body = res.body;
    const result: PortResponse = { ok: true, status: res.status, statusText: res.statusText, headers: res.headers, body };
    return body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? Comlink.transfer(result, [body.buffer as ArrayBuffer]) : result;
  } catch (e) {
    // The guest's port proxy accepts first and closes at once when nothing listens behind it.
    if (e instanceof HttpProtocolError && e.code === 'no-response') {
      return portFailure('refused', `${where} closed the connection without answering: nothing may listen on port ${published.containerPort} in container ${published.containerName}`);
    }
    if (e instanceof HttpProtocolError) return portFailure('bad-http', `${where} did not answer with HTTP: ${e.message}`);
    if (e instanceof TypeError) return portFailure('failed', `the request cannot be sent: ${e.message}`);
    if (timedOut(e)) return portFailure('timeout', `${where} accepted the connection but sent no complete answer within ${PORT_REQUEST_TIMEOUT_MS / 1000} s`);
    return portFailure('failed', `${where}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Compresses a captured snapshot in a worker of its own (snapshot-compressor.ts); the bytes are handed over, not copied. */
function compressInWorker(raw: Uint8Array): Promise<Uint8Array> {
  const worker = new Worker(new URL('./snapshot-compressor.ts', import.meta.url), { type: 'module', name: 'berth-snapshot-compressor' });
  return new Promise<Uint8Array>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<{ ok: true; packed: Uint8Array } | { ok: false; message: string }>) => {
      if (e.data.ok) resolve(e.data.packed);
      else reject(new Error(e.data.message));
    };
    worker.onerror = (e) => reject(new Error(`the snapshot compressor failed: ${e.message || 'it did not start'}`));
    worker.postMessage(raw, [raw.buffer]);
  }).finally(() => worker.terminate());
}

// The emulator compiles as soon as the worker loads, while the page reads the snapshot.
const wasmPath = new URL(wasmUrl, self.location.href).href;
const wasmModule = WebAssembly.compileStreaming(fetch(wasmPath)).catch(async () =>
  WebAssembly.compile(await (await fetch(wasmPath)).arrayBuffer()),
);
wasmModule.catch(() => {}); // boot() reports it

const api: PlaygroundApi = {
  async boot(onProgress: (p: BootProgress) => void, options: WorkerBootOptions, onStopped?: (message: string) => void) {
    const t0 = performance.now();
    Object.assign(mirrors, options.mirrors ?? {});
    const artifacts = new UrlArtifactSource(options.guestUrl, options.manifest ? { manifest: options.manifest } : {});

    // Images persist in IndexedDB across visits; the guest boots fresh.
    const images = new ImageService(new IdbContentStore(), new IdbMetadataStore(), new RegistryClient({ mirrors }));
    // The embedded images go into IndexedDB while the guest boots (first visit only).
    const imported = importEmbeddedImages(images, artifacts);
    imported.catch(() => {});
    const started = await startGuest(
      { artifacts, wasmPath, wasmModule, onProgress, network: { corsProxy: (corsProxy = options.corsProxy ?? corsProxy) } },
      new IdbSnapshotStore(options.snapshot),
      compressInWorker,
    );
    try {
      await imported;
    } catch (e) {
      await started.vm.stop();
      throw e;
    }
    engine = new Engine(started.vm, images);
    if (onStopped) started.vm.onDeath((e) => onStopped(e.message));
    snapshotSaved = started.saved;
    serveGuestDockerClients(engine);
    return {
      bootMs: performance.now() - t0,
      guestId: started.vm.manifest.id,
      restored: started.restored,
      ...(started.notice ? { notice: started.notice } : {}),
    };
  },

  setRegistryMirrors(next: Record<string, string>) {
    for (const k of Object.keys(mirrors)) delete mirrors[k];
    Object.assign(mirrors, next);
  },

  async whenSnapshotSaved() {
    try {
      await snapshotSaved;
      return { ok: true };
    } catch (e) {
      return { ok: false, message: (e as Error).message };
    }
  },

  setCorsProxy(url: string) {
    corsProxy = url;
    if (engine) engine.vm.network.corsProxy = url;
  },

  async openShell(rows: number, cols: number, handlers: ShellHandlers, command?: string) {
    const proc = await booted().vm.agent.exec({
      argv: command === undefined ? ['/bin/sh', '-l'] : ['/bin/sh', '-l', '-c', command],
      env: SHELL_ENV,
      cwd: '/root',
      tty: { rows, cols },
      stdin: true,
      onStdout: (d) => handlers.onData(d),
    });
    const session = nextSession++;
    sessions.set(session, proc);
    void proc.exit.then(
      (s) => {
        sessions.delete(session);
        handlers.onExit(s.code);
      },
      () => {
        sessions.delete(session);
        handlers.onExit(255);
      },
    );
    return session;
  },

  async write(session: number, data: Uint8Array) {
    await sessions.get(session)?.write(data);
  },

  resize(session: number, rows: number, cols: number) {
    sessions.get(session)?.resize(rows, cols);
  },

  closeShell(session: number) {
    const proc = sessions.get(session);
    if (!proc) return;
    proc.kill(1);
    setTimeout(() => sessions.get(session) === proc && proc.kill(9), 2000);
  },

  async listImages() {
    return (await booted().images.list()).map(imageSummary);
  },

  async findImage(name: string) {
    const found = await booted().images.find(name);
    return found && imageSummary(found);
  },

  listContainers(): ContainerSummary[] {
    const now = Date.now();
    return booted()
      .list()
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
      .map((c) => ({
        id: c.id,
        name: c.name,
        image: c.imageRef,
        state: c.state,
        status: c.state === 'removing' ? 'Removal In Progress' : containerStatus(c, now),
        command: shortCommand(c.args),
      }));
  },

  listVolumes(): VolumeSummary[] {
    const e = booted();
    return e.volumes.list().map((v) => ({ name: v.name, anonymous: v.anonymous, usedBy: e.volumeUsers(v.name) }));
  },

  async pull(name: string, onEvent?: (e: PullEvent) => void) {
    try {
      const record = await booted().pull(name, onEvent ? throttlePullEvents(onEvent) : undefined);
      return imageSummary(record);
    } finally {
      (onEvent as Partial<Comlink.Remote<unknown>> | undefined)?.[Comlink.releaseProxy]?.();
    }
  },

  async removeImage(name: string, force = false) {
    const out = await booted().removeImage(name, { force });
    return out.map((o) => (o.Untagged ? `Untagged: ${o.Untagged}` : `Deleted: ${o.Deleted}`));
  },

  async stopContainer(id: string) {
    await booted().stop(id);
  },

  async removeContainer(id: string, force = false) {
    await booted().remove(id, { force });
  },

  async removeVolume(name: string) {
    const e = booted();
    await e.volumes.remove(name, e.volumeUsers(name));
  },

  async putFiles(target: FileTarget, dest: string, entries: UploadEntry[]) {
    return guestFiles().put(target, dest, entries);
  },

  async readPath(target: FileTarget, path: string): Promise<DownloadedPath> {
    const result = await guestFiles().readPath(target, path);
    return Comlink.transfer(result, [result.data.buffer as ArrayBuffer]);
  },

  async writeFile(path: string, data: Uint8Array) {
    await guestFiles().write(normalizeAbsolute(path), data, { parents: true });
  },

  async readFile(path: string) {
    const data = await guestFiles().read(normalizeAbsolute(path));
    return Comlink.transfer(data, [data.buffer as ArrayBuffer]);
  },

  publishedPorts(): PublishedPort[] {
    if (!engine) return [];
    // Plain copies: only data crosses to the page.
    return engine.network.publishedPorts().map(({ hostPort, containerPort, protocol, containerId, containerName }) => ({
      hostPort,
      containerPort,
      protocol,
      containerId,
      containerName,
    }));
  },

  httpRequest(hostPort: number, request: PortRequest): Promise<PortResponse> {
    return requestPublishedPort(hostPort, request);
  },

  async runDocker(argv: string[]): Promise<CommandResult> {
    const e = booted();
    const out: Uint8Array[] = [];
    const err: Uint8Array[] = [];
    const io = new ClientIO(
      { stdout: (d) => out.push(d), stderr: (d) => err.push(d), setRaw: () => {} },
      '/root',
      SHELL_ENV,
      undefined,
      false,
    );
    io.pushStdinEnd();
    const code = await runDockerCommand(e, argv, io, guestClientFiles(e));
    const text = (parts: Uint8Array[]) => new TextDecoder().decode(concat(parts));
    return { code, stdout: text(out), stderr: text(err) };
  },

  async execShell(command: string): Promise<CommandResult> {
    const out: Uint8Array[] = [];
    const err: Uint8Array[] = [];
    const proc = await booted().vm.agent.exec({
      argv: ['/bin/sh', '-c', command],
      env: SHELL_ENV,
      cwd: '/root',
      onStdout: (d) => out.push(d),
      onStderr: (d) => err.push(d),
    });
    const status = await proc.exit;
    const text = (parts: Uint8Array[]) => new TextDecoder().decode(concat(parts));
    return { code: status.code, stdout: text(out), stderr: text(err) };
  },
};

Comlink.expose(api);
