import { createServer, type Server, type Socket } from 'node:net';
import type { PortPublisher } from '../engine/networks.js';
import type { PortBinding } from '../engine/ports.js';
import type { TcpStream } from '../vm/tcp-stream.js';

/**
 * Published ports on this machine's loopback: `-p 8080:80` listens on
 * 127.0.0.1:8080 and pipes each connection into the guest. Loopback only,
 * whatever host IP the -p names, so a container is never exposed to the
 * network by accident.
 */
export class LoopbackPorts implements PortPublisher {
  readonly hostIp = '127.0.0.1';
  private readonly servers = new Map<number, Server>();

  async publish(binding: PortBinding, connect: () => Promise<TcpStream>): Promise<void> {
    const server = createServer((socket) => void pipe(socket, connect));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new Error(e.code === 'EADDRINUSE' ? `Bind for ${this.hostIp}:${binding.hostPort} failed: port is already in use on this machine` : `Bind for ${this.hostIp}:${binding.hostPort} failed: ${e.message}`)),
      );
      server.listen(binding.hostPort, this.hostIp, resolve);
    });
    this.servers.set(binding.hostPort, server);
  }

  unpublish(binding: PortBinding): void {
    this.servers.get(binding.hostPort)?.close();
    this.servers.delete(binding.hostPort);
  }

  closeAll(): void {
    for (const s of this.servers.values()) s.close();
    this.servers.clear();
  }
}

async function pipe(socket: Socket, connect: () => Promise<TcpStream>): Promise<void> {
  socket.pause();
  let stream: TcpStream;
  try {
    stream = await connect();
  } catch {
    socket.destroy(); // as a refused connection would look
    return;
  }
  stream.onData((d) => socket.write(d));
  stream.onEnd(() => socket.end());
  socket.on('data', (d: Buffer) => stream.write(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)));
  socket.on('end', () => stream.end());
  socket.on('error', () => stream.close());
  socket.on('close', () => stream.close());
  socket.resume();
}
