import { describe, expect, it } from 'vitest';
import { CommandContext, Flags } from '../../src/engine/docker-cli/context.js';
import { runDockerCommand } from '../../src/engine/docker-cli/docker-cli.js';
import { ClientIO, type ClientFiles } from '../../src/engine/docker-cli/io.js';
import { parseCommand, type CommandSpec } from '../../src/engine/docker-cli/parse.js';
import type { Engine } from '../../src/engine/engine.js';
import { notFound } from '../../src/engine/errors.js';

function capture(cwd = '/home/me') {
  const out = { stdout: '', stderr: '' };
  const io = new ClientIO(
    { stdout: (d) => (out.stdout += new TextDecoder().decode(d)), stderr: (d) => (out.stderr += new TextDecoder().decode(d)), setRaw: () => {} },
    cwd,
    {},
    undefined,
    false,
  );
  io.pushStdinEnd();
  return { io, out };
}

/** An engine any touch of which fails the test. */
const untouchable = new Proxy({}, { get: (_t, key) => { throw new Error(`the engine was touched (${String(key)})`); } }) as Engine;

/** Just enough of an engine for the volume commands. */
function volumeEngine(names: string[]) {
  const vols = new Map(names.map((n) => [n, { name: n, labels: {} as Record<string, string>, anonymous: false }]));
  const engine = {
    volumes: {
      list: () => [...vols.values()],
      get: (n: string) => {
        const v = vols.get(n);
        if (!v) throw notFound(`get ${n}: no such volume`);
        return v;
      },
      create: (n: string, labels: Record<string, string>) => {
        vols.set(n, { name: n, labels, anonymous: false });
        return vols.get(n)!;
      },
      remove: async (n: string, users: string[]) => {
        engine.volumes.get(n);
        if (users.length) throw new Error('in use');
        vols.delete(n);
      },
      inspect: (v: { name: string }) => ({ Name: v.name }),
    },
    volumeUsers: () => [] as string[],
  };
  return { engine: engine as unknown as Engine, vols };
}

const SPEC: CommandSpec = {
  name: 'demo',
  usage: '[OPTIONS]',
  description: 'demo',
  flags: [
    { long: 'force', short: 'f', type: 'bool', description: '' },
    { long: 'name', type: 'string', description: '' },
    { long: 'time', type: 'string', description: '', default: '10' },
    { long: 'entrypoint', type: 'string', description: '' },
    { long: 'label', type: 'list', description: '' },
  ],
};

describe('Flags', () => {
  it('reads each kind of flag, defaults included', () => {
    const f = new Flags(parseCommand(SPEC, ['-f', '--name', 'x', '--label', 'a=b', '--label', 'c', '--label', 'd=e=f']).flags);
    expect(f.bool('force')).toBe(true);
    expect(f.string('name')).toBe('x');
    expect(f.string('time')).toBe('10');
    expect(f.list('label')).toEqual(['a=b', 'c', 'd=e=f']);
    expect(f.keyValues('label')).toEqual({ a: 'b', c: '', 'd': 'e=f' });
  });
  it('answers for flags not given', () => {
    const f = new Flags(parseCommand(SPEC, []).flags);
    expect(f.bool('force')).toBe(false);
    expect(f.string('name')).toBeUndefined();
    expect(f.list('label')).toEqual([]);
    expect(f.keyValues('label')).toEqual({});
    expect(f.has('entrypoint')).toBe(false);
  });
  it('tells an empty value from none', () => {
    const f = new Flags(parseCommand(SPEC, ['--entrypoint=']).flags);
    expect(f.has('entrypoint')).toBe(true);
    expect(f.string('entrypoint')).toBe('');
  });
});

describe('CommandContext', () => {
  it('reaches the client files at the client cwd', async () => {
    const calls: string[] = [];
    const files: ClientFiles = {
      read: async (p, cwd) => (calls.push(`read ${p} ${cwd}`), new Uint8Array([1])),
      write: async (p, _d, cwd) => void calls.push(`write ${p} ${cwd}`),
      extractTar: async (d, _t, n, cwd) => void calls.push(`extract ${d} ${n} ${cwd}`),
      packTar: async (s, cwd) => (calls.push(`pack ${s} ${cwd}`), new Uint8Array()),
    };
    const { io } = capture('/work');
    const ctx = new CommandContext(untouchable, io, 'demo', parseCommand(SPEC, []), files);
    await ctx.files.read('a');
    await ctx.files.write('b', new Uint8Array());
    await ctx.files.extractTar('c', new Uint8Array(), 'n');
    await ctx.files.packTar('d');
    expect(calls).toEqual(['read a /work', 'write b /work', 'extract c n /work', 'pack d /work']);
  });
  it('refuses files for a client that shares none', async () => {
    const ctx = new CommandContext(untouchable, capture().io, 'demo', parseCommand(SPEC, []));
    await expect(ctx.files.read('a')).rejects.toThrow('this client cannot share files');
    await expect(ctx.files.packTar('a')).rejects.toThrow('this client cannot share files');
  });
  it('runs each argument, reports failures as the daemon does and goes on', async () => {
    const { io, out } = capture();
    const ctx = new CommandContext(untouchable, io, 'demo', parseCommand(SPEC, ['a', 'bad', 'c']));
    const seen: string[] = [];
    const code = await ctx.eachArg(async (arg) => {
      if (arg === 'bad') throw new Error('no such thing: bad');
      seen.push(arg);
    });
    expect(code).toBe(1);
    expect(seen).toEqual(['a', 'c']);
    expect(out.stderr).toBe('Error response from daemon: no such thing: bad\n');
    expect(await ctx.eachArg(() => {})).toBe(0);
  });
  it('makes usage errors of its own command', () => {
    const ctx = new CommandContext(untouchable, capture().io, 'network ls', parseCommand(SPEC, []));
    const e = ctx.usage('bad');
    expect(e.command).toBe('network ls');
    expect(e.message).toBe('bad');
  });
});

