import { encodeFrame, FrameParser, type FrameFault } from './frame.js';
import { CHUNK_SIZE, MAX_CHUNKS_IN_FLIGHT, MsgType, type Frame } from './protocol.js';

/** One virtio-console port as the host sees it. */
export interface ConsolePort {
  /** Hands bytes to the guest as one receive buffer; at most CHUNK_SIZE bytes. */
  write(bytes: Uint8Array): void;
  /** Subscribes to bytes the guest wrote; returns the unsubscribe. */
  onData(listener: (bytes: Uint8Array) => void): () => void;
}

/**
 * Frames over a console port with the flow control of docs/protocol.md: the
 * stream goes out in page-sized chunks, at most MAX_CHUNKS_IN_FLIGHT of them
 * until the agent's ACK shows it consumed them, because v86 drops data for
 * which the guest has no free receive buffer.
 */
export class FrameChannel {
  private readonly parser: FrameParser;
  private readonly queue: Uint8Array[] = [];
  private queueHead = 0; // offset into queue[0]
  private queued = 0; // bytes in the queue not yet sent
  private sent = 0; // bytes handed to the port
  private acked = 0; // bytes the agent reported consumed
  private readonly chunkEnds: number[] = [];
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(
    private readonly port: ConsolePort,
    onFrame: (frame: Frame) => void,
    onFault: (fault: FrameFault) => void = () => {},
    /** Bytes the agent had consumed already (a guest restored from a snapshot). */
    consumed = 0,
  ) {
    this.sent = this.acked = consumed;
    this.parser = new FrameParser((frame) => {
      if (frame.type === MsgType.ACK && frame.id === 0) this.onAck(frame.payload);
      else onFrame(frame);
    }, onFault);
    this.unsubscribe = port.onData((bytes) => this.parser.push(bytes));
  }

  send(type: MsgType, id: number, payload?: Uint8Array): void {
    if (this.closed) return;
    const frame = encodeFrame(type, id, payload);
    this.queue.push(frame);
    this.queued += frame.length;
    this.pump();
  }

  /** True when nothing is queued or unacknowledged: a moment a snapshot can be taken. */
  get idle(): boolean {
    return this.queue.length === 0 && this.chunkEnds.length === 0 && this.parser.pending === 0;
  }

  /** Bytes the agent has consumed, as its ACKs count them. */
  get consumed(): number {
    return this.acked;
  }

  /** Bytes waiting for the guest to make room. */
  get backlog(): number {
    return this.queued;
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    this.queue.length = 0;
    this.queued = 0;
  }

  private onAck(payload: Uint8Array): void {
    if (payload.length < 4) return;
    const total = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, true);
    // The agent counts modulo 2^32; advance by the difference.
    this.acked += (total - (this.acked >>> 0)) >>> 0;
    while (this.chunkEnds.length > 0 && this.chunkEnds[0]! <= this.acked) this.chunkEnds.shift();
    this.pump();
  }

  private pump(): void {
    while (this.queue.length > 0 && this.chunkEnds.length < MAX_CHUNKS_IN_FLIGHT) {
      const chunk = this.takeChunk();
      this.sent += chunk.length;
      this.queued -= chunk.length;
      this.chunkEnds.push(this.sent);
      this.port.write(chunk);
    }
  }

  /** Up to CHUNK_SIZE bytes from the queue, coalescing small frames. */
  private takeChunk(): Uint8Array {
    const chunk = new Uint8Array(Math.min(CHUNK_SIZE, this.backlog));
    let filled = 0;
    while (filled < chunk.length) {
      const head = this.queue[0]!;
      const n = Math.min(head.length - this.queueHead, chunk.length - filled);
      chunk.set(head.subarray(this.queueHead, this.queueHead + n), filled);
      filled += n;
      this.queueHead += n;
      if (this.queueHead === head.length) {
        this.queue.shift();
        this.queueHead = 0;
      }
    }
    return chunk;
  }
}
