/**
 * The guest's network card (virtio-net) and what sits behind it: v86's
 * "fetch" network adapter, a small TCP/IP peer in JS. Outbound, it answers
 * DNS and turns the guest's HTTP requests (port 80) into fetch(); inbound,
 * it opens TCP connections to the guest's own address, which is how published
 * ports reach containers (through the agent's proxy in the guest).
 */
import { ConnectionRefusedError, type TcpStream } from './tcp-stream.js';

/** Addresses of the emulated network (v86's defaults for the fetch adapter). */
export const GUEST_NET = {
  routerIp: '192.168.86.1',
  guestIp: '192.168.86.100',
  prefix: 24,
} as const;

/** Kernel command-line parameter the agent's init reads to configure eth0. */
export const UPLINK_CMDLINE = `berth.ip=${GUEST_NET.guestIp}/${GUEST_NET.prefix},${GUEST_NET.routerIp}`;

export interface GuestNetworkOptions {
  /** Prefix for outbound HTTP: the target URL is appended, URL-encoded (e.g. `https://proxy.example/?url=`). */
  corsProxy?: string;
}

/** v86's options for the network card. */
export function netDeviceOptions(options: GuestNetworkOptions = {}) {
  return {
    type: 'virtio',
    relay_url: 'fetch',
    router_ip: GUEST_NET.routerIp,
    vm_ip: GUEST_NET.guestIp,
    ...(options.corsProxy ? { cors_proxy: options.corsProxy } : {}),
  };
}

/** The parts of v86's FetchNetworkAdapter and its TCPConnection we use. */
interface V86TcpPacket {
  tcp: { fin?: boolean; seq: number; ack?: boolean };
  tcp_data: Uint8Array;
}

interface V86TcpConnection {
  process(packet: V86TcpPacket): void;
  ack: number;
  on(event: 'connect' | 'close' | 'shutdown', fn: () => void): void;
  on(event: 'data', fn: (data: Uint8Array) => void): void;
  write(data: Uint8Array): void;
  close(): void;
  state: string;
}

export interface V86FetchAdapter {
  connect(port: number): V86TcpConnection;
  /** Announces (as `tcp-connection`) each connection the guest opens to the adapter. */
  bus: { register(event: 'tcp-connection', fn: (conn: V86TcpConnection) => void): void };
  cors_proxy?: string;
  fetch: (url: string, init?: RequestInit) => Promise<Response>;
}

const CONNECT_TIMEOUT_MS = 5000;

export class GuestNetwork {
  private installed = false;

  /** `adapter` returns v86's adapter, which exists only once the emulator has loaded. */
  constructor(private readonly lookup: () => V86FetchAdapter | undefined) {}

  private get adapter(): V86FetchAdapter {
    const adapter = this.lookup();
    if (!adapter) throw new Error('the emulator has no network adapter yet');
    if (!this.installed) {
      this.installed = true;
      // v86 answers a failed fetch with its stack trace; say instead what failed and what to do.
      adapter.fetch = async (url, init) => {
        try {
          return await fetch(url, init);
        } catch (e) {
          return fetchFailure(url, e as Error);
        }
      };
      // Connections the guest opens (outbound HTTP); the ones we open are fixed in connect().
      adapter.bus.register('tcp-connection', keepDataOnFin);
    }
    return adapter;
  }

  /** @internal called by GuestVM once the emulator runs, before the guest can send a request. */
  attach(): void {
    void this.adapter;
  }

  get corsProxy(): string | undefined {
    return this.adapter.cors_proxy;
  }

  /** Changes the CORS proxy for the next outbound requests ('' or undefined: none). */
  set corsProxy(url: string | undefined) {
    this.adapter.cors_proxy = url || undefined;
  }

  /** A TCP connection to `port` on the guest's address (not a container's: see the engine's proxies). */
  connect(port: number): Promise<TcpStream> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) return Promise.reject(new RangeError(`invalid TCP port ${port}`));
    const conn = this.adapter.connect(port);
    keepDataOnFin(conn);
    return new Promise((resolve, reject) => {
      let open = false;
      let ended = false;
      const dataListeners: Array<(d: Uint8Array) => void> = [];
      const endListeners: Array<() => void> = [];
      const finish = () => {
        if (ended) return;
        ended = true;
        for (const fn of endListeners) fn();
      };
      const timer = setTimeout(() => {
        if (open) return;
        conn.close();
        reject(new Error(`the guest did not answer a connection to port ${port} within ${CONNECT_TIMEOUT_MS / 1000} s`));
      }, CONNECT_TIMEOUT_MS);
      conn.on('data', (d) => {
        const copy = new Uint8Array(d); // v86 reuses its receive buffer
        for (const fn of dataListeners) fn(copy);
      });
      conn.on('shutdown', finish);
      conn.on('close', () => {
        if (!open) {
          clearTimeout(timer);
          reject(new ConnectionRefusedError(port));
        }
        finish();
      });
      conn.on('connect', () => {
        open = true;
        clearTimeout(timer);
        resolve({
          write: (data) => conn.write(data),
          end: () => conn.close(),
          close: () => {
            conn.close();
            finish();
          },
          onData: (fn) => void dataListeners.push(fn),
          onEnd: (fn) => (ended ? fn() : void endListeners.push(fn)),
        });
      });
    });
  }
}

/**
 * v86's TCP drops the payload of a segment that also carries FIN, and Linux
 * often sends a response's last bytes that way. Split such a segment into
 * its data and a bare FIN before v86 sees it.
 */
function keepDataOnFin(conn: V86TcpConnection): void {
  const process = conn.process.bind(conn);
  conn.process = (packet) => {
    if (packet.tcp.fin && packet.tcp_data.length > 0 && packet.tcp.seq === conn.ack) {
      process({ ...packet, tcp: { ...packet.tcp, fin: false } });
      packet = { ...packet, tcp: { ...packet.tcp, seq: packet.tcp.seq + packet.tcp_data.length }, tcp_data: packet.tcp_data.subarray(0, 0) };
    }
    process(packet);
  };
}

function fetchFailure(url: string, e: Error): Response {
  const cause = (e as Error & { cause?: { code?: string; message?: string } }).cause;
  const why = [e.message, cause?.code ?? cause?.message].filter(Boolean).join(': ');
  const body =
    `Berth could not fetch ${url} for the container (${why}).\n` +
    'Containers reach the outside world through the browser\'s fetch(): only plain http:// requests on port 80 work, and ' +
    'a browser reads the answer only from servers that send CORS headers (Access-Control-Allow-Origin) for this page. ' +
    'Set a CORS proxy (the playground\'s network settings, or BERTH_CORS_PROXY for the berth command) or use a server that allows this origin.\n';
  return new Response(body, { status: 502, statusText: 'Bad Gateway', headers: { 'content-type': 'text/plain' } });
}