describe('runDockerCommand', () => {
  it('answers --help without an engine', async () => {
    const { io, out } = capture();
    expect(await runDockerCommand(untouchable, ['ps', '--help'], io)).toBe(0);
    expect(out.stdout).toContain('Usage:  docker ps [OPTIONS]');
  });
  it('reports a usage error with the command as typed', async () => {
    const { io, out } = capture();
    expect(await runDockerCommand(untouchable, ['kill', '-s', 'NOPE', 'c1'], io)).toBe(125);
    expect(out.stderr).toBe("docker: Invalid signal: NOPE\n\nSee 'docker kill --help'.\n");
  });
  it('removes volumes one by one, reporting the missing one (exit 1)', async () => {
    const { engine, vols } = volumeEngine(['a', 'b']);
    const { io, out } = capture();
    expect(await runDockerCommand(engine, ['volume', 'rm', 'a', 'nope', 'b'], io)).toBe(1);
    expect(out.stdout).toBe('a\nb\n');
    expect(out.stderr).toBe('Error response from daemon: get nope: no such volume\n');
    expect(vols.size).toBe(0);
  });
  it('creates a volume with its labels', async () => {
    const { engine, vols } = volumeEngine([]);
    const { io, out } = capture();
    expect(await runDockerCommand(engine, ['volume', 'create', '--label', 'k=v', '--label', 'bare', 'data'], io)).toBe(0);
    expect(out.stdout).toBe('data\n');
    expect(vols.get('data')?.labels).toEqual({ k: 'v', bare: '' });
  });
  it('inspects volumes, the found ones on stdout', async () => {
    const { engine } = volumeEngine(['a']);
    const { io, out } = capture();
    expect(await runDockerCommand(engine, ['volume', 'inspect', 'a', 'x'], io)).toBe(1);
    expect(JSON.parse(out.stdout)).toEqual([{ Name: 'a' }]);
    expect(out.stderr).toBe('Error response from daemon: get x: no such volume\n');
  });
  it('lists volumes as a table, quietly, or by a template', async () => {
    const { engine } = volumeEngine(['a', 'bb']);
    let c = capture();
    await runDockerCommand(engine, ['volume', 'ls'], c.io);
    expect(c.out.stdout).toBe('DRIVER   VOLUME NAME\nlocal    a\nlocal    bb\n');
    c = capture();
    await runDockerCommand(engine, ['volume', 'ls', '-q'], c.io);
    expect(c.out.stdout).toBe('a\nbb\n');
    c = capture();
    await runDockerCommand(engine, ['volume', 'ls', '--format', '{{.Name}}:{{.Driver}}'], c.io);
    expect(c.out.stdout).toBe('a:local\nbb:local\n');
    c = capture();
    await runDockerCommand(engine, ['volume', 'ls', '--format', 'table {{.Name}}\\t{{.Driver}}'], c.io);
    expect(c.out.stdout).toBe('VOLUME NAME   DRIVER\na             local\nbb            local\n');
  });
});

describe('network commands', () => {
  const nets = [
    { id: 'a'.repeat(64), name: 'bridge', driver: 'bridge', subnet: '172.17.0.0/16', gateway: '172.17.0.1', bridge: 'docker0', created: new Date('2026-01-01T00:00:00Z'), labels: {}, builtin: true },
    { id: 'b'.repeat(64), name: 'backend', driver: 'bridge', subnet: '172.18.0.0/16', gateway: '172.18.0.1', bridge: 'br-b', created: new Date('2026-01-02T00:00:00Z'), labels: { team: 'x' }, builtin: false },
  ];
  const engine = {
    network: {
      list: () => nets,
      get: (n: string) => {
        const found = nets.find((x) => x.name === n || x.id.startsWith(n));
        if (!found) throw notFound(`network ${n} not found`);
        return found;
      },
      users: () => [],
      endpointsOf: () => [],
    },
  } as unknown as Engine;

  it('inspects by --format, and as JSON without', async () => {
    let c = capture();
    expect(await runDockerCommand(engine, ['network', 'inspect', '--format', '{{.Name}} {{.IPAM.Config}} {{.Labels.team}}', 'backend', 'nope'], c.io)).toBe(1);
    expect(c.out.stdout).toBe('backend [{"Subnet":"172.18.0.0/16","Gateway":"172.18.0.1"}] x\n');
    expect(c.out.stderr).toBe('Error response from daemon: network nope not found\n');
    c = capture();
    expect(await runDockerCommand(engine, ['network', 'inspect', 'bridge'], c.io)).toBe(0);
    expect(JSON.parse(c.out.stdout)[0]).toMatchObject({ Name: 'bridge', Driver: 'bridge', Options: { 'com.docker.network.bridge.name': 'docker0' } });
  });
  it('lists by a table template, filters and refuses an unknown filter', async () => {
    let c = capture();
    await runDockerCommand(engine, ['network', 'ls', '--filter', 'type=custom', '--format', 'table {{.ID}}\\t{{.Name}}'], c.io);
    expect(c.out.stdout).toBe(`NETWORK ID     NAME\n${'b'.repeat(12)}   backend\n`);
    c = capture();
    expect(await runDockerCommand(engine, ['network', 'ls', '-f', 'color=red'], c.io)).toBe(125);
    expect(c.out.stderr).toBe("docker: invalid filter 'color'\n\nSee 'docker network ls --help'.\n");
  });
});
