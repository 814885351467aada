import { RegistryError } from '../../oci/registry-client.js';
import { BerthError } from '../errors.js';
import type { CommandContext } from './context.js';
import { humanSize, table } from './format.js';
import { readAllStdin, type CommandIO } from './io.js';

const DOCKER_HUB = 'docker.io';

/** Normalises a login server the way Docker does (`https://index.docker.io/v1/` is Docker Hub). */
function loginHost(server: string | undefined): string {
  if (!server) return DOCKER_HUB;
  const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? DOCKER_HUB : host;
}

/** Reads one line from the client, echoing it unless `secret` (then the terminal goes raw). */
function prompt(io: CommandIO, label: string, secret: boolean): Promise<string> {
  io.stdout(label);
  if (secret && io.terminal) io.setRaw(true);
  return new Promise((resolve) => {
    let line = '';
    const done = () => {
      stopData();
      stopEnd();
      if (secret && io.terminal) {
        io.setRaw(false);
        io.stdout('\n');
      }
      resolve(line);
    };
    const stopData = io.onStdin((d) => {
      for (const ch of new TextDecoder().decode(d)) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\x7f' || ch === '\b') line = line.slice(0, -1);
        else if (ch === '\x03') return done();
        else line += ch;
      }
    });
    const stopEnd = io.onStdinEnd(done);
  });
}

export async function login(ctx: CommandContext): Promise<number> {
  const f = ctx.flags;
  const host = loginHost(ctx.args[0]);
  const registry = ctx.engine.images.registry;
  if (!registry) throw new BerthError('unavailable', 'no registry client is configured');
  let username = f.string('username');
  let password = f.string('password');
  if (password !== undefined) ctx.io.stderr('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
  if (f.bool('password-stdin')) {
    if (password !== undefined) throw ctx.usage('--password and --password-stdin are mutually exclusive');
    if (!username) throw ctx.usage('Must provide --username with --password-stdin');
    password = new TextDecoder().decode(await readAllStdin(ctx.io)).replace(/\r?\n$/, '');
  }
  if (!username) username = await prompt(ctx.io, 'Username: ', false);
  if (password === undefined) password = await prompt(ctx.io, 'Password: ', true);
  if (!username || !password) throw new BerthError('invalid-argument', 'Username and password are required');
  try {
    await registry.verifyLogin(host, { username, password });
  } catch (e) {
    if (e instanceof RegistryError) throw new BerthError(e.kind === 'unauthorized' ? 'unauthorized' : 'unavailable', e.message);
    throw e;
  }
  await ctx.engine.images.credentials.set(host, { username, password });
  ctx.io.stdout('Login Succeeded\n');
  return 0;
}

export async function logout(ctx: CommandContext): Promise<number> {
  const host = loginHost(ctx.args[0]);
  await ctx.engine.images.credentials.ready;
  const had = await ctx.engine.images.credentials.delete(host);
  const shown = host === DOCKER_HUB ? 'https://index.docker.io/v1/' : host;
  ctx.io.stdout(had ? `Removing login credentials for ${shown}\n` : `Not logged in to ${shown}\n`);
  return 0;
}

/** `stats --no-stream`: one sample of each running container's cgroup. */
export async function stats(ctx: CommandContext): Promise<number> {
  if (!ctx.flags.bool('no-stream')) ctx.io.stderr('berth: stats streams are not supported yet; showing one sample (--no-stream)\n');
  const names = ctx.args;
  const list = names.length ? names.map((n) => ctx.engine.get(n)) : ctx.engine.list().filter((c) => c.state === 'running');
  const agent = ctx.engine.vm.agent;
  const cg = (id: string, memoryLimited: boolean) => `/sys/fs/cgroup/berth/${id}${memoryLimited ? '/ctr' : ''}`;
  const sample = async () => {
    const script = list.map((c) => `cat ${cg(c.id, c.options.memory !== undefined)}/cpu.stat ${cg(c.id, c.options.memory !== undefined)}/memory.current ${cg(c.id, c.options.memory !== undefined)}/memory.max ${cg(c.id, c.options.memory !== undefined)}/pids.current 2>/dev/null; echo ---`).join('; ');
    const r = await agent.run(['/bin/sh', '-c', `${script || 'true'}; grep MemTotal /proc/meminfo`]);
    return r.stdout;
  };
  const t0 = Date.now();
  const a = await sample();
  await new Promise((r) => setTimeout(r, 500));
  const b = await sample();
  const elapsedUs = (Date.now() - t0) * 1000;
  const memTotal = Number(/MemTotal:\s+(\d+)/.exec(b)?.[1] ?? 0) * 1024;
  const parse = (text: string) =>
    text.split('---\n').slice(0, list.length).map((block) => {
      const lines = block.trim().split('\n');
      const usage = Number(/usage_usec (\d+)/.exec(block)?.[1] ?? 0);
      const tail = lines.slice(-3);
      return { usage, mem: Number(tail[0] ?? 0), max: tail[1] === 'max' ? memTotal : Number(tail[1] ?? memTotal), pids: Number(tail[2] ?? 0) };
    });
  const sa = parse(a);
  const sb = parse(b);
  const rows = list.map((c, i) => {
    const x = sb[i] ?? { usage: 0, mem: 0, max: memTotal, pids: 0 };
    const cpu = ((x.usage - (sa[i]?.usage ?? 0)) / elapsedUs) * 100;
    return [c.shortId, c.name, `${cpu.toFixed(2)}%`, `${humanSize(x.mem)} / ${humanSize(x.max)}`, `${((x.mem / (x.max || 1)) * 100).toFixed(2)}%`, '0B / 0B', '0B / 0B', String(x.pids)];
  });
  ctx.io.stdout(table(['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET I/O', 'BLOCK I/O', 'PIDS'], rows));
  return 0;
}
