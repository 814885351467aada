/**
 * A TCP connection from the host into the guest, over v86's emulated network
 * (the fetch adapter's TCP stack talks to the guest kernel's). Runtime-neutral:
 * the Node daemon pipes a loopback socket into it, the page's worker speaks
 * HTTP/1.1 over it for the preview.
 */
export interface TcpStream {
  /** Queue bytes for the guest. */
  write(data: Uint8Array): void;
  /** Half-close: no more bytes from the host (FIN); the guest may still answer. */
  end(): void;
  /** Close both directions at once. */
  close(): void;
  /** Bytes from the guest, in order. */
  onData(fn: (data: Uint8Array) => void): void;
  /** The guest closed its side (FIN or reset); called once. */
  onEnd(fn: () => void): void;
}

/** Nothing listens on the port in the guest (the guest answered with a reset). */
export class ConnectionRefusedError extends Error {
  override readonly name = 'ConnectionRefusedError';
  constructor(readonly port: number) {
    super(`connection refused: nothing listens on port ${port} in the guest`);
  }
}
