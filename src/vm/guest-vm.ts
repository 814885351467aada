import { V86 } from 'v86';
import { AgentClient, AgentGoneError } from './agent-client.js';
import { readArtifact, readManifest, type ArtifactSource, type GuestManifest } from './artifacts.js';
import type { ConsolePort } from './channel.js';
import { CHUNK_SIZE } from './protocol.js';
import { GuestFs, type V86FileSystem } from './guest-fs.js';
import { compressSnapshot, joinSnapshot, SNAPSHOT_FORMAT, splitSnapshot, stateCheck, type SnapshotHeader } from './snapshot-format.js';
import { HostFileStorage } from './host-files.js';
import { DEFAULT_MEMORY_MIB, snapshotKey } from './snapshot-key.js';
import { GuestNetwork, netDeviceOptions, UPLINK_CMDLINE, type GuestNetworkOptions, type V86FetchAdapter } from './guest-network.js';

/** The virtio-console port the agent listens on (/dev/hvc1 in the guest). */
const AGENT_PORT = 1;
const SERIAL_LOG_LIMIT = 16 * 1024;

export const DEFAULT_CMDLINE = [
  'console=ttyS0',
  'quiet',
  'loglevel=3',
  // An oops leaves a half-broken guest; make it a panic, which the host detects and reports.
  'oops=panic',
  'tsc=reliable',
  'mitigations=off',
  'random.trust_cpu=on',
  // The initramfs is a ramfs, not tmpfs: crun, which comes in it, trusts only a
  // binary that is not shmem (guest/agent/init.c, trusted_crun).
  'rootfstype=ramfs',
  UPLINK_CMDLINE,
].join(' ');

export interface BootProgress {
  stage: 'artifacts' | 'emulator' | 'kernel' | 'agent' | 'ready';
  /** Milliseconds since boot() was called. */
  elapsedMs: number;
  /** While the artifacts download (stage 'artifacts', a cold boot): bytes received of all of them. */
  download?: { loaded: number; total: number };
}

export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
  constructor(
    readonly reason: 'corrupt' | 'stale' | 'unresponsive' | 'busy',
    message: string,
  ) {
    super(message);
  }
}

function emulatorOptions(options: GuestVMOptions, memoryMiB: number) {
  return {
    wasm_path: options.wasmPath,
    ...(options.wasmModule && {
      wasm_fn: async (env: WebAssembly.Imports) => (await WebAssembly.instantiate(await options.wasmModule!, env)).exports,
    }),
    memory_size: memoryMiB * 1024 * 1024,
    vga_memory_size: 256 * 1024, // no screen; v86 puts all of it in every snapshot
    filesystem: {},
    virtio_console: true,
    net_device: netDeviceOptions(options.network),
    // A new emulator gives its network card a random MAC and tells the network adapter; a
    // restored guest's eth0 keeps the MAC it was booted with, so without this the adapter
    // addresses the frames of connections it opens (published ports) to a MAC the guest drops.
    preserve_mac_from_state_image: true,
    autostart: true,
    disable_keyboard: true,
    disable_mouse: true,
    disable_speaker: true,
  };
}

/** Below this, v86 writes its BIOS set-up into guest memory before a state is restored. */
const LOW_MEMORY = 1 << 20;

/**
 * v86 zeroes all guest memory before unpacking a state, but a new emulator's
 * memory is fresh (zero) except the BIOS area: writing 256 MB of untouched
 * pages cost ~110 ms of every ~220 ms restore (the OS commits each page) and
 * made the process resident in all of it. Zero only the low MiB there. Relies
 * on v86 internals (continue_init, cpu.zero_memory, cpu.memory_size), so it
 * steps aside when they are not there; `npm test` restores with it.
 */
function skipZeroingFreshMemory(emulator: unknown): void {
  const v = emulator as { continue_init?: (inner: { cpu?: V86Cpu }, ...rest: unknown[]) => unknown };
  const continueInit = v.continue_init;
  if (typeof continueInit !== 'function') return;
  v.continue_init = function (this: unknown, inner, ...rest) {
    const cpu = inner?.cpu;
    const zero = cpu?.zero_memory;
    if (cpu && typeof zero === 'function') {
      cpu.zero_memory = (offset: number, length: number) => {
        cpu.zero_memory = zero; // once: later calls (virtio, resets) zero for real
        const fresh = offset === 0 && length === cpu.memory_size?.[0] && length > LOW_MEMORY;
        return zero(offset, fresh ? LOW_MEMORY : length);
      };
    }
    return continueInit.call(this, inner, ...rest);
  };
}

