/**
 * Container networks, as Docker's bridge driver: each network is a Linux
 * bridge in the guest with a private /16; each container on it gets a veth
 * pair and an address, and its own network namespace (kept at
 * /run/berth/netns/<id> so crun can join it). Containers on a user-defined
 * network find each other by name through /etc/hosts files the engine keeps
 * current. Published ports are a proxy process in the guest (like Docker's
 * docker-proxy) listening on the guest's address; the host reaches it through
 * v86's network (GuestNetwork.connect).
 *
 * Everything here is set up when a container starts and torn down when its
 * run ends, as Docker does: a stopped container has no address.
 */
import type { GuestProcess } from '../vm/agent-client.js';
import type { GuestVM } from '../vm/guest-vm.js';
import { GUEST_NET } from '../vm/guest-network.js';
import type { TcpStream } from '../vm/tcp-stream.js';
import type { Container, Membership } from './container.js';
import { conflict, failedPrecondition, internal, invalidArgument, notFound } from './errors.js';
import { randomHexId } from './names.js';
import { EPHEMERAL_PORTS, type PortBinding } from './ports.js';

const AGENT = '/sbin/berth-agent';
export const NETNS_DIR = '/run/berth/netns';
const MTU = 1500;

export type NetworkDriver = 'bridge' | 'host' | 'null';

export interface Network {
  id: string;
  name: string;
  driver: NetworkDriver;
  /** `172.18.0.0/16`; empty for host and none. */
  subnet: string;
  gateway: string;
  /** The bridge's name in the guest. */
  bridge: string;
  created: Date;
  labels: Record<string, string>;
  /** bridge, host, none: made by the engine, cannot be removed. */
  builtin: boolean;
}

/** A container's place on a network while it runs. */
export interface Endpoint {
  network: Network;
  ip: string;
  /** Interface name inside the container (eth0, eth1, ...). */
  ifname: string;
  /** The veth end on the bridge, in the guest. */
  veth: string;
  aliases: string[];
}

/**
 * The host side of published ports. In Node, a loopback listener per port;
 * in the browser, nothing (the page's service worker asks the engine).
 */
export interface PortPublisher {
  /** The address every port is bound to on the host, whatever `-p` asked for: what `ps` and `port` show. */
  readonly hostIp: string;
  /** Starts forwarding; rejects (with a message for people) if the host port is taken on the host. */
  publish(binding: PortBinding, connect: () => Promise<TcpStream>): Promise<void>;
  unpublish(binding: PortBinding): void;
}

/** The network a container uses without `--network`. */
export const DEFAULT_NETWORK = 'bridge';

const ipToInt = (ip: string) => ip.split('.').reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
const intToIp = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');

function parseSubnet(subnet: string): { base: number; prefix: number } {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(subnet);
  const prefix = Number(m?.[2]);
  if (!m || m[1]!.split('.').some((o) => Number(o) > 255) || prefix < 8 || prefix > 29) {
    throw invalidArgument(`invalid subnet ${subnet}: use an IPv4 CIDR such as 172.30.0.0/16 (prefix 8 to 29)`);
  }
  const mask = (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (ipToInt(m[1]!) & mask) >>> 0, prefix };
}

export class NetworkService {
  private readonly networks = new Map<string, Network>();
  /** Bridges already made in the guest (a restored guest has none made after its snapshot). */
  private readonly bridgesUp = new Set<string>();
  /** Addresses in use, per network id. */
  private readonly leases = new Map<string, Set<string>>();
  /** Running containers' endpoints and published ports. */
  private readonly endpoints = new Map<string, Endpoint[]>();
  private readonly published = new Map<string, Array<{ binding: PortBinding; proxy: GuestProcess }>>();

