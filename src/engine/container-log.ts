/**
 * A container's output, kept for `logs` as Docker's json-file driver keeps it:
 * every chunk with its stream and time. Bounded: past the limit the oldest
 * chunks go (`logs` then starts later, as after log rotation).
 */
export interface LogEntry {
  stream: 'stdout' | 'stderr';
  time: Date;
  data: Uint8Array;
}

export type LogListener = (entry: LogEntry) => void;

export class ContainerLog {
  private readonly entries: LogEntry[] = [];
  private bytes = 0;
  private readonly followers = new Set<LogListener>();

  constructor(private readonly limit = 4 * 1024 * 1024) {}

  append(stream: LogEntry['stream'], data: Uint8Array): void {
    const entry = { stream, time: new Date(), data };
    this.entries.push(entry);
    this.bytes += data.length;
    while (this.bytes > this.limit && this.entries.length > 1) this.bytes -= this.entries.shift()!.data.length;
    for (const f of this.followers) f(entry);
  }

  /** Entries so far; `tail` counts lines, as `docker logs --tail`. */
  read(opts: { tail?: number; since?: Date } = {}): LogEntry[] {
    let out = opts.since ? this.entries.filter((e) => e.time >= opts.since!) : [...this.entries];
    if (opts.tail !== undefined && opts.tail >= 0) out = tailLines(out, opts.tail);
    return out;
  }

  follow(listener: LogListener): () => void {
    this.followers.add(listener);
    return () => this.followers.delete(listener);
  }
}

/** The last `n` lines of a list of chunks, split per line so each keeps its stream and time. */
function tailLines(entries: LogEntry[], n: number): LogEntry[] {
  const lines: LogEntry[] = [];
  for (const e of entries) {
    let start = 0;
    for (let i = 0; i < e.data.length; i++) {
      if (e.data[i] === 10) {
        lines.push({ ...e, data: e.data.subarray(start, i + 1) });
        start = i + 1;
      }
    }
    if (start < e.data.length) lines.push({ ...e, data: e.data.subarray(start) });
  }
  return n === 0 ? [] : lines.slice(-n);
}
