import { describe, expect, it } from 'vitest';
import { AgentClient, AgentGoneError } from '../../src/vm/agent-client.js';
import type { ConsolePort } from '../../src/vm/channel.js';
import { encodeFrame, FrameParser } from '../../src/vm/frame.js';
import { MsgType, STDIN_WINDOW, type Frame } from '../../src/vm/protocol.js';

/** A guest that acknowledges every chunk, answers EXEC with STARTED and records the frames it got. */
function fakeGuest() {
  const frames: Frame[] = [];
  let toHost: (b: Uint8Array) => void = () => {};
  let consumed = 0;
  const parser = new FrameParser((f) => {
    frames.push(f);
    if (f.type === MsgType.EXEC) toHost(encodeFrame(MsgType.STARTED, f.id, new Uint8Array([42, 0, 0, 0])));
  });
  const port: ConsolePort = {
    write: (b) => {
      parser.push(b);
      consumed += b.length;
      const p = new Uint8Array(4);
      new DataView(p.buffer).setUint32(0, consumed >>> 0, true);
      queueMicrotask(() => toHost(encodeFrame(MsgType.ACK, 0, p)));
    },
    onData: (l) => {
      toHost = l;
      return () => {};
    },
  };
  return { port, frames };
}

const settledWithin = <T>(p: Promise<T>, ms = 200) =>
  Promise.race([
    p.then((v) => ({ settled: 'resolved' as const, value: v as unknown }), (e: unknown) => ({ settled: 'rejected' as const, value: e })),
    new Promise<{ settled: 'pending' }>((r) => setTimeout(() => r({ settled: 'pending' }), ms)),
  ]);

describe('AgentClient when the agent goes away', () => {
  it('fails a write still waiting for the stdin window instead of leaving it pending', async () => {
    const { port, frames } = fakeGuest();
    const client = new AgentClient(port);
    const proc = await client.exec({ argv: ['/bin/cat'], stdin: true });
    // Twice the per-process window: the agent never ACKs stdin, so half of it waits in the queue.
    const write = proc.write(new Uint8Array(2 * STDIN_WINDOW));
    await new Promise((r) => setTimeout(r, 10));
    expect(frames.filter((f) => f.type === MsgType.STDIN).reduce((n, f) => n + f.payload.length, 0)).toBe(STDIN_WINDOW);
    client.shutdown(new AgentGoneError('the guest stopped'));
    expect(await settledWithin(write)).toEqual({ settled: 'rejected', value: expect.any(AgentGoneError) });
    expect(await settledWithin(proc.exit)).toEqual({ settled: 'rejected', value: expect.any(AgentGoneError) });
    // A write after the end fails at once too.
    expect(await settledWithin(proc.write('more'))).toEqual({ settled: 'rejected', value: expect.any(AgentGoneError) });
  });

  it('fails runChecked with stdin (a command feeding a helper) rather than hanging', async () => {
    const { port } = fakeGuest();
    const client = new AgentClient(port);
    const r = client.runChecked(['/bin/tar', '-x'], { stdin: new Uint8Array(3 * STDIN_WINDOW) });
    await new Promise((res) => setTimeout(res, 10));
    client.shutdown(new AgentGoneError('the guest stopped'));
    expect(await settledWithin(r)).toEqual({ settled: 'rejected', value: expect.any(AgentGoneError) });
  });

  it('a write after a normal exit resolves at once', async () => {
    const { port, frames } = fakeGuest();
    let toHost!: (b: Uint8Array) => void;
    const onData = port.onData;
    port.onData = (l) => ((toHost = l), onData(l));
    const client = new AgentClient(port);
    const proc = await client.exec({ argv: ['/bin/true'], stdin: true });
    const id = frames.find((f) => f.type === MsgType.EXEC)!.id;
    toHost(encodeFrame(MsgType.EXIT, id, new Uint8Array(8)));
    expect(await proc.exit).toEqual({ code: 0, signal: 0 });
    expect(await settledWithin(proc.write('late'))).toEqual({ settled: 'resolved', value: undefined });
  });
});
