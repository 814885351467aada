import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
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
    // The three ticks take about a second once the container runs; a busy machine starts it later.
    let last = '';
    for (const until = Date.now() + 30_000; last !== 'tick 3\n' && Date.now() < until; ) {
      await new Promise((r) => setTimeout(r, 200));
      last = (await docker('logs', '--tail', '1', 'ticker')).out;
    }
    expect(last).toBe('tick 3\n');
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

  it('anonymous volumes go with run --rm and rm -v, named ones stay; one in use is neither pruned nor removed', async () => {
    const vols = async () => (await docker('volume', 'ls', '-q')).out.split('\n').filter(Boolean).sort();
    const before = await vols();
    const added = async () => (await vols()).filter((v) => !before.includes(v));
    const run = await docker('run', '--rm', '-v', '/data', '-v', 'keptvol:/keep', 'busybox', 'sh', '-c', 'echo x > /data/f && echo y > /keep/f');
    expect(run).toMatchObject({ code: 0, err: '' });
    expect(await added()).toEqual(['keptvol']);
    // Kept without -v (as Docker), removed with it.
    expect((await docker('run', '-v', '/data', '-v', 'keptvol:/keep', '--name', 'anonvol', 'busybox', 'true')).code).toBe(0);
    const anon = (await added()).filter((v) => v !== 'keptvol');
    expect(anon).toHaveLength(1);
    expect((await docker('rm', '-v', 'anonvol')).code).toBe(0);
    expect(await added()).toEqual(['keptvol']);
    // A create that fails after making its anonymous volume takes it back.
    const bad = await docker('run', '--rm', '-v', '/data', '--network', 'nosuchnet', 'busybox', 'true');
    expect(bad.code).toBe(125);
    expect(await added()).toEqual(['keptvol']);
    // -d --rm: removed with its anonymous volume when it exits.
    expect((await docker('run', '-d', '--rm', '-v', '/data', '--name', 'anonbg', 'busybox', 'true')).code).toBe(0);
    for (let i = 0; i < 100 && (await docker('ps', '-aq', '--filter', 'name=anonbg')).out; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await added()).toEqual(['keptvol']);
    // A running container's anonymous volume is in use: prune leaves it, rm refuses.
    expect((await docker('run', '-d', '-v', '/data', '--name', 'anonbusy', 'busybox', 'sleep', '60')).code).toBe(0);
    const busy = (await added()).filter((v) => v !== 'keptvol');
    expect(busy).toHaveLength(1);
    await docker('volume', 'prune', '-f');
    expect(await added()).toEqual([...busy, 'keptvol'].sort());
    const refused = await docker('volume', 'rm', busy[0]!);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/volume is in use - \[anonbusy\]/);
    expect((await docker('rm', '-f', '-v', 'anonbusy')).code).toBe(0);
    expect(await added()).toEqual(['keptvol']);
    expect((await docker('volume', 'rm', 'keptvol')).code).toBe(0);
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

  it('reads stdin only for commands that take it: a while-read loop keeps its lines, run -i gets its input', async () => {
    const out = await engine.vm.agent.runChecked(
      ['/bin/sh', '-c', "printf 'a\\nb\\n' | while read l; do docker ps -q >/dev/null; echo got-$l; done; echo piped | docker run --rm -i busybox cat"],
      { env: { PATH: '/usr/bin:/bin' } },
    );
    expect(new TextDecoder().decode(out)).toBe('got-a\ngot-b\npiped\n');
  });

  it('takes combined short flags and --flag=value', async () => {
    const r = await docker('run', '--rm', '-e', 'A=1', '--workdir=/etc', '--name=combo', 'busybox', 'sh', '-c', 'echo $A $(pwd)');
    expect(r.out).toBe('1 /etc\n');
    const d = await docker('run', '-dt', '--rm', 'busybox', 'sleep', '30');
    expect(d.out.trim()).toMatch(/^[0-9a-f]{64}$/);
    await docker('rm', '-f', d.out.trim());
  });
});

