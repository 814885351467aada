import { AgentError, type ExitStatus, type GuestProcess } from '../vm/agent-client.js';
import type { GuestVM } from '../vm/guest-vm.js';
import { Container } from './container.js';
import { CrunRuntime } from './crun-runtime.js';
import { BerthError, conflict, internal, invalidArgument, notFound } from './errors.js';
import type { ImageRecord, ImageService, PullEvent } from './image-service.js';
import { LayerTrees } from './layer-trees.js';
import { resolveMounts } from './mounts.js';
import { randomHexId, randomName } from './names.js';
import { buildRuntimeSpec, capabilities, containerArgs, containerEnv, InvalidCommandError, type RunOptions } from './runtime-spec.js';
import { resolveUser } from './user.js';
import { VolumeService } from './volumes.js';
import { hostsText, NETNS_DIR, NetworkService, type PortPublisher } from './networks.js';
import { exposedBindings, parsePublish, type PortBinding } from './ports.js';
import { GUEST_NET } from '../vm/guest-network.js';
import { RuntimeCommandError, type Runtime, type RuntimeRun } from './runtime.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exitsWithin = (c: Container, ms: number) => Promise.race([c.wait().then(() => true), sleep(ms).then(() => false)]);

/** Where the guest mounts the 9p tree. */
export const GUEST_9P_ROOT = '/berth';
const BUNDLES_DIR = '/bundles';
const GUEST_CONTAINERS_DIR = '/run/berth/containers';

export interface CreateOptions extends RunOptions {
  name?: string;
  /** A build step's container (RUN): hidden from list(), as BuildKit's are from `docker ps`. */
  buildStep?: boolean;
}

/** Where a container's output goes and where its input comes from. */
export interface ContainerIO {
  onStdout?: (data: Uint8Array) => void;
  onStderr?: (data: Uint8Array) => void;
  /** Initial terminal size, with `tty`. */
  size?: { rows: number; cols: number };
}

/** A container's command cannot run: Docker exits 126 (not executable) or 127 (not found). */
export class CommandNotRunnableError extends BerthError {
  constructor(
    readonly exitCode: 126 | 127,
    message: string,
  ) {
    super('failed-precondition', message);
  }
}

/**
 * The daemon's container side: creates, starts, waits for, kills and removes
 * containers in the guest, through a Runtime (crun by default). Image layers are unpacked
 * into the 9p tree once and shared by every container that uses them.
 */
export class Engine {
  private readonly containers = new Map<string, Container>();
  /** Removals under way, by container ID. */
  private readonly removals = new Map<string, Promise<void>>();

  readonly volumes: VolumeService;
  readonly network: NetworkService;
  /** The unpacked image layers; each container holds its trees from the start of its create until it is removed. */
  readonly layerTrees: LayerTrees;

  constructor(
    readonly vm: GuestVM,
    readonly images: ImageService,
    /** Exposes published ports on the host (Node); none in the browser, where the service worker asks. */
    publisher?: PortPublisher,
    /** Runs the containers: crun through the guest's agent unless told otherwise. */
    private readonly runtime: Runtime = new CrunRuntime(vm.agent, vm.fs, GUEST_9P_ROOT),
  ) {
    this.volumes = new VolumeService(vm.fs);
    this.layerTrees = new LayerTrees(vm.fs, images);
    this.network = new NetworkService(vm, () => [...this.containers.values()], publisher);
  }

  /** The containers users see (not those of build steps). */
  list(): Container[] {
    return [...this.containers.values()].filter((c) => !c.options.buildStep);
  }

