/**
 * What the page (and embedders, through embed-api.ts) ask of the engine
 * worker over comlink. Type-only: the worker implements it, the page calls
 * it. Everything crossing it is plain data (structured-clonable), or a
 * callback wrapped in Comlink.proxy.
 */
import type { PullEvent } from '../engine/image-service.js';
import type { BootProgress } from '../vm/guest-vm.js';
import type { PrefetchedSnapshot } from './idb-snapshots.js';
import type { PortRequest, PortResponse } from './port-protocol.js';

export type { BootProgress, PullEvent };

export interface ShellHandlers {
  onData(data: Uint8Array): void;
  onExit(code: number): void;
}

export interface WorkerBootOptions {
  /** Where the guest artifacts are served (absolute URL ending in `/`). */
  guestUrl: string;
  /** Registry host → base URL, e.g. `{ 'docker.io': 'http://mirror:5000' }`. */
  mirrors?: Record<string, string>;
  /** CORS proxy for containers' outbound HTTP ('' or absent: none). */
  corsProxy?: string;
  /** The stored VM snapshot, when the page has read it already (transferred, not copied). */
  snapshot?: PrefetchedSnapshot;
  /** The guest manifest's bytes, when the page has read them already. */
  manifest?: Uint8Array;
}

export interface BootResult {
  bootMs: number;
  guestId: string;
  restored: boolean;
  notice?: string;
}

export interface ImageSummary {
  /** Config digest (Docker's image ID). */
  id: string;
  /** Familiar names: `busybox:latest`, `127.0.0.1:5000/app:v1`. */
  tags: string[];
  /** Familiar repo digests: `busybox@sha256:…`. */
  digests: string[];
  /** Compressed size of the layers, in bytes. */
  size: number;
  created: string;
}

export interface ContainerSummary {
  id: string;
  name: string;
  /** The image as it was named at create. */
  image: string;
  state: 'created' | 'running' | 'exited' | 'removing';
  /** Docker's STATUS column: `Up 5 seconds`, `Exited (0) 2 minutes ago`. */
  status: string;
  command: string;
}

export interface VolumeSummary {
  name: string;
  anonymous: boolean;
  /** Names of containers that mount it. */
  usedBy: string[];
}

/** Where files go to or come from: the guest's own tree, or a container's root filesystem. */
export type FileTarget = { kind: 'guest' } | { kind: 'container'; id: string };

/** One dropped or chosen file (or folder), with its path relative to the destination. */
export interface UploadEntry {
  path: string;
  /** Absent for a directory. */
  file?: Blob;
}

export interface DownloadedPath {
  /** A file name for the browser's download: the file's own name, or `NAME.tar` for a folder. */
  name: string;
  kind: 'file' | 'tar';
  data: Uint8Array;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A container port published on a host port (`docker run -p 8080:80`), for running containers. */
export interface PublishedPort {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp';
  containerId: string;
  containerName: string;
}

// The port protocol's types live with its messages (the service worker shares them).
export type { PortErrorKind, PortRequest, PortResponse } from './port-protocol.js';

export interface PlaygroundApi {
  /**
   * Restores the guest from its snapshot, or boots it cold and saves one.
   * `onStopped`: the guest stopped serving after boot (a kernel panic, its
   * system image unreadable), with the reason; every command fails from then on.
   */
  boot(onProgress: (p: BootProgress) => void, options: WorkerBootOptions, onStopped?: (message: string) => void): Promise<BootResult>;
  /** Replaces the registry mirrors pulls use (the guest's `docker pull` included). */
  setRegistryMirrors(mirrors: Record<string, string>): void;
  /** After boot: when the VM snapshot is stored (a reload before that boots cold again). */
  whenSnapshotSaved(): Promise<{ ok: boolean; message?: string }>;
  /** Replaces the CORS proxy containers' outbound HTTP goes through ('' for none). */
  setCorsProxy(url: string): void;

  /**
   * Starts a login shell in the guest (where `docker` works) on a new
   * terminal, or runs `command` (a shell command line) there instead;
   * returns its session id.
   */
  openShell(rows: number, cols: number, handlers: ShellHandlers, command?: string): Promise<number>;
  write(session: number, data: Uint8Array): Promise<void>;
  resize(session: number, rows: number, cols: number): void;
  /** Hangs up a session (SIGHUP, then SIGKILL if it lingers). */
  closeShell(session: number): void;

  listImages(): Promise<ImageSummary[]>;
  /** The local image a reference or ID names, if any (no registry is asked). */
  findImage(name: string): Promise<ImageSummary | undefined>;
  listContainers(): ContainerSummary[];
  listVolumes(): VolumeSummary[];
  /** Pulls an image; layer progress is throttled to a few events a second per layer. Rejects with the engine's message. */
  pull(name: string, onEvent?: (e: PullEvent) => void): Promise<ImageSummary>;
  /** `rmi`; returns Docker's `Untagged: …` / `Deleted: …` lines. */
  removeImage(name: string, force?: boolean): Promise<string[]>;
  stopContainer(id: string): Promise<void>;
  removeContainer(id: string, force?: boolean): Promise<void>;
  removeVolume(name: string): Promise<void>;

  /** Copies files and folders into `dest` (a directory, created if missing) of the guest or a container. */
  putFiles(target: FileTarget, dest: string, entries: UploadEntry[]): Promise<{ files: number; dirs: number; dest: string }>;
  /** Reads a file, or a folder as a tar of its contents. */
  readPath(target: FileTarget, path: string): Promise<DownloadedPath>;
  /** Writes one file in the guest (parents created). */
  writeFile(path: string, data: Uint8Array): Promise<void>;
  /** Reads one file of the guest. */
  readFile(path: string): Promise<Uint8Array>;

  /** Published ports of running containers, by host port. */
  publishedPorts(): PublishedPort[];
  /**
   * One HTTP/1.1 exchange with whatever listens behind a published host
   * port (the preview's path); the response is buffered whole. Never
   * rejects: a failure is `{ ok: false, kind, message }`.
   */
  httpRequest(hostPort: number, request: PortRequest): Promise<PortResponse>;

  /** Runs a docker command line (argv without `docker`) in the engine, as the guest's `docker` would. */
  runDocker(argv: string[]): Promise<CommandResult>;
  /** Runs a shell command line in the guest (`/bin/sh -c`, in /root). */
  execShell(command: string): Promise<CommandResult>;
}
