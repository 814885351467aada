import { packTar } from 'modern-tar';
import { GUEST_PLATFORM } from '../../oci/platform.js';
import { formatReference, parseReference } from '../../oci/reference.js';
import { MediaType, type ImageConfig } from '../../oci/types.js';
import type { Engine } from '../engine.js';
import type { ImageRecord, StoredImage } from '../image-service.js';
import { LayerTrees } from '../layer-trees.js';
import { randomHexId } from '../names.js';
import { resolveUser } from '../user.js';
import { archiveEntries, download } from './add-sources.js';
import { BuildCache } from './build-cache.js';
import { CopyError, planCopy, planMkdir, type CopySource } from './copy.js';
import { BuildError } from './errors.js';
import { BerthError } from '../errors.js';
import { DockerfileParseError, parseDockerfile, parseGoDuration } from './dockerfile.js';
import type { CommandForm, Dockerfile, Instruction } from './instructions.js';
import { isEmptyTar, writeLayer, type LayerEntry } from './layer-writer.js';
import { runStep } from './run-step.js';
import { expandInstruction, expandWord } from './shell-words.js';
import { applyMetadata, DEFAULT_PATH, DEFAULT_SHELL, commandArgs } from './metadata.js';
import { ContextFs, joinPath, MergedFs, splitPath, type SourceFs } from './source-fs.js';

/**
 * `docker build`: runs a Dockerfile's stages on the engine. Metadata
 * instructions change the image config; COPY and ADD are planned on the host
 * (copy.ts) and RUN runs in a container of the stage so far (run-step.ts);
 * a step that changes files makes a gzip layer in the content store, and its
 * result is cached under a key chained from its parent (BuildCache). The
 * image is recorded only when every step of the target succeeded: a failed
 * or cancelled build leaves no image, and its layers go with the next
 * collection unless the cache holds them.
 */

export interface BuildOptions {
  dockerfile: string;
  /** How messages name the Dockerfile (`Dockerfile`, `other.Dockerfile`). */
  dockerfileName: string;
  context: ContextFs;
  /** Bytes of the context as sent (for the progress line). */
  contextBytes?: number;
  tags: string[];
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  target?: string;
  noCache?: boolean;
  pull?: boolean;
  /** Default network of RUN steps (`--network`): bridge unless told. */
  network?: string;
  signal?: AbortSignal;
  onEvent?: (e: BuildEvent) => void;
}

/** Progress, as BuildKit reports it: numbered vertices that start, log, and end (done, cached or failed). */
export type BuildEvent =
  | { type: 'start'; id: number; name: string }
  | { type: 'status'; id: number; text: string }
  | { type: 'log'; id: number; data: Uint8Array }
  | { type: 'done'; id: number; cached: boolean }
  | { type: 'error'; id: number; message: string }
  | { type: 'warning'; message: string; line?: number };

type Defaults = NonNullable<ImageConfig['config']>;
type History = NonNullable<ImageConfig['history']>[number];

interface State {
  config: ImageConfig;
  layers: LayerEntry[];
  /** The build cache's key of this state. */
  key: string;
}

interface Stage {
  index: number;
  name?: string;
  from: Extract<Instruction, { kind: 'FROM' }>;
  instructions: Instruction[];
}

const PLATFORM = `${GUEST_PLATFORM.os}/${GUEST_PLATFORM.architecture}`;
/** BuildKit's automatic platform ARGs (usable before FROM without a declaration). */
const PLATFORM_ARGS: Record<string, string> = {
  TARGETPLATFORM: PLATFORM,
  TARGETOS: 'linux',
  TARGETARCH: '386',
  TARGETVARIANT: '',
  BUILDPLATFORM: PLATFORM,
  BUILDOS: 'linux',
  BUILDARCH: '386',
  BUILDVARIANT: '',
};
/** Build args Docker accepts without an ARG (and keeps out of the image's history). */
const PROXY_ARGS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];

