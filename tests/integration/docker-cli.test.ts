import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveGuestDockerClients } from '../../src/engine/docker-cli/serve.js';
import type { Engine } from '../../src/engine/engine.js';
import { bootEngine } from '../helpers/engine.js';

/**
 * Docker tutorials' first lessons, typed as `docker ...` in the guest: the
 * thin client in the guest, the agent relaying, the engine running them.
 */
let engine: Engine;
beforeAll(async () => {
  engine = await bootEngine();
  serveGuestDockerClients(engine);
});
afterAll(async () => {
  await engine?.vm.stop();
});

async function docker(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const p = await engine.vm.agent.exec({
    argv: ['/usr/bin/docker', ...args],
    env: { PATH: '/usr/bin:/bin', TERM: 'dumb' },
    cwd: '/tmp',
    onStdout: (d) => (out += new TextDecoder().decode(d)),
    onStderr: (d) => (err += new TextDecoder().decode(d)),
  });
  return { code: (await p.exit).code, out, err };
}

describe('docker in the guest terminal', () => {
  it('runs a container and prints its output', async () => {
    const r = await docker('run', '--rm', 'busybox', 'echo', 'hello-from-berth');
    expect(r).toEqual({ code: 0, out: 'hello-from-berth\n', err: '' });
  });

  it('lists images like Docker', async () => {
    const r = await docker('images');
    expect(r.out).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\nbusybox\s+latest\s+[0-9a-f]{12}\s/);
  });

  it('ps and ps -a show running and exited containers; rm and prune clean up', async () => {
    await docker('run', '--name', 'done1', 'busybox', 'true');
    const id = (await docker('run', '-d', '--name', 'sleeper', 'busybox', 'sleep', '60')).out.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const ps = await docker('ps');
    expect(ps.out.split('\n')[0]).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    expect(ps.out).toMatch(/sleeper/);
    expect(ps.out).not.toMatch(/done1/);
    const all = await docker('ps', '-a', '--format', '{{.Names}} {{.Status}}');
    expect(all.out).toMatch(/^done1 Exited \(0\) /m);
    expect(all.out).toMatch(/^sleeper Up /m);
    expect((await docker('ps', '-q')).out.trim()).toBe(id.slice(0, 12));
    expect((await docker('ps', '-a', '--filter', 'status=exited', '--format', '{{.Names}}')).out).toBe('done1\n');
    expect((await docker('ps', '-l', '--format', '{{.ID}} {{.Image}}')).out).toBe(`${id.slice(0, 12)} busybox\n`);
    const rmRunning = await docker('rm', 'sleeper');
    expect(rmRunning.code).toBe(1);
    expect(rmRunning.err).toMatch(/container is running/);
    expect((await docker('rm', '-f', 'sleeper')).out).toBe('sleeper\n');
    expect((await docker('container', 'prune', '-f')).out).toMatch(/Deleted Containers:\n[0-9a-f]{64}/);
    expect((await docker('ps', '-a', '-q')).out).toBe('');
  });

  it('run -d, logs -f, exec, stop', async () => {
    await docker('run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo tick $i; sleep 0.3; done; sleep 60');
    const follow = docker('logs', '-f', 'ticker');
    await new Promise((r) => setTimeout(r, 1500));
    expect((await docker('logs', '--tail', '1', 'ticker')).out).toBe('tick 3\n');
    expect((await docker('logs', '-t', 'ticker')).out).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z tick 1\n/);
    expect((await docker('exec', 'ticker', 'sh', '-c', 'echo in $(hostname); echo $$')).out).toMatch(/^in [0-9a-f]{12}\n\d+\n$/);
    expect((await docker('exec', '-e', 'X=1', '-w', '/etc', 'ticker', 'sh', '-c', 'echo $X; pwd')).out).toBe('1\n/etc\n');
    const stop = await docker('stop', '-t', '1', 'ticker');
    expect(stop.out).toBe('ticker\n');
    const logs = await follow;
    expect(logs.out).toBe('tick 1\ntick 2\ntick 3\n');
    expect((await docker('inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', 'ticker')).out).toBe('exited 137\n');
    await docker('rm', 'ticker');
  });

  it('a named volume outlives its container', async () => {
    expect((await docker('volume', 'create', 'notes')).out).toBe('notes\n');
    await docker('run', '--rm', '-v', 'notes:/data', 'busybox', 'sh', '-c', 'echo remembered > /data/note');
    expect((await docker('run', '--rm', '-v', 'notes:/data:ro', 'busybox', 'cat', '/data/note')).out).toBe('remembered\n');
    const ro = await docker('run', '--rm', '-v', 'notes:/data:ro', 'busybox', 'sh', '-c', 'echo x > /data/note');
    expect(ro.code).not.toBe(0);
    expect((await docker('volume', 'ls')).out).toMatch(/^DRIVER\s+VOLUME NAME\nlocal\s+notes\n$/);
    expect(JSON.parse((await docker('volume', 'inspect', 'notes')).out)[0].Name).toBe('notes');
    expect((await docker('volume', 'rm', 'notes')).out).toBe('notes\n');
  });

  it('limits: -m is an OOM kill reported as 137 with OOMKilled true; --pids-limit holds', async () => {
    const r = await docker('run', '--name', 'hog', '-m', '16m', 'busybox', 'sh', '-c', 'x=$(head -c 64000000 /dev/zero | tr "\\0" a); echo survived');
    expect(r.code).toBe(137);
    expect((await docker('inspect', '--format', '{{.State.OOMKilled}}', 'hog')).out).toBe('true\n');
    await docker('rm', 'hog');
    // 40 background sleeps against a limit of 20 (in a subshell: ash exits when a fork fails);
    // pids.events counts the refused forks.
    const bomb = await docker('run', '--rm', '--pids-limit', '20', 'busybox', 'sh', '-c',
      '(for i in $(seq 40); do sleep 5 & done) 2>/dev/null; read max n < /sys/fs/cgroup/pids.events; read cur < /sys/fs/cgroup/pids.current; echo "refused=$n current=$cur"');
    const m = /refused=(\d+) current=(\d+)/.exec(bomb.out);
    expect(m, bomb.out + bomb.err).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(Number(m![2])).toBeLessThanOrEqual(20);
    expect((await docker('version')).code).toBe(0); // the engine still answers
  });

  it('errors follow Docker: messages and exit codes', async () => {
    const noImage = await docker('run', 'nosuchimage');
    expect(noImage.code).toBe(125);
    expect(noImage.err).toMatch(/^Unable to find image 'nosuchimage:latest' locally/);
    const noCmd = await docker('run', '--rm', 'busybox', 'nosuchcmd');
    expect(noCmd.code).toBe(127);
    expect(noCmd.err).toMatch(/executable file not found in \$PATH/);
    const notExec = await docker('run', '--rm', 'busybox', '/etc/passwd');
    expect(notExec.code).toBe(126);
    const noSuch = await docker('logs', 'nosuchcontainer');
    expect(noSuch.err).toMatch(/No such container: nosuchcontainer/);
    expect(noSuch.code).not.toBe(0);
    await docker('create', '--name', 'dup', 'busybox');
    const dup = await docker('create', '--name', 'dup', 'busybox');
    expect(dup.code).toBe(125);
    expect(dup.err).toMatch(/Conflict. The container name "\/dup" is already in use by container "[0-9a-f]{64}"/);
    await docker('rm', 'dup');
    const flag = await docker('run', '--nosuchflag', 'busybox');
    expect(flag.code).toBe(125);
    expect(flag.err).toMatch(/unknown flag: '--nosuchflag'\n\nSee 'docker run --help'/);
    expect((await docker('frobnicate')).err).toMatch(/'frobnicate' is not a docker command/);
  });

  it('takes combined short flags and --flag=value', async () => {
    const r = await docker('run', '--rm', '-e', 'A=1', '--workdir=/etc', '--name=combo', 'busybox', 'sh', '-c', 'echo $A $(pwd)');
    expect(r.out).toBe('1 /etc\n');
    const d = await docker('run', '-dt', '--rm', 'busybox', 'sleep', '30');
    expect(d.out.trim()).toMatch(/^[0-9a-f]{64}$/);
    await docker('rm', '-f', d.out.trim());
  });
});
