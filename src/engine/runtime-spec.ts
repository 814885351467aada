import type { ContainerDefaults } from '../oci/types.js';
import type { Mount, ResolvedMount } from './mounts.js';

/**
 * Builds the OCI runtime config (config.json) crun runs: the image's defaults
 * (Entrypoint, Cmd, Env, WorkingDir, User) overlaid with the run options, and
 * the namespaces, mounts, cgroup limits and capabilities Docker gives a
 * container by default.
 */

export interface RunOptions {
  /** Replaces the image's Cmd (or becomes the arguments of the Entrypoint). */
  cmd?: string[];
  /** Replaces the image's Entrypoint; an empty array clears it. */
  entrypoint?: string[];
  /** `KEY=VALUE` (sets) or `KEY` (unsets), applied over the image's Env. */
  env?: string[];
  workdir?: string;
  /** `uid`, `uid:gid`, `name` or `name:group`; resolved before it gets here. */
  user?: string;
  hostname?: string;
  tty?: boolean;
  /** Keep stdin open (`-i`). */
  interactive?: boolean;
  /** Bytes. */
  memory?: number;
  pidsLimit?: number;
  readOnly?: boolean;
  labels?: Record<string, string>;
  /** Volumes (named and anonymous), guest paths and tmpfs mounts, in the order they are mounted (`-v`, `--mount`, `--tmpfs`; see parseRunMounts). */
  mounts?: Mount[];
  /** `--cpus`: CPU time as a number of CPUs (cgroup cpu.max). */
  cpus?: number;
  restart?: { name: 'no' | 'always' | 'unless-stopped' | 'on-failure'; maxRetries: number };
  capAdd?: string[];
  capDrop?: string[];
  /** `--network`: bridge (default), host, none, or a user network's name or ID. */
  network?: string;
  networkAliases?: string[];
  /** `-p [hostIp:][hostPort:]containerPort[/tcp]` */
  publish?: string[];
  /** `-P` */
  publishAll?: boolean;
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home?: string;
}