/**
 * The layer of a step that changed no file (a WORKDIR whose directory is
 * there, a RUN that writes nothing): BuildKit keeps it, as a layer with a
 * history entry that is not `empty_layer` (since v0.10, moby/buildkit
 * d67243ed; before, its exporter dropped such layers). It is an empty tar
 * (its two end blocks) gzipped by Go: 32 bytes every registry has, stored
 * here byte for byte.
 */
const EMPTY_LAYER = {
  digest: 'sha256:4f4fb700ef54461cfa02571ae0db9a0dc1e0cdb5577484a6d75e68dc38e8acc1',
  diffId: 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef',
  gzip: new Uint8Array([31, 139, 8, 0, 0, 0, 0, 0, 0, 255, 98, 24, 5, 163, 96, 20, 140, 88, 0, 8, 0, 0, 255, 255, 46, 175, 181, 239, 0, 4, 0, 0]),
};
/**
 * Part of every step's cache key; bumped when what a cached step holds
 * changes meaning, so entries of the old rule are not replayed. 2: a step
 * that changes no file has an (empty) layer.
 */
const CACHE_RULES = '2';

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const nowSeconds = () => Math.floor(Date.now() / 1000);

function envMap(env: string[] | undefined): Map<string, string> {
  return new Map((env ?? []).map((e) => [e.split('=')[0]!, e.slice(e.indexOf('=') + 1)]));
}

export class Builder {
  private readonly cache: BuildCache;
  private nextId = 1;
  private emit: (e: BuildEvent) => void = () => {};

  constructor(private readonly engine: Engine) {
    this.cache = new BuildCache(engine.images.meta, engine.images);
  }

  async build(opts: BuildOptions): Promise<ImageRecord> {
    this.emit = opts.onEvent ?? (() => {});
    const releases: Array<() => void> = [];
    try {
      return await this.buildWith(opts, releases);
    } catch (e) {
      // A word that does not expand, a user that does not exist, ...: Docker's `failed to solve: …`.
      if (e instanceof BerthError && !(e instanceof BuildError) && e.category === 'invalid-argument') throw new BuildError(`failed to solve: ${e.message}`);
      throw e;
    } finally {
      for (const r of releases) r();
    }
  }

  private vertex(name: string): number {
    const id = this.nextId++;
    this.emit({ type: 'start', id, name });
    return id;
  }

