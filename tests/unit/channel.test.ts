import { describe, expect, it } from 'vitest';
import { FrameChannel, type ConsolePort } from '../../src/vm/channel.js';
import { encodeFrame } from '../../src/vm/frame.js';
import { CHUNK_SIZE, MAX_CHUNKS_IN_FLIGHT, MsgType } from '../../src/vm/protocol.js';

/** A port that records what the host writes and lets the test speak as the guest. */
function fakePort() {
  const written: Uint8Array[] = [];
  let listener: (b: Uint8Array) => void = () => {};
  const port: ConsolePort = {
    write: (b) => void written.push(b),
    onData: (l) => {
      listener = l;
      return () => {};
    },
  };
  const ack = (total: number) => {
    const p = new Uint8Array(4);
    new DataView(p.buffer).setUint32(0, total >>> 0, true);
    listener(encodeFrame(MsgType.ACK, 0, p));
  };
  return { port, written, ack, guestSends: (b: Uint8Array) => listener(b) };
}

describe('FrameChannel flow control', () => {
  it('sends page-sized chunks and stops at the in-flight limit until acknowledged', () => {
    const { port, written, ack } = fakePort();
    const ch = new FrameChannel(port, () => {});
    for (let i = 0; i < 40; i++) ch.send(MsgType.STDIN, 1, new Uint8Array(3000));
    expect(written.length).toBe(MAX_CHUNKS_IN_FLIGHT);
    expect(written.every((c) => c.length <= CHUNK_SIZE)).toBe(true);
    const total = 40 * (3000 + 16);
    // Acknowledge the first two chunks: exactly two more may go.
    ack(written[0]!.length + written[1]!.length);
    expect(written.length).toBe(MAX_CHUNKS_IN_FLIGHT + 2);
    // Acknowledge everything as it arrives until the queue drains.
    let acked = 0;
    while (acked < total) {
      acked = written.reduce((n, c) => n + c.length, 0);
      ack(acked);
    }
    expect(written.reduce((n, c) => n + c.length, 0)).toBe(total);
    expect(ch.backlog).toBe(0);
  });

  it('coalesces small frames into one chunk', () => {
    const { port, written } = fakePort();
    const ch = new FrameChannel(port, () => {});
    for (let i = 0; i < MAX_CHUNKS_IN_FLIGHT; i++) ch.send(MsgType.PING, i); // fills the window
    for (let i = 0; i < 100; i++) ch.send(MsgType.PING, 100 + i);
    expect(written.length).toBe(MAX_CHUNKS_IN_FLIGHT);
    expect(ch.backlog).toBe(100 * 16);
  });

  it('handles the 32-bit wrap of the ACK counter', () => {
    const { port, written, ack } = fakePort();
    const ch = new FrameChannel(port, () => {});
    // Pretend 2^32 - 10 bytes were already acknowledged.
    (ch as unknown as { acked: number; sent: number }).acked = 2 ** 32 - 10;
    (ch as unknown as { acked: number; sent: number }).sent = 2 ** 32 - 10;
    for (let i = 0; i < MAX_CHUNKS_IN_FLIGHT + 1; i++) ch.send(MsgType.STDIN, 1, new Uint8Array(CHUNK_SIZE - 16));
    expect(written.length).toBe(MAX_CHUNKS_IN_FLIGHT);
    ack(2 ** 32 - 10 + CHUNK_SIZE); // wraps to a small number
    expect(written.length).toBe(MAX_CHUNKS_IN_FLIGHT + 1);
  });

  it('passes other frames from the guest to the handler', () => {
    const { port, guestSends } = fakePort();
    const got: number[] = [];
    new FrameChannel(port, (f) => got.push(f.id));
    guestSends(encodeFrame(MsgType.PONG, 42));
    expect(got).toEqual([42]);
  });
});
