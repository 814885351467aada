import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { AgentError } from '../../src/vm/agent-client.js';
import { encodeFrame } from '../../src/vm/frame.js';
import { MsgType } from '../../src/vm/protocol.js';
import { bootEngine } from '../helpers/engine.js';

let engine: Engine;
beforeAll(async () => {
  engine = await bootEngine();
});
afterAll(async () => {
  await engine?.vm.stop();
});

/** Writes raw bytes to the agent's port, bypassing the frame channel (as a buggy host would). */
function sendRaw(bytes: Uint8Array) {
  const emulator = (engine.vm as unknown as { emulator: { bus: { send(e: string, d: unknown): void } } }).emulator;
  emulator.bus.send('virtio-console1-input-bytes', bytes);
}

async function waitFor(cond: () => boolean) {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
}

describe('the agent channel in the real guest', () => {
  it('answers garbage with an error and keeps serving', async () => {
    const before = engine.vm.agent.channelErrors.length;
    sendRaw(new TextEncoder().encode('this is not a frame'));
    await waitFor(() => engine.vm.agent.channelErrors.length > before);
    expect(engine.vm.agent.channelErrors.slice(before).join()).toMatch(/EBADFRAME/);
    expect(await engine.vm.agent.ping(new Uint8Array([1, 2, 3]))).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('drops a truncated frame with an error after a quiet period and keeps serving', async () => {
    const before = engine.vm.agent.channelErrors.length;
    sendRaw(encodeFrame(MsgType.PING, 99, new Uint8Array(100)).subarray(0, 40));
    await new Promise((r) => setTimeout(r, 2500));
    await waitFor(() => engine.vm.agent.channelErrors.length > before);
    expect(engine.vm.agent.channelErrors.slice(before).join()).toMatch(/ETRUNCATED/);
    const r = await engine.vm.agent.run(['/bin/echo', 'still here']);
    expect(r.stdout).toBe('still here\n');
  });

  it('reports an exec of a missing program as ENOENT', async () => {
    const err = await engine.vm.agent.exec({ argv: ['/no/such/program'] }).catch((e) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect(err.code).toBe('ENOENT');
  });

  it('carries 1 MiB of stdin through the flow-controlled channel intact', async () => {
    const data = new Uint8Array(1024 * 1024).map((_, i) => (i * 7 + (i >> 10)) & 0xff);
    let out = '';
    const p = await engine.vm.agent.exec({
      argv: ['/bin/sh', '-c', 'md5sum | cut -d" " -f1; wc -c'],
      env: { PATH: '/bin' },
      stdin: true,
      onStdout: (d) => (out += new TextDecoder().decode(d)),
    });
    await p.write(data);
    p.closeStdin();
    expect((await p.exit).code).toBe(0);
    const { createHash } = await import('node:crypto');
    const md5 = createHash('md5').update(data).digest('hex');
    expect(out.trim().split(/\s+/)).toEqual([md5, '0']);
  });
});