  private async buildWith(opts: BuildOptions, releases: Array<() => void>): Promise<ImageRecord> {
    const defId = this.vertex('[internal] load build definition from ' + opts.dockerfileName);
    this.emit({ type: 'status', id: defId, text: `transferring dockerfile: ${new TextEncoder().encode(opts.dockerfile).length}B done` });
    let file: Dockerfile;
    try {
      file = parseDockerfile(opts.dockerfile);
    } catch (e) {
      if (e instanceof DockerfileParseError) {
        this.emit({ type: 'error', id: defId, message: e.message });
        throw new BuildError(`failed to solve: ${e.message}`);
      }
      throw e;
    }
    this.emit({ type: 'done', id: defId, cached: false });
    const ctxId = this.vertex('[internal] load build context');
    this.emit({ type: 'status', id: ctxId, text: `transferring context: ${opts.contextBytes ?? opts.context.size}B done` });
    this.emit({ type: 'done', id: ctxId, cached: false });
    for (const w of file.warnings) this.emit({ type: 'warning', message: w.message, line: w.line });

    // Global ARGs (before the first FROM) are what FROM lines expand with.
    const globals = new Map<string, string>(Object.entries(PLATFORM_ARGS));
    const stages: Stage[] = [];
    for (const inst of file.instructions) {
      if (inst.kind === 'FROM') {
        stages.push({ index: stages.length, from: inst, instructions: [], ...(inst.stageName ? { name: inst.stageName.toLowerCase() } : {}) });
      } else if (stages.length === 0) {
        if (inst.kind !== 'ARG') throw new BuildError(`failed to solve: ${opts.dockerfileName}:${inst.line}: no build stage in current context`);
        for (const a of inst.args) {
          const value = opts.buildArgs[a.name] ?? (a.default !== undefined ? this.expandWord(a.default, globals, file) : undefined);
          if (value !== undefined) globals.set(a.name, value);
          else globals.delete(a.name);
        }
      } else {
        stages[stages.length - 1]!.instructions.push(inst);
      }
    }
    if (stages.length === 0) throw new BuildError('failed to solve: the Dockerfile has no FROM instruction');
    const target = opts.target !== undefined ? stages.find((s) => s.name === opts.target!.toLowerCase()) : stages[stages.length - 1];
    if (!target) throw new BuildError(`failed to solve: target stage "${opts.target}" could not be found`);

    const needed = this.neededStages(stages, target, globals, file);
    const used = new Set<string>();
    const results = new Map<number, State>();
    for (const stage of stages) {
      if (!needed.has(stage.index)) continue;
      opts.signal && this.checkAborted(opts.signal);
      results.set(stage.index, await this.buildStage(stage, stages, results, globals, file, opts, used, releases));
    }
    const unused = Object.keys(opts.buildArgs).filter((a) => !used.has(a) && !globals.has(a) && !PROXY_ARGS.includes(a));
    if (unused.length) this.emit({ type: 'warning', message: `One or more build-args [${unused.join(' ')}] were not consumed` });

    const final = results.get(target.index)!;
    const exportId = this.vertex('exporting to image');
    const config = clone(final.config);
    config.created = new Date().toISOString();
    if (Object.keys(opts.labels).length) config.config = { ...config.config, Labels: { ...(config.config?.Labels ?? {}), ...opts.labels } };
    this.emit({ type: 'status', id: exportId, text: 'exporting layers done' });
    const image = await this.engine.images.recordImage(config, final.layers, opts.tags);
    this.emit({ type: 'status', id: exportId, text: `writing image ${image.id} done` });
    for (const t of image.repoTags.filter((t) => opts.tags.length > 0)) this.emit({ type: 'status', id: exportId, text: `naming to ${t} done` });
    this.emit({ type: 'done', id: exportId, cached: false });
    return image;
  }

  private checkAborted(signal: AbortSignal): void {
    if (signal.aborted) throw new BuildError('failed to solve: canceled');
  }

  private expandWord(word: string, vars: Map<string, string>, file: Dockerfile): string {
    return expandWord(word, (n) => vars.get(n), file.escape);
  }

  /** The stages the target needs: itself and, transitively, the stages its FROM and COPY --from name. */
  private neededStages(stages: Stage[], target: Stage, globals: Map<string, string>, file: Dockerfile): Set<number> {
    const needed = new Set<number>();
    const visit = (s: Stage, chain: number[]) => {
      if (needed.has(s.index)) return;
      needed.add(s.index);
      const refs = [this.expandWord(s.from.image, globals, file)];
      for (const i of s.instructions) {
        if ((i.kind === 'COPY' || i.kind === 'ADD') && i.from) refs.push(i.from);
        if (i.kind === 'RUN') for (const m of i.mounts) refs.push(/(?:^|,)from=([^,]+)/.exec(m)?.[1] ?? '');
      }
      for (const ref of refs) {
        const dep = this.stageByRef(stages, ref, s.index);
        if (!dep) continue;
        if (dep.index === s.index || chain.includes(dep.index)) throw new BuildError(`failed to solve: circular dependency detected on stage: ${dep.name ?? dep.index}`);
        visit(dep, [...chain, s.index]);
      }
    };
    visit(target, []);
    return needed;
  }

  /** A stage named by `ref` (its name, or its index as a number), among those before `before`. */
  private stageByRef(stages: Stage[], ref: string, before: number): Stage | undefined {
    const lower = ref.toLowerCase();
    if (/^\d+$/.test(ref)) return stages[Number(ref)];
    return stages.slice(0, before + 1).find((s) => s.name === lower);
  }

