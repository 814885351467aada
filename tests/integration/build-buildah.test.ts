import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { unpackTar } from 'modern-tar';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { runDockerCommand } from '../../src/engine/docker-cli/docker-cli.js';
import { ClientIO } from '../../src/engine/docker-cli/io.js';
import type { Engine } from '../../src/engine/engine.js';
import { DEFAULT_GUEST_DIR } from '../../src/node/folder-artifacts.js';
import { nodeClientFiles } from '../../src/node/node-files.js';
import type { ImageConfig } from '../../src/oci/types.js';
import { bootEngine } from '../helpers/engine.js';

/**
 * `berth build` against a real builder: Debian's buildah builds the same
 * Dockerfiles and the two images are compared: the config fields a
 * Dockerfile sets, the history (one entry per instruction, which of them
 * made a layer), the number of layers, and the final file trees (layers
 * applied in order with their whiteouts; path, type, mode, owner, size,
 * sha256, link target; not mtimes).
 *
 * buildah never runs an i386 program here: its Dockerfiles have no RUN
 * (many hosts cannot execute i386 binaries), and buildah's COPY, ADD,
 * `--chown=name` (it reads /etc/passwd itself) and metadata run in buildah's
 * own (amd64) process. The one Dockerfile with RUN steps is built by berth
 * alone, its expected tree and config written out below.
 *
 * buildah runs with `--isolation chroot --storage-driver vfs` on a scratch
 * folder (its storage, run root, registries.conf, policy and temp files all
 * there; nothing of the machine's containers storage is touched), and with:
 * - `--layers`: one commit per instruction. Without it buildah squashes all
 *   of a stage's changes into one layer; Docker/BuildKit make one layer per
 *   COPY, ADD, RUN and WORKDIR, and one history entry per instruction.
 *   `--no-cache`: every build from its Dockerfile, none of another case's
 *   intermediate images reused.
 * - `--format docker`: the image config in Docker's format (the one Docker
 *   and BuildKit write, OCI media types or not); buildah's OCI format drops
 *   Healthcheck and OnBuild.
 * - `--identity-label=false`: no `io.buildah.version` label.
 * - `--platform linux/386 --pull=never`: the embedded busybox (berth's OCI
 *   layout in public/guest/images/busybox, pulled into the scratch storage
 *   with `buildah pull oci:DIR` and tagged docker.io/library/busybox:latest).
 */

const run = promisify(execFile);
const HAS_BUILDAH = spawnSync('buildah', ['--version']).status === 0;
const NO_BUILDAH = 'buildah is not installed (bash scripts/install-deps.sh installs it)';
const BUSYBOX_LAYOUT = join(DEFAULT_GUEST_DIR, 'images/busybox');

let engine: Engine;
let buildah: Buildah | undefined;
const scratch: string[] = [];