describe('docker run -it in a guest terminal', () => {
  // busybox sh asks the terminal where the cursor is (ESC [6n) after its prompt.
  const PROMPT = /# (\x1b\[6n)?$/;
  /** The docker client on a pty in the guest, as a person at the terminal would run it. */
  async function terminal(args: string[]) {
    let screen = '';
    const proc = await engine.vm.agent.exec({
      argv: ['/usr/bin/docker', ...args],
      env: { PATH: '/usr/bin:/bin', TERM: 'xterm' },
      cwd: '/tmp',
      tty: { rows: 24, cols: 80 },
      stdin: true,
      onStdout: (d) => (screen += new TextDecoder().decode(d)),
    });
    const waitFor = async (re: RegExp, what: string) => {
      for (let i = 0; i < 200 && !re.test(screen); i++) await new Promise((r) => setTimeout(r, 50));
      if (!re.test(screen)) throw new Error(`never saw ${what}; screen:\n${screen}`);
    };
    return { proc, waitFor, type: (s: string) => proc.write(s), screen: () => screen };
  }

  it('is a real tty: line editing, Ctrl-C to the container, resize, exit status', async () => {
    const t = await terminal(['run', '-it', '--rm', 'busybox', 'sh']);
    await t.waitFor(PROMPT, 'the prompt');
    await t.type('tty; echo $((6 * 7))\r');
    await t.waitFor(/\/dev\/pts\/0\r\n42\r\n/, 'tty and 42');
    await t.type('echo typo\x7f\x7f\x7fok\r'); // backspaces edit the line
    await t.waitFor(/\r\ntok\r\n/, 'the edited line');
    await t.type('sleep 100; echo after-sleep\r');
    await new Promise((r) => setTimeout(r, 700));
    await t.type('\x03'); // Ctrl-C reaches sleep in the container, not the client
    await t.waitFor(/\^C\r\n(.|\n)*# (\x1b\[6n)?$/, 'the prompt after Ctrl-C');
    expect(t.screen()).not.toMatch(/\r\nafter-sleep\r\n/); // only the typed line echoes it
    t.proc.resize(33, 101);
    await new Promise((r) => setTimeout(r, 300));
    await t.type('stty size\r');
    await t.waitFor(/33 101/, 'the new size');
    await t.type('exit 3\r');
    expect((await t.proc.exit).code).toBe(3);
  });

  it('Ctrl-P Ctrl-Q detaches and leaves the container running', async () => {
    const t = await terminal(['run', '-it', '--name', 'detachme', 'busybox', 'sh']);
    await t.waitFor(PROMPT, 'the prompt');
    await t.type('\x10\x11');
    expect((await t.proc.exit).code).toBe(0);
    expect((await docker('ps', '--format', '{{.Names}} {{.Status}}')).out).toMatch(/^detachme Up /m);
    await docker('rm', '-f', 'detachme');
  });

  it('run -it --rm detached with Ctrl-P Ctrl-Q keeps running and is removed when it exits', async () => {
    const t = await terminal(['run', '-it', '--rm', '--name', 'detachrm', 'busybox', 'sh', '-c', 'echo ready; sleep 4']);
    for (let i = 0; i < 600 && !/ready/.test(t.screen()); i++) await new Promise((r) => setTimeout(r, 50));
    await t.waitFor(/ready/, 'the container’s output');
    await new Promise((r) => setTimeout(r, 300)); // the client's terminal goes raw once the run started
    await t.type('\x10\x11');
    expect((await t.proc.exit).code).toBe(0);
    expect((await docker('ps', '-a', '--format', '{{.Names}} {{.Status}}')).out).toMatch(/^detachrm Up /m);
    // Nobody is attached when it exits: the engine removes it all the same.
    for (let i = 0; i < 200 && engine.list().some((c) => c.name === 'detachrm'); i++) await new Promise((r) => setTimeout(r, 50));
    expect((await docker('ps', '-a', '--format', '{{.Names}}')).out).not.toMatch(/^detachrm$/m);
  });
});

describe('no leaks', () => {
  it('100 run --rm leave no mount, cgroup, 9p folder or memory growth behind', async () => {
    const guestMem = async () => Number(/MemAvailable:\s+(\d+)/.exec((await engine.vm.agent.run(['/bin/cat', '/proc/meminfo'])).stdout)?.[1]);
    const counts = async () => ({
      mounts: (await engine.vm.agent.run(['/bin/sh', '-c', 'wc -l < /proc/mounts'])).stdout.trim(),
      cgroups: (await engine.vm.agent.run(['/bin/sh', '-c', 'ls -d /sys/fs/cgroup/berth/*/ 2>/dev/null | wc -l'])).stdout.trim(),
      bundles: engine.vm.fs.exists('/bundles') ? engine.vm.fs.list('/bundles').length : 0,
      containers: engine.list().length,
    });
    // The host's live JS memory after a full collection: RSS alone moves with when V8 last collected and returns pages.
    setFlagsFromString('--expose_gc');
    const gc = runInNewContext('gc') as () => void;
    const hostLive = () => {
      gc();
      gc();
      const m = process.memoryUsage();
      return { rss: m.rss, live: m.heapUsed + m.arrayBuffers };
    };
    await docker('run', '--rm', 'busybox', 'true');
    const before = { ...(await counts()), guestKiB: await guestMem(), host: hostLive() };
    for (let i = 0; i < 100; i++) {
      const r = await docker('run', '--rm', 'busybox', 'true');
      if (r.code !== 0) throw new Error(`run ${i} failed: ${r.err}`);
    }
    const after = { ...(await counts()), guestKiB: await guestMem(), host: hostLive() };
    const mb = (n: number) => (n / 1e6).toFixed(0);
    console.log(`100 × run --rm: guest MemAvailable ${before.guestKiB} → ${after.guestKiB} KiB; host live JS ${mb(before.host.live)} → ${mb(after.host.live)} MB, RSS ${mb(before.host.rss)} → ${mb(after.host.rss)} MB`);
    expect({ mounts: after.mounts, cgroups: after.cgroups, bundles: after.bundles, containers: after.containers }).toEqual({
      mounts: before.mounts, cgroups: before.cgroups, bundles: before.bundles, containers: before.containers,
    });
    // Page cache and slab move a little; a leak of a container's tmpfs (~1 MiB+) per run would not.
    expect(before.guestKiB - after.guestKiB).toBeLessThan(8 * 1024);
    // A leak of a run's buffers (its log, a bundle's files in the 9p tree) would add up over 100 runs.
    expect(after.host.live - before.host.live).toBeLessThan(16 * 1024 * 1024);
  }, 300_000); // 100 runs: ~40 s on a quiet 2-core machine, several times that while it is busy
});

describe('files: cp, diff, export, --env-file', () => {
  it('copies both ways, lists changes and exports the filesystem', async () => {
    await docker('run', '-d', '--name', 'files', 'busybox', 'sh', '-c', 'echo made > /made.txt; rm /etc/group; echo x >> /etc/passwd; sleep 60');
    await new Promise((r) => setTimeout(r, 800));
    await engine.vm.agent.run(['/bin/sh', '-c', 'mkdir -p /tmp/cpdir && echo from-guest > /tmp/cpdir/in.txt']);
    expect((await docker('cp', '/tmp/cpdir/in.txt', 'files:/in.txt')).code).toBe(0);
    expect((await docker('exec', 'files', 'cat', '/in.txt')).out).toBe('from-guest\n');
    expect((await docker('cp', 'files:/made.txt', '/tmp/cpdir/')).code).toBe(0);
    expect((await docker('cp', 'files:/made.txt', '/tmp/cpdir/renamed.txt')).code).toBe(0);
    expect((await engine.vm.agent.run(['/bin/cat', '/tmp/cpdir/made.txt', '/tmp/cpdir/renamed.txt'])).stdout).toBe('made\nmade\n');
    const missing = await docker('cp', 'files:/nope', '/tmp/cpdir/');
    expect(missing.code).not.toBe(0);
    const diff = (await docker('diff', 'files')).out;
    expect(diff).toMatch(/^A \/made\.txt$/m);
    expect(diff).toMatch(/^D \/etc\/group$/m);
    expect(diff).toMatch(/^C \/etc\/passwd$/m);
    expect(diff).toMatch(/^C \/etc$/m);
    expect((await docker('export', '-o', '/tmp/cpdir/fs.tar', 'files')).code).toBe(0);
    const listing = (await engine.vm.agent.run(['/bin/tar', '-tf', '/tmp/cpdir/fs.tar'])).stdout;
    expect(listing).toMatch(/^\.\/made\.txt$/m);
    expect(listing).toMatch(/^\.\/bin\/busybox$/m);
    await docker('rm', '-f', 'files');
  });

  it('reads --env-file from the client side', async () => {
    await engine.vm.agent.run(['/bin/sh', '-c', 'printf "# comment\\nA=1\\n\\nB=two words\\n" > /tmp/envfile']);
    const r = await docker('run', '--rm', '--env-file', '/tmp/envfile', 'busybox', 'sh', '-c', 'echo "$A|$B"');
    expect(r.out).toBe('1|two words\n');
    const missing = await docker('run', '--rm', '--env-file', '/tmp/nope', 'busybox', 'true');
    expect(missing.code).toBe(125);
    expect(missing.err).toMatch(/open \/tmp\/nope/);
  });
});

describe('more run flags and inspection commands', () => {
  it('--read-only, --tmpfs, --cap-drop, -u, --entrypoint', async () => {
    const ro = await docker('run', '--rm', '--read-only', '--tmpfs', '/scratch', 'busybox', 'sh', '-c', 'touch /x 2>&1; touch /scratch/ok && echo tmpfs-ok');
    expect(ro.out).toMatch(/Read-only file system/);
    expect(ro.out).toMatch(/tmpfs-ok/);
    const chown = await docker('run', '--rm', '--cap-drop', 'CHOWN', 'busybox', 'sh', '-c', 'touch /f; chown 1 /f 2>&1 || echo denied');
    expect(chown.out).toMatch(/denied/);
    expect((await docker('run', '--rm', '-u', 'nobody', 'busybox', 'id', '-u')).out).toBe('65534\n');
    expect((await docker('run', '--rm', '--entrypoint', 'echo', 'busybox', 'via', 'entrypoint')).out).toBe('via entrypoint\n');
    expect((await docker('run', '--rm', '--privileged', 'busybox', 'true')).err).toMatch(/--privileged is not supported/);
  });

  it('--restart on-failure restarts a failing container up to its limit', async () => {
    await docker('run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'echo run; exit 1');
    for (let i = 0; i < 60; i++) {
      const s = (await docker('inspect', '--format', '{{.RestartCount}} {{.State.Status}}', 'flaky')).out.trim();
      if (s === '2 exited') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect((await docker('inspect', '--format', '{{.RestartCount}} {{.State.Status}}', 'flaky')).out).toBe('2 exited\n');
    expect((await docker('logs', 'flaky')).out).toBe('run\nrun\nrun\n');
    await docker('rm', 'flaky');
  });

  it('rename, top, stats --no-stream, history, port, version, info', async () => {
    await docker('run', '-d', '--name', 'old', '-m', '32m', 'busybox', 'sleep', '60');
    expect((await docker('rename', 'old', 'new')).code).toBe(0);
    expect((await docker('ps', '--format', '{{.Names}}')).out).toMatch(/^new$/m);
    await new Promise((r) => setTimeout(r, 500));
    expect((await docker('top', 'new')).out).toMatch(/^UID\s+PID\s+PPID\s+TIME\s+CMD\n.*sleep 60/s);
    const stats = (await docker('stats', '--no-stream')).out;
    expect(stats.split('\n')[0]).toMatch(/^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/);
    expect(stats).toMatch(/new\s+[\d.]+%\s+[\d.]+\w?B \/ 33\.6MB/);
    expect((await docker('history', 'busybox')).out).toMatch(/^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT\n[0-9a-f]{12}/);
    expect(await docker('port', 'new')).toEqual({ code: 0, out: '', err: '' });
    expect((await docker('version')).out).toMatch(/Server: Berth Engine/);
    expect((await docker('info')).out).toMatch(/Containers: \d+\n\s+Running: 1/);
    await docker('rm', '-f', 'new');
  });
});