  private async baseState(stage: Stage, stages: Stage[], results: Map<number, State>, globals: Map<string, string>, file: Dockerfile, opts: BuildOptions, step: string): Promise<State> {
    const from = expandInstruction(stage.from, (n) => globals.get(n), file.escape) as Stage['from'];
    if (from.platform && from.platform !== PLATFORM && from.platform !== 'linux/i386') {
      throw new BuildError(`failed to solve: ${from.platform}: berth runs linux/386 images only (v86 emulates a 32-bit x86 CPU); leave out --platform or use --platform=linux/386`, { name: step, line: stage.from.line, lines: 1 });
    }
    const byStage = this.stageByRef(stages, from.image, stage.index - 1);
    if (byStage && byStage.index < stage.index) {
      const id = this.vertex(`${step} FROM ${byStage.name ?? byStage.index}`);
      this.emit({ type: 'done', id, cached: true });
      return clone(results.get(byStage.index)!);
    }
    if (from.image === 'scratch') {
      return { config: { architecture: '386', os: 'linux', config: { Env: [DEFAULT_PATH] }, rootfs: { type: 'layers', diff_ids: [] }, history: [] }, layers: [], key: 'scratch' };
    }
    const image = await this.baseImage(from.image, opts.pull, step, stage.from.line);
    const config = clone(image.config);
    const defaults: Defaults = { ...(config.config ?? {}) };
    if (!defaults.Env?.some((e) => e.startsWith('PATH='))) defaults.Env = [DEFAULT_PATH, ...(defaults.Env ?? [])];
    return {
      config: { architecture: config.architecture, os: config.os, ...(config.variant ? { variant: config.variant } : {}), config: defaults, rootfs: { type: 'layers', diff_ids: [...config.rootfs.diff_ids] }, history: config.history ?? [] },
      layers: image.layers.map((l) => ({ ...l })),
      key: image.id,
    };
  }

  private async baseImage(name: string, pull: boolean | undefined, step: string, line: number): Promise<ImageRecord> {
    let full = name;
    try {
      full = formatReference(parseReference(name));
    } catch {
      // An invalid reference: the lookup below says so in Docker's words.
    }
    const metaId = this.vertex(`[internal] load metadata for ${full}`);
    try {
      const local = pull ? undefined : await this.engine.images.find(name);
      const image = local ?? (await this.engine.images.pull(name, (e) => {
        if (e.type === 'layer' && e.status === 'done') this.emit({ type: 'status', id: metaId, text: `${e.digest.slice(7, 19)} pulled` });
      }));
      this.emit({ type: 'done', id: metaId, cached: false });
      const fromId = this.vertex(`${step} FROM ${full}`);
      this.emit({ type: 'done', id: fromId, cached: !!local });
      return image;
    } catch (e) {
      const message = (e as Error).message;
      this.emit({ type: 'error', id: metaId, message });
      throw new BuildError(`failed to solve: ${name}: ${message}`, { name: `${step} FROM ${name}`, line, lines: 1 });
    }
  }

