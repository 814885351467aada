import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDockerCommand } from '../../src/engine/docker-cli/docker-cli.js';
import { ClientIO } from '../../src/engine/docker-cli/io.js';
import { serveGuestDockerClients } from '../../src/engine/docker-cli/serve.js';
import type { Engine } from '../../src/engine/engine.js';
import { nodeClientFiles } from '../../src/node/node-files.js';
import { bootEngine, guestSh } from '../helpers/engine.js';

/**
 * `docker build` on the real guest: Dockerfiles of a Docker course, built
 * from the guest's terminal (the context packed in the guest) and from Node
 * (`berth build`: the context packed by the client's side), then run.
 */
let engine: Engine;
beforeAll(async () => {
  engine = await bootEngine();
  serveGuestDockerClients(engine);
});
afterAll(async () => {
  await engine?.vm.stop();
});

interface Result {
  code: number;
  out: string;
  err: string;
}

/** `docker ARGS` typed in the guest's shell, in `cwd`. */
async function guestDocker(cwd: string, ...args: string[]): Promise<Result> {
  let out = '';
  let err = '';
  const p = await engine.vm.agent.exec({
    argv: ['/usr/bin/docker', ...args],
    env: { PATH: '/usr/bin:/bin', TERM: 'dumb' },
    cwd,
    onStdout: (d) => (out += new TextDecoder().decode(d)),
    onStderr: (d) => (err += new TextDecoder().decode(d)),
  });
  return { code: (await p.exit).code, out, err };
}

/** `berth ARGS` from a folder of this machine (the daemon reads the client's files). */
async function berth(cwd: string, argv: string[], opts: { stdin?: Uint8Array; signalAfter?: (err: string) => boolean } = {}): Promise<Result> {
  let out = '';
  let err = '';
  let io!: ClientIO;
  io = new ClientIO(
    {
      stdout: (d) => (out += new TextDecoder().decode(d)),
      stderr: (d) => {
        err += new TextDecoder().decode(d);
        if (opts.signalAfter?.(err)) {
          opts.signalAfter = undefined;
          io.pushSignal(2);
        }
      },
      setRaw: () => {},
    },
    cwd,
    {},
    undefined,
    false,
  );
  if (opts.stdin) io.pushStdin(opts.stdin);
  io.pushStdinEnd();
  const code = await runDockerCommand(engine, argv, io, nodeClientFiles);
  return { code, out, err };
}

/** Writes files into a new folder of this machine. */
function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-build-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const run = async (image: string, ...cmd: string[]) => berth('/', ['run', '--rm', image, ...cmd]);

