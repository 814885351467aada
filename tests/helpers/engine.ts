import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '../../src/engine/engine.js';
import { bootNodeEngine } from '../../src/node/boot.js';
import { openImageService, type ImageServiceOptions } from '../../src/node/host.js';
import { concat } from '../../src/vm/bytes.js';

/** A fresh, empty image store folder for one test file. */
export function tempStoreDir(): string {
  return mkdtempSync(join(tmpdir(), 'berth-store-'));
}

/** Boots a guest with its own image store (never the user's). */
export async function bootEngine(opts: ImageServiceOptions = {}): Promise<Engine> {
  return bootNodeEngine({ images: openImageService({ dir: tempStoreDir(), ...opts }) });
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