export interface SpecInput {
  id: string;
  rootfs: string;
  image: ContainerDefaults;
  run: RunOptions;
  user: ResolvedUser;
  hostname: string;
  /** Guest paths of files to bind over /etc/hosts, /etc/hostname and /etc/resolv.conf. */
  etcFiles: { hosts: string; hostname: string; resolvConf: string };
  /** The network namespace: the guest's (`host`), a new one with only loopback (`none`), or one at a path. */
  network: 'host' | 'none' | { path: string };
  cgroupsPath: string;
  mounts?: ResolvedMount[];
}

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Docker's default capability set. */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Docker's rules: names with or without CAP_, any case, and ALL. */
export function capabilities(add: string[], drop: string[]): string[] {
  const norm = (c: string) => (c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`);
  const ALL = [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN', 'CAP_NET_ADMIN', 'CAP_SYS_PTRACE', 'CAP_SYS_TIME', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_IPC_LOCK', 'CAP_SYS_MODULE', 'CAP_DAC_READ_SEARCH', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BROADCAST', 'CAP_IPC_OWNER', 'CAP_SYS_RAWIO', 'CAP_SYS_PACCT', 'CAP_SYS_BOOT', 'CAP_LEASE', 'CAP_AUDIT_CONTROL', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ'];
  let caps = new Set(DEFAULT_CAPABILITIES);
  if (drop.some((d) => d.toUpperCase() === 'ALL')) caps = new Set();
  else for (const d of drop) caps.delete(norm(d));
  if (add.some((a) => a.toUpperCase() === 'ALL')) for (const c of ALL) caps.add(c);
  else for (const a of add) {
    if (!ALL.includes(norm(a))) throw new InvalidCommandError(`unknown capability: "${a}"`);
    caps.add(norm(a));
  }
  return [...caps];
}

export class InvalidCommandError extends Error {
  override readonly name = 'InvalidCommandError';
}

/** The process argv Docker would run: Entrypoint + (run cmd or image Cmd). */
export function containerArgs(image: ContainerDefaults, run: RunOptions): string[] {
  const entrypoint = run.entrypoint ?? image.Entrypoint ?? [];
  const cmd = run.cmd && run.cmd.length > 0 ? run.cmd : run.entrypoint ? [] : (image.Cmd ?? []);
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw new InvalidCommandError('No command specified');
  return args;
}

/** Image Env, then run env over it by key; PATH and HOSTNAME as Docker sets them. */
export function containerEnv(image: ContainerDefaults, run: RunOptions, hostname: string, user: ResolvedUser): string[] {
  const env = new Map<string, string>();
  const apply = (e: string) => {
    const eq = e.indexOf('=');
    if (eq === -1) env.delete(e);
    else env.set(e.slice(0, eq), e);
  };
  apply(DEFAULT_PATH);
  env.set('HOSTNAME', `HOSTNAME=${hostname}`);
  for (const e of image.Env ?? []) apply(e);
  for (const e of run.env ?? []) apply(e);
  if (run.tty && !env.has('TERM')) env.set('TERM', 'TERM=xterm');
  if (!env.has('HOME')) env.set('HOME', `HOME=${user.home ?? '/root'}`);
  return [...env.values()];
}

export function buildRuntimeSpec(input: SpecInput): object {
  const { run, image } = input;
  const caps = capabilities(run.capAdd ?? [], run.capDrop ?? []);
  const resources: Record<string, unknown> = {
    devices: [
      { allow: false, access: 'rwm' },
      ...[
        [1, 3], [1, 5], [1, 7], [1, 8], [1, 9], [5, 0], [5, 1], [5, 2], [136, -1],
      ].map(([major, minor]) => ({ allow: true, type: 'c', major, ...(minor! >= 0 ? { minor } : {}), access: 'rwm' })),
    ],
  };
  if (run.memory !== undefined) resources['memory'] = { limit: run.memory };
  if (run.pidsLimit !== undefined) resources['pids'] = { limit: run.pidsLimit };
  if (run.cpus !== undefined) resources['cpu'] = { quota: Math.round(run.cpus * 100000), period: 100000 };

  return {
    ociVersion: '1.0.2',
    process: {
      terminal: !!run.tty,
      user: { uid: input.user.uid, gid: input.user.gid, additionalGids: input.user.additionalGids },
      args: containerArgs(image, run),
      env: containerEnv(image, run, input.hostname, input.user),
      cwd: run.workdir || image.WorkingDir || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1048576, soft: 1048576 }],
      noNewPrivileges: false,
    },
    root: { path: input.rootfs, readonly: !!run.readOnly },
    hostname: input.hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
      { destination: '/etc/hosts', type: 'bind', source: input.etcFiles.hosts, options: ['rbind', 'rprivate'] },
      { destination: '/etc/hostname', type: 'bind', source: input.etcFiles.hostname, options: ['rbind', 'rprivate'] },
      { destination: '/etc/resolv.conf', type: 'bind', source: input.etcFiles.resolvConf, options: ['rbind', 'rprivate'] },
      ...(input.mounts ?? []).map((m) =>
        m.type === 'tmpfs'
          ? { destination: m.destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', ...(m.options ?? [])] }
          : { destination: m.destination, type: 'bind', source: m.source, options: ['rbind', 'rprivate', ...(m.readOnly ? ['ro'] : ['rw'])] },
      ),
    ],
    linux: {
      namespaces: [
        { type: 'pid' },
        ...(input.network === 'host' ? [] : [input.network === 'none' ? { type: 'network' } : { type: 'network', path: input.network.path }]),
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
        { type: 'cgroup' },
      ],
      cgroupsPath: input.cgroupsPath,
      resources,
      maskedPaths: [
        '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
        '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}
