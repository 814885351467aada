/**
 * Berth for embedders: boot a guest in a worker, optionally with a terminal
 * in a given element, and drive it from script.
 *
 *   import { boot } from './src/ui/embed-api';
 *   const berth = await boot(document.querySelector('#box'), { registryMirrors: { 'docker.io': 'https://mirror.example' } });
 *   await berth.run(['run', '--rm', 'busybox', 'echo', 'hi']);   // { code: 0, stdout: 'hi\n', stderr: '' }
 *   await berth.writeFile('/root/app.sh', 'echo from a file');
 *   await berth.exec('sh /root/app.sh');
 *
 * The page's `?embed` mode is this function on the whole window.
 */
import { proxy } from 'comlink';
import { describeProgress } from './boot-progress.js';
import { defaultGuestUrl, startEngineWorker } from './engine-client.js';
import type { BootProgress, BootResult, CommandResult } from './playground-api.js';
import { ShellTerminal } from './shell-terminal.js';

export type { BootProgress, BootResult, CommandResult };

export interface BerthBootOptions {
  /** Where the guest artifacts are served; default `guest/` next to the page. */
  guestUrl?: string;
  /** Registry host → mirror base URL (Docker Hub needs one: it sends no CORS headers). */
  registryMirrors?: Record<string, string>;
  /** Show a terminal with a guest shell in the container element (default true). */
  terminal?: boolean;
  onProgress?: (p: BootProgress) => void;
  /** The guest stopped serving after boot (a kernel panic, say), with the reason; every call fails from then on. */
  onStopped?: (message: string) => void;
}

export interface BerthHandle {
  /** How the guest started (boot time, restored from a snapshot or not). */
  readonly info: BootResult;
  /** A docker command line (without `docker`): `run(['ps', '-a'])`. */
  run(argv: string[]): Promise<CommandResult>;
  /** A shell command line in the guest (`/bin/sh -c`, in /root). */
  exec(command: string): Promise<CommandResult>;
  readFile(path: string): Promise<Uint8Array>;
  /** Writes a file in the guest, creating its folder. */
  writeFile(path: string, data: Uint8Array | string): Promise<void>;
  /** Types into the terminal's shell, as a person would (`'ls\r'`). No-op without a terminal. */
  type(text: string): Promise<void>;
  setRegistryMirrors(mirrors: Record<string, string>): Promise<void>;
  /** Stops the guest (ends the worker) and removes the terminal. */
  dispose(): void;
}

export async function boot(container: HTMLElement, opts: BerthBootOptions = {}): Promise<BerthHandle> {
  const { engine, worker } = startEngineWorker();
  const withTerminal = opts.terminal ?? true;
  const status = document.createElement('div');
  status.style.cssText = 'font: 13px ui-monospace, monospace; color: #8b949e; padding: 12px;';
  status.textContent = 'Loading…';
  if (withTerminal) container.append(status);
  let info: BootResult;
  try {
    info = await engine.boot(
      proxy((p: BootProgress) => {
        status.textContent = describeProgress(p).text;
        opts.onProgress?.(p);
      }),
      { guestUrl: opts.guestUrl ?? defaultGuestUrl(), ...(opts.registryMirrors ? { mirrors: opts.registryMirrors } : {}) },
      proxy((message: string) => {
        status.textContent = `The Linux guest stopped: ${message}`;
        status.style.color = '#ff7b72';
        if (withTerminal) container.prepend(status);
        opts.onStopped?.(message);
      }),
    );
  } catch (e) {
    status.textContent = `Could not start: ${(e as Error).message}`;
    status.style.color = '#ff7b72';
    worker.terminate();
    throw e;
  }
  status.remove();
  let shell: ShellTerminal | undefined;
  let box: HTMLElement | undefined;
  if (withTerminal) {
    box = document.createElement('div');
    box.style.cssText = 'width: 100%; height: 100%; background: #101418;';
    container.append(box);
    shell = new ShellTerminal(engine, box);
    new ResizeObserver(() => shell?.fitNow()).observe(box);
    shell.focus();
  }
  return {
    info,
    run: (argv) => engine.runDocker(argv),
    exec: (command) => engine.execShell(command),
    readFile: (path) => engine.readFile(path),
    writeFile: (path, data) => engine.writeFile(path, typeof data === 'string' ? new TextEncoder().encode(data) : data),
    type: async (text) => void (await shell?.send(text)),
    setRegistryMirrors: (m) => engine.setRegistryMirrors(m),
    dispose() {
      void shell?.dispose();
      box?.remove();
      worker.terminate();
    },
  };
}
