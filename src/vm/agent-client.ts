import { concat } from './bytes.js';
import { FrameChannel, type ConsolePort } from './channel.js';
import { decodeTags, encodeTags, tagValue } from './frame.js';
import { MsgType, STDIN_WINDOW, type Frame } from './protocol.js';
import { ClientSessionEndpoint, type ClientSession } from './client-session.js';

const DEFAULT_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

export interface ExecOptions {
  argv: string[];
  /** The whole environment of the process (nothing is inherited). */
  env?: Record<string, string> | string[];
  cwd?: string;
  /** Run on a new pty of this size; stdout and stderr then both arrive on stdout. */
  tty?: { rows: number; cols: number };
  /** Keep stdin open for write(); otherwise it is /dev/null. */
  stdin?: boolean;
  /** Receive the terminal of a process that hands it over this Unix socket (crun --console-socket). */
  consoleSocket?: string;
  onStdout?: (data: Uint8Array) => void;
  onStderr?: (data: Uint8Array) => void;
}

export interface ExitStatus {
  /** 0-255, or 128+signal when killed. */
  code: number;
  /** The signal that killed the process, or 0. */
  signal: number;
}

/** The agent refused a request; `code` is an errno name such as ENOENT. */
export class AgentError extends Error {
  override readonly name = 'AgentError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The channel to the agent is gone (the VM stopped, or the agent died). */
export class AgentGoneError extends Error {
  override readonly name = 'AgentGoneError';
}

/** A process the agent started. Its output arrives through the callbacks given to exec(). */
export class GuestProcess {
  readonly exit: Promise<ExitStatus>;
  private resolveExit!: (s: ExitStatus) => void;
  private rejectExit!: (e: Error) => void;
  private unacked = 0;
  private readonly stdinQueue: Array<{ data: Uint8Array; done: () => void; fail: (e: Error) => void }> = [];
  private exited = false;
  /** Why the process is gone without an EXIT (the agent went away). */
  private failure: Error | undefined;

  constructor(
    private readonly client: AgentClient,
    readonly id: number,
    readonly pid: number,
    private readonly options: ExecOptions,
  ) {
    this.exit = new Promise((resolve, reject) => {
      this.resolveExit = resolve;
      this.rejectExit = reject;
    });
    this.exit.catch(() => {});
  }

  /**
   * Writes to stdin; resolves when the agent has room for it (per-process
   * window), or at once after the process exited. Rejects when the agent goes
   * away first (the data never reached the process). Callers that do not wait
   * for it (`void proc.write(d)`) cause no unhandled rejection.
   */
  write(data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const written = new Promise<void>((done, fail) => {
      if (this.failure) return fail(this.failure);
      if (this.exited || bytes.length === 0) return done();
      const none = () => {};
      for (let o = 0; o < bytes.length; o += 16384) {
        const part = bytes.subarray(o, Math.min(o + 16384, bytes.length));
        const last = o + 16384 >= bytes.length;
        this.stdinQueue.push({ data: part, done: last ? done : none, fail: last ? fail : none });
      }
      this.flushStdin();
    });
    written.catch(() => {});
    return written;
  }

  closeStdin(): void {
    if (this.exited) return;
    const send = () => this.client.sendRaw(MsgType.STDIN_EOF, this.id);
    if (this.stdinQueue.length === 0) send();
    else this.stdinQueue.push({ data: new Uint8Array(0), done: send, fail: () => {} });
  }

  kill(signal = 15): void {
    if (this.exited) return;
    const p = new Uint8Array(4);
    new DataView(p.buffer).setInt32(0, signal, true);
    this.client.sendRaw(MsgType.SIGNAL, this.id, p);
  }

  resize(rows: number, cols: number): void {
    if (this.exited) return;
    const p = new Uint8Array(4);
    const v = new DataView(p.buffer);
    v.setUint16(0, rows, true);
    v.setUint16(2, cols, true);
    this.client.sendRaw(MsgType.RESIZE, this.id, p);
  }

  /** @internal */
  handle(frame: Frame): void {
    switch (frame.type) {
      case MsgType.STDOUT:
        this.options.onStdout?.(frame.payload);
        break;
      case MsgType.STDERR:
        this.options.onStderr?.(frame.payload);
        break;
      case MsgType.STDIN_ACK:
        if (frame.payload.length >= 4) {
          this.unacked -= new DataView(frame.payload.buffer, frame.payload.byteOffset).getUint32(0, true);
          this.flushStdin();
        }
        break;
      case MsgType.EXIT: {
        const v = new DataView(frame.payload.buffer, frame.payload.byteOffset, frame.payload.length);
        this.exited = true;
        for (const q of this.stdinQueue) q.done();
        this.stdinQueue.length = 0;
        this.resolveExit({ code: v.getInt32(0, true), signal: frame.payload.length >= 8 ? v.getInt32(4, true) : 0 });
        break;
      }
    }
  }

  /** @internal */
  fail(err: Error): void {
    this.exited = true;
    this.failure = err;
    // Writes still waiting for the stdin window would otherwise never settle.
    for (const q of this.stdinQueue) q.fail(err);
    this.stdinQueue.length = 0;
    this.rejectExit(err);
  }