/**
 * In a browser, v86 paces its main loop through a second worker it starts
 * for timers (register_yield: a Worker from a blob URL, one message there and
 * back per tick). Its start-up came before the first tick of every guest
 * (~30–60 ms in Chromium on 2 cores, where the restored guest sat idle) and
 * costs two thread hops per tick. In our own worker nothing throttles timers,
 * so ticks go through a MessageChannel of this thread (zero delay) or
 * setTimeout (a delay), as v86 itself does in Node. Relies on v86 internals
 * (continue_init's first argument, yield/yield_callback/unregister_yield);
 * steps aside when they are not there or in Node.
 */
function yieldInThisThread(emulator: unknown): void {
  // v86 itself asks the same (Node: setImmediate and setTimeout, no timer worker).
  if (typeof (globalThis as { process?: unknown }).process !== 'undefined') return;
  const v = emulator as { continue_init?: (inner: V86Main, ...rest: unknown[]) => unknown };
  const continueInit = v.continue_init;
  if (typeof continueInit !== 'function') return;
  v.continue_init = function (this: unknown, inner, ...rest) {
    if (inner && typeof inner.yield === 'function' && typeof inner.yield_callback === 'function' && typeof inner.unregister_yield === 'function') {
      inner.unregister_yield(); // the timer worker
      const channel = new MessageChannel();
      channel.port1.onmessage = (e: MessageEvent<number>) => inner.yield_callback(e.data);
      // A timer's tick also runs from the channel: ticks run from timers would nest, and
      // browsers stretch nested timers to ≥ 4 ms.
      inner.yield = (t: number, tick: number) => {
        if (t < 1) channel.port2.postMessage(tick);
        else setTimeout(() => channel.port2.postMessage(tick), t);
      };
      inner.unregister_yield = () => channel.port1.close();
    }
    return continueInit.call(this, inner, ...rest);
  };
}

interface V86Main {
  yield(t: number, tick: number): void;
  yield_callback(tick: number): void;
  unregister_yield(): void;
}

interface V86Cpu {
  zero_memory: (offset: number, length: number) => void;
  memory_size?: Uint32Array;
}

function withTimeout<T>(p: Promise<T>, ms: number, error: () => Error): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(error()), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e) => (clearTimeout(t), reject(e)),
    );
  });
}

export interface GuestVMOptions {
  artifacts: ArtifactSource;
  /** v86.wasm: a file path in Node, a URL in the browser. */
  wasmPath: string;
  /** v86.wasm already being compiled (the page starts it while it reads the snapshot); else v86 loads wasmPath. */
  wasmModule?: Promise<WebAssembly.Module>;
  memoryMiB?: number;
  cmdline?: string;
  /** Give up on boot after this long (ms). */
  bootTimeoutMs?: number;
  /** Give up on a restored guest that does not answer a ping within this long (ms). */
  restoreTimeoutMs?: number;
  onProgress?: (p: BootProgress) => void;
  /** Kernel console output, as it arrives. */
  onSerial?: (text: string) => void;
  network?: GuestNetworkOptions;
}

/** Why the guest stopped serving: a kernel panic, a timeout, or stop(). */
export class GuestDiedError extends AgentGoneError {
  constructor(
    message: string,
    readonly serialLog: string,
  ) {
    super(message);
  }
}

/** The v86 emulator as we use it: events on its bus plus the 9p filesystem. */
interface V86Emulator {
  add_listener(event: string, fn: (arg: unknown) => void): void;
  remove_listener(event: string, fn: (arg: unknown) => void): void;
  bus: { send(event: string, data: unknown): void };
  fs9p: V86FileSystem;
  network_adapter: V86FetchAdapter;
  destroy(): Promise<void>;
  save_state(): Promise<ArrayBuffer>;
  run(): Promise<void>;
}

/**
 * Where the guest's system image goes in the 9p tree: init mounts it from
 * there through a loop device (guest/agent/init.c), so the kernel neither
 * unpacks nor copies it.
 */
