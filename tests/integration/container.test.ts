import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandNotRunnableError, type Engine } from '../../src/engine/engine.js';
import { isBerthError } from '../../src/engine/errors.js';
import { bootEngine, guestSh, runCollect } from '../helpers/engine.js';

let engine: Engine;
beforeAll(async () => {
  engine = await bootEngine();
});
afterAll(async () => {
  await engine?.vm.stop();
});

/** What the guest holds for containers: mounts, cgroups, crun state, bundles. */
async function leftovers(): Promise<{ mounts: string; cgroups: string; crun: string; bundles: string[] }> {
  return {
    mounts: (await guestSh(engine, 'grep /run/berth/containers /proc/mounts || true')).trim(),
    cgroups: (await guestSh(engine, 'ls /sys/fs/cgroup/berth 2>/dev/null | grep -v "^cgroup\\." | grep -v -E "^(cpu|memory|pids|io)\\." || true')).trim(),
    crun: (await guestSh(engine, 'ls /run/crun 2>/dev/null || true')).trim(),
    bundles: engine.vm.fs.exists('/bundles') ? engine.vm.fs.list('/bundles') : [],
  };
}

describe('a busybox container', () => {
  it('runs as PID 1 with its own hostname', async () => {
    const r = await runCollect(engine, 'busybox', ['sh', '-c', 'echo $$; hostname']);
    expect(r.code).toBe(0);
    const [pid, host] = r.stdout.trim().split('\n');
    expect(pid).toBe('1');
    expect(host).toMatch(/^[0-9a-f]{12}$/);
    const guestHost = (await guestSh(engine, 'hostname')).trim();
    expect(host).not.toBe(guestHost);
  });

  it('takes the hostname, env and workdir it is given', async () => {
    const r = await runCollect(engine, 'busybox', ['sh', '-c', 'hostname; echo $GREETING; pwd'], {
      hostname: 'box1',
      env: ['GREETING=hi there'],
      workdir: '/tmp',
    });
    expect(r.stdout).toBe('box1\nhi there\n/tmp\n');
  });

  it('has its own mount table with an overlay as root', async () => {
    const r = await runCollect(engine, 'busybox', ['cat', '/proc/mounts']);
    const root = r.stdout.split('\n').find((l) => l.split(' ')[1] === '/');
    expect(root).toMatch(/^overlay \/ overlay /);
    expect(r.stdout).not.toMatch(/\/berth /); // the guest's 9p mount is not visible inside
  });

  it('gets a cgroup with the limits applied', async () => {
    const r = await runCollect(engine, 'busybox', ['sh', '-c', 'cat /proc/self/cgroup; cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.max'], {
      pidsLimit: 20,
      memory: 32 * 1024 * 1024,
    });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContain('20');
    expect(lines).toContain(String(32 * 1024 * 1024));
  });

  it('sees the cgroup from the guest side while it runs', async () => {
    const c = await engine.create('busybox', { cmd: ['sleep', '30'], pidsLimit: 33, memory: 48 * 1024 * 1024 });
    await engine.start(c.id);
    const dir = `/sys/fs/cgroup/berth/${c.id}/ctr`; // memory-limited: a parent cgroup of its own (OOM accounting)
    // crun applies the limits before it starts the process; wait until crun reports it running.
    const seen = await guestSh(
      engine,
      `for i in $(seq 50); do crun --root /run/crun state ${c.id} 2>/dev/null | grep -q '"running"' && break; sleep 0.1; done; cat ${dir}/pids.max ${dir}/memory.max`,
    );
    expect(seen.trim().split('\n')).toEqual(['33', String(48 * 1024 * 1024)]);
    await engine.kill(c.id, 'KILL');
    expect((await c.wait()).code).toBe(137);
    await engine.remove(c.id);
  });

  it('delivers stdout and stderr separately', async () => {
    const r = await runCollect(engine, 'busybox', ['sh', '-c', 'echo out; echo err >&2; echo out2']);
    expect(r.stdout).toBe('out\nout2\n');
    expect(r.stderr).toBe('err\n');
  });

  it('delivers a large output intact', async () => {
    const size = 4 * 1024 * 1024;
    // Every line is numbered, so loss, duplication or reordering shows.
    const r = await runCollect(engine, 'busybox', ['sh', '-c', `seq 1 800000 | head -c ${size}`]);
    expect(r.code).toBe(0);
    expect(r.stdoutBytes.length).toBe(size);
    const lines = r.stdout.split('\n');
    lines.pop(); // the last line is cut by head
    lines.forEach((l, i) => {
      if (l !== String(i + 1)) throw new Error(`line ${i + 1} is ${JSON.stringify(l)}`);
    });
  });

  it('passes its exit code through', async () => {
    expect((await runCollect(engine, 'busybox', ['sh', '-c', 'exit 7'])).code).toBe(7);
  });

  it('keeps two containers of one image apart while both run', async () => {
    const a = await engine.create('busybox', { cmd: ['sh', '-c', 'echo A > /mine; sleep 2; cat /mine; ls /theirs 2>&1 || true'] });
    const b = await engine.create('busybox', { cmd: ['sh', '-c', 'echo B > /mine; echo x > /theirs; sleep 2; cat /mine'] });
    const out = { a: '', b: '' };
    await engine.start(a.id, { onStdout: (d) => (out.a += new TextDecoder().decode(d)) });
    await engine.start(b.id, { onStdout: (d) => (out.b += new TextDecoder().decode(d)) });
    expect(engine.list().filter((c) => c.state === 'running').length).toBeGreaterThanOrEqual(2);
    await Promise.all([a.wait(), b.wait()]);
    expect(out.a).toMatch(/^A\n.*No such file or directory/s);
    expect(out.b).toBe('B\n');
    await engine.remove(a.id);
    await engine.remove(b.id);
  });

  it('takes an exec while it is still starting (it lists as running from the start)', async () => {
    const c = await engine.create('busybox', { cmd: ['sleep', '60'] });
    const starting = engine.start(c.id);
    expect(c.state).toBe('running');
    let out = '';
    const p = await engine.exec(c.id, { cmd: ['echo', 'in'] }, { onStdout: (d) => (out += new TextDecoder().decode(d)) });
    expect((await p.exit).code).toBe(0);
    expect(out).toBe('in\n');
    await starting;
    await engine.remove(c.id, { force: true });
  });

  it('leaves no mount, cgroup, crun state or bundle behind after removal', async () => {
    await runCollect(engine, 'busybox', ['true']);
    const c = await engine.create('busybox', { cmd: ['sleep', '60'] });
    await engine.start(c.id);
    await engine.remove(c.id, { force: true });
    const left = await leftovers();
    expect(left, JSON.stringify(left)).toEqual({ mounts: "", cgroups: "", crun: "", bundles: [] });
  });
});