  get(idOrName: string): Container {
    const byName = [...this.containers.values()].find((c) => c.name === idOrName.replace(/^\//, ''));
    if (byName) return byName;
    const matches = [...this.containers.values()].filter((c) => c.id.startsWith(idOrName));
    if (matches.length === 1 && idOrName.length > 0) return matches[0]!;
    if (matches.length > 1) throw invalidArgument(`multiple containers match the ID prefix ${idOrName}`);
    throw notFound(`No such container: ${idOrName}`);
  }

  /**
   * Unpacks the image's layers into the 9p tree (once per chain) and returns
   * their 9p paths, bottom first (see LayerTrees.unpack).
   */
  prepareLayers(image: ImageRecord, onProgress?: (diffId: string, bytes: number) => void): Promise<string[]> {
    return this.layerTrees.unpack(image, onProgress);
  }

  /** Pulls an image into the store (see ImageService.pull). */
  pull(name: string, onEvent?: (e: PullEvent) => void): Promise<ImageRecord> {
    return this.images.pull(name, onEvent);
  }

  /** `rmi`: removes an image and the unpacked layer trees nothing uses any more. */
  async removeImage(name: string, opts: { force?: boolean } = {}): Promise<Array<{ Untagged?: string; Deleted?: string }>> {
    const used = new Set(this.list().map((c) => c.imageId));
    const out = await this.images.remove(name, { ...opts, inUse: (id) => used.has(id) });
    await this.layerTrees.prune();
    return out;
  }

  /** `image prune`: dangling images, then unused layer trees. */
  async pruneImages(): Promise<{ deleted: string[]; reclaimed: number }> {
    const used = new Set(this.list().map((c) => c.imageId));
    const out = await this.images.prune((id) => used.has(id));
    await this.layerTrees.prune();
    return out;
  }

  async create(imageName: string, options: CreateOptions = {}): Promise<Container> {
    return this.createWithImage(await this.images.resolve(imageName), imageName, options);
  }

  /**
   * Creates a container of an image record that need not be in the image
   * store (a build's stage so far); `imageName` is how `ps` shows it.
   */
  async createWithImage(image: ImageRecord, imageName: string, options: CreateOptions = {}): Promise<Container> {
    const id = randomHexId();
    // Its layer trees are the container's from here: a prune while it is created must not take them.
    await this.layerTrees.hold(id, image);
    // Anonymous volumes made for a create that then fails go with it.
    const anonymous: string[] = [];
    try {
      return await this.createFrom(id, image, imageName, options, anonymous);
    } catch (e) {
      for (const v of anonymous) await this.volumes.remove(v, []).catch(() => {});
      this.layerTrees.release(id);
      throw e;
    }
  }

  private async createFrom(id: string, image: ImageRecord, imageName: string, options: CreateOptions, anonymous: string[]): Promise<Container> {
    const name = options.name?.replace(/^\//, '') ?? randomName((n) => this.nameTaken(n));
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
      throw invalidArgument(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    const holder = [...this.containers.values()].find((c) => c.name === name);
    if (holder) {
      throw conflict(
        `Conflict. The container name "/${name}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
    const defaults = image.config.config ?? {};
    try {
      containerArgs(defaults, options);
      capabilities(options.capAdd ?? [], options.capDrop ?? []);
    } catch (e) {
      if (e instanceof InvalidCommandError) throw invalidArgument(`${e.message}.`);
      throw e;
    }

    const layers = await this.layerTrees.unpack(image);
    const topFirst = [...layers].reverse();
    const user = await resolveUser(this.vm.fs, topFirst, options.user ?? defaults.User);
    const hostname = options.hostname ?? id.slice(0, 12);
    const args = containerArgs(defaults, options);
    const env = containerEnv(defaults, options, hostname, user);
    this.checkCommand(topFirst, args[0]!, env, options.workdir || defaults.WorkingDir || '/');

    const { mounts, volumes } = resolveMounts(options.mounts ?? [], this.volumes, GUEST_9P_ROOT, anonymous);
    const { mode: networkMode, members } = this.network.memberships(options.network, options.networkAliases);
    const portBindings: PortBinding[] = [
      ...(options.publish ?? []).map(parsePublish),
      ...(options.publishAll ? exposedBindings(defaults.ExposedPorts) : []),
    ];
    const bundle = `${BUNDLES_DIR}/${id}`;
    const guestDir = `${GUEST_CONTAINERS_DIR}/${id}`;
    const paths = {
      bundle,
      guestBundle: GUEST_9P_ROOT + bundle,
      guestDir,
      guestRootfs: `${guestDir}/rootfs`,
    };
    const spec = buildRuntimeSpec({
      id,
      rootfs: paths.guestRootfs,
      image: defaults,
      run: options,
      user,
      hostname,
      etcFiles: { hosts: `${paths.guestBundle}/hosts`, hostname: `${paths.guestBundle}/hostname`, resolvConf: `${paths.guestBundle}/resolv.conf` },
      network: networkMode === 'netns' ? { path: `${NETNS_DIR}/${id}` } : networkMode,
      // With a memory limit, a parent cgroup of its own outlives the run so the OOM count can be read.
      cgroupsPath: options.memory !== undefined ? `/berth/${id}/ctr` : `/berth/${id}`,
      mounts,
    });
    const enc = new TextEncoder();
    this.vm.fs.mkdirp(bundle);
    await this.vm.fs.writeFile(`${bundle}/config.json`, enc.encode(JSON.stringify(spec, null, 2)));
    await this.vm.fs.writeFile(`${bundle}/hostname`, enc.encode(`${hostname}\n`));
    await this.vm.fs.writeFile(`${bundle}/hosts`, enc.encode(hostsText(hostname)));
    // The emulated network's DNS answers every name (v86's fetch adapter; HTTP then goes by the Host header).
    await this.vm.fs.writeFile(`${bundle}/resolv.conf`, enc.encode(networkMode === 'none' ? '' : `nameserver ${GUEST_NET.routerIp}\n`));

    try {
      await this.vm.agent.mount({ source: 'tmpfs', target: guestDir, fstype: 'tmpfs', data: 'mode=0755', mkdir: true });
      await this.vm.agent.mount({
        source: 'overlay',
        target: paths.guestRootfs,
        fstype: 'overlay',
        data: `lowerdir=${topFirst.map((l) => GUEST_9P_ROOT + l).join(':')},upperdir=${guestDir}/upper,workdir=${guestDir}/work`,
        mkdir: true,
      });
    } catch (e) {
      await this.vm.agent.umount(guestDir, { detach: true, rmdir: true }).catch(() => {});
      await this.vm.fs.remove(bundle);
      throw internal(`could not mount the container's root filesystem: ${(e as Error).message}`, e);
    }

    // Docker shows the image as it was named at create (`busybox`, an ID, a digest ref).
    const container = new Container(id, name, imageName, image.id, options, hostname, paths, layers);
    container.args = args;
    container.env = env;
    container.labels = { ...(defaults.Labels ?? {}), ...(options.labels ?? {}) };
    container.networkMode = networkMode;
    container.networks = members;
    // Docker discards published ports in host mode (the container's ports are the host's).
    container.portBindings = networkMode === 'netns' ? portBindings : [];
    this.volumes.use(id, volumes);
    this.containers.set(id, container);
    return container;
  }

  /**
   * Starts the container's process; resolves once it runs. Output always goes
   * to the container's log; `io` (if any) receives it too, as `attach` would.
   */
  async start(idOrName: string, io: ContainerIO = {}): Promise<GuestProcess> {
    const c = this.get(idOrName);
    if (c.state === 'running') throw conflict(`container ${c.shortId} is already running`);
    c.transition('running');
    c.startedAt = new Date();
    c.stopping = false;
    c.oomKilled = false;
    let markStarted!: () => void;
    c.started = new Promise<void>((resolve) => (markStarted = resolve));
    try {
      return await this.startProcess(c, io);
    } finally {
      markStarted();
    }
  }

  private async startProcess(c: Container, io: ContainerIO): Promise<GuestProcess> {
    const tty = !!c.options.tty;
    try {
      await this.network.attach(c);
    } catch (e) {
      c.exited({ code: 128, signal: 0 });
      throw e;
    }
    let run: RuntimeRun;
    try {
      run = await this.runtime.run(c.id, {
        bundle: c.paths.bundle,
        tty,
        stdin: !!c.options.interactive,
        onStdout: (d) => {
          c.log.append('stdout', d);
          io.onStdout?.(d);
        },
        onStderr: (d) => {
          c.log.append('stderr', d);
          io.onStderr?.(d);
        },
      });
    } catch (e) {
      await this.network.release(c);
      c.exited({ code: 125, signal: 0 });
      throw internal(`could not start ${this.runtime.name}: ${(e as Error).message}`, e);
    }
    const proc = run.process;
    if (tty && io.size) proc.resize(io.size.rows, io.size.cols);
    c.process = proc;
    proc.exit.then(
      async (status) => {
        c.oomKilled = status.code === 137 && (await this.sawOomKill(c));
        await this.network.release(c).catch(() => undefined);
        c.exited(status);
        this.onExit(c);
      },
      () => {
        void this.network.release(c).catch(() => undefined);
        c.exited({ code: 137, signal: 9 });
      },
    );
    // Like Docker, return once the container runs: `exec` and published ports work from then on.
    await run.started;
    return proc;
  }

  /** Hook for restart policies and `--rm` of detached containers (set by the daemon). */
  onContainerExit: ((c: Container) => void) | undefined;

  /** Containers to remove as soon as they exit (`--rm`), whether a client is attached or not. */
  readonly autoRemove = new Set<string>();

  private onExit(c: Container): void {
    this.onContainerExit?.(c);
    if (this.autoRemove.delete(c.id)) return void this.remove(c.id, { volumes: true }).catch(() => {});
    // Restart policies, while the VM runs (Docker's daemon restarts them the same way).
    const policy = c.options.restart;
    if (!policy || policy.name === 'no' || c.stopping || !this.containers.has(c.id)) return;
    const failed = (c.exitStatus?.code ?? 0) !== 0;
    if (policy.name === 'on-failure' && (!failed || (policy.maxRetries > 0 && c.restartCount >= policy.maxRetries))) return;
    const delay = Math.min(100 * 2 ** c.restartCount, 10_000);
    setTimeout(() => {
      if (c.state !== 'exited' || c.stopping || !this.containers.has(c.id)) return;
      c.restartCount++;
      this.start(c.id).catch(() => {});
    }, delay);
  }

  /**
   * Whether the kernel's OOM killer ended the run. A memory-limited container
   * runs in a child cgroup of its own parent (see cgroupsPath), because crun
   * removes the container's cgroup when the run ends; the parent's
   * memory.events counts the kills of its children and stays until `rm`.
   */
  private async sawOomKill(c: Container): Promise<boolean> {
    if (c.options.memory === undefined) return false;
    const r = await this.vm.agent.run(['/bin/cat', `/sys/fs/cgroup/berth/${c.id}/memory.events`]).catch(() => undefined);
    const kills = Number(/^oom_kill (\d+)$/m.exec(r?.stdout ?? '')?.[1] ?? 0);
    const seen = c.oomKillsSeen ?? 0;
    c.oomKillsSeen = kills;
    return kills > seen;
  }

  /** Runs another process in a running container (`exec`). */
  async exec(
    idOrName: string,
    opts: { cmd: string[]; tty?: boolean; interactive?: boolean; env?: string[]; workdir?: string; user?: string; privileged?: boolean },
    io: ContainerIO = {},
  ): Promise<GuestProcess> {
    const c = this.get(idOrName);
    await c.started;
    if (c.state !== 'running') throw conflict(`Container ${c.id} is not running`);
    if (opts.cmd.length === 0) throw invalidArgument('exec needs a command to run');
    // The runtime takes the environment whole: the container's, then -e over it (Docker's exec semantics).
    const env = new Map(c.env.map((e) => [e.split('=')[0]!, e]));
    for (const e of opts.env ?? []) {
      if (e.includes('=')) env.set(e.split('=')[0]!, e);
      else env.delete(e);
    }
    this.checkCommand([...c.layers].reverse(), opts.cmd[0]!, [...env.values()], opts.workdir ?? c.options.workdir ?? '/');
    const user = opts.user ? await resolveUser(this.vm.fs, [...c.layers].reverse(), opts.user) : undefined;
    try {
      const proc = await this.runtime.exec(c.id, {
        args: opts.cmd,
        env: [...env.values()],
        ...(opts.workdir ? { cwd: opts.workdir } : {}),
        ...(user ? { user: { uid: user.uid, gid: user.gid } } : {}),
        tty: !!opts.tty,
        stdin: !!opts.interactive,
        ...(io.onStdout ? { onStdout: io.onStdout } : {}),
        ...(io.onStderr ? { onStderr: io.onStderr } : {}),
      });
      if (opts.tty && io.size) proc.resize(io.size.rows, io.size.cols);
      return proc;
    } catch (e) {
      throw internal(`could not exec in ${c.shortId}: ${(e as Error).message}`, e);
    }
  }

  /** `stop`: SIGTERM (or the image's StopSignal), then SIGKILL after `timeout` seconds. */
  async stop(idOrName: string, timeoutSeconds = 10, signal = 'TERM'): Promise<void> {
    const c = this.get(idOrName);
    if (c.state !== 'running') return;
    c.stopping = true;
    await this.kill(c.id, signal).catch(() => {});
    const exited = await Promise.race([c.wait().then(() => true), sleep(timeoutSeconds * 1000).then(() => false)]);
    if (!exited && c.state === 'running') {
      await this.kill(c.id, 'KILL').catch(() => {});
      await c.wait();
    }
  }

  rename(idOrName: string, newName: string): void {
    const c = this.get(idOrName);
    const name = newName.replace(/^\//, '');
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw invalidArgument(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const holder = [...this.containers.values()].find((x) => x.name === name);
    if (holder && holder !== c) throw conflict(`Conflict. The container name "/${name}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`);
    c.name = name;
  }

  wait(idOrName: string): Promise<ExitStatus> {
    return this.get(idOrName).wait();
  }

  async kill(idOrName: string, signal: number | string = 'KILL'): Promise<void> {
    const c = this.get(idOrName);
    if (c.state !== 'running') throw conflict(`Cannot kill container: ${idOrName}: Container ${c.id} is not running`);
    const sig = typeof signal === 'number' ? String(signal) : signal.replace(/^SIG/, '');
    await c.started;
    // A run that started without reporting its process in time (the runtime's
    // started) may register with the runtime later; until then kill finds nothing, so retry.
    for (let attempt = 0; ; attempt++) {
      const refused = await this.runtime.kill(c.id, sig).then(
        () => undefined,
        (e: unknown) => {
          if (e instanceof RuntimeCommandError) return e;
          throw e;
        },
      );
      if (!refused || c.state !== 'running') break;
      if (attempt >= 40) throw internal(`${this.runtime.name} kill ${c.shortId} ${sig} failed: ${refused.stderr.trim()}`);
      await sleep(50);
    }
    if (sig === 'KILL' || sig === '9') this.ensureExit(c);
  }

  /** If the runtime's run has not reported a SIGKILLed container's end in 3 s, end that process itself. */
  private ensureExit(c: Container): void {
    const proc = c.process;
    setTimeout(() => {
      if (c.state === 'running' && c.process === proc) proc?.kill(9);
    }, 3000);
  }

  /**
   * Removes a container: its mounts, cgroup, bundle; with `volumes` (`rm -v`,
   * `--rm`) its anonymous volumes too, never named ones. A running one needs
   * `force`. A second call while a removal is under way (an attached `run
   * --rm` and the engine's own --rm) settles with that removal.
   */
  async remove(idOrName: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const c = this.get(idOrName);
    const pending = this.removals.get(c.id);
    if (pending) return pending;
    if (c.state === 'running') {
      if (!opts.force) {
        throw conflict(
          `You cannot remove a running container ${c.id}. Stop the container before attempting removal or force remove`,
        );
      }
      c.stopping = true;
      await this.kill(c.id, 'KILL').catch(() => {});
      // A run that does not end (crun stuck on a container killed while starting)
      // must not block removal: end crun, and at last stop waiting for it.
      if (!(await exitsWithin(c, 4000))) {
        c.process?.kill(9);
        if (!(await exitsWithin(c, 2000))) c.exited({ code: 137, signal: 9 });
      }
    }
    const started = this.removals.get(c.id); // while the kill above ended it
    if (started) return started;
    if (c.state === 'removing') return;
    c.transition('removing');
    const removal = this.removeNow(c, !!opts.volumes);
    this.removals.set(c.id, removal);
    const settled = () => this.removals.delete(c.id);
    removal.then(settled, settled);
    return removal;
  }

  private async removeNow(c: Container, volumes: boolean): Promise<void> {
    // A run deletes the runtime's state when the container exits; only a run
    // that ended abnormally (crun itself killed, agent lost) leaves some.
    if (c.exitStatus?.signal !== 0 || c.exitStatus.code === 125) {
      await this.runtime.delete(c.id, { force: true }).catch(() => undefined);
    }
    await this.network.release(c).catch(() => undefined);
    const errors: string[] = [];
    // Detaching the per-container tmpfs takes the overlay mounted inside it along.
    await this.vm.agent.umount(c.paths.guestDir, { detach: true, rmdir: true }).catch((e: AgentError) => errors.push(e.message));
    await this.vm.fs.remove(c.paths.bundle);
    if (c.options.memory !== undefined) {
      await this.vm.agent.run(['/bin/rmdir', `/sys/fs/cgroup/berth/${c.id}`]).catch(() => undefined);
    }
    this.containers.delete(c.id);
    this.layerTrees.release(c.id);
    const mounted = this.volumes.release(c.id);
    if (errors.length) throw internal(`container ${c.shortId} removed, but unmounting failed: ${errors.join('; ')}`);
    if (volumes) {
      const failed = await this.volumes.removeAnonymous(mounted);
      if (failed.length) throw internal(`container ${c.shortId} removed, but not all of its anonymous volumes: ${failed.join('; ')}`);
    }
  }

  /** create + start + wait (+ remove with `rm`), as `docker run` without -d. */
  async run(imageName: string, options: CreateOptions & { rm?: boolean }, io: ContainerIO = {}): Promise<{ container: Container; status: ExitStatus }> {
    const c = await this.create(imageName, options);
    try {
      await this.start(c.id, io);
      const status = await c.wait();
      return { container: c, status };
    } finally {
      if (options.rm) await this.remove(c.id, { force: true, volumes: true });
    }
  }

  /** Names of containers that mount a volume (anonymous ones included: `-v /path` names no volume). */
  volumeUsers(name: string): string[] {
    const users = this.volumes.usersOf(name);
    return this.list()
      .filter((c) => users.includes(c.id))
      .map((c) => c.name);
  }

  private nameTaken(name: string): boolean {
    return [...this.containers.values()].some((c) => c.name === name);
  }

  /**
   * Docker reports a command that is missing (127) or not executable (126)
   * before the container starts; check the merged layers the same way.
   */
  private checkCommand(layersTopFirst: string[], program: string, env: string[], cwd: string): void {
    const path = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '';
    const candidates = program.includes('/')
      ? [program.startsWith('/') ? program : `${cwd.replace(/\/$/, '')}/${program}`]
      : path.split(':').filter(Boolean).map((d) => `${d.replace(/\/$/, '')}/${program}`);
    for (const candidate of candidates) {
      const found = this.lookupMerged(layersTopFirst, candidate);
      if (found === 'missing') continue;
      if (found === 'dir' || found === 'not-executable') {
        throw new CommandNotRunnableError(
          126,
          `failed to create task for container: OCI runtime create failed: exec: "${program}": permission denied`,
        );
      }
      return;
    }
    throw new CommandNotRunnableError(
      127,
      program.includes('/')
        ? `failed to create task for container: OCI runtime create failed: exec: "${program}": stat ${program}: no such file or directory`
        : `failed to create task for container: OCI runtime create failed: exec: "${program}": executable file not found in $PATH`,
    );
  }

  /** What a path is in the merged view of the layers (symlinks count as present: the kernel resolves them). */
  private lookupMerged(layersTopFirst: string[], path: string): 'missing' | 'dir' | 'not-executable' | 'ok' {
    for (const layer of layersTopFirst) {
      const st = this.vm.fs.stat(layer + path);
      if (st) {
        const type = st.mode & 0o170000;
        if (type === 0o020000 && st.major === 0 && st.minor === 0) return 'missing'; // whiteout
        if (type === 0o040000) return 'dir';
        if (type === 0o120000) return 'ok';
        return st.mode & 0o111 ? 'ok' : 'not-executable';
      }
      // A parent directory that is a symlink (e.g. /bin -> usr/bin) is resolved by the kernel, not here.
      if (this.hasSymlinkParent(layer, path)) return 'ok';
    }
    return 'missing';
  }

  private hasSymlinkParent(layer: string, path: string): boolean {
    const parts = path.split('/').filter(Boolean);
    let p = layer;
    for (let i = 0; i < parts.length - 1; i++) {
      p += `/${parts[i]}`;
      const st = this.vm.fs.stat(p);
      if (!st) return false;
      if ((st.mode & 0o170000) === 0o120000) return true;
    }
    return false;
  }
}
