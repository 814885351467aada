import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import type { PortPublisher } from '../../src/engine/networks.js';
import { bootNodeEngine } from '../../src/node/boot.js';
import { FolderSnapshotStore } from '../../src/node/folder-snapshots.js';
import { openImageService, type ImageServiceOptions } from '../../src/node/host.js';
import { concat } from '../../src/vm/bytes.js';

/** A fresh, empty image store folder for one test file. */
export function tempStoreDir(): string {
  return mkdtempSync(join(tmpdir(), 'berth-store-'));
}

/**
 * How a suite's guest starts. `restored` is the path users take most (every
 * daemon start and page visit after the first): the run's first suite boots
 * cold and saves a snapshot, as the daemon's first start does, and every
 * suite restores from it (tests/helpers/global-setup.ts gives the run its
 * snapshot folder).
 */
export type GuestStart = 'cold' | 'restored';

export interface BootEngineOptions extends ImageServiceOptions {
  start?: GuestStart;
  publisher?: PortPublisher;
}

/** Boots a guest with its own image store (never the user's), restored from the run's snapshot unless `start: 'cold'`. */
export async function bootEngine(opts: BootEngineOptions = {}): Promise<Engine> {
  const { start = 'restored', publisher, ...storeOpts } = opts;
  const boot = (snapshots?: FolderSnapshotStore, onStarted?: (s: { restored: boolean; saved: Promise<void> }) => void) =>
    bootNodeEngine({
      images: openImageService({ dir: tempStoreDir(), ...storeOpts }),
      ...(publisher ? { publisher } : {}),
      ...(snapshots ? { snapshots } : {}),
      ...(onStarted ? { onStarted } : {}),
    });
  if (start === 'cold') return boot();
  const store = new FolderSnapshotStore(inject('snapshotDir'));
  let started!: { restored: boolean; saved: Promise<void> };
  const engine = await boot(store, (s) => (started = s));
  if (started.restored) return engine;
  // No snapshot yet: this guest booted cold and saved one; start again from it.
  await started.saved;
  await engine.vm.stop();
  const again = await boot(store, (s) => (started = s));
  if (!started.restored) throw new Error('the guest did not restore from the snapshot it had just saved');
  return again;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Uint8Array;
}

/** `run --rm` with output collected. */
export async function runCollect(engine: Engine, image: string, cmd: string[], opts: Parameters<Engine['run']>[1] = {}): Promise<RunResult> {
  const out: Uint8Array[] = [];
  const err: Uint8Array[] = [];
  const { status } = await engine.run(image, { rm: true, cmd, ...opts }, { onStdout: (d) => out.push(d), onStderr: (d) => err.push(d) });
  const stdoutBytes = concat(out);
  return {
    code: status.code,
    stdout: new TextDecoder().decode(stdoutBytes),
    stderr: new TextDecoder().decode(concat(err)),
    stdoutBytes,
  };
}

/** Runs a command in the guest itself (outside any container). */
export async function guestSh(engine: Engine, script: string): Promise<string> {
  const r = await engine.vm.agent.run(['/bin/sh', '-c', script]);
  if (r.status.code !== 0) throw new Error(`guest command failed (${r.status.code}): ${script}\n${r.stderr}`);
  return r.stdout;
}

/** Runs a docker command line on the engine directly (no client process), collecting its output. */
export async function dockerCommand(engine: Engine, argv: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
  const { runDockerCommand } = await import('../../src/engine/docker-cli/docker-cli.js');
  const { ClientIO } = await import('../../src/engine/docker-cli/io.js');
  let out = '';
  let err = '';
  const io = new ClientIO(
    { stdout: (d) => (out += new TextDecoder().decode(d)), stderr: (d) => (err += new TextDecoder().decode(d)), setRaw: () => {} },
    '/', {}, undefined, false,
  );
  if (stdin !== undefined) io.pushStdin(new TextEncoder().encode(stdin));
  io.pushStdinEnd();
  const code = await runDockerCommand(engine, argv, io);
  return { code, out, err };
}