  constructor(
    private readonly vm: GuestVM,
    /** The engine's containers, for names and hosts files. */
    private readonly containers: () => Container[],
    private readonly publisher?: PortPublisher,
  ) {
    const now = new Date();
    this.add({ id: randomHexId(), name: 'bridge', driver: 'bridge', subnet: '172.17.0.0/16', gateway: '172.17.0.1', bridge: 'docker0', created: now, labels: {}, builtin: true });
    this.add({ id: randomHexId(), name: 'host', driver: 'host', subnet: '', gateway: '', bridge: '', created: now, labels: {}, builtin: true });
    this.add({ id: randomHexId(), name: 'none', driver: 'null', subnet: '', gateway: '', bridge: '', created: now, labels: {}, builtin: true });
  }

  private add(n: Network): Network {
    this.networks.set(n.id, n);
    this.leases.set(n.id, new Set());
    return n;
  }

  list(): Network[] {
    return [...this.networks.values()];
  }

  get(idOrName: string): Network {
    const byName = this.list().find((n) => n.name === idOrName);
    if (byName) return byName;
    const matches = this.list().filter((n) => idOrName.length > 0 && n.id.startsWith(idOrName));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw invalidArgument(`network ${idOrName} is ambiguous (${matches.length} matches found based on ID prefix)`);
    throw notFound(`network ${idOrName} not found`);
  }

