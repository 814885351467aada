import { concat } from '../../vm/bytes.js';

/**
 * How a docker command talks to its client: the `docker` program in the
 * guest terminal (through the agent), `berth` in Node (through the daemon
 * socket), or a page. Mirrors what the Docker CLI has: stdio streams, the
 * terminal's size, raw mode, signals.
 */
export interface CommandIO {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** The client's terminal size, when its stdin is a terminal. */
  readonly terminal: { rows: number; cols: number } | undefined;
  readonly stdoutIsTerminal: boolean;
  stdout(data: Uint8Array | string): void;
  stderr(data: Uint8Array | string): void;
  onStdin(listener: (data: Uint8Array) => void): () => void;
  onStdinEnd(listener: () => void): () => void;
  onResize(listener: (rows: number, cols: number) => void): () => void;
  onSignal(listener: (signal: number) => void): () => void;
  /** Raw mode on the client's terminal (`run -it`). */
  setRaw(raw: boolean): void;
}

/** All of the client's stdin, until it ends (`load`, `cp -`, `login --password-stdin`). */
export function readAllStdin(io: CommandIO): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  return new Promise((resolve) => {
    io.onStdin((d) => parts.push(d));
    io.onStdinEnd(() => resolve(concat(parts)));
  });
}

/** How a host reaches the client's files (paths relative to the client's `cwd`); see CommandContext.files. */
export interface ClientFiles {
  read(path: string, cwd: string): Promise<Uint8Array>;
  write(path: string, data: Uint8Array, cwd: string): Promise<void>;
  extractTar(dest: string, tar: Uint8Array, name: string, cwd: string): Promise<void>;
  packTar(src: string, cwd: string): Promise<Uint8Array>;
  /**
   * A folder's files read directly, for clients that can (Node's): a build
   * context without a tar made and parsed. `skip(relPath, isDir)` leaves a
   * path out unread (.dockerignore). Without it, builds pack a tar.
   */
  readTree?(src: string, cwd: string, skip: (relPath: string, isDir: boolean) => boolean): Promise<TreeEntry[]>;
}

/** A file of a client's folder (readTree): its path relative to the folder, no leading `/`. */
export interface TreeEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  /** Seconds. */
  mtime: number;
  linkname?: string;
  data?: Uint8Array;
}

/**
 * A CommandIO fed by an adapter: the adapter calls the `push*` methods as
 * client input arrives; input that arrives before a command listens is kept.
 */
export class ClientIO implements CommandIO {
  private readonly stdinListeners = new Set<(d: Uint8Array) => void>();
  private readonly endListeners = new Set<() => void>();
  private readonly resizeListeners = new Set<(r: number, c: number) => void>();
  private readonly signalListeners = new Set<(s: number) => void>();
  private pending: Uint8Array[] = [];
  private ended = false;
  terminal: { rows: number; cols: number } | undefined;

  constructor(
    private readonly sink: {
      stdout(d: Uint8Array): void;
      stderr(d: Uint8Array): void;
      setRaw(raw: boolean): void;
      /** Called once, when the command first listens to stdin: the client reads it only from then on. */
      wantStdin?(): void;
    },
    readonly cwd: string,
    readonly env: Readonly<Record<string, string>>,
    terminal: { rows: number; cols: number } | undefined,
    readonly stdoutIsTerminal: boolean,
  ) {
    this.terminal = terminal;
  }

  stdout(data: Uint8Array | string): void {
    this.sink.stdout(typeof data === 'string' ? new TextEncoder().encode(data) : data);
  }
  stderr(data: Uint8Array | string): void {
    this.sink.stderr(typeof data === 'string' ? new TextEncoder().encode(data) : data);
  }
  setRaw(raw: boolean): void {
    this.sink.setRaw(raw);
  }

  onStdin(listener: (data: Uint8Array) => void): () => void {
    this.sink.wantStdin?.();
    this.stdinListeners.add(listener);
    for (const d of this.pending) listener(d);
    this.pending = [];
    return () => this.stdinListeners.delete(listener);
  }
  onStdinEnd(listener: () => void): () => void {
    this.sink.wantStdin?.();
    if (this.ended && this.pending.length === 0) queueMicrotask(listener);
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }
  onResize(listener: (rows: number, cols: number) => void): () => void {
    this.resizeListeners.add(listener);
    return () => this.resizeListeners.delete(listener);
  }
  onSignal(listener: (signal: number) => void): () => void {
    this.signalListeners.add(listener);
    return () => this.signalListeners.delete(listener);
  }

  pushStdin(data: Uint8Array): void {
    if (this.stdinListeners.size === 0) this.pending.push(data);
    for (const l of this.stdinListeners) l(data);
  }
  pushStdinEnd(): void {
    this.ended = true;
    if (this.stdinListeners.size > 0 || this.pending.length === 0) for (const l of this.endListeners) l();
  }
  pushResize(rows: number, cols: number): void {
    this.terminal = { rows, cols };
    for (const l of this.resizeListeners) l(rows, cols);
  }
  pushSignal(signal: number): void {
    for (const l of this.signalListeners) l(signal);
  }
}
