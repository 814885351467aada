import { invalidArgument } from './errors.js';

/** One published port: the guest (and host) side, and the container side. */
export interface PortBinding {
  hostIp: string;
  /** 0 until the engine picks one (`-p 80`, `-P`). */
  hostPort: number;
  containerPort: number;
  protocol: 'tcp';
}

/** Where the engine picks host ports for `-p 80` and `-P`, as Docker's ephemeral range. */
export const EPHEMERAL_PORTS = { first: 49153, last: 60999 };

function port(text: string, spec: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw invalidArgument(`invalid port "${text}" in "${spec}": a port is a number from 1 to 65535`);
  return n;
}

/**
 * `-p` as Docker writes it: `[hostIp:][hostPort:]containerPort[/tcp]`.
 * Ranges and UDP are refused with a message (the proxy in the guest is TCP only).
 */
export function parsePublish(spec: string): PortBinding {
  const [addr, proto = 'tcp'] = spec.split('/');
  if (proto !== 'tcp') throw invalidArgument(`"${spec}": only TCP ports can be published in Berth (${proto} is not supported)`);
  if (addr!.includes('-')) throw invalidArgument(`"${spec}": port ranges are not supported in Berth; publish each port with its own -p`);
  const parts = addr!.split(':');
  if (parts.length > 3 || parts.length === 0) throw invalidArgument(`invalid publish spec "${spec}": use [hostIp:][hostPort:]containerPort`);
  const containerPort = port(parts.at(-1)!, spec);
  const hostPortText = parts.length >= 2 ? parts.at(-2)! : '';
  const hostIp = parts.length === 3 ? parts[0]! : '';
  if (hostIp && !/^\d{1,3}(\.\d{1,3}){3}$/.test(hostIp)) throw invalidArgument(`invalid IP address "${hostIp}" in "${spec}"`);
  return { hostIp: hostIp || '0.0.0.0', hostPort: hostPortText ? port(hostPortText, spec) : 0, containerPort, protocol: 'tcp' };
}

/** `-P`: every TCP port the image EXPOSEs (`80/tcp`), each on a host port the engine picks. */
export function exposedBindings(exposed: Record<string, unknown> | undefined): PortBinding[] {
  return Object.keys(exposed ?? {})
    .filter((k) => (k.split('/')[1] ?? 'tcp') === 'tcp' && /^\d+$/.test(k.split('/')[0]!))
    .map((k) => ({ hostIp: '0.0.0.0', hostPort: 0, containerPort: Number(k.split('/')[0]), protocol: 'tcp' as const }));
}

/** Docker's text: `0.0.0.0:8080->80/tcp`. */
export function formatBinding(b: PortBinding): string {
  return `${b.hostIp}:${b.hostPort}->${b.containerPort}/${b.protocol}`;
}
