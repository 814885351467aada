import type { Container } from '../container.js';
import { isBerthError } from '../errors.js';
import { MountFlagError, parseRunMounts, type Mount } from '../mounts.js';
import type { NetworkService } from '../networks.js';
import { formatBinding } from '../ports.js';
import type { RunOptions } from '../runtime-spec.js';
import { parseBytes } from '../units.js';
import { ago, humanDuration, parseSignal, shortCommand, table } from './format.js';
import { formatRows, inspectOutput } from './go-template.js';
import type { CommandContext } from './context.js';
import { UsageError } from './parse.js';
import { pullWithProgress } from './images.js';

/** Docker's STATUS column. */
export function containerStatus(c: Container, now = Date.now()): string {
  if (c.state === 'running') return `Up ${humanDuration(now - (c.startedAt?.getTime() ?? now))}`;
  if (c.state === 'exited') return `Exited (${c.exitStatus?.code ?? 0}) ${ago(c.finishedAt, now)}`;
  if (c.state === 'removing') return 'Removal In Progress';
  return 'Created';
}

function parseCpus(v: string): number {
  const n = Number(v);
  if (!(n > 0)) throw new UsageError(`invalid argument "${v}" for "--cpus" flag: must be a positive number`, 'run');
  return n;
}

function parseRestart(v: string): RunOptions['restart'] {
  const m = /^(no|always|unless-stopped|on-failure)(?::(\d+))?$/.exec(v);
  if (!m || (m[2] && m[1] !== 'on-failure')) throw new UsageError(`invalid restart policy '${v}'`, 'run');
  return { name: m[1] as 'no' | 'always' | 'unless-stopped' | 'on-failure', maxRetries: m[2] ? Number(m[2]) : 0 };
}

/** `--env-file`: KEY=VALUE lines from the client's files; `#` comments, blank lines, bare KEY from the client's env. */
async function envFiles(ctx: CommandContext): Promise<string[]> {
  const out: string[] = [];
  for (const file of ctx.flags.list('env-file')) {
    const text = new TextDecoder().decode(await ctx.files.read(file).catch((e: Error) => {
      throw new UsageError(`open ${file}: ${e.message.replace(/^.*?: /, '')}`, 'run');
    }));
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.trimStart();
      if (!line || line.startsWith('#')) continue;
      if (line.includes('=')) out.push(line);
      else if (ctx.io.env[line] !== undefined) out.push(`${line}=${ctx.io.env[line]}`);
    }
  }
  return out;
}

function createOptions(ctx: CommandContext, cmd: string[], fileEnv: string[] = []): RunOptions & { name?: string } {
  const f = ctx.flags;
  if (f.bool('privileged')) throw new UsageError('--privileged is not supported: Berth containers run with Docker\'s default capabilities; use --cap-add for what you need', 'run');
  if (f.bool('init')) throw new UsageError('--init is not supported yet: the guest has no init binary for containers', 'run');
  if (f.bool('rm') && f.string('restart') && f.string('restart') !== 'no') throw new UsageError('Conflicting options: --restart and --rm', 'run');
  const env: string[] = [...fileEnv];
  for (const e of f.list('env')) {
    if (!e.includes('=')) {
      const v = ctx.io.env[e];
      env.push(v === undefined ? e : `${e}=${v}`);
    } else env.push(e);
  }
  const memory = f.string('memory');
  const pids = f.string('pids-limit');
  const network = f.string('network') ?? f.string('net');
  // -v, --mount and --tmpfs as typed mounts, parsed here once: a bad --mount is a usage error (Docker's CLI), a bad -v or --tmpfs spec the daemon's.
  let mounts: Mount[];
  try {
    mounts = parseRunMounts({ volume: f.list('volume'), mount: f.list('mount'), tmpfs: f.list('tmpfs') });
  } catch (e) {
    throw e instanceof MountFlagError ? new UsageError(e.message, 'run') : e;
  }
  return {
    ...(cmd.length ? { cmd } : {}),
    env,
    ...(f.string('workdir') ? { workdir: f.string('workdir') } : {}),
    ...(f.string('user') ? { user: f.string('user') } : {}),
    ...(f.string('hostname') ? { hostname: f.string('hostname') } : {}),
    ...(f.string('name') ? { name: f.string('name') } : {}),
    ...(f.has('entrypoint') ? { entrypoint: f.string('entrypoint') ? [f.string('entrypoint')!] : [] } : {}),
    ...(memory ? { memory: parseBytes(memory) } : {}),
    ...(pids && Number(pids) > 0 ? { pidsLimit: Number(pids) } : {}),
    tty: f.bool('tty'),
    interactive: f.bool('interactive'),
    readOnly: f.bool('read-only'),
    labels: f.keyValues('label'),
    mounts,
    ...(f.string('cpus') ? { cpus: parseCpus(f.string('cpus')!) } : {}),
    restart: parseRestart(f.string('restart') ?? 'no'),
    capAdd: f.list('cap-add'),
    capDrop: f.list('cap-drop'),
    ...(network ? { network } : {}),
    networkAliases: f.list('network-alias'),
    publish: f.list('publish'),
    publishAll: f.bool('publish-all'),
  };
}