  private flushStdin(): void {
    while (this.stdinQueue.length > 0 && this.unacked < STDIN_WINDOW && !this.exited) {
      const item = this.stdinQueue.shift()!;
      if (item.data.length > 0) {
        this.unacked += item.data.length;
        this.client.sendRaw(MsgType.STDIN, this.id, item.data);
      }
      item.done();
    }
  }
}

interface Pending {
  resolve: (frame: Frame) => void;
  reject: (err: Error) => void;
}

/**
 * The host side of the agent protocol: requests with replies (mount, ping)
 * and processes with streams, multiplexed over one FrameChannel.
 */
export class AgentClient {
  private readonly channel: FrameChannel;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly processes = new Map<number, GuestProcess>();
  private readonly starting = new Map<number, { options: ExecOptions; pending: Pending }>();
  private goneError: Error | undefined;
  private helloWaiters: Array<(tags: Array<[string, string]>) => void> = [];
  private hello: Array<[string, string]> | undefined;
  /** Channel-level complaints from the agent (bad frames); for diagnostics. */
  readonly channelErrors: string[] = [];
  /** `docker` clients in the guest, by session id. */
  private readonly sessions = new Map<number, ClientSessionEndpoint>();
  /** Called for each `docker` command typed in the guest. */
  onClientSession: ((session: ClientSession) => void) | undefined;

  constructor(port: ConsolePort, restored?: { consumed: number; hello: Array<[string, string]> }) {
    this.channel = new FrameChannel(port, (f) => this.onFrame(f), undefined, restored?.consumed ?? 0);
    if (restored) this.hello = restored.hello;
  }

  /** What a snapshot must remember of this client: only valid while `quiescent`. */
  snapshotState(): { consumed: number; hello: Array<[string, string]> } {
    return { consumed: this.channel.consumed, hello: this.hello ?? [] };
  }

  /** No process, request or session in flight, and the channel drained. */
  get quiescent(): boolean {
    return this.channel.idle && this.pending.size === 0 && this.processes.size === 0 && this.starting.size === 0 && this.sessions.size === 0;
  }

  /** Resolves with the agent's HELLO tags once it is ready. */
  ready(): Promise<Array<[string, string]>> {
    if (this.hello) return Promise.resolve(this.hello);
    return new Promise((resolve) => this.helloWaiters.push(resolve));
  }

  get agentVersion(): string | undefined {
    return this.hello && tagValue(this.hello, 'v');
  }

  async ping(payload = new Uint8Array(0)): Promise<Uint8Array> {
    const reply = await this.request(MsgType.PING, payload);
    return reply.payload;
  }

