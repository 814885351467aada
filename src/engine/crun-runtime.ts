import type { AgentClient, GuestProcess } from '../vm/agent-client.js';
import type { GuestFs } from '../vm/guest-fs.js';
import { randomHexId } from './names.js';
import { RuntimeCommandError, type ExecRequest, type Runtime, type RunRequest, type RuntimeRun } from './runtime.js';

/** crun in the guest, with its state in the guest's tmpfs. */
const CRUN = ['/usr/bin/crun', '--root', '/run/crun'];
const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
/** How long a run waits for crun to report the container's process. */
const START_WAIT_MS = 10_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The Runtime: crun in the guest, each command a process the agent runs.
 * Bundles are in the 9p tree, which the guest mounts at `guestRoot`.
 */
export class CrunRuntime implements Runtime {
  readonly name = 'crun';

  constructor(
    private readonly agent: Pick<AgentClient, 'exec' | 'run'>,
    private readonly fs: Pick<GuestFs, 'exists' | 'remove'>,
    /** Where the guest mounts the 9p tree (`/berth`). */
    private readonly guestRoot: string,
  ) {}

  /**
   * `crun run --bundle B --pid-file B/pid [--console-socket S] ID`. With a
   * tty, crun hands the pty master over the console socket and the agent
   * relays it. crun writes the pid file once the container's process exists;
   * it is on 9p, so watching it costs the guest nothing.
   */
  async run(id: string, req: RunRequest): Promise<RuntimeRun> {
    const pidFile = `${req.bundle}/pid`;
    await this.fs.remove(pidFile).catch(() => undefined);
    const guestBundle = this.guestRoot + req.bundle;
    const argv = [...CRUN, 'run', '--bundle', guestBundle, '--pid-file', `${guestBundle}/pid`];
    const socket = req.tty ? `/run/berth/${id.slice(0, 16)}.sock` : undefined;
    if (socket) argv.push('--console-socket', socket);
    argv.push(id);
    const process = await this.spawn(argv, req, socket);
    let exited = false;
    process.exit.then(
      () => (exited = true),
      () => (exited = true),
    );
    const started = (async () => {
      for (let waited = 0; !exited && !this.fs.exists(pidFile) && waited < START_WAIT_MS; waited += 5) await sleep(5);
    })();
    return { process, started };
  }

  /** `crun exec [--tty --console-socket S] --env ... [--cwd D] [--user U:G] ID ARGS...`: crun takes the environment whole. */
  exec(id: string, req: ExecRequest): Promise<GuestProcess> {
    const argv = [...CRUN, 'exec'];
    const socket = req.tty ? `/run/berth/x${randomHexId(8)}.sock` : undefined;
    if (socket) argv.push('--tty', '--console-socket', socket);
    for (const e of req.env) argv.push('--env', e);
    if (req.cwd) argv.push('--cwd', req.cwd);
    if (req.user) argv.push('--user', `${req.user.uid}:${req.user.gid}`);
    argv.push(id, ...req.args);
    return this.spawn(argv, req, socket);
  }

  /** crun through the agent, with the caller's stdio and, for a tty, the console socket crun hands the pty to. */
  private spawn(argv: string[], req: RunRequest | ExecRequest, socket: string | undefined): Promise<GuestProcess> {
    return this.agent.exec({
      argv,
      env: ENV,
      stdin: req.stdin,
      ...(socket ? { consoleSocket: socket } : {}),
      ...(req.onStdout ? { onStdout: req.onStdout } : {}),
      ...(req.onStderr ? { onStderr: req.onStderr } : {}),
    });
  }

  kill(id: string, signal: string): Promise<void> {
    return this.command(['kill', id, signal]);
  }

  delete(id: string, options: { force: boolean }): Promise<void> {
    return this.command(['delete', ...(options.force ? ['--force'] : []), id]);
  }

  private async command(args: string[]): Promise<void> {
    const r = await this.agent.run([...CRUN, ...args]);
    if (r.status.code !== 0) throw new RuntimeCommandError(`crun ${args[0]}`, r.status.code, r.stderr);
  }
}