/** Makes sure the image is here, pulling it as `run`/`create` do. */
async function ensureImage(ctx: CommandContext, image: string): Promise<void> {
  const policy = ctx.flags.string('pull') ?? 'missing';
  if (!['always', 'missing', 'never'].includes(policy)) throw new UsageError(`invalid pull option: '${policy}': must be one of "always", "missing" or "never"`, 'run');
  if (policy === 'always') return void (await pullWithProgress(ctx, image, ctx.io.stderr.bind(ctx.io)));
  if (await ctx.engine.images.find(image)) return;
  const err = await ctx.engine.images.resolve(image).catch((e) => e);
  if (policy === 'never') throw err;
  ctx.io.stderr(`${err.message}\n`);
  await pullWithProgress(ctx, image, ctx.io.stderr.bind(ctx.io));
}

export async function create(ctx: CommandContext): Promise<number> {
  const [image, ...cmd] = ctx.args;
  await ensureImage(ctx, image!);
  const c = await ctx.engine.create(image!, createOptions(ctx, cmd, await envFiles(ctx)));
  if (ctx.flags.bool('rm')) ctx.engine.autoRemove.add(c.id); // removed when a later start's run ends
  ctx.io.stdout(`${c.id}\n`);
  return 0;
}

export async function run(ctx: CommandContext): Promise<number> {
  const [image, ...cmd] = ctx.args;
  const f = ctx.flags;
  await ensureImage(ctx, image!);
  const opts = createOptions(ctx, cmd, await envFiles(ctx));
  const c = await ctx.engine.create(image!, opts);
  const rm = f.bool('rm');
  // The engine removes it when it exits, attached or not: a client that detaches (Ctrl-P Ctrl-Q) leaves it to that.
  if (rm) ctx.engine.autoRemove.add(c.id);
  if (f.bool('detach')) {
    await ctx.engine.start(c.id);
    ctx.io.stdout(`${c.id}\n`);
    return 0;
  }
  return attachAndWait(ctx, c, { start: true, rm, stdin: !!opts.interactive, tty: !!opts.tty });
}