  private async buildStage(
    stage: Stage,
    stages: Stage[],
    results: Map<number, State>,
    globals: Map<string, string>,
    file: Dockerfile,
    opts: BuildOptions,
    usedArgs: Set<string>,
    releases: Array<() => void>,
  ): Promise<State> {
    const label = stages.length > 1 ? `${stage.name ?? `stage-${stage.index}`} ` : '';
    const steps = 1 + stage.instructions.filter((i) => ['RUN', 'COPY', 'ADD', 'WORKDIR'].includes(i.kind)).length;
    let n = 1;
    const stepName = () => `[${label}${n}/${steps}]`;
    const state = await this.baseState(stage, stages, results, globals, file, opts, stepName());
    // ARGs in scope in this stage (a global ARG must be declared again to be seen here).
    const args = new Map<string, string>();
    const cmd = { set: false };
    let instructions = stage.instructions;
    // The base image's ONBUILD triggers run first, and are not passed on.
    const triggers = state.config.config?.OnBuild ?? [];
    if (triggers.length) {
      const parsed = parseDockerfile(`FROM scratch\n${triggers.join('\n')}\n`, ).instructions.slice(1);
      instructions = [...parsed, ...instructions];
      state.config.config = { ...state.config.config, OnBuild: null };
    }
    for (const raw of instructions) {
      if (opts.signal) this.checkAborted(opts.signal);
      const env = envMap(state.config.config?.Env);
      const lookup = (name: string) => env.get(name) ?? args.get(name);
      const inst = raw.kind === 'ARG' || raw.kind === 'ONBUILD' ? raw : expandInstruction(raw, lookup, file.escape);
      const where = { line: raw.line, lines: raw.original.split('\n').length };
      const defaults: Defaults = (state.config.config ??= {});
      const meta = (createdBy: string) => this.addHistory(state, { created_by: createdBy, empty_layer: true });
      switch (inst.kind) {
        case 'FROM':
          break;
        case 'ARG': {
          for (const a of inst.args) {
            let value = opts.buildArgs[a.name];
            if (value !== undefined) usedArgs.add(a.name);
            value ??= a.default !== undefined ? this.expandWord(a.default, new Map([...args, ...env]), file) : globals.get(a.name);
            if (value !== undefined) args.set(a.name, value);
            else args.delete(a.name);
          }
          meta(`ARG ${inst.args.map((a) => (args.has(a.name) ? `${a.name}=${args.get(a.name)}` : a.name)).join(' ')}`);
          break;
        }
        case 'ENV':
        case 'LABEL':
        case 'MAINTAINER':
        case 'USER':
        case 'EXPOSE':
        case 'VOLUME':
        case 'STOPSIGNAL':
        case 'SHELL':
        case 'CMD':
        case 'ENTRYPOINT':
        case 'HEALTHCHECK':
        case 'ONBUILD': {
          try {
            const createdBy = applyMetadata(state.config, inst, cmd);
            // BuildKit's ONBUILD only adds the trigger: no history entry (dispatchOnbuild), unlike the other instructions here.
            if (inst.kind !== 'ONBUILD') meta(createdBy);
          } catch (e) {
            if (e instanceof BuildError) throw new BuildError(e.message, { name: inst.original, ...where });
            throw e;
          }
          // What a RUN after it sees changes its cache key.
          if (inst.kind === 'ENV' || inst.kind === 'USER' || inst.kind === 'SHELL') state.key = await BuildCache.key(state.key, inst.kind, JSON.stringify(inst));
          break;
        }
        case 'WORKDIR': {
          n++;
          const path = joinPath(splitPath(inst.path.startsWith('/') ? inst.path : `${defaults.WorkingDir || '/'}/${inst.path}`));
          defaults.WorkingDir = path;
          await this.layerStep(state, `${stepName()} WORKDIR ${path}`, `WORKDIR ${path}`, where, opts, releases, ['WORKDIR', path, defaults.User ?? ''], async () => {
            if (path === '/') return undefined;
            const user = defaults.User ? await this.userOf(state, defaults.User, releases) : { uid: 0, gid: 0 };
            return this.withTarget(state, releases, async (target) => {
              return planMkdir(target, path, user, nowSeconds()).catch(mapCopyError);
            });
          });
          break;
        }
        case 'COPY':
        case 'ADD': {
          n++;
          const name = `${stepName()} ${raw.original.replace(/\n/g, ' ')}`;
          await this.copyStep(inst, state, name, where, stages, stage, results, opts, releases);
          break;
        }
        case 'RUN': {
          n++;
          const name = `${stepName()} ${raw.original.split('\n')[0]}`;
          const shell = defaults.Shell ?? DEFAULT_SHELL;
          const argv = this.runArgv(inst, shell);
          // ARGs reach RUN as environment (ENV wins), and take part in its cache key, not in the image.
          const runEnv = [...args].filter(([k]) => !env.has(k)).map(([k, v]) => `${k}=${v}`);
          const network = inst.network ?? opts.network;
          // BuildKit expands each field of a --mount value.
          const mounts = inst.mounts.map((m) => m.split(',').map((f) => expandWord(f, lookup, file.escape)).join(','));
          const createdBy = `RUN ${runEnv.length ? `|${runEnv.length} ${runEnv.join(' ')} ` : ''}${argv.join(' ')} # buildkit`;
          await this.layerStep(state, name, createdBy, where, opts, releases, ['RUN', JSON.stringify(argv), JSON.stringify(runEnv), network ?? '', JSON.stringify(mounts)], async (vertex) => {
            const image = this.asImage(state);
            const tar = await runStep(this.engine, image, {
              argv,
              env: runEnv,
              workdir: defaults.WorkingDir || '/',
              ...(defaults.User ? { user: defaults.User } : {}),
              ...(network ? { network } : {}),
              mounts,
              ...(opts.signal ? { signal: opts.signal } : {}),
              onOutput: (data) => this.emit({ type: 'log', id: vertex, data }),
            });
            return tar;
          });
          break;
        }
      }
    }
    return state;
  }

