import type { Engine } from '../engine.js';
import type { ClientFiles, CommandIO, TreeEntry } from './io.js';
import { UsageError, type Parsed } from './parse.js';

/** A command line's flags, read by their kind (values as parseCommand left them, defaults included). */
export class Flags {
  constructor(private readonly values: Parsed['flags']) {}

  /** A bool flag: whether it is set. */
  bool(name: string): boolean {
    return !!this.values[name];
  }
  /** A string flag's value, or its default; undefined when it has neither. */
  string(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === 'string' ? v : undefined;
  }
  /** A list flag's values in the order given ([] when not given). */
  list(name: string): string[] {
    const v = this.values[name];
    return Array.isArray(v) ? v : [];
  }
  /** A `KEY=VALUE` list flag (`--label`) as an object; a bare KEY has the value ''. */
  keyValues(name: string): Record<string, string> {
    return Object.fromEntries(this.list(name).map((l) => [l.split('=')[0]!, l.split('=').slice(1).join('=')]));
  }
  /** Whether a flag has a value at all, an empty one included (`--entrypoint ""`). */
  has(name: string): boolean {
    return this.values[name] !== undefined;
  }
}

/** The client's files, relative to its working directory (`load -i`, `save -o`, `cp`, `--env-file`). */
export interface ClientFileAccess {
  read(path: string): Promise<Uint8Array>;
  write(path: string, data: Uint8Array): Promise<void>;
  /** `cp CONTAINER:SRC DEST`: unpacks a tar whose top entry is `name` at DEST (into it if a directory, else as it). */
  extractTar(dest: string, tar: Uint8Array, name: string): Promise<void>;
  /** `cp SRC CONTAINER:DEST`: a tar of SRC (its last path component at the top). */
  packTar(src: string): Promise<Uint8Array>;
  /** A folder read directly, when the client can (see ClientFiles.readTree). */
  readTree?: (src: string, skip: (relPath: string, isDir: boolean) => boolean) => Promise<TreeEntry[]>;
}

function clientFileAccess(files: ClientFiles | undefined, cwd: string): ClientFileAccess {
  const none = () => Promise.reject(new Error('this client cannot share files'));
  if (!files) return { read: none, write: none, extractTar: none, packTar: none };
  return {
    read: (path) => files.read(path, cwd),
    write: (path, data) => files.write(path, data, cwd),
    extractTar: (dest, tar, name) => files.extractTar(dest, tar, name, cwd),
    packTar: (src) => files.packTar(src, cwd),
    ...(files.readTree ? { readTree: (src: string, skip: (relPath: string, isDir: boolean) => boolean) => files.readTree!(src, cwd, skip) } : {}),
  };
}

/**
 * Everything one docker command runs with, built once per command line by
 * runDockerCommand: the engine, the client's streams, terminal and
 * environment (`io`), the client's files, and the parsed command line.
 * Building one touches nothing of the engine (help runs without one).
 */
export class CommandContext {
  readonly args: string[];
  readonly flags: Flags;
  readonly files: ClientFileAccess;

  constructor(
    readonly engine: Engine,
    readonly io: CommandIO,
    /** The command's name as the help knows it (`ps` for `container ls`, `network ls`). */
    readonly command: string,
    parsed: Parsed,
    files?: ClientFiles,
  ) {
    this.args = parsed.args;
    this.flags = new Flags(parsed.flags);
    this.files = clientFileAccess(files, io.cwd);
  }

  /**
   * Runs `fn` for each argument in turn (`rm a b`, `network rm x y`): one that
   * fails is reported as the daemon's error and the others still run.
   * Resolves with the exit code: 1 when any failed, else 0.
   */
  async eachArg(fn: (arg: string) => Promise<void> | void): Promise<number> {
    let code = 0;
    for (const arg of this.args) {
      try {
        await fn(arg);
      } catch (e) {
        this.io.stderr(`Error response from daemon: ${(e as Error).message}\n`);
        code = 1;
      }
    }
    return code;
  }

  /** Bad usage of this command: Docker prints the message, `See 'docker CMD --help'.` and exits 125. */
  usage(message: string): UsageError {
    return new UsageError(message, this.command);
  }
}
