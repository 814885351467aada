/**
 * What the page asks of the engine worker (over comlink). Type-only: the
 * worker implements it, the page calls it.
 */
import type { BootProgress } from '../vm/guest-vm.js';

export interface ShellHandlers {
  onData(data: Uint8Array): void;
  onExit(code: number): void;
}

export interface PlaygroundApi {
  /** Restores the guest from its snapshot, or boots it cold and saves one. */
  boot(onProgress: (p: BootProgress) => void): Promise<{ bootMs: number; guestId: string; restored: boolean; notice?: string }>;
  /** Starts a shell in the guest (where `docker` works) on a new terminal; returns its session id. */
  openShell(rows: number, cols: number, handlers: ShellHandlers): Promise<number>;
  write(session: number, data: Uint8Array): Promise<void>;
  resize(session: number, rows: number, cols: number): void;
}
