import type { ExitStatus, GuestProcess } from '../vm/agent-client.js';
import type { RunOptions } from './runtime-spec.js';
import { ContainerLog } from './container-log.js';
import { conflict } from './errors.js';
import type { PortBinding } from './ports.js';

export type ContainerState = 'created' | 'running' | 'exited' | 'removing';

/** Which state changes are legal; anything else is a named conflict error. */
const TRANSITIONS: Record<ContainerState, ContainerState[]> = {
  created: ['running', 'removing'],
  running: ['exited'],
  exited: ['running', 'removing'],
  removing: [],
};

export interface ContainerPaths {
  /** Bundle folder in the 9p tree (engine side). */
  bundle: string;
  /** The same folder as the guest sees it. */
  guestBundle: string;
  /** Per-container tmpfs in the guest holding upper, work and the merged rootfs. */
  guestDir: string;
  guestRootfs: string;
}

/**
 * A container's membership of a network, kept across runs (`--network`,
 * `network connect`). Declared here, not in networks.ts, so that the
 * container knows nothing of the network service (networks.ts imports this
 * module, never the other way round).
 */
export interface Membership {
  networkId: string;
  aliases: string[];
}

export class Container {
  state: ContainerState = 'created';
  readonly createdAt = new Date();
  startedAt: Date | undefined;
  finishedAt: Date | undefined;
  exitStatus: ExitStatus | undefined;
  process: GuestProcess | undefined;
  /**
   * Settles once the current start has crun's container process (or failed):
   * the state says running from the moment start() begins, and `crun exec`
   * before crun registered the container fails.
   */
  started: Promise<void> = Promise.resolve();
  /** The process argv and environment crun runs (from the image and the run options). */
  args: string[] = [];
  env: string[] = [];
  labels: Record<string, string> = {};
  /** Output of every run, for `logs`. */
  readonly log = new ContainerLog();
  /** Set when the kernel's OOM killer ended the last run. */
  oomKilled = false;
  /** memory.events oom_kill count already accounted for (runs of a restarted container share the parent cgroup). */
  oomKillsSeen: number | undefined;
  restartCount = 0;
  /** `--network host` shares the guest's; `none` has only loopback; otherwise a namespace wired by the engine. */
  networkMode: 'host' | 'none' | 'netns' = 'netns';
  /** The networks it joins when it runs (`--network`, `network connect`). */
  networks: Membership[] = [];
  /** `-p`/`-P` as asked; host port 0 is picked at each start. */
  portBindings: PortBinding[] = [];
  /** Set while `stop`/`kill`/`rm` is ending it on purpose (restart policies leave it alone). */
  stopping = false;
  /** Resolves when the current run ends. */
  private exitWaiters: Array<(s: ExitStatus) => void> = [];

  constructor(
    readonly id: string,
    public name: string,
    readonly imageRef: string,
    readonly imageId: string,
    readonly options: RunOptions & { buildStep?: boolean },
    readonly hostname: string,
    readonly paths: ContainerPaths,
    /** The unpacked layer trees (9p paths) this container's root is made of. */
    readonly layers: string[],
  ) {}

  get shortId(): string {
    return this.id.slice(0, 12);
  }

  transition(to: ContainerState): void {
    if (!TRANSITIONS[this.state].includes(to)) {
      throw conflict(`cannot ${verb(to)} container ${this.shortId}: it is ${this.state}`);
    }
    this.state = to;
  }

  wait(): Promise<ExitStatus> {
    if ((this.state === 'exited' || this.state === 'removing') && this.exitStatus) return Promise.resolve(this.exitStatus);
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }

  /** @internal the engine reports the end of a run */
  exited(status: ExitStatus): void {
    this.exitStatus = status;
    this.finishedAt = new Date();
    this.process = undefined;
    // A run can end while the container is being removed (or be declared
    // ended by a forced removal before crun reports it): no state change then.
    if (this.state === 'running') this.transition('exited');
    for (const w of this.exitWaiters) w(status);
    this.exitWaiters = [];
  }
}

function verb(to: ContainerState): string {
  return { created: 'create', running: 'start', exited: 'stop', removing: 'remove' }[to];
}