beforeAll(async () => {
  engine = await bootEngine();
  if (HAS_BUILDAH) buildah = await Buildah.start();
});
afterAll(async () => {
  await engine?.vm.stop();
  await buildah?.stop();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// buildah on a scratch folder

class Buildah {
  private n = 0;
  private constructor(private readonly dir: string) {}

  static async start(): Promise<Buildah> {
    const dir = mkdtempSync(join(tmpdir(), 'berth-buildah-'));
    for (const d of ['root', 'runroot', 'tmp', 'config', 'data', 'run', 'out', 'cni']) mkdirSync(join(dir, d));
    chmodSync(join(dir, 'run'), 0o700);
    writeFileSync(join(dir, 'registries.conf'), 'unqualified-search-registries = ["docker.io"]\nshort-name-mode = "permissive"\n');
    writeFileSync(join(dir, 'policy.json'), '{"default":[{"type":"insecureAcceptAnything"}]}\n');
    writeFileSync(join(dir, 'storage.conf'), `[storage]\ndriver = "vfs"\ngraphroot = "${dir}/root"\nrunroot = "${dir}/runroot"\n`);
    writeFileSync(join(dir, 'containers.conf'), `[engine]\nimage_copy_tmp_dir = "${dir}/tmp"\n[network]\nnetwork_config_dir = "${dir}/cni"\n`);
    const b = new Buildah(dir);
    await b.cmd('pull', '--signature-policy', join(dir, 'policy.json'), '--platform', 'linux/386', `oci:${BUSYBOX_LAYOUT}`);
    const id = JSON.parse(readFileSync(join(BUSYBOX_LAYOUT, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const manifest = JSON.parse(readFileSync(join(BUSYBOX_LAYOUT, 'blobs/sha256', id.manifests[0]!.digest.slice(7)), 'utf8')) as { config: { digest: string } };
    await b.cmd('tag', manifest.config.digest.slice(7), 'docker.io/library/busybox:latest');
    return b;
  }

  private get env(): NodeJS.ProcessEnv {
    const d = this.dir;
    return {
      PATH: process.env.PATH,
      HOME: join(d, 'data'),
      TMPDIR: join(d, 'tmp'),
      XDG_CONFIG_HOME: join(d, 'config'),
      XDG_DATA_HOME: join(d, 'data'),
      XDG_RUNTIME_DIR: join(d, 'run'),
      CONTAINERS_CONF: join(d, 'containers.conf'),
      CONTAINERS_REGISTRIES_CONF: join(d, 'registries.conf'),
      CONTAINERS_STORAGE_CONF: join(d, 'storage.conf'),
      BUILDAH_ISOLATION: 'chroot',
      // As root, containers/image keeps a blob-info cache in /var/lib/containers/cache whatever the
      // storage flags say; as another user, in XDG_DATA_HOME (here). It asks this variable (podman's
      // rootless mode sets it) which user that is; buildah still runs as root (it decides that from
      // the real uid), so it sets owners as root does.
      ...(process.getuid?.() === 0 ? { _CONTAINERS_ROOTLESS_UID: '1' } : {}),
    };
  }

  async cmd(...args: string[]): Promise<string> {
    const argv = ['--root', join(this.dir, 'root'), '--runroot', join(this.dir, 'runroot'), '--storage-driver', 'vfs', ...args];
    try {
      return (await run('buildah', argv, { env: this.env, maxBuffer: 64 << 20 })).stdout;
    } catch (e) {
      const err = e as { stderr?: string; stdout?: string; message: string };
      throw new Error(`buildah ${args.join(' ')} failed: ${err.stderr || err.message}\n${err.stdout ?? ''}`);
    }
  }

  async build(context: string, tag: string, args: string[] = []): Promise<void> {
    await this.cmd(
      'build', '--layers', '--no-cache', '--format', 'docker', '--isolation', 'chroot', '--identity-label=false',
      '--platform', 'linux/386', '--pull=never', '--signature-policy', join(this.dir, 'policy.json'),
      '-t', tag, ...args, context,
    );
  }

  /** The image as `buildah push oci:` writes it (Docker's manifest and config, so the config is as built). */
  async image(tag: string): Promise<Image> {
    const out = join(this.dir, 'out', String(this.n++));
    await this.cmd('push', '--format', 'v2s2', '--signature-policy', join(this.dir, 'policy.json'), tag, `oci:${out}`);
    const blob = (d: string) => readFileSync(join(out, 'blobs/sha256', d.replace(/^sha256:/, '')));
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const manifest = JSON.parse(blob(index.manifests[0]!.digest).toString('utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
    const config = JSON.parse(blob(manifest.config.digest).toString('utf8')) as ImageConfig;
    const image = { config, layers: manifest.layers.map((l) => unzip(blob(l.digest))) };
    rmSync(out, { recursive: true, force: true });
    return image;
  }

  async stop(): Promise<void> {
    await this.cmd('rm', '--all').catch(() => '');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// berth

interface Result {
  code: number;
  out: string;
  err: string;
}

/** `berth ARGS` from a folder of this machine (the daemon reads the client's files), as build.test.ts runs it. */
async function berth(cwd: string, argv: string[]): Promise<Result> {
  let out = '';
  let err = '';
  const io = new ClientIO(
    { stdout: (d) => (out += new TextDecoder().decode(d)), stderr: (d) => (err += new TextDecoder().decode(d)), setRaw: () => {} },
    cwd,
    {},
    undefined,
    false,
  );
  io.pushStdinEnd();
  const code = await runDockerCommand(engine, argv, io, nodeClientFiles);
  return { code, out, err };
}

async function berthBuild(context: string, tag: string, args: string[] = []): Promise<void> {
  const b = await berth(context, ['build', '--progress=plain', '-t', tag, ...args, '.']);
  if (b.code !== 0) throw new Error(`berth build failed (${b.code}):\n${b.err}`);
}

/** The image as berth's store holds it. */
async function berthImage(tag: string): Promise<Image> {
  const record = await engine.images.find(tag);
  if (!record) throw new Error(`berth has no image ${tag}`);
  const layers = await Promise.all(record.layers.map(async (l) => unzip(Buffer.from(await record.readLayer(l)))));
  return { config: record.config, layers };
}

// ---------------------------------------------------------------------------------------------
// Images, trees and what is compared

interface Image {
  config: ImageConfig;
  /** Uncompressed layer tars, bottom first. */
  layers: Uint8Array[];
}

function unzip(b: Buffer): Uint8Array {
  return new Uint8Array(b[0] === 0x1f && b[1] === 0x8b ? gunzipSync(b) : b);
}

/** One path of a merged tree, as `type mode uid:gid size sha256-prefix -> link`. */
type Tree = Map<string, string>;

interface Node {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  sha?: string;
  link?: string;
}

const norm = (name: string) => name.replace(/^\.?\/+/, '').replace(/^\.$/, '').replace(/\/+$/, '');
const describeNode = (n: Node) =>
  `${n.type} ${(n.mode & 0o7777).toString(8).padStart(4, '0')} ${n.uid}:${n.gid} ${n.size}${n.sha ? ` ${n.sha.slice(0, 12)}` : ''}${n.link !== undefined ? ` -> ${n.link}` : ''}`;

/** The layers applied in order as overlayfs would show them: whiteouts delete, opaque directories hide what is below. */
async function mergedTree(layers: Uint8Array[]): Promise<Tree> {
  const nodes = new Map<string, Node>();
  const removeUnder = (dir: string, self: boolean) => {
    for (const p of [...nodes.keys()]) if ((self && p === dir) || p.startsWith(`${dir}/`) || dir === '') nodes.delete(p);
  };
  for (const tar of layers) {
    const entries = await unpackTar(tar);
    // Whiteouts first: they hide lower layers only, never this layer's own entries.
    for (const e of entries) {
      const path = norm(e.header.name);
      const base = path.split('/').pop()!;
      const parent = path.split('/').slice(0, -1).join('/');
      if (base === '.wh..wh..opq') removeUnder(parent, false);
      else if (base.startsWith('.wh.')) removeUnder(parent ? `${parent}/${base.slice(4)}` : base.slice(4), true);
    }
    for (const e of entries) {
      const h = e.header;
      const path = norm(h.name);
      if (path === '' || path.split('/').pop()!.startsWith('.wh.')) continue;
      const own = { mode: h.mode ?? 0, uid: h.uid ?? 0, gid: h.gid ?? 0 };
      const type = h.type ?? 'file';
      if (type === 'link') {
        const target = nodes.get(norm(h.linkname ?? ''));
        if (!target) throw new Error(`hard link ${path} to ${h.linkname}: no such file`);
        nodes.set(path, { ...target });
        continue;
      }
      const existing = nodes.get(path);
      if (existing && (existing.type !== 'dir' || type !== 'directory')) removeUnder(path, true);
      if (type === 'directory') nodes.set(path, { type: 'dir', ...own, size: 0 });
      else if (type === 'symlink') nodes.set(path, { type: 'symlink', ...own, mode: 0o777, size: 0, link: h.linkname ?? '' });
      else if (type === 'file') {
        const data = e.data ?? new Uint8Array();
        nodes.set(path, { type: 'file', ...own, size: data.length, sha: createHash('sha256').update(data).digest('hex') });
      } else nodes.set(path, { type: 'other', ...own, size: 0 });
    }
  }
  return new Map([...nodes].sort(([a], [b]) => (a < b ? -1 : 1)).map(([p, n]) => [p, describeNode(n)]));
}

/** What differs between two trees: `path: a | b` lines (`-` for a path one of them lacks). */
function treeDiff(a: Tree, b: Tree): string[] {
  const out: string[] = [];
  for (const p of new Set([...a.keys(), ...b.keys()])) {
    if (a.get(p) !== b.get(p)) out.push(`${p}: ${a.get(p) ?? '-'} | ${b.get(p) ?? '-'}`);
  }
  return out.sort();
}

/** The config fields a Dockerfile sets; an empty list or map is the same as none. */
function configFields(config: ImageConfig): Record<string, unknown> {
  const c = (config.config ?? {}) as Record<string, unknown>;
  const keys = ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'ExposedPorts', 'Volumes', 'Labels', 'StopSignal', 'Healthcheck', 'OnBuild'];
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = c[k];
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0) continue;
    out[k] = v;
  }
  return out;
}

/** The history as `INSTRUCTION` (its first word) or `INSTRUCTION (empty)` for an entry without a layer. */
function historyShape(config: ImageConfig): string[] {
  return (config.history ?? []).map((h) => {
    const by = (h.created_by ?? '').replace(/^\/bin\/sh -c #\(nop\) /, '').trim();
    const word = by.split(/\s/)[0] ?? '';
    return `${/^[A-Z]+$/.test(word) ? word : by}${h.empty_layer ? ' (empty)' : ''}`;
  });
}

interface Compared {
  berth: Image;
  buildah: Image;
  berthTree: Tree;
  buildahTree: Tree;
}

interface BuildBothOptions {
  args?: string[];
  /** Lines of treeDiff(berth, buildah) that are known and explained where the case passes them; none by default. */
  treeDiff?: string[];
}

/** Builds `dir` with both builders and compares; returns both for checks of the case's own. */
async function buildBoth(ctx: TestContext, dir: string, tag: string, opts: BuildBothOptions = {}): Promise<Compared> {
  const args = opts.args ?? [];
  if (!buildah) ctx.skip(NO_BUILDAH);
  await berthBuild(dir, tag, args);
  await buildah!.build(dir, tag, args);
  const [b, h] = [await berthImage(tag), await buildah!.image(tag)];
  const [berthTree, buildahTree] = [await mergedTree(b.layers), await mergedTree(h.layers)];

  expect(configFields(b.config), 'config').toEqual(configFields(h.config));
  expect([b.config.architecture, h.config.architecture]).toEqual(['386', '386']);
  // Each builder's rootfs lists as many layers as its history says it made, and as its manifest has.
  for (const img of [b, h]) {
    expect(img.config.rootfs.diff_ids.length).toBe(img.layers.length);
    expect((img.config.history ?? []).filter((x) => !x.empty_layer).length).toBe(img.layers.length);
  }
  // One history entry per instruction (and the base image's), the same instructions in the same order,
  // but for two known differences, where berth does as BuildKit does:
  // - WORKDIR (but `WORKDIR /`) makes a layer in BuildKit, an empty one when the directory is there
  //   already (dockerfile2llb's dispatchWorkdir commits it with a layer; docker/buildx#1910); buildah
  //   makes none (empty_layer) and the directory it creates goes into the next layer it commits.
  // - ONBUILD has no history entry in BuildKit (dispatchOnbuild only adds the trigger); buildah writes one.
  const berthHistory = historyShape(b.config);
  expect(berthHistory.filter((s) => s.startsWith('ONBUILD'))).toEqual([]);
  const expected = berthHistory.map((s) => (s === 'WORKDIR' ? 'WORKDIR (empty)' : s));
  expect(historyShape(h.config).filter((s) => s !== 'ONBUILD (empty)'), 'history').toEqual(expected);
  const workdirLayers = berthHistory.filter((s) => s === 'WORKDIR').length;
  expect(b.layers.length).toBe(h.layers.length + workdirLayers);
  expect(treeDiff(berthTree, buildahTree), 'file trees (berth | buildah)').toEqual(opts.treeDiff ?? []);
  return { berth: b, buildah: h, berthTree, buildahTree };
}

// ---------------------------------------------------------------------------------------------
// Build contexts

type FileSpec = string | { text: string; mode: number } | { symlink: string };

/** A new folder of this machine with these files (text, text with a mode, or a symlink). */
function context(files: Record<string, FileSpec>): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-buildah-ctx-'));
  scratch.push(dir);
  for (const [name, spec] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(join(path, '..'), { recursive: true });
    if (typeof spec === 'string') writeFileSync(path, spec);
    else if ('symlink' in spec) symlinkSync(spec.symlink, path);
    else {
      writeFileSync(path, spec.text);
      chmodSync(path, spec.mode);
    }
  }
  return dir;
}

describe('berth build and buildah build the same Dockerfiles alike', () => {
  it('COPY: files, directories, globs, several sources, --chown, --chmod, existing and symlinked directories', async (ctx) => {
    const dir = context({
      Dockerfile: `FROM busybox
COPY a.txt /
COPY a.txt /renamed.txt
COPY a.txt b.txt /multi/
COPY *.txt /glob/
COPY dir /copied-dir
COPY dir/ /copied-dir-slash/
COPY run.sh secret.key /modes/
COPY --chown=1234:5678 a.txt /owned-numeric.txt
COPY --chown=4321 a.txt /owned-uid-only.txt
COPY --chown=www-data:mail dir /owned-by-name/
COPY --chown=sync a.txt /owned-user-only.txt
COPY --chown=sync:www-data a.txt /owned-user-group.txt
COPY --chown=4:mail a.txt /owned-uid-groupname.txt
COPY --chmod=0600 a.txt /private.txt
COPY --chmod=755 dir /chmod-dir/
COPY b.txt /etc/
COPY a.txt /var/www
COPY dir /var/spool
COPY a.txt /nodir/file
COPY links/ /
COPY b.txt /data/
COPY dir /data
`,
      'a.txt': 'file a\n',
      'b.txt': 'file b, a little longer\n',
      'dir/top.txt': 'top\n',
      'dir/sub/deep.txt': 'deep\n',
      'dir/sub/link-to-top': { symlink: '../top.txt' },
      'run.sh': { text: '#!/bin/sh\necho run\n', mode: 0o755 },
      'secret.key': { text: 'key\n', mode: 0o600 },
      'links/srv/data/kept.txt': 'kept\n',
      'links/data': { symlink: 'srv/data' },
    });
    chmodSync(join(dir, 'dir'), 0o750);
    chmodSync(join(dir, 'dir/sub'), 0o700);
    await buildBoth(ctx, dir, 'cmp-copy:1');
  });

  it('ADD: a local tar and a tar.gz are unpacked (their owners kept), a plain file is copied', async (ctx) => {
    const src = context({ 'one.txt': 'one\n', 'sub/two.txt': 'two\n', 'sub/private/three.txt': 'three\n', 'sub/link': { symlink: 'two.txt' } });
    chmodSync(join(src, 'sub/private'), 0o700);
    const dir = context({
      Dockerfile: `FROM busybox
ADD files.tar /unpacked/
ADD files.tar.gz /unpacked-gz
ADD --chown=7:8 files.tar /unpacked-owned/
ADD plain.txt /added.txt
ADD plain.txt files.tar /both/
`,
      'plain.txt': 'plain\n',
    });
    await run('tar', ['--owner=1000', '--group=1000', '--numeric-owner', '-cf', join(dir, 'files.tar'), '-C', src, '.']);
    await run('tar', ['--owner=0', '--group=50', '--numeric-owner', '-czf', join(dir, 'files.tar.gz'), '-C', src, 'sub']);
    // Two known differences, where berth does as Docker/BuildKit do:
    // - The archive's own root entry (`./`, here mode 0700 and owner 1000:1000) does not change the
    //   destination: BuildKit makes the destination (0755, root or --chown's owner) and unpacks with
    //   moby/go-archive, whose Unpack skips the root entry (`if fi.IsDir() && hdr.Name == "."`, as
    //   Docker's pkg/archive always has); buildah applies it to the destination.
    // - ADD --chown applies to what an archive unpacks (moby/buildkit 46e52f47, "file: add chown to
    //   archive unpack from copy", BuildKit 0.23 / Dockerfile 1.17); buildah 1.28 keeps the archive's owners.
    await buildBoth(ctx, dir, 'cmp-add:1', {
      treeDiff: [
        'both: dir 0755 0:0 0 | dir 0700 1000:1000 0',
        'unpacked-owned/one.txt: file 0644 7:8 4 2c8b08da5ce6 | file 0644 1000:1000 4 2c8b08da5ce6',
        'unpacked-owned/sub/link: symlink 0777 7:8 0 -> two.txt | symlink 0777 1000:1000 0 -> two.txt',
        'unpacked-owned/sub/private/three.txt: file 0644 7:8 6 f69369121844 | file 0644 1000:1000 6 f69369121844',
        'unpacked-owned/sub/private: dir 0700 7:8 0 | dir 0700 1000:1000 0',
        'unpacked-owned/sub/two.txt: file 0644 7:8 4 27dd8ed44a83 | file 0644 1000:1000 4 27dd8ed44a83',
        'unpacked-owned/sub: dir 0755 7:8 0 | dir 0755 1000:1000 0',
        'unpacked-owned: dir 0755 7:8 0 | dir 0700 1000:1000 0',
        'unpacked: dir 0755 0:0 0 | dir 0700 1000:1000 0',
      ],
    });
  });

  it('metadata: ARG and ENV in COPY destinations and LABELs, WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL, HEALTHCHECK, ONBUILD', async (ctx) => {
    const dir = context({
      Dockerfile: `FROM busybox
ARG VERSION=1.0
ARG DIR=/opt/app
ENV APP_HOME=\${DIR} NAME=demo
LABEL version=$VERSION name="\${NAME}" description="a \\"quoted\\" label" home=\${APP_HOME:-none} unset=\${NOPE:-fallback}
COPY a.txt \${APP_HOME}/
COPY a.txt $APP_HOME/copy-\${VERSION}.txt
WORKDIR $APP_HOME
WORKDIR sub
COPY a.txt ./relative.txt
WORKDIR /etc
COPY a.txt .
ARG OWNER=8
COPY --chown=\${OWNER}:\${OWNER} a.txt /owned-by-arg.txt
USER www-data:mail
WORKDIR /home/www
COPY a.txt .
EXPOSE 80 443/tcp 53/udp
EXPOSE 8080
VOLUME ["/data", "/logs"]
VOLUME /cache
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD wget -q -O- http://localhost/ || exit 1
ONBUILD COPY a.txt /onbuild/
ONBUILD LABEL from-onbuild=yes
CMD ["serve", "--port", "80"]
`,
      'a.txt': 'a\n',
    });
    // Known difference, where berth does as BuildKit does: a WORKDIR after USER makes its directory
    // owned by that user (dockerfile2llb's dispatchWorkdir: llb.Mkdir with llb.WithUser; docker/buildx#1351),
    // www-data:mail being 33:12; buildah makes it root's.
    const { berth: b } = await buildBoth(ctx, dir, 'cmp-meta:1', {
      args: ['--build-arg', 'VERSION=2.5'],
      treeDiff: ['home/www: dir 0755 33:12 0 | dir 0755 0:0 0'],
    });
    expect(b.config.config?.Labels).toEqual({ version: '2.5', name: 'demo', description: 'a "quoted" label', home: '/opt/app', unset: 'fallback' });
  });

  it('CMD and ENTRYPOINT: an ENTRYPOINT drops the CMD it inherits, keeps one of its own stage; shell and exec forms', async (ctx) => {
    const dir = context({
      Dockerfile: `FROM busybox AS base
CMD ["echo", "from base"]

FROM base AS entrypoint-resets-cmd
ENTRYPOINT ["cat"]

FROM base AS cmd-then-entrypoint
CMD ["x.txt"]
ENTRYPOINT ["cat"]

FROM base AS shell-forms
ENTRYPOINT echo "shell form"
CMD echo cmd

FROM entrypoint-resets-cmd AS cmd-after-inherited-entrypoint
CMD ["y.txt"]

FROM busybox AS healthcheck-none
HEALTHCHECK NONE
`,
    });
    for (const target of ['base', 'entrypoint-resets-cmd', 'cmd-then-entrypoint', 'shell-forms', 'cmd-after-inherited-entrypoint', 'healthcheck-none']) {
      await buildBoth(ctx, dir, `cmp-cmd-${target}:1`, { args: ['--target', target] });
    }
    expect(configFields((await berthImage('cmp-cmd-entrypoint-resets-cmd:1')).config)).toMatchObject({ Entrypoint: ['cat'] });
    expect(configFields((await berthImage('cmp-cmd-entrypoint-resets-cmd:1')).config).Cmd).toBeUndefined();
  });

  it('multi-stage: COPY --from a stage (by name and by index) and --from an image, FROM scratch, ONBUILD triggers of a stage', async (ctx) => {
    const dir = context({
      Dockerfile: `ARG BASE=busybox
FROM \${BASE} AS build
WORKDIR /src
COPY dir/ ./
COPY --chown=33:33 a.txt owned.txt
ONBUILD COPY a.txt /triggered.txt
ENV STAGE_ONLY=1

FROM build AS child
COPY a.txt /child.txt

FROM scratch
COPY --from=build /src /app
COPY --from=build --chown=1:1 /src/owned.txt /app/reowned.txt
COPY --from=0 /src/sub /sub0
COPY --from=busybox /etc/passwd /etc/group /from-image/
COPY --from=child /triggered.txt /child.txt /from-child/
ENV PATH=/app
CMD ["/app/top.txt"]
`,
      'a.txt': 'a\n',
      'dir/top.txt': 'top\n',
      'dir/sub/deep.txt': 'deep\n',
    });
    await buildBoth(ctx, dir, 'cmp-stages:1');
  });

  it('.dockerignore with exceptions: COPY . sees what Docker sends', async (ctx) => {
    const dir = context({
      Dockerfile: 'FROM busybox\nCOPY . /ctx/\nCOPY . /ctx-root-owned\n',
      '.dockerignore': '*.log\nsecret/\n!secret/public.txt\n**/*.tmp\nbuild\n!build/keep.txt\n',
      'notes.txt': 'kept\n',
      'debug.log': 'ignored\n',
      'sub/debug.log': 'kept: *.log is the top level only\n',
      'sub/x.tmp': 'ignored\n',
      'secret/private.txt': 'ignored\n',
      'secret/public.txt': 'exception\n',
      'build/out.bin': 'ignored\n',
      'build/keep.txt': 'exception\n',
    });
    await buildBoth(ctx, dir, 'cmp-ignore:1');
  });
});

describe('a Dockerfile with RUN steps (berth alone: buildah would run i386 programs)', () => {
  it('the tree, config, history and layers are what Docker/BuildKit make', async () => {
    const dir = context({
      Dockerfile: `FROM busybox
WORKDIR /work
COPY a.txt .
RUN echo built > built.txt && chmod 600 built.txt && chown 33:8 built.txt \\
 && mkdir -p /var/cache/app && ln -s /work/built.txt /var/cache/app/link \\
 && rm -r /var/spool /home && chmod 600 /etc/group
RUN true
RUN mkdir /var/spool && touch /var/spool/fresh
ENV MODE=run
USER 1000:1000
CMD ["cat", "/work/built.txt"]
`,
      'a.txt': 'a\n',
    });
    await berthBuild(dir, 'cmp-run:1');
    const built = await berthImage('cmp-run:1');
    const base = await berthImage('busybox');
    // What differs from the base image (`path: base | built`, sha256 prefixes of the contents: a.txt
    // "a\n", built.txt "built\n", /etc/group as the base has it, fresh empty).
    expect(treeDiff(await mergedTree(base.layers), await mergedTree(built.layers))).toEqual([
      'etc/group: file 0644 0:0 140 058e71dd9c3d | file 0600 0:0 140 058e71dd9c3d',
      'home: dir 0755 0:0 0 | -',
      'var/cache/app/link: - | symlink 0777 0:0 0 -> /work/built.txt',
      'var/cache/app: - | dir 0755 0:0 0',
      'var/cache: - | dir 0755 0:0 0',
      'var/spool/fresh: - | file 0644 0:0 0 e3b0c44298fc',
      'var/spool/mail: dir 0755 0:0 0 | -',
      'work/a.txt: - | file 0644 0:0 2 87428fc52280',
      'work/built.txt: - | file 0600 33:8 6 56f6e6304d02',
      'work: - | dir 0755 0:0 0',
    ]);
    expect(configFields(built.config)).toEqual({
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'MODE=run'],
      Cmd: ['cat', '/work/built.txt'],
      WorkingDir: '/work',
      User: '1000:1000',
    });
    // Every RUN makes a layer, `RUN true` too: BuildKit keeps a step's empty layer (since v0.10), the
    // 32-byte gzip of an empty tar every registry has.
    expect(historyShape(built.config)).toEqual([
      'berth: Debian busybox-static 1:1.35.0-4+deb12u1+b1 (i386)',
      'WORKDIR', 'COPY', 'RUN', 'RUN', 'RUN', 'ENV (empty)', 'USER (empty)', 'CMD (empty)',
    ]);
    expect(built.layers.length).toBe(6);
    const record = (await engine.images.find('cmp-run:1'))!;
    expect(record.layers[4]).toMatchObject({ digest: 'sha256:4f4fb700ef54461cfa02571ae0db9a0dc1e0cdb5577484a6d75e68dc38e8acc1', size: 32 });
    expect(built.config.rootfs.diff_ids[4]).toBe('sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef');
    expect(built.layers[4]).toEqual(new Uint8Array(1024));
  });
});