/** Streams a container's output to the client until it exits (or Ctrl-P Ctrl-Q detaches). */
async function attachAndWait(ctx: CommandContext, c: Container, o: { start: boolean; rm: boolean; stdin: boolean; tty: boolean }): Promise<number> {
  const { io, engine } = ctx;
  const raw = o.tty && o.stdin && !!io.terminal;
  const cleanups: Array<() => void> = [];
  let detached = false;
  let resolveDetach!: () => void;
  const detachP = new Promise<void>((r) => (resolveDetach = r));
  const out = { onStdout: (d: Uint8Array) => io.stdout(d), onStderr: (d: Uint8Array) => io.stderr(d) };
  let proc = c.process;
  if (o.start) proc = await engine.start(c.id, { ...out, ...(io.terminal ? { size: io.terminal } : {}) });
  else {
    cleanups.push(c.log.follow((e) => (e.stream === 'stdout' ? io.stdout(e.data) : io.stderr(e.data))));
  }
  if (raw) io.setRaw(true);
  if (o.stdin && proc) {
    let prevCtrlP = false;
    cleanups.push(
      io.onStdin((d) => {
        if (raw) {
          // Ctrl-P Ctrl-Q detaches, as Docker's default detach keys.
          for (const b of d) {
            if (prevCtrlP && b === 0x11) {
              detached = true;
              resolveDetach();
              return;
            }
            prevCtrlP = b === 0x10;
          }
        }
        void proc!.write(d);
      }),
      io.onStdinEnd(() => proc!.closeStdin()),
    );
  }
  if (o.tty && proc) cleanups.push(io.onResize((rows, cols) => proc!.resize(rows, cols)));
  if (!o.tty) {
    // --sig-proxy: signals the client gets go to the container.
    cleanups.push(io.onSignal((sig) => void engine.kill(c.id, sig).catch(() => {})));
  }
  await Promise.race([c.wait(), detachP]);
  for (const fn of cleanups) fn();
  if (raw) io.setRaw(false);
  if (detached) {
    io.stderr('\r\nread escape sequence\r\n');
    return 0;
  }
  const status = await c.wait();
  // The engine's --rm has begun removing it (see run); wait for that, so that `ps -a` right after no longer lists it.
  if (o.rm) await engine.remove(c.id, { force: true, volumes: true }).catch(() => {});
  return status.code;
}

export async function start(ctx: CommandContext): Promise<number> {
  const f = ctx.flags;
  if (f.bool('attach') || f.bool('interactive')) {
    const c = ctx.engine.get(ctx.args[0]!);
    return attachAndWait(ctx, c, { start: true, rm: false, stdin: f.bool('interactive'), tty: !!c.options.tty });
  }
  return eachContainer(ctx, async (c) => {
    if (c.state !== 'running') await ctx.engine.start(c.id);
  });
}

/** Runs `fn` on each named container and prints the name as given (what Docker does for `stop a b`). */
function eachContainer(ctx: CommandContext, fn: (c: Container) => Promise<void>): Promise<number> {
  return ctx.eachArg(async (name) => {
    await fn(ctx.engine.get(name));
    ctx.io.stdout(`${name}\n`);
  });
}

export const stop = (ctx: CommandContext) => {
  const t = Number(ctx.flags.string('time') ?? '10');
  const sig = parseSignal(ctx.flags.string('signal') ?? 'TERM') ?? 'TERM';
  return eachContainer(ctx, (c) => ctx.engine.stop(c.id, t, sig));
};

export const restart = (ctx: CommandContext) => {
  const t = Number(ctx.flags.string('time') ?? '10');
  return eachContainer(ctx, async (c) => {
    await ctx.engine.stop(c.id, t);
    await ctx.engine.start(c.id);
  });
};

export const kill = (ctx: CommandContext) => {
  const raw = ctx.flags.string('signal') ?? 'KILL';
  const sig = parseSignal(raw);
  if (!sig) throw ctx.usage(`Invalid signal: ${raw}`);
  return eachContainer(ctx, async (c) => {
    if (c.state !== 'running') throw new Error(`Cannot kill container: ${c.name}: Container ${c.id} is not running`);
    if (sig === 'KILL' || sig === 'TERM' || sig === 'INT') c.stopping = true;
    await ctx.engine.kill(c.id, sig);
  });
};

export const rm = (ctx: CommandContext) => {
  const force = ctx.flags.bool('force');
  return eachContainer(ctx, async (c) => {
    if (c.state === 'running' && !force) {
      throw new Error(`cannot remove container "/${c.name}": container is running: stop the container before removing or force remove`);
    }
    await ctx.engine.remove(c.id, { force, volumes: ctx.flags.bool('volumes') });
  });
};