describe('docker build in the guest terminal', () => {
  it('builds a Dockerfile written in the shell, runs it, shows its history', async () => {
    await guestSh(engine, `mkdir -p /tmp/app && cd /tmp/app && printf 'hello from a file\\n' > hello.txt && cat > Dockerfile <<'EOF'
FROM busybox
COPY hello.txt /
RUN echo built > /built.txt
CMD ["cat", "/hello.txt", "/built.txt"]
EOF`);
    const b = await guestDocker('/tmp/app', 'build', '-t', 'hello:1', '.');
    expect(b.err).toMatch(/#\d+ \[2\/3\] COPY hello.txt \//);
    expect(b.err).toMatch(/#\d+ naming to docker.io\/library\/hello:1 done/);
    expect(b.code).toBe(0);
    const r = await guestDocker('/tmp', 'run', '--rm', 'hello:1');
    expect(r).toEqual({ code: 0, out: 'hello from a file\nbuilt\n', err: '' });
    const h = await guestDocker('/tmp', 'history', 'hello:1');
    expect(h.out).toMatch(/CMD \["cat" "\/hello.txt" "\/built.txt"\]|CMD \["cat","\/hello.txt"/);
    expect(h.out).toMatch(/RUN \/bin\/sh -c echo built/);
    expect(h.out).toMatch(/COPY hello.txt/);
  });

  it('builds from a Dockerfile on stdin with no context', async () => {
    await guestSh(engine, `printf 'FROM busybox\\nRUN echo no-context > /x\\nCMD ["cat","/x"]\\n' > /tmp/only.Dockerfile`);
    const b = await engine.vm.agent.run(['/bin/sh', '-c', 'cd /tmp && docker build -q -t nocontext - < /tmp/only.Dockerfile']);
    expect(b.stderr).toBe('');
    expect(b.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect((await guestDocker('/tmp', 'run', '--rm', 'nocontext')).out).toBe('no-context\n');
  });
});

describe('berth build from a folder', () => {
  it('multi-stage: COPY --from, ARG and ENV substitution, WORKDIR, USER, ENTRYPOINT with CMD', async () => {
    const dir = folder({
      Dockerfile: `ARG BASE=busybox
FROM \${BASE} AS builder
ARG GREETING=hi
ENV TARGET=/out
WORKDIR /src
COPY greet.sh ./
RUN mkdir -p \${TARGET} && sh greet.sh "\${GREETING}" > \${TARGET}/greeting.txt

FROM busybox
LABEL org.example.course="berth"
RUN echo 'app:x:1234:1234::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1234:' >> /etc/group && mkdir -p /home/app && chown app:app /home/app
COPY --from=builder --chown=app:app /out/ /home/app/
WORKDIR /home/app
USER app
ENTRYPOINT ["cat"]
CMD ["greeting.txt"]
EXPOSE 8080
`,
      'greet.sh': 'echo "$1, world"\n',
    });
    const b = await berth(dir, ['build', '--progress=plain', '--build-arg', 'GREETING=hello', '-t', 'multi:1', '.']);
    expect(b.err).not.toMatch(/ERROR/);
    expect(b.code).toBe(0);
    expect(b.err).toMatch(/\[builder 4\/4\] RUN mkdir -p \$\{TARGET\}/);
    const r = await run('multi:1');
    expect(r).toEqual({ code: 0, out: 'hello, world\n', err: '' });
    const who = await berth('/', ['run', '--rm', '--entrypoint', 'sh', 'multi:1', '-c', 'id -u; pwd; stat -c "%u:%g %a" greeting.txt']);
    expect(who.out).toBe('1234\n/home/app\n1234:1234 644\n');
    const inspect = await berth('/', ['image', 'inspect', '--format', '{{json .Config}}', 'multi:1']);
    const config = JSON.parse(inspect.out);
    expect(config).toMatchObject({ User: 'app', WorkingDir: '/home/app', Entrypoint: ['cat'], Cmd: ['greeting.txt'], ExposedPorts: { '8080/tcp': {} }, Labels: { 'org.example.course': 'berth' } });
    // The builder stage's ARG and ENV do not reach the final image.
    expect(config.Env.join(' ')).not.toMatch(/TARGET|GREETING/);
  });

  it('a file deleted and a directory replaced across steps; a heredoc RUN; ADD of a tar; .dockerignore', async () => {
    const dir = folder({
      Dockerfile: `FROM busybox
RUN mkdir -p /data/keep /data/gone && echo a > /data/keep/a && echo b > /data/gone/b && echo c > /data/file
RUN rm /data/file && rm -r /data/gone && mkdir /data/gone && echo new > /data/gone/new
RUN <<EOF
set -e
echo "from a heredoc" > /heredoc.txt
echo "second line" >> /heredoc.txt
EOF
ADD files.tar /unpacked/
COPY . /ctx/
`,
      '.dockerignore': '*.log\nsecret/\n!secret/public.txt\n',
      'notes.txt': 'kept\n',
      'debug.log': 'ignored\n',
      'secret/private.txt': 'ignored\n',
      'secret/public.txt': 'exception\n',
    });
    // A tar for ADD, made with GNU tar in the context folder.
    const tarSrc = folder({ 'one.txt': 'one\n', 'sub/two.txt': 'two\n' });
    const { execFileSync } = await import('node:child_process');
    execFileSync('tar', ['-cf', join(dir, 'files.tar'), '-C', tarSrc, '.']);
    const b = await berth(dir, ['build', '--progress=plain', '-t', 'layers:1', '.']);
    expect(b.err).not.toMatch(/ERROR/);
    expect(b.code).toBe(0);
    const r = await run('layers:1', 'sh', '-c', 'find /data /unpacked /ctx | sort; cat /heredoc.txt /unpacked/sub/two.txt');
    expect(r.out).toBe(
      [
        '/ctx', '/ctx/.dockerignore', '/ctx/Dockerfile', '/ctx/files.tar', '/ctx/notes.txt', '/ctx/secret', '/ctx/secret/public.txt',
        '/data', '/data/gone', '/data/gone/new', '/data/keep', '/data/keep/a',
        '/unpacked', '/unpacked/one.txt', '/unpacked/sub', '/unpacked/sub/two.txt',
        'from a heredoc', 'second line', 'two', '',
      ].join('\n'),
    );
  });

  it('a second build is all CACHED; changing a copied file rebuilds from that step on', async () => {
    const dir = folder({
      Dockerfile: 'FROM busybox\nRUN echo one > /one\nCOPY app.txt /\nRUN cat /app.txt > /copy\n',
      'app.txt': 'v1\n',
    });
    const first = await berth(dir, ['build', '--progress=plain', '-t', 'cached:1', '.']);
    expect(first.code).toBe(0);
    const second = await berth(dir, ['build', '--progress=plain', '-t', 'cached:1', '.']);
    expect(second.code).toBe(0);
    expect(second.err.match(/CACHED/g)?.length).toBe(4); // FROM and three steps
    writeFileSync(join(dir, 'app.txt'), 'v2\n');
    const third = await berth(dir, ['build', '--progress=plain', '-t', 'cached:1', '.']);
    expect(third.code).toBe(0);
    expect(third.err).toMatch(/\[2\/4\] RUN echo one > \/one\n#\d+ CACHED/);
    expect(third.err).toMatch(/\[3\/4\] COPY app.txt \/\n#\d+ DONE/);
    expect((await run('cached:1', 'cat', '/copy')).out).toBe('v2\n');
    const noCache = await berth(dir, ['build', '--progress=plain', '--no-cache', '-q', '.']);
    expect(noCache.out).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect(noCache.err).toBe('');
  });

  it('a failing RUN prints its output and Docker\'s error, exits 1 and leaves no image', async () => {
    const dir = folder({ Dockerfile: 'FROM busybox\nRUN echo before\nRUN echo oops && false\n' });
    const before = (await berth('/', ['images', '-q'])).out;
    const b = await berth(dir, ['build', '--progress=plain', '-t', 'broken:1', '.']);
    expect(b.code).toBe(1);
    expect(b.err).toMatch(/#\d+ [\d.]+ oops\n/);
    expect(b.err).toMatch(/ > \[3\/3\] RUN echo oops && false:\noops\n/);
    expect(b.err).toMatch(/Dockerfile:3\n-+\n +1 \| +FROM busybox\n +2 \| +RUN echo before\n +3 \| >>> RUN echo oops && false\n-+\n/);
    expect(b.err).toMatch(/ERROR: failed to solve: process "\/bin\/sh -c echo oops && false" did not complete successfully: exit code: 1\n$/);
    expect((await berth('/', ['images', '-q'])).out).toBe(before);
    expect((await berth('/', ['ps', '-aq'])).out).toBe('');
  });

  it('bad input: a missing source, a symlink out of the context, random bytes, an unknown instruction', async () => {
    const missing = await berth(folder({ Dockerfile: 'FROM busybox\nCOPY missing.txt /\n' }), ['build', '.']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/ERROR: failed to solve: "\/missing.txt": not found/);

    const dir = folder({ Dockerfile: 'FROM busybox\nCOPY . /ctx/\nCOPY link /followed\n' });
    symlinkSync('/etc/passwd', join(dir, 'link'));
    const linked = await berth(dir, ['build', '-t', 'links:1', '.']);
    // The link is copied as a link; named as a source it resolves inside the context (where /etc/passwd is not).
    expect(linked.code).toBe(1);
    expect(linked.err).toMatch(/not found/);
    const ok = await berth(folder({ Dockerfile: 'FROM busybox\nCOPY . /ctx/\n' }), ['build', '-q', '.']);
    expect(ok.code).toBe(0);

    const dir2 = folder({ Dockerfile: 'FROM busybox\nCOPY . /ctx/\n' });
    symlinkSync('/etc/passwd', join(dir2, 'link'));
    symlinkSync('../../..', join(dir2, 'up'));
    const b2 = await berth(dir2, ['build', '-t', 'links:2', '.']);
    expect(b2.code).toBe(0);
    const r = await run('links:2', 'sh', '-c', 'readlink /ctx/link; readlink /ctx/up; ls /ctx');
    expect(r.out).toBe('/etc/passwd\n../../..\nDockerfile\nlink\nup\n');

    const random = new Uint8Array(1 << 20);
    for (let i = 0; i < random.length; i += 65536) crypto.getRandomValues(random.subarray(i, i + 65536));
    const rnd = mkdtempSync(join(tmpdir(), 'berth-build-'));
    writeFileSync(join(rnd, 'Dockerfile'), random);
    const bad = await berth(rnd, ['build', '.']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/ERROR: failed to solve: .*(line|dockerfile)/i);

    const unknown = await berth(folder({ Dockerfile: 'FROM busybox\nFOO bar\n' }), ['build', '.']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/unknown instruction: FOO/i);

    const ignore = await berth(folder({ Dockerfile: 'FROM busybox\n', '.dockerignore': 'ok\n[unclosed\n' }), ['build', '.']);
    expect(ignore.code).toBe(1);
    expect(ignore.err).toMatch(/ERROR: failed to solve: .dockerignore line 2: syntax error in pattern/);

    const self = await berth(folder({ Dockerfile: 'FROM busybox AS a\nFROM a AS b\nCOPY --from=b /x /x\n' }), ['build', '.']);
    expect(self.code).toBe(1);
    expect(self.err).toMatch(/circular dependency detected on stage: b/);

    // A file named like a whiteout of ".." must not become one (it would delete every unpacked layer).
    const whiteout = await berth(folder({ Dockerfile: 'FROM busybox\nRUN touch /.wh...\nRUN true\n' }), ['build', '.']);
    expect(whiteout.code).toBe(1);
    expect(whiteout.err).toMatch(/ERROR: failed to solve: the container's changes cannot be a layer: layer entry ".wh..." is a whiteout of "..", which is refused/);
    expect((await run('busybox', 'echo', 'still here')).out).toBe('still here\n');

    const platform = await berth(folder({ Dockerfile: 'FROM --platform=linux/amd64 busybox\n' }), ['build', '.']);
    expect(platform.code).toBe(1);
    expect(platform.err).toMatch(/linux\/amd64: berth runs linux\/386 images only/);
    expect((await berth('/', ['ps', '-aq'])).out).toBe('');
  });

  it('Ctrl-C during a RUN: no image, the build container gone', async () => {
    const dir = folder({ Dockerfile: 'FROM busybox\nRUN echo started && sleep 30\n' });
    const before = (await berth('/', ['images', '-q'])).out;
    const b = await berth(dir, ['build', '--progress=plain', '-t', 'interrupted:1', '.'], { signalAfter: (err) => /#\d+ [\d.]+ started\n/.test(err) });
    expect(b.code).toBe(1);
    expect(b.err).toMatch(/canceled/);
    expect((await berth('/', ['images', '-q'])).out).toBe(before);
    // Nothing of the step's container is left in the guest: no overlay mount, no crun state.
    expect(await guestSh(engine, 'ls /run/berth/containers; crun list -q')).toBe('');
  });
});

describe('what builds are for next', () => {
  it('ADD of a URL downloads the file (0600, named after the URL) and checks --checksum', async () => {
    const { createServer } = await import('node:http');
    const server = createServer((req, res) => {
      if (req.url === '/files/tool.sh') res.writeHead(200, { 'Last-Modified': 'Wed, 21 Oct 2015 07:28:00 GMT' }).end('echo downloaded\n');
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const ok = await berth(folder({ Dockerfile: `FROM busybox\nADD ${url}/files/tool.sh /opt/\n` }), ['build', '-q', '-t', 'addurl:1', '.']);
      expect(ok.err).toBe('');
      expect((await run('addurl:1', 'sh', '-c', 'stat -c "%a %Y" /opt/tool.sh; sh /opt/tool.sh')).out).toBe('600 1445412480\ndownloaded\n');
      const bad = await berth(folder({ Dockerfile: `FROM busybox\nADD --checksum=sha256:${'0'.repeat(64)} ${url}/files/tool.sh /opt/\n` }), ['build', '.']);
      expect(bad.code).toBe(1);
      expect(bad.err).toMatch(/digest mismatch/);
      const missing = await berth(folder({ Dockerfile: `FROM busybox\nADD ${url}/nothing /opt/\n` }), ['build', '.']);
      expect(missing.err).toMatch(/invalid response status 404/);
    } finally {
      server.close();
    }
  });

  it('ONBUILD triggers run in a child build; HEALTHCHECK, STOPSIGNAL, VOLUME, SHELL are stored', async () => {
    const base = await berth(folder({
      Dockerfile: `FROM busybox
ONBUILD COPY marker.txt /from-child/
ONBUILD RUN echo triggered > /triggered
HEALTHCHECK --interval=30s --timeout=3s --retries=2 CMD wget -q -O- http://localhost/ || exit 1
STOPSIGNAL SIGQUIT
VOLUME /data
SHELL ["/bin/sh", "-ec"]
`,
    }), ['build', '-q', '-t', 'onbuild-base:1', '.']);
    expect(base.err).toBe('');
    const cfg = JSON.parse((await berth('/', ['image', 'inspect', '--format', '{{json .Config}}', 'onbuild-base:1'])).out);
    expect(cfg).toMatchObject({
      OnBuild: ['COPY marker.txt /from-child/', 'RUN echo triggered > /triggered'],
      Healthcheck: { Test: ['CMD-SHELL', 'wget -q -O- http://localhost/ || exit 1'], Interval: 30e9, Timeout: 3e9, Retries: 2 },
      StopSignal: 'SIGQUIT',
      Volumes: { '/data': {} },
      Shell: ['/bin/sh', '-ec'],
    });
    const child = await berth(folder({ Dockerfile: 'FROM onbuild-base:1\nCMD ["cat", "/from-child/marker.txt", "/triggered"]\n', 'marker.txt': 'marker\n' }), ['build', '-q', '-t', 'onbuild-child:1', '.']);
    expect(child.err).toBe('');
    expect((await run('onbuild-child:1')).out).toBe('marker\ntriggered\n');
    // Triggers run once: the child passes none on.
    expect((await berth('/', ['image', 'inspect', '--format', '{{json .Config.OnBuild}}', 'onbuild-child:1'])).out.trim()).toBe('null');
  });

  it('RUN --mount=type=cache keeps its folder between builds and out of the image', async () => {
    const dir = folder({ Dockerfile: 'FROM busybox\nARG N\nRUN --mount=type=cache,target=/cache echo "$N" >> /cache/runs && cat /cache/runs > /seen\n' });
    expect((await berth(dir, ['build', '-q', '--build-arg', 'N=1', '-t', 'cachemount:1', '.'])).code).toBe(0);
    expect((await berth(dir, ['build', '-q', '--build-arg', 'N=2', '-t', 'cachemount:2', '.'])).code).toBe(0);
    expect((await run('cachemount:2', 'sh', '-c', 'cat /seen; test -e /cache && echo present || echo absent')).out).toBe('1\n2\nabsent\n');
  });

  it('commit makes an image of a container\'s changes with --change and -m', async () => {
    expect((await berth('/', ['run', '--name', 'to-commit', 'busybox', 'sh', '-c', 'echo changed > /changed.txt && rm /bin/vi'])).code).toBe(0);
    const c = await berth('/', ['commit', '-m', 'my change', '-c', 'CMD ["cat", "/changed.txt"]', '-c', 'ENV MODE=committed', 'to-commit', 'committed:1']);
    expect(c.err).toBe('');
    expect(c.out).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect((await run('committed:1')).out).toBe('changed\n');
    expect((await run('committed:1', 'sh', '-c', 'echo $MODE; ls /bin/vi 2>&1 || true')).out).toMatch(/^committed\n.*No such file/);
    expect((await berth('/', ['history', '--format', '{{.Comment}}', 'committed:1'])).out.split('\n')[0]).toBe('my change');
    expect((await berth('/', ['rm', 'to-commit'])).code).toBe(0);
    const bad = await berth('/', ['commit', '-c', 'RUN echo no', 'busybox']);
    expect(bad.code).toBe(1);
  });

  it('push of a built image to a registry with token auth, then pull by digest into an empty store: the same digest', async () => {
    const { startRegistry } = await import('../fixtures/registry.js');
    const { ImageService } = await import('../../src/engine/image-service.js');
    const { RegistryClient } = await import('../../src/oci/registry-client.js');
    const { MemoryContentStore, MemoryMetadataStore } = await import('../../src/store/memory/memory-store.js');
    const registry = await startRegistry({ auth: 'token' });
    try {
      const dir = folder({ Dockerfile: 'FROM busybox\nCOPY app.txt /\nRUN echo ran > /ran\nCMD ["cat", "/app.txt", "/ran"]\n', 'app.txt': 'pushed\n' });
      const ref = `${registry.host}/me/hello:1`;
      expect((await berth(dir, ['build', '-q', '-t', ref, '.'])).code).toBe(0);
      expect((await berth('/', ['login', '-u', registry.username, '--password-stdin', registry.host], { stdin: new TextEncoder().encode(registry.password) })).code).toBe(0);
      const p = await berth('/', ['push', ref]);
      expect(p.err).toBe('');
      const digest = /1: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(p.out)?.[1];
      expect(digest).toBeDefined();
      const creds = { username: registry.username, password: registry.password };
      const empty = new ImageService(new MemoryContentStore(), new MemoryMetadataStore(), new RegistryClient({ credentials: () => creds }));
      const pulled = await empty.pull(`${registry.host}/me/hello@${digest}`);
      expect(pulled.manifestDigest).toBe(digest);
      const local = await engine.images.resolve(ref);
      expect(pulled.id).toBe(local.id);
      expect(pulled.layers.map((l) => l.digest)).toEqual(local.layers.map((l) => l.digest));
    } finally {
      await registry.stop();
    }
  });

  it('on a terminal the progress is BuildKit\'s redrawn view', async () => {
    let err = '';
    const io = new ClientIO({ stdout: () => {}, stderr: (d) => (err += new TextDecoder().decode(d)), setRaw: () => {} }, folder({ Dockerfile: 'FROM busybox\nRUN echo line-one && echo line-two\n' }), {}, { rows: 24, cols: 100 }, true);
    io.pushStdinEnd();
    expect(await runDockerCommand(engine, ['build', '--no-cache', '.'], io, nodeClientFiles)).toBe(0);
    expect(err).toMatch(/\[\+\] Building \d+\.\d+s \(\d+\/\d+\) FINISHED/);
    expect(err).toMatch(/ => \[2\/2\] RUN echo line-one && echo line-two +\d+\.\ds/);
    expect(err).toMatch(/\x1b\[\d+A/);
  });
});
