import { decodeTags, encodeTags, tagValue } from './frame.js';
import { MAX_PAYLOAD, MsgType, type Frame } from './protocol.js';

/**
 * One run of a thin `docker` client (in the guest via the agent, or `berth`
 * via the Node daemon socket): what it asked for, its input as it arrives,
 * and the ways to answer it. Frames as in docs/protocol.md, "Client sessions".
 */
export interface ClientSession {
  readonly argv: string[];
  readonly cwd: string;
  readonly env: Record<string, string>;
  readonly terminal: { rows: number; cols: number } | undefined;
  readonly stdoutIsTerminal: boolean;
  /** Set these to receive the client's input; earlier input is delivered when set. */
  handlers: ClientInputHandlers;
  stdout(data: Uint8Array): void;
  stderr(data: Uint8Array): void;
  setRaw(raw: boolean): void;
  /** The command reads stdin: the client starts relaying it (until then it leaves it unread, as docker does without -i). */
  wantStdin(): void;
  exit(code: number): void;
}

export interface ClientInputHandlers {
  stdin(data: Uint8Array): void;
  stdinEnd(): void;
  resize(rows: number, cols: number): void;
  signal(sig: number): void;
}

export function parseClientOpen(payload: Uint8Array) {
  const tags = decodeTags(payload);
  const env: Record<string, string> = {};
  for (const [t, v] of tags) {
    if (t === 'e' && v.includes('=')) env[v.slice(0, v.indexOf('='))] = v.slice(v.indexOf('=') + 1);
  }
  const size = tagValue(tags, 't');
  const m = size ? /^(\d+)x(\d+)$/.exec(size) : null;
  return {
    argv: tags.filter(([t]) => t === 'a').map(([, v]) => v),
    cwd: tagValue(tags, 'c') ?? '/',
    env,
    terminal: m ? { rows: Number(m[1]), cols: Number(m[2]) } : undefined,
    stdoutIsTerminal: tags.some(([t]) => t === 'o'),
  };
}

export function encodeClientOpen(o: { argv: string[]; cwd: string; env: Record<string, string>; terminal?: { rows: number; cols: number }; stdoutIsTerminal: boolean }): Uint8Array {
  return encodeTags([
    ...o.argv.map((a) => ['a', a] as [string, string]),
    ['c', o.cwd],
    ...Object.entries(o.env).map(([k, v]) => ['e', `${k}=${v}`] as [string, string]),
    ...(o.terminal ? [['t', `${o.terminal.rows}x${o.terminal.cols}`] as [string, string]] : []),
    ...(o.stdoutIsTerminal ? [['o', ''] as [string, string]] : []),
  ]);
}

const i32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n, true);
  return b;
};

/**
 * The host end of a client session over any frame transport: turns the
 * client's frames into handler calls and answers into frames.
 */
export class ClientSessionEndpoint implements ClientSession {
  readonly argv: string[];
  readonly cwd: string;
  readonly env: Record<string, string>;
  terminal: { rows: number; cols: number } | undefined;
  readonly stdoutIsTerminal: boolean;
  private queued: Array<(h: ClientInputHandlers) => void> = [];
  private current: ClientInputHandlers | undefined;
  private done = false;
  private stdinWanted = false;

  constructor(
    open: Uint8Array,
    private readonly send: (type: MsgType, payload?: Uint8Array) => void,
    private readonly onDone: () => void = () => {},
  ) {
    const o = parseClientOpen(open);
    this.argv = o.argv;
    this.cwd = o.cwd;
    this.env = o.env;
    this.terminal = o.terminal;
    this.stdoutIsTerminal = o.stdoutIsTerminal;
  }

  get handlers(): ClientInputHandlers {
    return this.current!;
  }
  set handlers(h: ClientInputHandlers) {
    this.current = h;
    for (const q of this.queued) q(h);
    this.queued = [];
  }

  /** A frame from the client. */
  receive(frame: Frame): void {
    const p = frame.payload;
    const v = new DataView(p.buffer, p.byteOffset, p.length);
    const deliver = (fn: (h: ClientInputHandlers) => void): void => {
      if (this.current) fn(this.current);
      else this.queued.push(fn);
    };
    switch (frame.type) {
      case MsgType.CLIENT_STDIN:
        return deliver((h) => h.stdin(p));
      case MsgType.CLIENT_STDIN_EOF:
        return deliver((h) => h.stdinEnd());
      case MsgType.CLIENT_RESIZE:
        if (p.length >= 4) {
          this.terminal = { rows: v.getUint16(0, true), cols: v.getUint16(2, true) };
          const { rows, cols } = this.terminal;
          deliver((h) => h.resize(rows, cols));
        }
        return;
      case MsgType.CLIENT_SIGNAL:
        if (p.length >= 4) {
          const sig = v.getInt32(0, true);
          deliver((h) => h.signal(sig));
        }
        return;
    }
  }

  stdout(data: Uint8Array): void {
    this.chunked(MsgType.CLIENT_STDOUT, data);
  }
  stderr(data: Uint8Array): void {
    this.chunked(MsgType.CLIENT_STDERR, data);
  }
  setRaw(raw: boolean): void {
    if (!this.done) this.send(MsgType.CLIENT_RAW, new Uint8Array([raw ? 1 : 0]));
  }
  wantStdin(): void {
    if (this.done || this.stdinWanted) return;
    this.stdinWanted = true;
    this.send(MsgType.CLIENT_WANT_STDIN);
  }
  exit(code: number): void {
    if (this.done) return;
    this.send(MsgType.CLIENT_EXIT, i32(code));
    this.done = true;
    this.onDone();
  }

  private chunked(type: MsgType, data: Uint8Array): void {
    if (this.done) return;
    for (let o = 0; o < data.length; o += MAX_PAYLOAD) this.send(type, data.subarray(o, Math.min(o + MAX_PAYLOAD, data.length)));
  }
}