export function wait(ctx: CommandContext): Promise<number> {
  return ctx.eachArg(async (name) => {
    const s = await ctx.engine.get(name).wait();
    ctx.io.stdout(`${s.code}\n`);
  });
}

export async function rename(ctx: CommandContext): Promise<number> {
  const [from, to] = ctx.args;
  ctx.engine.rename(from!, to!);
  return 0;
}

function psRow(c: Container, noTrunc: boolean, ports: string): Record<string, string> {
  const args = c.args;
  return {
    ID: noTrunc ? c.id : c.shortId,
    Image: c.imageRef,
    Command: shortCommand(args, noTrunc),
    CreatedAt: c.createdAt.toISOString(),
    RunningFor: ago(c.createdAt),
    Status: containerStatus(c),
    State: c.state === 'exited' ? 'exited' : c.state,
    Ports: ports,
    Names: c.name,
    Labels: Object.entries(c.labels).map(([k, v]) => `${k}=${v}`).join(','),
  };
}

export async function ps(ctx: CommandContext): Promise<number> {
  const f = ctx.flags;
  let list = ctx.engine.list().sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  if (!f.bool('all') && !f.bool('latest') && !f.string('last')) list = list.filter((c) => c.state === 'running');
  for (const filter of f.list('filter')) {
    const [key, value = ''] = filter.split(/=(.*)/s);
    if (key === 'status') list = list.filter((c) => (c.state === 'exited' ? 'exited' : c.state) === value);
    else if (key === 'name') list = list.filter((c) => c.name.includes(value.replace(/^\//, '')));
    else if (key === 'id') list = list.filter((c) => c.id.startsWith(value));
    else if (key === 'ancestor') list = list.filter((c) => c.imageRef === value || c.imageId.includes(value));
    else if (key === 'exited') list = list.filter((c) => c.state === 'exited' && String(c.exitStatus?.code) === value);
    else if (key === 'label') list = list.filter((c) => { const [k, v] = value.split('='); return k! in c.labels && (v === undefined || c.labels[k!] === v); });
    else throw ctx.usage(`invalid filter '${key}'`);
  }
  if (f.bool('latest')) list = list.slice(0, 1);
  const noTrunc = f.bool('no-trunc');
  if (f.bool('quiet')) {
    ctx.io.stdout(list.map((c) => `${noTrunc ? c.id : c.shortId}\n`).join(''));
    return 0;
  }
  const rows = list.map((c) => psRow(c, noTrunc, ctx.engine.network.portsOf(c).map(formatBinding).join(', ')));
  const format = f.string('format');
  if (format) {
    ctx.io.stdout(formatRows(format, rows, { ID: 'CONTAINER ID', RunningFor: 'CREATED', CreatedAt: 'CREATED AT' }));
    return 0;
  }
  ctx.io.stdout(
    table(
      ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'],
      rows.map((r) => [r['ID']!, r['Image']!, r['Command']!, r['RunningFor']!, r['Status']!, r['Ports']!, r['Names']!]),
    ),
  );
  return 0;
}

export async function logs(ctx: CommandContext): Promise<number> {
  const f = ctx.flags;
  const c = ctx.engine.get(ctx.args[0]!);
  const tailRaw = f.string('tail') ?? 'all';
  const tail = tailRaw === 'all' ? undefined : Number(tailRaw);
  if (tail !== undefined && !Number.isInteger(tail)) throw ctx.usage(`invalid value for --tail: ${tailRaw}`);
  const stamp = f.bool('timestamps');
  const write = (e: { stream: string; time: Date; data: Uint8Array }) => {
    const data = stamp ? new TextEncoder().encode(prefixLines(new TextDecoder().decode(e.data), `${e.time.toISOString().replace('Z', '000000Z')} `)) : e.data;
    if (e.stream === 'stdout') ctx.io.stdout(data);
    else ctx.io.stderr(data);
  };
  for (const e of c.log.read(tail !== undefined ? { tail } : {})) write(e);
  if (f.bool('follow') && c.state === 'running') {
    const stopFollow = c.log.follow(write);
    let stopSignal: () => void = () => {};
    await Promise.race([c.wait(), new Promise<void>((r) => (stopSignal = ctx.io.onSignal(() => r())))]);
    stopFollow();
    stopSignal();
  }
  return 0;
}

function prefixLines(text: string, prefix: string): string {
  return text.replace(/(^|\n)(?=.)/g, `$1${prefix}`);
}

export async function exec(ctx: CommandContext): Promise<number> {
  const f = ctx.flags;
  const [name, ...cmd] = ctx.args;
  const c = ctx.engine.get(name!);
  const tty = f.bool('tty');
  const interactive = f.bool('interactive');
  const { io } = ctx;
  const proc = await ctx.engine.exec(
    c.id,
    {
      cmd,
      tty,
      interactive,
      env: f.list('env'),
      ...(f.string('workdir') ? { workdir: f.string('workdir')! } : {}),
      ...(f.string('user') ? { user: f.string('user')! } : {}),
    },
    { onStdout: (d) => io.stdout(d), onStderr: (d) => io.stderr(d), ...(io.terminal ? { size: io.terminal } : {}) },
  ).catch((e) => {
    throw e;
  });
  if (f.bool('detach')) return 0;
  const raw = tty && interactive && !!io.terminal;
  if (raw) io.setRaw(true);
  const cleanups: Array<() => void> = [];
  if (interactive) cleanups.push(io.onStdin((d) => void proc.write(d)), io.onStdinEnd(() => proc.closeStdin()));
  if (tty) cleanups.push(io.onResize((r, cl) => proc.resize(r, cl)));
  const status = await proc.exit;
  for (const fn of cleanups) fn();
  if (raw) io.setRaw(false);
  return status.code;
}

export async function attach(ctx: CommandContext): Promise<number> {
  const c = ctx.engine.get(ctx.args[0]!);
  if (c.state !== 'running') throw new Error('You cannot attach to a stopped container, start it first');
  return attachAndWait(ctx, c, { start: false, rm: false, stdin: !ctx.flags.bool('no-stdin') && !!c.options.interactive, tty: !!c.options.tty });
}

export async function top(ctx: CommandContext): Promise<number> {
  const c = ctx.engine.get(ctx.args[0]!);
  if (c.state !== 'running') throw new Error(`container ${c.id} is not running`);
  const cgroup = `/sys/fs/cgroup/berth/${c.id}${c.options.memory !== undefined ? '/ctr' : ''}`;
  // The container's processes are its cgroup's; read each from /proc (user, pid, ppid, cpu time, command).
  const script = `hz=100; for p in $(cat "$1/cgroup.procs"); do [ -r /proc/$p/stat ] || continue
u=$(awk '/^Uid:/ {print $2}' /proc/$p/status); pp=$(awk '/^PPid:/ {print $2}' /proc/$p/status)
t=$(awk '{print int(($14+$15)/'$hz')}' /proc/$p/stat); cmd=$(tr '\\0' ' ' < /proc/$p/cmdline)
printf '%s\\t%s\\t%s\\t%02d:%02d:%02d\\t%s\\n' "$u" "$p" "$pp" $((t/3600)) $((t%3600/60)) $((t%60)) "$cmd"; done`;
  const r = await ctx.engine.vm.agent.run(['/bin/sh', '-c', script, 'sh', cgroup]);
  const rows = r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t').map((x) => x.trim()));
  ctx.io.stdout(table(['UID', 'PID', 'PPID', 'TIME', 'CMD'], rows.map((p) => [p[0] === '0' ? 'root' : p[0]!, p[1]!, p[2]!, p[3]!, p[4]!])));
  return 0;
}

export function inspectContainer(c: Container, network: NetworkService): object {
  const eps = network.endpointsOf(c);
  const ports = network.portsOf(c);
  return {
    Id: c.id,
    Created: c.createdAt.toISOString(),
    Path: c.args[0],
    Args: c.args.slice(1),
    State: {
      Status: c.state === 'removing' ? 'removing' : c.state,
      Running: c.state === 'running',
      Paused: false,
      Restarting: false,
      OOMKilled: c.oomKilled,
      Dead: false,
      Pid: c.state === 'running' ? (c.process?.pid ?? 0) : 0,
      ExitCode: c.exitStatus?.code ?? 0,
      Error: '',
      StartedAt: c.startedAt?.toISOString() ?? '0001-01-01T00:00:00Z',
      FinishedAt: c.finishedAt?.toISOString() ?? '0001-01-01T00:00:00Z',
    },
    Image: c.imageId,
    Name: `/${c.name}`,
    RestartCount: c.restartCount,
    HostConfig: {
      Memory: c.options.memory ?? 0,
      PidsLimit: c.options.pidsLimit ?? null,
      ReadonlyRootfs: !!c.options.readOnly,
      AutoRemove: false,
      NetworkMode: c.options.network ?? 'bridge',
      PortBindings: Object.fromEntries(c.portBindings.map((b) => [`${b.containerPort}/tcp`, [{ HostIp: b.hostIp, HostPort: b.hostPort ? String(b.hostPort) : '' }]])),
    },
    NetworkSettings: {
      IPAddress: eps.find((e) => e.network.name === 'bridge')?.ip ?? '',
      Gateway: eps.find((e) => e.network.name === 'bridge')?.network.gateway ?? '',
      Ports: Object.fromEntries(ports.map((b) => [`${b.containerPort}/tcp`, [{ HostIp: b.hostIp, HostPort: String(b.hostPort) }]])),
      Networks: Object.fromEntries(
        c.networks.map((m) => {
          const ep = eps.find((e) => e.network.id === m.networkId);
          const n = network.list().find((x) => x.id === m.networkId);
          const prefix = n?.subnet.split('/')[1];
          return [n?.name ?? m.networkId, { Aliases: m.aliases.length ? m.aliases : null, NetworkID: m.networkId, Gateway: ep ? n?.gateway : '', IPAddress: ep?.ip ?? '', IPPrefixLen: ep && prefix ? Number(prefix) : 0 }];
        }),
      ),
    },
    Config: {
      Hostname: c.hostname,
      User: c.options.user ?? '',
      Tty: !!c.options.tty,
      OpenStdin: !!c.options.interactive,
      Env: c.env,
      Cmd: c.args,
      Image: c.imageRef,
      WorkingDir: c.options.workdir ?? '',
      Labels: c.labels,
    },
  };
}

export async function inspect(ctx: CommandContext): Promise<number> {
  const out: object[] = [];
  let code = 0;
  for (const name of ctx.args) {
    try {
      out.push(inspectContainer(ctx.engine.get(name), ctx.engine.network));
    } catch (e) {
      if (!isBerthError(e, 'not-found')) throw e;
      try {
        out.push(ctx.engine.images.inspect(await ctx.engine.images.resolve(name)));
      } catch {
        ctx.io.stderr(`Error: No such object: ${name}\n`);
        code = 1;
      }
    }
  }
  ctx.io.stdout(inspectOutput(out, ctx.flags.string('format')));
  return code;
}

export async function containerPrune(ctx: CommandContext): Promise<number> {
  const gone: string[] = [];
  for (const c of ctx.engine.list()) {
    if (c.state === 'exited' || c.state === 'created') {
      await ctx.engine.remove(c.id);
      gone.push(c.id);
    }
  }
  ctx.io.stdout(`${gone.length ? `Deleted Containers:\n${gone.join('\n')}\n\n` : ''}Total reclaimed space: 0B\n`);
  return 0;
}

