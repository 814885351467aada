import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxBaseEntries, fileEntry, makeLayoutDir, writeLayout } from '../fixtures/oci-layouts.js';
import { startRegistry, type TestRegistry } from '../fixtures/registry.js';
import { freePort } from '../helpers/net.js';

const BIN = join(import.meta.dirname, '../../bin/berth.js');
// A cache folder of its own: its own daemon, socket and image store.
const CACHE = mkdtempSync(join(tmpdir(), 'berth-cli-cache-'));
afterAll(() => {
  berth(['daemon', 'stop']);
});

function berth(args: string[], env: Record<string, string> = {}, opts: { cwd?: string; input?: string } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    ...opts,
    env: { ...process.env, BERTH_CACHE: CACHE, BERTH_STORE: undefined, ...env } as NodeJS.ProcessEnv,
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('berth build', () => {
  it('builds a folder as the README types it, a Dockerfile from stdin, and a context tar from stdin', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-cli-build-'));
    mkdirSync(join(dir, 'app'));
    writeFileSync(join(dir, 'app', 'Dockerfile'), 'FROM busybox\nCOPY hello.txt /\nCMD ["cat", "/hello.txt"]\n');
    writeFileSync(join(dir, 'app', 'hello.txt'), 'hello from a folder\n');
    writeFileSync(join(dir, 'app', '.dockerignore'), 'other.Dockerfile\n');
    writeFileSync(join(dir, 'app', 'other.Dockerfile'), 'FROM busybox\nCOPY hello.txt /other.txt\nCMD ["cat", "/other.txt"]\n');
    const b = berth(['build', '-t', 'cli-hello:1', './app'], {}, { cwd: dir });
    expect(b.stderr).toMatch(/naming to docker.io\/library\/cli-hello:1 done/);
    expect(b.code).toBe(0);
    expect(berth(['run', '--rm', 'cli-hello:1']).stdout).toBe('hello from a folder\n');

    const piped = berth(['build', '-q', '-t', 'cli-piped:1', '-'], {}, { cwd: dir, input: 'FROM busybox\nRUN echo piped > /p\nCMD ["cat", "/p"]\n' });
    expect(piped.stderr).toBe('');
    expect(piped.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect(berth(['run', '--rm', 'cli-piped:1']).stdout).toBe('piped\n');

    const tar = spawnSync('tar', ['-cf', '-', '-C', join(dir, 'app'), '.']).stdout;
    const fromTar = spawnSync(process.execPath, [BIN, 'build', '-q', '-f', 'other.Dockerfile', '-t', 'cli-tar:1', '-'], {
      input: tar,
      env: { ...process.env, BERTH_CACHE: CACHE, BERTH_STORE: undefined } as NodeJS.ProcessEnv,
      timeout: 120_000,
    });
    expect(fromTar.stderr.toString()).toBe('');
    expect(fromTar.status).toBe(0);
    expect(berth(['run', '--rm', 'cli-tar:1']).stdout).toBe('hello from a folder\n');
  });
});

describe('berth run', () => {
  it('prints hello, PID 1 and the container hostname, and exits 0', () => {
    const r = berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo hello; echo $$; hostname']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [hello, pid, host] = r.stdout.trim().split('\n');
    expect(hello).toBe('hello');
    expect(pid).toBe('1');
    expect(host).toMatch(/^[0-9a-f]{12}$/);
  });

  it('exits with the container’s exit code', () => {
    expect(berth(['run', '--rm', 'busybox', 'sh', '-c', 'exit 7']).code).toBe(7);
  });

  it('passes -e and -w through and keeps flags after the image for the command', () => {
    const r = berth(['run', '--rm', '-e', 'A=1', '-w', '/etc', 'busybox', 'sh', '-c', 'echo $A; pwd; printf "%s," "$@"', 'x', '-e', 'B']);
    expect(r.stdout).toBe('1\n/etc\n-e,B,');
  });

  it('reads stdin only for commands that take it: a while-read loop keeps its lines, run -i gets its input', () => {
    const berthCmd = `"${process.execPath}" "${BIN}"`;
    const r = spawnSync('/bin/sh', ['-c', `printf 'a\\nb\\n' | while read l; do ${berthCmd} ps -q >/dev/null; echo got-$l; done; echo piped | ${berthCmd} run --rm -i busybox cat`], {
      encoding: 'utf8',
      env: { ...process.env, BERTH_CACHE: CACHE, BERTH_STORE: undefined } as NodeJS.ProcessEnv,
      timeout: 120_000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('got-a\ngot-b\npiped\n');
  });

  it('gives --help after the image, or after the container of exec, to the container’s command', () => {
    const r = berth(['run', '--rm', 'busybox', 'ls', '--help']);
    expect(r.stderr).not.toMatch(/no engine/);
    expect(r.stderr).toMatch(/Usage: ls /); // busybox prints an applet's usage on stderr
    expect(r.code).toBe(0);
    expect(berth(['run', '-d', '--name', 'helpexec', 'busybox', 'sleep', '60']).code).toBe(0);
    const x = berth(['exec', 'helpexec', 'ls', '--help']);
    expect(x.stderr).toMatch(/Usage: ls /);
    expect(x.code).toBe(0);
    berth(['rm', '-f', 'helpexec']);
    // Before the image it is still the command's own help.
    const h = berth(['run', '-it', '--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^\nUsage:  docker run \[OPTIONS\] IMAGE/);
    expect(berth(['exec', '--help']).stdout).toMatch(/^\nUsage:  docker exec /);
  });

  it('reports a missing command with exit 127', () => {
    const r = berth(['run', '--rm', 'busybox', 'nosuchcommand']);
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/executable file not found in \$PATH/);
  });

  it('reports an unknown image with exit 125', () => {
    const r = berth(['run', '--rm', 'nosuchimage']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^Unable to find image 'nosuchimage:latest' locally/);
    expect(r.stderr).toMatch(/docker: Error response from daemon: .*(pull access denied|cannot reach)/);
  });

  it('names the build command when the guest is not built', () => {
    const empty = mkdtempSync(join(tmpdir(), 'berth-noguest-'));
    const r = berth(['run', '--rm', 'busybox', 'true'], { BERTH_GUEST_DIR: empty, BERTH_CACHE: mkdtempSync(join(tmpdir(), 'berth-nocache-')) });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/guest is not built.*npm run build:guest/);
  });
});

describe('berth image commands', () => {
  let registry: TestRegistry;
  let host: string;
  beforeAll(async () => {
    registry = await startRegistry();
    host = registry.host;
    const dir = await makeLayoutDir();
    await writeLayout(dir, { layers: [await busyboxBaseEntries(), [fileEntry('etc/cli-test', 'pulled\n')]], refName: 'latest' });
    await registry.push(dir, 'clitest:latest');
  });
  afterAll(() => registry?.stop());

  it('pulls with Docker-style output, lists, runs, saves, removes and loads', () => {
    const pull = berth(['pull', `${host}/clitest`]);
    expect(pull.code, pull.stderr).toBe(0);
    expect(pull.stdout).toMatch(/^Using default tag: latest\nlatest: Pulling from .*clitest\n/);
    expect(pull.stdout).toMatch(/Pull complete/);
    expect(pull.stdout).toMatch(/Status: Downloaded newer image for .*clitest:latest/);
    expect(berth(['pull', `${host}/clitest`]).stdout).toMatch(/Status: Image is up to date/);

    const images = berth(['images']);
    expect(images.stdout.split('\n')[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    expect(images.stdout).toMatch(new RegExp(`${host.replace(/\./g, '\\.')}/clitest\\s+latest\\s+[0-9a-f]{12}`));

    expect(berth(['run', '--rm', `${host}/clitest`, 'cat', '/etc/cli-test']).stdout).toBe('pulled\n');

    const archive = join(mkdtempSync(join(tmpdir(), 'berth-save-')), 'img.tar');
    expect(berth(['save', '-o', archive, `${host}/clitest`]).code).toBe(0);
    const rmi = berth(['rmi', `${host}/clitest`]);
    expect(rmi.stdout).toMatch(/^Untagged: .*clitest:latest\nDeleted: sha256:[0-9a-f]{64}\n$/);
    expect(berth(['images', '-q']).stdout).not.toMatch(/clitest/);
    const load = berth(['load', '-i', archive]);
    expect(load.stdout).toBe(`Loaded image: ${host}/clitest:latest\n`);
    expect(berth(['image', 'inspect', `${host}/clitest`]).stdout).toMatch(/"Architecture": "386"/);
  });

  it('reports a missing image to rmi and a bad archive to load', () => {
    const rmi = berth(['rmi', 'nosuch:tag']);
    expect(rmi.code).not.toBe(0);
    expect(rmi.stderr).toMatch(/No such image: nosuch:tag/);
    const bad = join(mkdtempSync(join(tmpdir(), 'berth-bad-')), 'bad.tar');
    writeFileSync(bad, 'junk');
    const load = berth(['load', '-i', bad]);
    expect(load.code).toBe(1);
    expect(load.stderr).toMatch(/not a valid tar|neither index.json/);
  });
});

describe('berth published ports', () => {
  it('serves a container on a loopback port of this machine, and frees it on rm', async () => {
    const port = await freePort();
    const run = berth(['run', '-d', '--name', 'cliweb', '-p', `${port}:80`, 'busybox', 'sh', '-c', 'mkdir -p /www && echo served-by-berth > /www/index.html && exec httpd -f -p 80 -h /www']);
    expect(run.code, run.stderr).toBe(0);
    expect(berth(['port', 'cliweb']).stdout).toBe(`80/tcp -> 127.0.0.1:${port}\n`);
    let text = '';
    for (let i = 0; i < 50 && !text; i++) {
      text = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text()).catch(() => '');
      if (!text) await new Promise((r) => setTimeout(r, 200));
    }
    expect(text).toBe('served-by-berth\n');
    expect(berth(['rm', '-f', 'cliweb']).code).toBe(0);
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });

  it('answers after every daemon restart, whose guest is restored from the snapshot', async () => {
    for (const round of [1, 2]) {
      expect(berth(['daemon', 'stop']).code).toBe(0);
      const port = await freePort();
      const run = berth(['run', '-d', '--rm', '-p', `${port}:80`, 'busybox', 'sh', '-c', `mkdir -p /www && echo round-${round} > /www/index.html && exec httpd -f -p 80 -h /www`]);
      expect(run.code, run.stderr).toBe(0);
      const starts = readFileSync(join(CACHE, 'daemon.log'), 'utf8').match(/guest \S+ [a-z ]+, ready in/g) ?? [];
      expect(starts.at(-1)).toMatch(/restored from its snapshot/);
      let text = '';
      for (let i = 0; i < 50 && !text; i++) {
        // A request that hangs is the failure this test is for: give up on it after 5 s.
        text = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text(), (e: Error) => {
          if (e.name === 'TimeoutError') throw new Error(`the published port ${port} hangs after daemon restart ${round}`);
          return '';
        });
        if (!text) await new Promise((r) => setTimeout(r, 200));
      }
      expect(text).toBe(`round-${round}\n`);
      expect(berth(['rm', '-f', run.stdout.trim()]).code).toBe(0);
    }
  });
});

describe('berth from its build', () => {
  // A copy of what the command is built from, whose node_modules links every package of this
  // checkout's but tsx: the copy's bin/berth.js can run only its build until tsx is linked in.
  const repo = join(import.meta.dirname, '../..');
  const copy = mkdtempSync(join(tmpdir(), 'berth-build-'));
  afterAll(() => rmSync(copy, { recursive: true, force: true }));
  const node = (args: string[]) => spawnSync(process.execPath, args, { cwd: copy, encoding: 'utf8', env: { ...process.env, BERTH_DEV: undefined } as NodeJS.ProcessEnv, timeout: 120_000 });

  it('runs the build while it is fresh, never once a source changed (the sources then), and the rebuilt one after', () => {
    for (const p of ['bin', 'src', 'scripts', 'package.json', ...readdirSync(repo).filter((f) => /^tsconfig.*\.json$/.test(f))]) cpSync(join(repo, p), join(copy, p), { recursive: true });
    mkdirSync(join(copy, 'node_modules'));
    for (const m of readdirSync(join(repo, 'node_modules'))) if (m !== 'tsx' && m !== '.bin') symlinkSync(join(repo, 'node_modules', m), join(copy, 'node_modules', m));
    const build = node(['scripts/build-cli.mjs', '--if-stale']);
    expect(build.status, build.stderr).toBe(0);
    const help = () => node(['bin/berth.js', '--help']);
    const built = help(); // with no tsx to run the sources: the build ran
    expect(built.status, built.stderr).toBe(0);
    expect(built.stdout).toMatch(/^\nUsage:  docker \[OPTIONS\] COMMAND/);
    expect(built.stdout).toMatch(/Berth commands \(besides Docker's\)/);

    // A changed source: the build is stale, so the sources run (tsx needed again).
    const main = join(copy, 'src/cli/main.ts');
    writeFileSync(main, readFileSync(main, 'utf8').replace("Berth commands (besides Docker's):", "Berth commands (besides Docker's), changed:"));
    expect(help().status).not.toBe(0); // not the stale build: the sources, and no tsx to run them
    symlinkSync(join(repo, 'node_modules/tsx'), join(copy, 'node_modules/tsx'));
    expect(help().stdout).toMatch(/Berth commands \(besides Docker's\), changed:/);

    // Rebuilt (what npm test and npm start do): the build runs again, with the change.
    expect(node(['scripts/build-cli.mjs', '--if-stale']).status).toBe(0);
    rmSync(join(copy, 'node_modules/tsx'));
    const rebuilt = help();
    expect(rebuilt.status, rebuilt.stderr).toBe(0);
    expect(rebuilt.stdout).toMatch(/Berth commands \(besides Docker's\), changed:/);
  });
});
