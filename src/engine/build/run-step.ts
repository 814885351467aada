import { sha256Hex } from '../../oci/digest.js';
import { CommandNotRunnableError, GUEST_9P_ROOT, type Engine } from '../engine.js';
import type { ImageRecord } from '../image-service.js';
import type { Container } from '../container.js';
import type { Mount } from '../mounts.js';
import { BuildError } from './errors.js';
import { MediaType } from '../../oci/types.js';
import { scanEntries } from '../layer-scan.js';
import { UnsafeLayerError } from '../layer-unpacker.js';
import { MergedFs, splitPath } from './source-fs.js';
import { dropUnchangedDirs } from './unchanged-dirs.js';

/**
 * A RUN step: a container of the stage so far runs the command (on the
 * default network, with the same limits as any container); when it exits 0,
 * its overlay's upper directory, the step's changes, is written out as a
 * layer tar by `berth-agent layer-tar` in the guest, into the 9p tree where
 * the host reads it. The container goes either way.
 */

const AGENT = '/sbin/berth-agent';
/** Where layer tars pass from the guest to the host, in the 9p tree. */
const OUT_DIR = '/build-out';
/** Where `RUN --mount=type=cache` directories live, in the 9p tree (kept between builds). */
const CACHE_DIR = '/build-cache-mounts';
/** Mount points the runtime makes in a container's root; a layer leaves them out when the image had none. */
const RUNTIME_MOUNTS = ['/proc', '/sys', '/dev', '/etc/hosts', '/etc/hostname', '/etc/resolv.conf'];

export interface RunStepOptions {
  argv: string[];
  /** Build args as `KEY=VALUE`, over the image's Env. */
  env: string[];
  workdir: string;
  user?: string;
  network?: string;
  /** `--mount=` values as written. */
  mounts: string[];
  signal?: AbortSignal;
  onOutput: (data: Uint8Array) => void;
}

/** Parses `RUN --mount=type=cache,target=/x` (and tmpfs); other kinds are refused with what to do instead. */
async function runMounts(engine: Engine, specs: string[]): Promise<Mount[]> {
  const out: Mount[] = [];
  for (const spec of specs) {
    const o = new Map<string, string>();
    for (const part of spec.split(',')) {
      const i = part.indexOf('=');
      o.set(i < 0 ? part : part.slice(0, i), i < 0 ? 'true' : part.slice(i + 1));
    }
    const type = o.get('type') ?? 'bind';
    const target = o.get('target') ?? o.get('dst') ?? o.get('destination');
    if (!target) throw new BuildError(`failed to solve: --mount=${spec}: the mount needs a target`);
    if (type === 'cache') {
      const id = o.get('id') ?? target;
      const dir = `${CACHE_DIR}/${(await sha256Hex(new TextEncoder().encode(id))).slice(0, 32)}`;
      if (!engine.vm.fs.exists(dir)) engine.vm.fs.mkdirp(dir, { mode: Number.parseInt(o.get('mode') ?? '755', 8), uid: Number(o.get('uid') ?? 0), gid: Number(o.get('gid') ?? 0) });
      out.push({ type: 'bind', source: GUEST_9P_ROOT + dir, target, readonly: o.get('ro') === 'true' || o.get('readonly') === 'true' });
    } else if (type === 'tmpfs') {
      out.push({ type: 'tmpfs', target, readonly: false, options: o.has('size') ? [`size=${o.get('size')}`] : [] });
    } else {
      throw new BuildError(`failed to solve: RUN --mount=type=${type} is not supported here (cache and tmpfs are); copy the files in with COPY instead`);
    }
  }
  return out;
}

/**
 * A container's changes (its overlay's upper directory) as a layer tar,
 * written by `berth-agent layer-tar` in the guest into the 9p tree, where the
 * host reads it. Mount points the runtime made (and `extraMounts`) are left
 * out unless the image had them.
 */
export async function changesTar(engine: Engine, c: Container, extraMounts: string[] = []): Promise<Uint8Array> {
  const lower = new MergedFs(engine.vm.fs, [...c.layers].reverse());
  const excludes = [...RUNTIME_MOUNTS, ...extraMounts].filter((p) => !lower.lstat(p)).map((p) => splitPath(p).join('/'));
  engine.vm.fs.mkdirp(OUT_DIR);
  const out = `${OUT_DIR}/${c.id}.tar`;
  try {
    const r = await engine.vm.agent.run([
      '/bin/sh',
      '-c',
      'out=$1; shift; exec "$@" > "$out"',
      'sh',
      GUEST_9P_ROOT + out,
      AGENT,
      'layer-tar',
      ...excludes.flatMap((p) => ['--exclude', p]),
      `${c.paths.guestDir}/upper`,
    ]);
    if (r.status.code !== 0) throw new BuildError(`could not write the container's changes as a layer: ${r.stderr.trim() || `layer-tar exited ${r.status.code}`}`);
    const tar = await engine.vm.fs.readFile(out);
    // What a container wrote is checked as a pulled layer is: a file it named `.wh...` must not become a whiteout of `..`.
    await scanEntries(tar, MediaType.OciLayer).catch((e: unknown) => {
      if (e instanceof UnsafeLayerError) throw new BuildError(`the container's changes cannot be a layer: ${e.message}`);
      throw e;
    });
    return tar;
  } finally {
    await engine.vm.fs.remove(out);
  }
}

/** Runs the step; resolves with its layer tar (uncompressed), or rejects with Docker's message for a failed command. */
export async function runStep(engine: Engine, image: ImageRecord, o: RunStepOptions): Promise<Uint8Array> {
  const mounts = await runMounts(engine, o.mounts);
  const shown = o.argv.join(' ');
  let container;
  try {
    container = await engine.createWithImage(image, 'build', {
      cmd: o.argv,
      entrypoint: [],
      env: o.env,
      workdir: o.workdir,
      hostname: 'buildkitsandbox',
      ...(o.user ? { user: o.user } : {}),
      ...(o.network && o.network !== 'default' ? { network: o.network } : {}),
      mounts,
      buildStep: true,
    });
  } catch (e) {
    if (e instanceof CommandNotRunnableError) throw new BuildError(`process "${shown}" did not complete successfully: ${e.message.replace(/^failed to create task for container: /, '')}`);
    throw e;
  }
  const c = container;
  const abort = () => void engine.kill(c.id, 'KILL').catch(() => {});
  o.signal?.addEventListener('abort', abort);
  try {
    await engine.start(c.id, { onStdout: o.onOutput, onStderr: o.onOutput });
    if (o.signal?.aborted) abort();
    const status = await c.wait();
    if (o.signal?.aborted) throw new BuildError('canceled');
    if (status.code !== 0) throw new BuildError(`process "${shown}" did not complete successfully: exit code: ${status.code}`);
    const changes = await changesTar(engine, c, mounts.map((m) => m.target));
    return dropUnchangedDirs(changes, new MergedFs(engine.vm.fs, [...c.layers].reverse()));
  } finally {
    o.signal?.removeEventListener('abort', abort);
    await engine.remove(c.id, { force: true, volumes: true }).catch(() => {});
  }
}