export const SYSTEM_IMAGE_PATH = '/guest/system.img';

/**
 * One booted guest: the emulator, the agent client on its control channel,
 * and the 9p tree. Boots from the artifacts `npm run build:guest` writes.
 */
export class GuestVM {
  readonly agent: AgentClient;
  private fsWrapper: GuestFs | undefined;
  /** v86's file storage, with the system image's bytes (attachSystemImage). */
  private hostFiles: HostFileStorage | undefined;
  private readonly networkWrapper: GuestNetwork;
  readonly manifest: GuestManifest;
  private serialLog = '';
  private dead: GuestDiedError | undefined;
  private readonly deathListeners = new Set<(e: GuestDiedError) => void>();

  private constructor(
    private readonly emulator: V86Emulator,
    manifest: GuestManifest,
    private readonly memoryMiB: number,
    restored?: SnapshotHeader['agent'],
  ) {
    this.manifest = manifest;
    this.agent = new AgentClient(this.consolePort(AGENT_PORT), restored);
    this.networkWrapper = new GuestNetwork(() => emulator.network_adapter);
    emulator.add_listener('emulator-started', () => this.networkWrapper.attach());
  }

  /**
   * Saves the whole guest (memory, devices, the 9p tree) while the agent is
   * idle, with what the host side must remember of it, compressed: what is
   * stored (snapshot-format.ts).
   */
  async snapshot(): Promise<Uint8Array> {
    return compressSnapshot(await this.captureSnapshot());
  }

  /**
   * The fast half of snapshot(): captures the state (a fraction of a second)
   * so the guest can go on at once; compressSnapshot() can follow later,
   * elsewhere. restore() takes either.
   */
  async captureSnapshot(): Promise<Uint8Array> {
    for (let i = 0; i < 200 && !this.agent.quiescent; i++) await new Promise((r) => setTimeout(r, 10));
    if (!this.agent.quiescent) throw new SnapshotError('busy', 'the guest is busy (processes or requests in flight); snapshot it when idle');
    const state = new Uint8Array(await this.emulator.save_state());
    return joinSnapshot({ format: SNAPSHOT_FORMAT, key: snapshotKey(this.manifest, this.memoryMiB), agent: this.agent.snapshotState() }, state);
  }

  /**
   * Starts a guest from a snapshot of the same guest artifacts, v86 version
   * and memory size. Rejects with SnapshotError when the snapshot is corrupt,
   * stale (made from other artifacts) or the restored agent does not answer;
   * the caller then boots cold.
   */
  static async restore(options: GuestVMOptions & { snapshot: Uint8Array }): Promise<GuestVM> {
    const t0 = performance.now();
    const progress = (stage: BootProgress['stage']) => options.onProgress?.({ stage, elapsedMs: performance.now() - t0 });
    progress('artifacts');
    const manifest = await readManifest(options.artifacts);
    const memoryMiB = options.memoryMiB ?? DEFAULT_MEMORY_MIB;
    // The state as stored: raw, or zstd (v86 reads that itself as it restores).
    const { header, state: stored } = splitSnapshot(options.snapshot);
    if (!header) throw new SnapshotError('corrupt', 'the snapshot has no readable header');
    if (header.format !== SNAPSHOT_FORMAT || header.key !== snapshotKey(manifest, memoryMiB)) {
      throw new SnapshotError('stale', 'the snapshot was made from other guest artifacts, v86 version or memory size');
    }
    const biosRead = readArtifact(options.artifacts, 'bios.bin', manifest); // while the state is checked
    biosRead.catch(() => {});
    progress('emulator');
    const stateBytes = stored.slice(); // v86 takes an ArrayBuffer of the state alone
    if (stateCheck(stateBytes) !== header.check) throw new SnapshotError('corrupt', 'the snapshot does not match its checksum (damaged in storage)');
    const bios = await biosRead;
    const state = stateBytes.buffer;
    const emulator = new V86({
      ...emulatorOptions(options, memoryMiB),
      bios: { buffer: toArrayBuffer(bios) },
      initial_state: { buffer: state },
    } as unknown as ConstructorParameters<typeof V86>[0]) as unknown as V86Emulator;
    skipZeroingFreshMemory(emulator);
    yieldInThisThread(emulator);
    const vm = new GuestVM(emulator, manifest, memoryMiB, header.agent);
    // The system image is not in the snapshot (host-files.ts): the guest reads it from the artifact,
    // loaded once the guest answers (its 9 MB read slowed the restore when it ran alongside),
    // or at the guest's first read of it if that comes sooner. Attached before the guest runs:
    // v86 restores the state, starts the CPU, then says it has loaded.
    emulator.add_listener('emulator-loaded', () => vm.attachSystemImage(() => readArtifact(options.artifacts, 'system.img', manifest)));
    vm.watchSerial(options, () => progress('kernel'));
    progress('agent');
    try {
      await withTimeout(vm.agent.ping(), options.restoreTimeoutMs ?? 5000, () => new SnapshotError('unresponsive', 'the restored guest does not answer'));
    } catch (e) {
      await vm.stop();
      throw e instanceof SnapshotError ? e : new SnapshotError('unresponsive', (e as Error).message);
    }
    vm.hostFiles?.load(manifest.artifacts['system.img']!.sha256);
    progress('ready');
    return vm;
  }

