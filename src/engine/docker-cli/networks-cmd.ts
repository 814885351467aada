import type { Network, NetworkService } from '../networks.js';
import { formatBinding } from '../ports.js';
import type { CommandContext } from './context.js';
import { table } from './format.js';
import { formatRows, inspectOutput } from './go-template.js';

const driverName = (n: Network) => (n.driver === 'null' ? 'null' : n.driver);

export async function networkCreate(ctx: CommandContext): Promise<number> {
  const f = ctx.flags;
    const n = ctx.engine.network.create(ctx.args[0]!, {
    ...(f.string('driver') ? { driver: f.string('driver')! } : {}),
    ...(f.string('subnet') ? { subnet: f.string('subnet')! } : {}),
    ...(f.string('gateway') ? { gateway: f.string('gateway')! } : {}),
    labels: f.keyValues('label'),
  });
  ctx.io.stdout(`${n.id}\n`);
  return 0;
}

export async function networkLs(ctx: CommandContext): Promise<number> {
  const f = ctx.flags;
  let nets = ctx.engine.network.list();
  for (const filter of f.list('filter')) {
    const [key, value = ''] = filter.split(/=(.*)/s);
    if (key === 'name') nets = nets.filter((n) => n.name.includes(value));
    else if (key === 'id') nets = nets.filter((n) => n.id.startsWith(value));
    else if (key === 'driver') nets = nets.filter((n) => driverName(n) === value);
    else if (key === 'type') nets = nets.filter((n) => (value === 'builtin') === n.builtin);
    else throw ctx.usage(`invalid filter '${key}'`);
  }
  const noTrunc = f.bool('no-trunc');
  const rows = nets.map((n) => ({ ID: noTrunc ? n.id : n.id.slice(0, 12), Name: n.name, Driver: driverName(n), Scope: 'local' }));
  if (f.bool('quiet')) ctx.io.stdout(rows.map((r) => `${r.ID}\n`).join(''));
  else if (f.string('format')) ctx.io.stdout(formatRows(f.string('format')!, rows, { ID: 'NETWORK ID' }));
  else ctx.io.stdout(table(['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'], rows.map((r) => [r.ID, r.Name, r.Driver, r.Scope])));
  return 0;
}

/** A network as `network inspect` shows it. */
function inspectNetwork(network: NetworkService, n: Network): object {
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created.toISOString(),
    Scope: 'local',
    Driver: driverName(n),
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: n.subnet ? [{ Subnet: n.subnet, Gateway: n.gateway }] : [] },
    Internal: false,
    Attachable: false,
    Containers: Object.fromEntries(
      network.users(n).map((c) => {
        const ep = network.endpointsOf(c).find((e) => e.network.id === n.id);
        const prefix = n.subnet.split('/')[1];
        return [c.id, { Name: c.name, IPv4Address: ep ? `${ep.ip}/${prefix}` : '', MacAddress: '', IPv6Address: '' }];
      }),
    ),
    Options: n.bridge ? { 'com.docker.network.bridge.name': n.bridge } : {},
    Labels: n.labels,
  };
}

export async function networkInspect(ctx: CommandContext): Promise<number> {
  const out: object[] = [];
  const code = await ctx.eachArg((name) => void out.push(inspectNetwork(ctx.engine.network, ctx.engine.network.get(name))));
  ctx.io.stdout(inspectOutput(out, ctx.flags.string('format')));
  return code;
}

export function networkRm(ctx: CommandContext): Promise<number> {
  return ctx.eachArg(async (name) => {
    await ctx.engine.network.remove(name);
    ctx.io.stdout(`${name}\n`);
  });
}

export async function networkPrune(ctx: CommandContext): Promise<number> {
  const removed = await ctx.engine.network.prune();
  ctx.io.stdout(removed.length ? `Deleted Networks:\n${removed.join('\n')}\n\n` : '');
  return 0;
}

export async function networkConnect(ctx: CommandContext): Promise<number> {
  const [net, container] = ctx.args;
  await ctx.engine.network.connect(net!, ctx.engine.get(container!), ctx.flags.list('alias'));
  return 0;
}

export async function networkDisconnect(ctx: CommandContext): Promise<number> {
  const [net, container] = ctx.args;
  await ctx.engine.network.disconnect(net!, ctx.engine.get(container!));
  return 0;
}

/** `port CONTAINER [PRIVATE_PORT[/PROTO]]`: `80/tcp -> 0.0.0.0:8080`, or `0.0.0.0:8080` for one port. */
export async function port(ctx: CommandContext): Promise<number> {
  const [name, which] = ctx.args;
  const c = ctx.engine.get(name!);
  const ports = ctx.engine.network.portsOf(c);
  if (which) {
    const [p, proto = 'tcp'] = which.split('/');
    const hits = ports.filter((b) => String(b.containerPort) === p && b.protocol === proto);
    if (!hits.length) {
      ctx.io.stderr(`Error: No public port '${p}/${proto}' published for ${name}\n`);
      return 1;
    }
    ctx.io.stdout(hits.map((b) => `${b.hostIp}:${b.hostPort}\n`).join(''));
    return 0;
  }
  ctx.io.stdout(ports.map((b) => `${formatBinding(b).replace(/^(.*)->(.*)$/, '$2 -> $1')}\n`).join(''));
  return 0;
}