  private runArgv(inst: Extract<Instruction, { kind: 'RUN' }>, shell: string[]): string[] {
    if ('exec' in inst.command) return inst.command.exec;
    const text = inst.command.shell;
    const only = inst.heredocs.length === 1 && /^<<-?["']?[A-Za-z0-9_]+["']?\s*$/.test(text.trim());
    // `RUN <<EOF` alone: the heredoc is the script; otherwise the shell reads the heredocs itself.
    if (only) return [...shell, inst.heredocs[0]!.content];
    if (!inst.heredocs.length) return [...shell, text];
    return [...shell, `${text}\n${inst.heredocs.map((h) => `${h.content}${h.name}`).join('\n')}`];
  }

  private addHistory(state: State, h: Omit<History, 'created'>): void {
    (state.config.history ??= []).push({ created: new Date().toISOString(), ...h });
  }

  /**
   * A step that may change files: its result from the cache, or `make()`'s
   * tar (entries or bytes) stored as a layer, an empty one (EMPTY_LAYER) if
   * nothing changed; `make()` answers undefined for a step that makes no
   * layer at all (BuildKit's `WORKDIR /`).
   */
  private async layerStep(
    state: State,
    name: string,
    createdBy: string,
    where: { line: number; lines: number },
    opts: BuildOptions,
    releases: Array<() => void>,
    keyParts: string[],
    make: (vertex: number) => Promise<Uint8Array | Parameters<typeof packTar>[0] | undefined>,
  ): Promise<void> {
    const key = await BuildCache.key(state.key, CACHE_RULES, ...keyParts);
    const id = this.vertex(name);
    const cached = opts.noCache ? undefined : await this.cache.get(key);
    if (cached) {
      this.apply(state, cached.layer, cached.history);
      state.key = key;
      this.emit({ type: 'done', id, cached: true });
      return;
    }
    let made: Awaited<ReturnType<typeof make>>;
    try {
      made = await make(id);
    } catch (e) {
      const message = e instanceof BuildError ? e.message.replace(/^failed to solve: /, '') : (e as Error).message;
      this.emit({ type: 'error', id, message });
      throw new BuildError(`failed to solve: ${message}`, { name, ...where });
    }
    const tar = made === undefined ? undefined : made instanceof Uint8Array ? made : made.length ? await packTar(made) : new Uint8Array();
    let layer: LayerEntry | undefined;
    if (tar && isEmptyTar(tar)) {
      layer = await this.emptyLayer(releases);
    } else if (tar) {
      const written = await writeLayer(this.engine.images, tar);
      releases.push(written.release);
      layer = written.layer;
    }
    const history: History = { created: new Date().toISOString(), created_by: createdBy, ...(layer ? {} : { empty_layer: true }), comment: 'buildkit.dockerfile.v0' };
    this.apply(state, layer, history);
    await this.cache.set(key, { ...(layer ? { layer } : {}), history });
    state.key = key;
    this.emit({ type: 'done', id, cached: false });
  }

  /** Stores EMPTY_LAYER (held until the build ends, as writeLayer's layers are). */
  private async emptyLayer(releases: Array<() => void>): Promise<LayerEntry> {
    const images = this.engine.images;
    releases.push(await images.lease([EMPTY_LAYER.digest]));
    await images.storeBlob(EMPTY_LAYER.gzip, MediaType.OciLayerGzip);
    return { digest: EMPTY_LAYER.digest, size: EMPTY_LAYER.gzip.length, mediaType: MediaType.OciLayerGzip, diffId: EMPTY_LAYER.diffId };
  }

  private apply(state: State, layer: LayerEntry | undefined, history: History): void {
    if (layer) {
      state.layers.push(layer);
      state.config.rootfs.diff_ids.push(layer.diffId);
    }
    (state.config.history ??= []).push(history);
  }

  /** The stage so far as an image record (not stored as an image) for the engine's containers and layer trees. */
  private asImage(state: State): ImageRecord {
    const images = this.engine.images;
    const stored: StoredImage = {
      id: state.key === 'scratch' ? `sha256:${'0'.repeat(64)}` : state.key,
      manifestDigest: '',
      manifestMediaType: '',
      repoTags: [],
      repoDigests: [],
      config: state.config,
      configSize: 0,
      layers: state.layers,
      extraBlobs: [],
      lastTagTime: '',
    };
    return { ...stored, size: state.layers.reduce((s, l) => s + l.size, 0), readLayer: (d) => images.readBlob(d.digest) };
  }

  /** Runs `fn` with the stage's merged tree, its layer trees unpacked and held meanwhile. */
  private async withTarget<T>(state: State, _releases: Array<() => void>, fn: (target: MergedFs) => Promise<T>): Promise<T> {
    const holder = `build-${randomHexId()}`;
    const trees = this.engine.layerTrees;
    await trees.hold(holder, state);
    try {
      const paths = await trees.unpack(this.asImage(state));
      return await fn(new MergedFs(this.engine.vm.fs, [...paths].reverse()));
    } finally {
      trees.release(holder);
    }
  }

  private async userOf(state: State, user: string, releases: Array<() => void>): Promise<{ uid: number; gid: number }> {
    return this.withTarget(state, releases, async () => {
      const paths = [...(await LayerTrees.paths(state))].reverse();
      try {
        const u = await resolveUser(this.engine.vm.fs, paths, user);
        return { uid: u.uid, gid: u.gid };
      } catch (e) {
        throw new BuildError(`failed to solve: ${(e as Error).message}`);
      }
    });
  }

  private async copyStep(
    inst: Extract<Instruction, { kind: 'COPY' | 'ADD' }>,
    state: State,
    name: string,
    where: { line: number; lines: number },
    stages: Stage[],
    stage: Stage,
    results: Map<number, State>,
    opts: BuildOptions,
    releases: Array<() => void>,
  ): Promise<void> {
    const defaults = state.config.config ?? {};
    const workdir = defaults.WorkingDir || '/';
    const destRaw = inst.dest.startsWith('/') ? inst.dest : `${workdir.replace(/\/$/, '')}/${inst.dest}`;
    const dest = joinPath(splitPath(destRaw)) + (inst.dest.endsWith('/') || inst.dest === '.' || inst.dest.endsWith('/.') ? '/' : '');
    const mode = inst.chmod !== undefined ? parseMode(inst.chmod) : undefined;
    // The source tree: the context, a stage's result, or an image.
    const source: CopySource = { fs: opts.context, keepOwners: false };
    let sourceState: State | undefined;
    if (inst.from) {
      const dep = this.stageByRef(stages, inst.from, stage.index - 1);
      if (dep && dep.index >= stage.index) throw new BuildError(`failed to solve: ${inst.from}: a stage cannot copy from itself or a later stage`, { name, ...where });
      sourceState = dep ? results.get(dep.index) : undefined;
      if (!sourceState) {
        const image = await this.baseImage(inst.from, opts.pull, name, where.line);
        sourceState = { config: image.config, layers: image.layers, key: image.id };
      }
    }
    // Heredocs and URLs become files of a small context of their own.
    const extra = ContextFs.empty();
    const sources: string[] = [];
    for (const s of inst.sources) {
      const heredoc = inst.heredocs.find((h) => s === `<<${h.name}` || s === `<<-${h.name}` || s === `<<"${h.name}"` || s === `<<'${h.name}'`);
      if (heredoc) {
        extra.add(`/${heredoc.name}`, { type: 'file', mode: 0o644, uid: 0, gid: 0, size: heredoc.content.length, mtime: 0, data: new TextEncoder().encode(heredoc.content) });
        sources.push(`/${heredoc.name}`);
      } else if (inst.kind === 'ADD' && /^https?:\/\//.test(s)) {
        const got = await download(s, inst.checksum).catch(mapCopyError);
        extra.add(`/${got.name}`, { type: 'file', mode: 0o600, uid: 0, gid: 0, size: got.data.length, mtime: got.mtime, data: got.data });
        sources.push(`/${got.name}`);
      } else {
        sources.push(s);
      }
    }
    const fromExtra = inst.sources.length > 0 && sources.every((s, i) => s !== inst.sources[i]);
    let owner: { uid: number; gid: number } | undefined;
    if (inst.chown) owner = /^\d+(:\d+)?$/.test(inst.chown) ? { uid: Number(inst.chown.split(':')[0]), gid: Number(inst.chown.split(':')[1] ?? inst.chown.split(':')[0]) } : await this.userOf(state, inst.chown, releases);

    const plan = async (target: MergedFs, src: CopySource) =>
      planCopy(src, target, {
        sources,
        dest,
        ...(owner ? { owner } : {}),
        ...(mode !== undefined ? { mode } : {}),
        ...(inst.kind === 'ADD' && !inst.from ? { extractArchives: archiveEntries } : {}),
        now: nowSeconds(),
      }).catch(mapCopyError);
    // The cache key needs the content of what is copied: plan first (cheap), then look the key up.
    const compute = (target: MergedFs) =>
      sourceState
        ? this.withTarget(sourceState, releases, (from) => plan(target, { fs: from, keepOwners: true }))
        : plan(target, fromExtra ? { fs: extra, keepOwners: false } : source);
    const planned = await this.withTarget(state, releases, compute).catch((e) => {
      const message = (e as Error).message.replace(/^failed to solve: /, '');
      const id = this.vertex(name);
      this.emit({ type: 'error', id, message });
      throw new BuildError(`failed to solve: ${message}`, { name, ...where });
    });
    const createdBy = `${inst.kind} ${inst.original.replace(/^\S+\s+/, '').replace(/\n/g, ' ')} # buildkit`;
    await this.layerStep(state, name, createdBy, where, opts, releases, [inst.kind, inst.original, planned.digest], async () => planned.entries);
  }
}

function parseMode(v: string): number {
  if (!/^[0-7]{3,4}$/.test(v)) throw new BuildError(`failed to solve: invalid --chmod=${v}: only octal modes (e.g. 0755) are supported`);
  return parseInt(v, 8);
}

function mapCopyError(e: unknown): never {
  if (e instanceof CopyError) throw new BuildError(`failed to solve: ${e.message}`);
  throw e;
}
