import type { GuestProcess } from '../vm/agent-client.js';

/**
 * The OCI runtime as the engine sees it: what runs a container from its
 * bundle, runs more processes in it, signals it and forgets it. The engine
 * talks to this interface only; `CrunRuntime` (crun-runtime.ts) is the one
 * implementation, crun driven through the guest agent.
 *
 * There is no separate create and start: a container is created and started
 * by one `run`, whose process lasts as long as the container's (its exit is
 * the container's exit status), as `crun run` does. A run that ends normally
 * leaves no runtime state behind; `delete` is for one that did not.
 */
export interface Runtime {
  /** For messages: `crun`. */
  readonly name: string;
  /**
   * Creates and starts container `id` from the bundle at `bundle` (a path in
   * the 9p tree holding config.json). Resolves once the runtime's process is
   * running; rejects if it could not be started at all.
   */
  run(id: string, request: RunRequest): Promise<RuntimeRun>;
  /** Runs another process in running container `id` (`docker exec`). */
  exec(id: string, request: ExecRequest): Promise<GuestProcess>;
  /**
   * Sends `signal` (a name without SIG, or a number as text) to the
   * container's process. Rejects with RuntimeCommandError when the runtime
   * refuses (it does not know the container, yet or any more), with another
   * error when the guest could not be asked.
   */
  kill(id: string, signal: string): Promise<void>;
  /** Removes what the runtime keeps of container `id`, killing it if need be; RuntimeCommandError when refused. */
  delete(id: string, options: { force: boolean }): Promise<void>;
}

/** Where a process's output goes. */
interface ProcessOutput {
  onStdout?: (data: Uint8Array) => void;
  onStderr?: (data: Uint8Array) => void;
}

export interface RunRequest extends ProcessOutput {
  /** The bundle folder in the 9p tree (`/bundles/<id>`). */
  bundle: string;
  /** The container gets a terminal (config.json says so too); its output then all arrives on stdout. */
  tty: boolean;
  /** Keep the container's stdin open for GuestProcess.write. */
  stdin: boolean;
}

export interface RuntimeRun {
  /** The run's process: its exit is the container's, its stdin the container's. */
  process: GuestProcess;
  /**
   * Settles (never rejects) once the container's process exists, the run
   * ended, or the runtime stopped waiting for either; from then on `exec` and
   * `kill` find the container.
   */
  started: Promise<void>;
}

export interface ExecRequest extends ProcessOutput {
  args: string[];
  /** The process's whole environment, `KEY=VALUE`. */
  env: string[];
  cwd?: string;
  user?: { uid: number; gid: number };
  tty: boolean;
  stdin: boolean;
}

/** The runtime ran and refused: exit status non-zero. */
export class RuntimeCommandError extends Error {
  override readonly name = 'RuntimeCommandError';
  constructor(
    /** `crun kill`, `crun delete`. */
    readonly command: string,
    readonly code: number,
    /** What the runtime said on stderr. */
    readonly stderr: string,
  ) {
    super(`${command} exited with code ${code}${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
  }
}