  static async boot(options: GuestVMOptions): Promise<GuestVM> {
    const t0 = performance.now();
    const progress = (stage: BootProgress['stage']) => options.onProgress?.({ stage, elapsedMs: performance.now() - t0 });
    progress('artifacts');
    const manifest = await readManifest(options.artifacts);
    const memoryMiB = options.memoryMiB ?? DEFAULT_MEMORY_MIB;
    const names = ['bios.bin', 'bzImage', 'initramfs.img', 'system.img'];
    const total = names.reduce((n, p) => n + (manifest.artifacts[p]?.size ?? 0), 0);
    const received = new Map<string, number>();
    let reported = 0;
    const onBytes = (name: string) => (n: number) => {
      received.set(name, n);
      const now = performance.now();
      if (now - reported < 100) return; // a few reports a second
      reported = now;
      const loaded = [...received.values()].reduce((a, b) => a + b, 0);
      options.onProgress?.({ stage: 'artifacts', elapsedMs: now - t0, download: { loaded: Math.min(loaded, total), total } });
    };
    const [bios, bzimage, initrd, system] = await Promise.all(names.map((p) => readArtifact(options.artifacts, p, manifest, onBytes(p))));
    progress('emulator');
    const emulator = new V86({
      ...emulatorOptions(options, memoryMiB),
      autostart: false, // the system image goes into the 9p tree first
      bios: { buffer: toArrayBuffer(bios!) },
      bzimage: { buffer: toArrayBuffer(bzimage!) },
      initrd: { buffer: toArrayBuffer(initrd!) },
      cmdline: options.cmdline ?? DEFAULT_CMDLINE,
    } as unknown as ConstructorParameters<typeof V86>[0]) as unknown as V86Emulator;

    yieldInThisThread(emulator);
    const vm = new GuestVM(emulator, manifest, memoryMiB);
    vm.watchSerial(options, () => progress('kernel'));
    const seeded = new Promise<void>((resolve, reject) => {
      emulator.add_listener('emulator-loaded', () => {
        try {
          vm.attachSystemImage(() => Promise.resolve(system!));
          vm.fs.mkdirp(SYSTEM_IMAGE_PATH.slice(0, SYSTEM_IMAGE_PATH.lastIndexOf('/')));
          vm.fs
            .writeStoredFile(SYSTEM_IMAGE_PATH, manifest.artifacts['system.img']!.sha256, system!.length, { mode: 0o444 })
            .then(() => emulator.run())
            .then(resolve, reject);
        } catch (e) {
          reject(e as Error);
        }
      });
    });

    const timeoutMs = options.bootTimeoutMs ?? 60_000;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new GuestDiedError(`The guest did not become ready within ${timeoutMs / 1000} s.`, vm.serialLog));
        }, timeoutMs);
        vm.onDeath((e) => {
          clearTimeout(timer);
          reject(e);
        });
        seeded.catch((e: Error) => {
          clearTimeout(timer);
          reject(new GuestDiedError(`The system image could not be put into the guest's 9p tree: ${e.message}`, vm.serialLog));
        });
        progress('agent');
        vm.agent.ready().then(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    } catch (e) {
      await vm.stop();
      throw e;
    }
    progress('ready');
    return vm;
  }

  /**
   * The bytes behind the system image's 9p file, which v86 reads from its
   * file storage rather than its state (host-files.ts): snapshots leave it
   * out. A guest whose image cannot be had is stopped with the reason, since
   * its reads of it would wait forever.
   */
  private attachSystemImage(load: () => Promise<Uint8Array>): void {
    const unreadable = (e: Error) => this.die(new GuestDiedError(`The guest's system image (system.img) could not be read: ${e.message}`, this.serialLog));
    try {
      const fs = this.fs.raw;
      this.hostFiles = fs.storage = new HostFileStorage(fs.storage);
      this.hostFiles.add(this.manifest.artifacts['system.img']!.sha256, load, unreadable);
    } catch (e) {
      unreadable(e as Error);
    }
  }

  /** The 9p tree (v86 creates it only once the emulator has loaded). */
  get fs(): GuestFs {
    if (!this.fsWrapper) {
      if (!this.emulator.fs9p) throw new Error('the emulator has no 9p filesystem yet');
      this.fsWrapper = new GuestFs(this.emulator.fs9p);
    }
    return this.fsWrapper;
  }

  /** The network card's host side: connections into the guest, outbound HTTP settings. */
  get network(): GuestNetwork {
    return this.networkWrapper;
  }

  private watchSerial(options: GuestVMOptions, firstByte: () => void): void {
    let seen = false;
    this.emulator.add_listener('serial0-output-byte', (byte) => {
      const ch = String.fromCharCode(byte as number);
      if (!seen) {
        seen = true;
        firstByte();
      }
      this.onSerial(ch);
      options.onSerial?.(ch);
    });
  }

  /** Kernel console output so far (the last 16 KiB). */
  get kernelLog(): string {
    return this.serialLog;
  }

  get alive(): boolean {
    return !this.dead;
  }

  onDeath(listener: (e: GuestDiedError) => void): () => void {
    if (this.dead) listener(this.dead);
    this.deathListeners.add(listener);
    return () => this.deathListeners.delete(listener);
  }

  async stop(): Promise<void> {
    this.die(new GuestDiedError('The guest was stopped.', this.serialLog));
    await this.emulator.destroy();
  }

  private die(err: GuestDiedError): void {
    if (this.dead) return;
    this.dead = err;
    this.agent.shutdown(err);
    for (const l of this.deathListeners) l(err);
  }

  private onSerial(ch: string): void {
    this.serialLog += ch;
    if (this.serialLog.length > SERIAL_LOG_LIMIT) this.serialLog = this.serialLog.slice(-SERIAL_LOG_LIMIT / 2);
    if (ch === '\n' && /Kernel panic - not syncing/.test(this.serialLog.slice(-400))) {
      // Let the rest of the panic message arrive before reporting it.
      setTimeout(() => {
        const log = this.serialLog;
        const line = /Kernel panic - not syncing:[^\n]*/.exec(log)?.[0] ?? 'Kernel panic';
        this.die(new GuestDiedError(`The guest kernel panicked (${line.trim()}). The VM must be restarted.`, log));
      }, 50);
    }
  }

  private consolePort(port: number): ConsolePort {
    const emulator = this.emulator;
    // Input sent before the emulator runs (a restore still loading its state) would be lost.
    let started = false;
    const early: Uint8Array[] = [];
    emulator.add_listener('emulator-started', () => {
      started = true;
      for (const b of early.splice(0)) emulator.bus.send(`virtio-console${port}-input-bytes`, b);
    });
    return {
      write: (bytes) => {
        if (bytes.length > CHUNK_SIZE) throw new RangeError('console chunk larger than a receive buffer');
        if (!started) early.push(bytes);
        else emulator.bus.send(`virtio-console${port}-input-bytes`, bytes);
      },
      onData: (listener) => {
        const fn = (data: unknown) => listener(data as Uint8Array);
        emulator.add_listener(`virtio-console${port}-output-bytes`, fn);
        return () => emulator.remove_listener(`virtio-console${port}-output-bytes`, fn);
      },
    };
  }
}

function toArrayBuffer(u: Uint8Array): ArrayBuffer {
  return u.byteOffset === 0 && u.byteLength === u.buffer.byteLength
    ? (u.buffer as ArrayBuffer)
    : (u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer);
}
