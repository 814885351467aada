import { describe, expect, it } from 'vitest';
import type { ExecOptions, ExitStatus, GuestProcess } from '../../src/vm/agent-client.js';
import { CrunRuntime } from '../../src/engine/crun-runtime.js';
import { RuntimeCommandError } from '../../src/engine/runtime.js';

const CRUN = ['/usr/bin/crun', '--root', '/run/crun'];
const ID = 'c0ffee'.repeat(10) + 'abcd';

/** A process whose exit the test decides. */
function fakeProcess(): GuestProcess & { end(s: ExitStatus): void } {
  let end!: (s: ExitStatus) => void;
  const exit = new Promise<ExitStatus>((r) => (end = r));
  return { exit, end, pid: 1, id: 1 } as unknown as GuestProcess & { end(s: ExitStatus): void };
}

/** The agent's exec and run, recorded; `runs` answers each run in turn. */
function fakeAgent(runs: Array<{ code: number; stderr?: string } | Error> = []) {
  const execs: ExecOptions[] = [];
  const ran: string[][] = [];
  const procs: ReturnType<typeof fakeProcess>[] = [];
  return {
    execs,
    ran,
    procs,
    onExec: undefined as ((o: ExecOptions) => void) | undefined,
    async exec(o: ExecOptions): Promise<GuestProcess> {
      execs.push(o);
      this.onExec?.(o);
      const p = fakeProcess();
      procs.push(p);
      return p;
    },
    async run(argv: string[]) {
      ran.push(argv);
      const next = runs.shift() ?? { code: 0 };
      if (next instanceof Error) throw next;
      return { status: { code: next.code, signal: 0 }, stdout: '', stderr: next.stderr ?? '' };
    },
  };
}

/** The part of the 9p tree the runtime looks at: files by path. */
function fakeFs(files = new Set<string>()) {
  return {
    files,
    exists: (p: string) => files.has(p),
    remove: async (p: string) => void files.delete(p),
  };
}

describe('CrunRuntime', () => {
  it('runs crun run with the bundle as the guest sees it, a pid file, the id last; started waits for the pid file', async () => {
    const agent = fakeAgent();
    const fs = fakeFs(new Set(['/bundles/x/pid'])); // a stale one from an earlier run
    const rt = new CrunRuntime(agent, fs, '/berth');
    const out: Uint8Array[] = [];
    const run = await rt.run(ID, { bundle: '/bundles/x', tty: false, stdin: true, onStdout: (d) => out.push(d) });
    expect(fs.files.has('/bundles/x/pid')).toBe(false);
    expect(agent.execs[0]!.argv).toEqual([...CRUN, 'run', '--bundle', '/berth/bundles/x', '--pid-file', '/berth/bundles/x/pid', ID]);
    expect(agent.execs[0]).toMatchObject({ env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, stdin: true });
    expect(agent.execs[0]!.consoleSocket).toBeUndefined();
    agent.execs[0]!.onStdout!(new Uint8Array([1]));
    expect(out).toHaveLength(1);
    expect(run.process).toBe(agent.procs[0]);

    let started = false;
    void run.started.then(() => (started = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(started).toBe(false);
    fs.files.add('/bundles/x/pid');
    await run.started;
  });

  it('with a tty, hands crun a console socket named after the container', async () => {
    const agent = fakeAgent();
    const rt = new CrunRuntime(agent, fakeFs(), '/berth');
    await rt.run(ID, { bundle: '/bundles/x', tty: true, stdin: false });
    const sock = `/run/berth/${ID.slice(0, 16)}.sock`;
    expect(agent.execs[0]!.argv).toEqual([...CRUN, 'run', '--bundle', '/berth/bundles/x', '--pid-file', '/berth/bundles/x/pid', '--console-socket', sock, ID]);
    expect(agent.execs[0]!.consoleSocket).toBe(sock);
  });

  it('started settles when the run ends before any pid file', async () => {
    const agent = fakeAgent();
    const rt = new CrunRuntime(agent, fakeFs(), '/berth');
    const run = await rt.run(ID, { bundle: '/bundles/x', tty: false, stdin: false });
    agent.procs[0]!.end({ code: 1, signal: 0 });
    await run.started;
  });

  it('fails the run when the agent cannot start crun', async () => {
    const agent = fakeAgent();
    agent.exec = async () => {
      throw new Error('agent gone');
    };
    await expect(new CrunRuntime(agent, fakeFs(), '/berth').run(ID, { bundle: '/b', tty: false, stdin: false })).rejects.toThrow('agent gone');
  });

  it('execs with the whole environment, cwd, user and a console socket of its own', async () => {
    const agent = fakeAgent();
    const rt = new CrunRuntime(agent, fakeFs(), '/berth');
    await rt.exec(ID, { args: ['sh', '-c', 'id'], env: ['PATH=/bin', 'A=1'], cwd: '/tmp', user: { uid: 1000, gid: 100 }, tty: true, stdin: true });
    const argv = agent.execs[0]!.argv;
    const sock = agent.execs[0]!.consoleSocket!;
    expect(sock).toMatch(/^\/run\/berth\/x[0-9a-f]{16}\.sock$/);
    expect(argv).toEqual([...CRUN, 'exec', '--tty', '--console-socket', sock, '--env', 'PATH=/bin', '--env', 'A=1', '--cwd', '/tmp', '--user', '1000:100', ID, 'sh', '-c', 'id']);
    expect(agent.execs[0]!.stdin).toBe(true);

    await rt.exec(ID, { args: ['true'], env: [], tty: false, stdin: false });
    expect(agent.execs[1]!.argv).toEqual([...CRUN, 'exec', ID, 'true']);
    expect(agent.execs[1]!.consoleSocket).toBeUndefined();
  });

  it('kill and delete: crun kill ID SIG, crun delete [--force] ID; a refusal is a RuntimeCommandError with crun\'s stderr', async () => {
    const agent = fakeAgent([{ code: 0 }, { code: 1, stderr: 'container not found\n' }, { code: 0 }, { code: 0 }]);
    const rt = new CrunRuntime(agent, fakeFs(), '/berth');
    await rt.kill(ID, 'TERM');
    const err = await rt.kill(ID, '9').catch((e) => e);
    expect(err).toBeInstanceOf(RuntimeCommandError);
    expect(err).toMatchObject({ command: 'crun kill', code: 1, stderr: 'container not found\n' });
    await rt.delete(ID, { force: true });
    await rt.delete(ID, { force: false });
    expect(agent.ran).toEqual([
      [...CRUN, 'kill', ID, 'TERM'],
      [...CRUN, 'kill', ID, '9'],
      [...CRUN, 'delete', '--force', ID],
      [...CRUN, 'delete', ID],
    ]);
  });

  it('an agent that cannot run crun is not a refusal', async () => {
    const agent = fakeAgent([new Error('the guest stopped')]);
    const err = await new CrunRuntime(agent, fakeFs(), '/berth').kill(ID, 'KILL').catch((e) => e);
    expect(err).not.toBeInstanceOf(RuntimeCommandError);
    expect(err.message).toBe('the guest stopped');
  });
});
