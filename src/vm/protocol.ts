/**
 * The wire protocol between the engine and the guest agent. Mirrors
 * docs/protocol.md and guest/agent/protocol.h; change all three together.
 */

export const MAGIC0 = 0x42; // 'B'
export const MAGIC1 = 0x52; // 'R'
export const HEADER_SIZE = 16;
export const MAX_PAYLOAD = 65536;

/** Host→guest stream chunks: one virtio receive buffer (a page) each. */
export const CHUNK_SIZE = 4096;
/** Chunks in flight at most; the guest's receive queue holds 16. */
export const MAX_CHUNKS_IN_FLIGHT = 8;
/** Unacknowledged stdin bytes per process at most. */
export const STDIN_WINDOW = 64 * 1024;

export const MsgType = {
  HELLO: 0x01,
  PING: 0x02,
  PONG: 0x03,
  ACK: 0x04,
  EXEC: 0x10,
  STARTED: 0x11,
  STDIN: 0x12,
  STDIN_EOF: 0x13,
  STDOUT: 0x14,
  STDERR: 0x15,
  EXIT: 0x16,
  SIGNAL: 0x17,
  RESIZE: 0x18,
  STDIN_ACK: 0x19,
  MOUNT: 0x20,
  UMOUNT: 0x21,
  CLIENT_OPEN: 0x30,
  CLIENT_STDIN: 0x31,
  CLIENT_STDIN_EOF: 0x32,
  CLIENT_STDOUT: 0x33,
  CLIENT_STDERR: 0x34,
  CLIENT_EXIT: 0x35,
  CLIENT_RESIZE: 0x36,
  CLIENT_RAW: 0x37,
  CLIENT_SIGNAL: 0x38,
  CLIENT_WANT_STDIN: 0x39,
  OK: 0x7e,
  ERROR: 0x7f,
} as const;
export type MsgType = (typeof MsgType)[keyof typeof MsgType];

export interface Frame {
  type: MsgType;
  id: number;
  payload: Uint8Array;
}