describe('bad input', () => {
  it('an unknown image says Docker’s words and changes nothing', async () => {
    const before = engine.list().length;
    const err = await engine.create('nosuchimage').catch((e) => e);
    expect(isBerthError(err, 'not-found')).toBe(true);
    expect(err.message).toMatch(/^Unable to find image 'nosuchimage:latest' locally/);
    expect(engine.list().length).toBe(before);
  });

  it('a command missing from the image fails with 127 and Docker’s message', async () => {
    const err = await engine.create('busybox', { cmd: ['nosuchcommand'] }).catch((e) => e);
    expect(err).toBeInstanceOf(CommandNotRunnableError);
    expect(err.exitCode).toBe(127);
    expect(err.message).toMatch(/exec: "nosuchcommand": executable file not found in \$PATH/);
    const abs = await engine.create('busybox', { cmd: ['/no/such'] }).catch((e) => e);
    expect(abs.exitCode).toBe(127);
  });

  it('a file that is not executable fails with 126', async () => {
    const err = await engine.create('busybox', { cmd: ['/etc/passwd'] }).catch((e) => e);
    expect(err).toBeInstanceOf(CommandNotRunnableError);
    expect(err.exitCode).toBe(126);
  });

  it('a duplicate name is a conflict', async () => {
    const c = await engine.create('busybox', { name: 'twin', cmd: ['true'] });
    const err = await engine.create('busybox', { name: 'twin', cmd: ['true'] }).catch((e) => e);
    expect(err.message).toMatch(/Conflict. The container name "\/twin" is already in use/);
    await engine.remove(c.id);
  });
});
