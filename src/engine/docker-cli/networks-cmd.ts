import type { Network } from '../networks.js';
import { formatBinding } from '../ports.js';
import { goField } from './containers.js';
import type { Ctx } from './context.js';
import { renderTemplate, table } from './format.js';
import { list, str, UsageError } from './parse.js';

const driverName = (n: Network) => (n.driver === 'null' ? 'null' : n.driver);

export async function networkCreate(ctx: Ctx): Promise<number> {
  const f = ctx.parsed.flags;
  const labels = Object.fromEntries(list(f['label']).map((l) => [l.split('=')[0]!, l.split('=').slice(1).join('=')]));
  const n = ctx.engine.network.create(ctx.parsed.args[0]!, {
    ...(str(f['driver']) ? { driver: str(f['driver'])! } : {}),
    ...(str(f['subnet']) ? { subnet: str(f['subnet'])! } : {}),
    ...(str(f['gateway']) ? { gateway: str(f['gateway'])! } : {}),
    labels,
  });
  ctx.io.stdout(`${n.id}\n`);
  return 0;
}

export async function networkLs(ctx: Ctx): Promise<number> {
  const f = ctx.parsed.flags;
  let nets = ctx.engine.network.list();
  for (const filter of list(f['filter'])) {
    const [key, value = ''] = filter.split(/=(.*)/s);
    if (key === 'name') nets = nets.filter((n) => n.name.includes(value));
    else if (key === 'id') nets = nets.filter((n) => n.id.startsWith(value));
    else if (key === 'driver') nets = nets.filter((n) => driverName(n) === value);
    else if (key === 'type') nets = nets.filter((n) => (value === 'builtin') === n.builtin);
    else throw new UsageError(`invalid filter '${key}'`, 'network ls');
  }
  const noTrunc = !!f['no-trunc'];
  const rows = nets.map((n) => ({ ID: noTrunc ? n.id : n.id.slice(0, 12), Name: n.name, Driver: driverName(n), Scope: 'local' }));
  if (f['quiet']) ctx.io.stdout(rows.map((r) => `${r.ID}\n`).join(''));
  else if (str(f['format'])) ctx.io.stdout(renderTemplate(str(f['format'])!, rows, { ID: 'NETWORK ID' }));
  else ctx.io.stdout(table(['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'], rows.map((r) => [r.ID, r.Name, r.Driver, r.Scope])));
  return 0;
}

export async function networkInspect(ctx: Ctx): Promise<number> {
  const out: object[] = [];
  let code = 0;
  for (const name of ctx.parsed.args) {
    try {
      const n = ctx.engine.network.get(name);
      const members = ctx.engine.network.users(n);
      out.push({
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
          members.map((c) => {
            const ep = ctx.engine.network.endpointsOf(c).find((e) => e.network.id === n.id);
            const prefix = n.subnet.split('/')[1];
            return [c.id, { Name: c.name, IPv4Address: ep ? `${ep.ip}/${prefix}` : '', MacAddress: '', IPv6Address: '' }];
          }),
        ),
        Options: n.bridge ? { 'com.docker.network.bridge.name': n.bridge } : {},
        Labels: n.labels,
      });
    } catch (e) {
      ctx.io.stderr(`Error response from daemon: ${(e as Error).message}\n`);
      code = 1;
    }
  }
  const format = str(ctx.parsed.flags['format']);
  if (format) ctx.io.stdout(out.map((o) => `${goField(o, format)}\n`).join(''));
  else ctx.io.stdout(`${JSON.stringify(out, null, 4)}\n`);
  return code;
}

export async function networkRm(ctx: Ctx): Promise<number> {
  let code = 0;
  for (const name of ctx.parsed.args) {
    try {
      await ctx.engine.network.remove(name);
      ctx.io.stdout(`${name}\n`);
    } catch (e) {
      ctx.io.stderr(`Error response from daemon: ${(e as Error).message}\n`);
      code = 1;
    }
  }
  return code;
}

export async function networkPrune(ctx: Ctx): Promise<number> {
  const removed = await ctx.engine.network.prune();
  ctx.io.stdout(removed.length ? `Deleted Networks:\n${removed.join('\n')}\n\n` : '');
  return 0;
}

export async function networkConnect(ctx: Ctx): Promise<number> {
  const [net, container] = ctx.parsed.args;
  await ctx.engine.network.connect(net!, ctx.engine.get(container!), list(ctx.parsed.flags['alias']));
  return 0;
}

export async function networkDisconnect(ctx: Ctx): Promise<number> {
  const [net, container] = ctx.parsed.args;
  await ctx.engine.network.disconnect(net!, ctx.engine.get(container!));
  return 0;
}

/** `port CONTAINER [PRIVATE_PORT[/PROTO]]`: `80/tcp -> 0.0.0.0:8080`, or `0.0.0.0:8080` for one port. */
export async function port(ctx: Ctx): Promise<number> {
  const [name, which] = ctx.parsed.args;
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