  async exec(options: ExecOptions): Promise<GuestProcess> {
    if (options.argv.length === 0) throw new AgentError('EINVAL', 'exec needs a program to run');
    const tags: Array<[string, string]> = options.argv.map((a) => ['a', a] as [string, string]);
    const env = Array.isArray(options.env)
      ? options.env
      : Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`);
    for (const e of env) tags.push(['e', e]);
    if (options.cwd) tags.push(['c', options.cwd]);
    if (options.tty) tags.push(['t', `${options.tty.rows}x${options.tty.cols}`]);
    if (!options.stdin) tags.push(['n', '']);
    if (options.consoleSocket) tags.push(['s', options.consoleSocket]);
    const id = this.allocId();
    const started = await new Promise<Frame>((resolve, reject) => {
      this.starting.set(id, { options, pending: { resolve, reject } });
      this.send(MsgType.EXEC, id, encodeTags(tags));
    });
    return this.processes.get(id) ?? this.failStarted(id, started);
  }

  /** Runs a program to completion and collects its output (for short helper commands). */
  async run(argv: string[], env: Record<string, string> = DEFAULT_ENV): Promise<{ status: ExitStatus; stdout: string; stderr: string }> {
    const r = await this.collect(argv, { env });
    return { status: r.status, stdout: new TextDecoder().decode(r.stdout), stderr: r.stderr };
  }

  /**
   * Runs a helper program to completion (binary-safe, optionally fed `stdin`)
   * and returns its stdout; rejects with its stderr when it exits non-zero.
   */
  async runChecked(argv: string[], opts: { stdin?: Uint8Array; env?: Record<string, string> } = {}): Promise<Uint8Array> {
    const r = await this.collect(argv, opts);
    if (r.status.code !== 0) throw new AgentError('EFAILED', r.stderr.trim() || `${argv.join(' ')} exited with code ${r.status.code}`);
    return r.stdout;
  }

  private async collect(argv: string[], opts: { stdin?: Uint8Array; env?: Record<string, string> }) {
    const out: Uint8Array[] = [];
    const err: Uint8Array[] = [];
    const proc = await this.exec({
      argv,
      env: opts.env ?? DEFAULT_ENV,
      stdin: opts.stdin !== undefined,
      onStdout: (d) => out.push(d),
      onStderr: (d) => err.push(d),
    });
    if (opts.stdin !== undefined) {
      await proc.write(opts.stdin);
      proc.closeStdin();
    }
    const status = await proc.exit;
    return { status, stdout: concat(out), stderr: new TextDecoder().decode(concat(err)) };
  }

  async mount(opts: { source: string; target: string; fstype: string; data?: string; mkdir?: boolean }): Promise<void> {
    const tags: Array<[string, string]> = [
      ['s', opts.source],
      ['t', opts.target],
      ['f', opts.fstype],
    ];
    if (opts.data) tags.push(['o', opts.data]);
    if (opts.mkdir) tags.push(['p', '']);
    await this.request(MsgType.MOUNT, encodeTags(tags));
  }

  async umount(target: string, opts: { detach?: boolean; rmdir?: boolean } = {}): Promise<void> {
    const tags: Array<[string, string]> = [['t', target]];
    if (opts.detach) tags.push(['d', '']);
    if (opts.rmdir) tags.push(['r', '']);
    await this.request(MsgType.UMOUNT, encodeTags(tags));
  }

  /** Fails every outstanding request and process: the agent is gone. */
  shutdown(reason: Error): void {
    if (this.goneError) return;
    this.goneError = reason;
    this.channel.close();
    for (const p of this.pending.values()) p.reject(reason);
    for (const s of this.starting.values()) s.pending.reject(reason);
    for (const proc of this.processes.values()) proc.fail(reason);
    this.pending.clear();
    this.starting.clear();
    this.processes.clear();
  }

  /** @internal used by GuestProcess */
  sendRaw(type: MsgType, id: number, payload?: Uint8Array): void {
    if (!this.goneError) this.channel.send(type, id, payload);
  }

  private send(type: MsgType, id: number, payload?: Uint8Array): void {
    if (this.goneError) throw this.goneError;
    this.channel.send(type, id, payload);
  }

  private allocId(): number {
    do {
      this.nextId = this.nextId >= 0x7fffffff ? 1 : this.nextId + 1;
    } while (this.pending.has(this.nextId) || this.processes.has(this.nextId) || this.starting.has(this.nextId));
    return this.nextId;
  }

  private request(type: MsgType, payload: Uint8Array): Promise<Frame> {
    if (this.goneError) return Promise.reject(this.goneError);
    const id = this.allocId();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send(type, id, payload);
    });
  }

  private failStarted(id: number, frame: Frame): never {
    throw new AgentError('EPROTO', `agent answered exec ${id} with frame type ${frame.type}`);
  }

  private onClientFrame(frame: Frame): void {
    if (frame.type === MsgType.CLIENT_OPEN) {
      const session = new ClientSessionEndpoint(
        frame.payload,
        (type, payload) => this.sendRaw(type, frame.id, payload),
        () => this.sessions.delete(frame.id),
      );
      this.sessions.set(frame.id, session);
      if (this.onClientSession) this.onClientSession(session);
      else {
        session.stderr(new TextEncoder().encode('docker: the Berth engine is not serving docker commands here\n'));
        session.exit(125);
      }
      return;
    }
    this.sessions.get(frame.id)?.receive(frame);
  }

  private onFrame(frame: Frame): void {
    if (frame.type >= MsgType.CLIENT_OPEN && frame.type <= MsgType.CLIENT_SIGNAL) return this.onClientFrame(frame);
    if (frame.type === MsgType.HELLO) {
      this.hello = decodeTags(frame.payload);
      for (const w of this.helloWaiters) w(this.hello);
      this.helloWaiters = [];
      return;
    }
    if (frame.type === MsgType.ERROR) {
      const tags = decodeTags(frame.payload);
      const err = new AgentError(tagValue(tags, 'c') ?? 'EIO', tagValue(tags, 'm') ?? 'agent error');
      if (frame.id === 0) {
        this.channelErrors.push(`${err.code}: ${err.message}`);
        return;
      }
      const starting = this.starting.get(frame.id);
      if (starting) {
        this.starting.delete(frame.id);
        starting.pending.reject(err);
        return;
      }
      const p = this.pending.get(frame.id);
      if (p) {
        this.pending.delete(frame.id);
        p.reject(err);
      }
      return;
    }
    if (frame.type === MsgType.STARTED) {
      const s = this.starting.get(frame.id);
      if (!s) return;
      this.starting.delete(frame.id);
      const pid = frame.payload.length >= 4 ? new DataView(frame.payload.buffer, frame.payload.byteOffset).getUint32(0, true) : 0;
      // Registered before the promise settles, so output that follows in the same read is not lost.
      this.processes.set(frame.id, new GuestProcess(this, frame.id, pid, s.options));
      s.pending.resolve(frame);
      return;
    }
    const proc = this.processes.get(frame.id);
    if (proc) {
      proc.handle(frame);
      if (frame.type === MsgType.EXIT) this.processes.delete(frame.id);
      return;
    }
    const p = this.pending.get(frame.id);
    if (p && (frame.type === MsgType.OK || frame.type === MsgType.PONG)) {
      this.pending.delete(frame.id);
      p.resolve(frame);
    }
  }
}