  /** `network create`: a bridge network with the next free /16 (from 172.18.0.0) or the given subnet. */
  create(name: string, opts: { driver?: string; subnet?: string; gateway?: string; labels?: Record<string, string> } = {}): Network {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw invalidArgument(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    if (this.list().some((n) => n.name === name)) throw conflict(`network with name ${name} already exists`);
    const driver = opts.driver ?? 'bridge';
    if (driver !== 'bridge') throw notFound(`plugin "${driver}" not found: Berth networks use the bridge driver`);
    let subnet = opts.subnet;
    if (subnet) {
      const { base, prefix } = parseSubnet(subnet);
      subnet = `${intToIp(base)}/${prefix}`;
      const overlap = this.list().find((n) => n.subnet && overlaps(n.subnet, subnet!));
      if (overlap || overlaps(`${GUEST_NET.guestIp}/${GUEST_NET.prefix}`, subnet)) {
        throw conflict(`Pool overlaps with other one on this address space (${overlap ? `network ${overlap.name}` : 'the guest\'s uplink'})`);
      }
    } else {
      for (let second = 18; second <= 31 && !subnet; second++) {
        const candidate = `172.${second}.0.0/16`;
        if (!this.list().some((n) => n.subnet && overlaps(n.subnet, candidate))) subnet = candidate;
      }
      if (!subnet) throw failedPrecondition('all predefined address pools have been fully subnetted; remove a network or give --subnet');
    }
    const { base, prefix } = parseSubnet(subnet);
    const gateway = opts.gateway ?? intToIp(base + 1);
    if (!inSubnet(gateway, base, prefix)) throw invalidArgument(`gateway ${gateway} is not in subnet ${subnet}`);
    const id = randomHexId();
    return this.add({ id, name, driver: 'bridge', subnet, gateway, bridge: `br-${id.slice(0, 12)}`, created: new Date(), labels: opts.labels ?? {}, builtin: false });
  }

  /** Containers (running or not) that are members of a network. */
  users(n: Network): Container[] {
    return this.containers().filter((c) => c.networks.some((m) => m.networkId === n.id));
  }

  async remove(idOrName: string): Promise<Network> {
    const n = this.get(idOrName);
    if (n.builtin) throw failedPrecondition(`${n.name} is a pre-defined network and cannot be removed`);
    const users = this.users(n);
    if (users.length) throw conflict(`error while removing network: network ${n.name} id ${n.id} has active endpoints (${users.map((c) => c.name).join(', ')})`);
    if (this.bridgesUp.delete(n.bridge)) await this.guest(['link-del', n.bridge]).catch(() => undefined);
    this.networks.delete(n.id);
    this.leases.delete(n.id);
    return n;
  }

  /** `network prune`: user networks no container is a member of. */
  async prune(): Promise<string[]> {
    const removed: string[] = [];
    for (const n of this.list()) {
      if (n.builtin || this.users(n).length) continue;
      await this.remove(n.id);
      removed.push(n.name);
    }
    return removed;
  }

  /** What `--network` and `--network-alias` mean for a new container. */
  memberships(mode: string | undefined, aliases: string[] = []): { mode: 'host' | 'none' | 'netns'; members: Membership[] } {
    const n = this.get(mode || DEFAULT_NETWORK);
    if (aliases.length && (n.builtin || n.driver !== 'bridge')) {
      throw invalidArgument('network-scoped alias is supported only for containers in user defined networks');
    }
    if (n.driver === 'host') return { mode: 'host', members: [] };
    if (n.driver === 'null') return { mode: 'none', members: [] };
    return { mode: 'netns', members: [{ networkId: n.id, aliases }] };
  }

  /** The running container's endpoints (empty when stopped). */
  endpointsOf(c: Container): Endpoint[] {
    return this.endpoints.get(c.id) ?? [];
  }

  /** The running container's published ports, with the host ports picked. */
  portsOf(c: Container): PortBinding[] {
    return (this.published.get(c.id) ?? []).map((p) => p.binding);
  }

  /** Every published port of running containers. */
  publishedPorts(): Array<PortBinding & { containerId: string; containerName: string }> {
    return this.containers().flatMap((c) => this.portsOf(c).map((b) => ({ ...b, containerId: c.id, containerName: c.name })));
  }

  /** A TCP connection to a published port, as a browser or client on the host would open it. */
  async connectPublished(hostPort: number): Promise<TcpStream> {
    if (!this.publishedPorts().some((p) => p.hostPort === hostPort)) {
      throw notFound(`no running container publishes port ${hostPort}; start one with -p ${hostPort}:<container port>`);
    }
    return this.vm.network.connect(hostPort);
  }

  /** Wires a starting container: namespace, veths, hosts files, published ports. Undone on failure. */
  async attach(c: Container): Promise<void> {
    if (c.networkMode !== 'netns') return;
    const netns = `${NETNS_DIR}/${c.id}`;
    const eps: Endpoint[] = [];
    this.endpoints.set(c.id, eps);
    try {
      for (const m of c.networks) await this.plug(c, netns, m, eps);
      await this.writeHostsFiles(this.affected(c));
      await this.publish(c, eps[0]);
    } catch (e) {
      await this.release(c);
      throw e;
    }
  }

  /** Undoes attach() when a run ends (or a start fails). */
  async release(c: Container): Promise<void> {
    const ports = this.published.get(c.id) ?? [];
    this.published.delete(c.id);
    for (const { binding, proxy } of ports) {
      this.publisher?.unpublish(binding);
      proxy.kill(9);
    }
    const eps = this.endpoints.get(c.id);
    if (!eps) return;
    this.endpoints.delete(c.id);
    for (const ep of eps) this.leases.get(ep.network.id)?.delete(ep.ip);
    // Deleting the namespace deletes its veths, and with them their bridge ends.
    await this.guest(['netns-del', `${NETNS_DIR}/${c.id}`]).catch(() => undefined);
    const peers = this.affected(c).filter((x) => x !== c);
    await this.writeHostsFiles(peers).catch(() => undefined);
  }

  /** `network connect`: membership now, and an endpoint at once if the container runs. */
  async connect(networkName: string, c: Container, aliases: string[] = []): Promise<void> {
    const n = this.get(networkName);
    if (n.driver !== 'bridge') throw failedPrecondition(`container cannot be connected to network ${n.name}: only bridge networks can be connected`);
    if (c.networkMode !== 'netns') throw failedPrecondition(`container sharing network namespace with another container or host cannot be connected to any other network (${c.name} uses --network ${c.networkMode})`);
    if (c.networks.some((m) => m.networkId === n.id)) throw conflict(`endpoint with name ${c.name} already exists in network ${n.name}`);
    if (aliases.length && n.builtin) throw invalidArgument('network-scoped alias is supported only for containers in user defined networks');
    const m = { networkId: n.id, aliases };
    c.networks.push(m);
    const eps = this.endpoints.get(c.id);
    if (c.state !== 'running' || !eps) return;
    try {
      await this.plug(c, `${NETNS_DIR}/${c.id}`, m, eps);
    } catch (e) {
      c.networks.splice(c.networks.indexOf(m), 1);
      throw e;
    }
    await this.writeHostsFiles(this.affected(c));
  }

  /** `network disconnect`. */
  async disconnect(networkName: string, c: Container): Promise<void> {
    const n = this.get(networkName);
    const i = c.networks.findIndex((m) => m.networkId === n.id);
    if (i < 0) throw notFound(`container ${c.shortId} is not connected to network ${n.name}`);
    const before = this.affected(c);
    c.networks.splice(i, 1);
    const eps = this.endpoints.get(c.id);
    const ep = eps?.find((e) => e.network.id === n.id);
    if (eps && ep) {
      eps.splice(eps.indexOf(ep), 1);
      this.leases.get(n.id)?.delete(ep.ip);
      await this.guest(['detach', `${NETNS_DIR}/${c.id}`, ep.ifname]);
    }
    await this.writeHostsFiles(before);
  }

  private async plug(c: Container, netns: string, m: Membership, eps: Endpoint[]): Promise<void> {
    const n = this.networks.get(m.networkId);
    if (!n) throw notFound(`network ${m.networkId} not found (removed while the container was stopped?)`);
    const { prefix } = parseSubnet(n.subnet);
    if (!this.bridgesUp.has(n.bridge)) {
      await this.guest(['bridge', n.bridge, `${n.gateway}/${prefix}`, String(MTU)]);
      this.bridgesUp.add(n.bridge);
    }
    const ip = this.lease(n);
    const used = new Set(eps.map((e) => e.ifname));
    let k = 0;
    while (used.has(`eth${k}`)) k++;
    const ep: Endpoint = { network: n, ip, ifname: `eth${k}`, veth: `veth${randomHexId().slice(0, 7)}`, aliases: m.aliases };
    try {
      // The first network gives the default route, as in Docker.
      await this.guest(['attach', netns, n.bridge, ep.veth, ep.ifname, `${ip}/${prefix}`, eps.length === 0 ? n.gateway : '-', String(MTU)]);
    } catch (e) {
      this.leases.get(n.id)?.delete(ip);
      throw e;
    }
    eps.push(ep);
  }

  private lease(n: Network): string {
    const { base, prefix } = parseSubnet(n.subnet);
    const taken = this.leases.get(n.id)!;
    const size = 2 ** (32 - prefix);
    for (let i = 2; i < size - 1; i++) {
      const ip = intToIp(base + i);
      if (ip !== n.gateway && !taken.has(ip)) {
        taken.add(ip);
        return ip;
      }
    }
    throw failedPrecondition(`no available IPv4 addresses on network ${n.name}`);
  }

  private async publish(c: Container, first: Endpoint | undefined): Promise<void> {
    if (!c.portBindings.length) return;
    if (!first) throw failedPrecondition(`container ${c.name} has no network to publish ports from`);
    const taken = new Set(this.publishedPorts().map((p) => p.hostPort));
    const ports: Array<{ binding: PortBinding; proxy: GuestProcess }> = [];
    this.published.set(c.id, ports);
    for (const want of c.portBindings) {
      const binding = { ...want, hostIp: this.publisher?.hostIp ?? want.hostIp, hostPort: want.hostPort || pickPort(taken) };
      if (taken.has(binding.hostPort) && want.hostPort) {
        throw conflict(`driver failed programming external connectivity on endpoint ${c.name}: Bind for ${binding.hostIp}:${binding.hostPort} failed: port is already allocated`);
      }
      taken.add(binding.hostPort);
      const proxy = await this.startProxy(binding, first.ip, c.name);
      ports.push({ binding, proxy });
      try {
        await this.publisher?.publish(binding, () => this.vm.network.connect(binding.hostPort));
      } catch (e) {
        throw conflict(`driver failed programming external connectivity on endpoint ${c.name}: ${(e as Error).message}`, e);
      }
    }
  }

  /** The guest half of a published port: berth-agent's proxy, up once it prints "ready". */
  private async startProxy(b: PortBinding, ip: string, name: string): Promise<GuestProcess> {
    let out = '';
    let err = '';
    let ready!: () => void;
    const listening = new Promise<void>((r) => (ready = r));
    const proxy = await this.vm.agent.exec({
      argv: [AGENT, 'net', 'proxy', String(b.hostPort), ip, String(b.containerPort)],
      onStdout: (d) => {
        out += new TextDecoder().decode(d);
        if (out.includes('ready')) ready();
      },
      onStderr: (d) => (err += new TextDecoder().decode(d)),
    });
    const ended = await Promise.race([listening.then(() => false), proxy.exit.then(() => true)]);
    if (ended) {
      const inUse = /Address already in use/.test(err);
      throw conflict(
        `driver failed programming external connectivity on endpoint ${name}: Bind for ${b.hostIp}:${b.hostPort} failed: ${inUse ? 'port is already allocated' : err.trim() || 'the port proxy did not start'}`,
      );
    }
    return proxy;
  }

  /** Running containers whose hosts files list `c` (those sharing a user network with it), and `c`. */
  private affected(c: Container): Container[] {
    const nets = new Set(c.networks.map((m) => m.networkId));
    return this.containers().filter((x) => x === c || x.networks.some((m) => nets.has(m.networkId) && !this.networks.get(m.networkId)?.builtin));
  }

  private async writeHostsFiles(cs: Container[]): Promise<void> {
    const enc = new TextEncoder();
    for (const c of cs) {
      if (!this.endpoints.has(c.id)) continue;
      await this.vm.fs.overwrite(`${c.paths.bundle}/hosts`, enc.encode(this.hostsFile(c)));
    }
  }

  /** /etc/hosts: localhost, the container itself, and its peers on user networks by name, alias and short ID. */
  private hostsFile(c: Container): string {
    const own = this.endpointsOf(c);
    const peers: string[] = [];
    for (const ep of own) {
      if (ep.network.builtin) continue;
      for (const peer of this.containers()) {
        if (peer === c) continue;
        const theirs = this.endpointsOf(peer).find((e) => e.network.id === ep.network.id);
        if (theirs) peers.push(`${theirs.ip}\t${[peer.name, ...theirs.aliases, peer.shortId].join(' ')}`);
      }
    }
    return hostsText(c.hostname, own[0]?.ip, peers);
  }

  /** `berth-agent net ...` in the guest; its stderr is the error. */
  private async guest(args: string[]): Promise<void> {
    const r = await this.vm.agent.run([AGENT, 'net', ...args]);
    if (r.status.code !== 0) throw internal(`setting up the container network failed: ${r.stderr.trim() || `berth-agent net ${args[0]} exited ${r.status.code}`}`);
  }
}

/** A container's /etc/hosts; before it has an address its name points at 127.0.1.1, as Debian's does. */
export function hostsText(hostname: string, ownIp?: string, peers: string[] = []): string {
  return ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', `${ownIp ?? '127.0.1.1'}\t${hostname}`, ...peers, ''].join('\n');
}

function pickPort(taken: Set<number>): number {
  for (let p = EPHEMERAL_PORTS.first; p <= EPHEMERAL_PORTS.last; p++) if (!taken.has(p)) return p;
  throw failedPrecondition('no free host port left to publish on');
}

function inSubnet(ip: string, base: number, prefix: number): boolean {
  const mask = (0xffffffff << (32 - prefix)) >>> 0;
  return ((ipToInt(ip) & mask) >>> 0) === base;
}

function overlaps(a: string, b: string): boolean {
  const x = parseSubnet(a);
  const y = parseSubnet(b);
  const mask = (0xffffffff << (32 - Math.min(x.prefix, y.prefix))) >>> 0;
  return ((x.base & mask) >>> 0) === ((y.base & mask) >>> 0);
}
