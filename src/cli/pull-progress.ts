import type { PullEvent } from '../engine/image-service.js';

const short = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);

export function humanSize(bytes: number): string {
  if (bytes < 1000) return `${bytes}B`;
  const units = ['kB', 'MB', 'GB'];
  let v = bytes / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)}${units[i]}`;
}

/**
 * Docker-style pull output: one line per layer, redrawn in place on a
 * terminal; on a pipe only the lines that change state, so logs stay short.
 */
export class PullProgress {
  private readonly order: string[] = [];
  private readonly lines = new Map<string, string>();
  private drawn = 0;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly live = !!out.isTTY,
  ) {}

  event(e: PullEvent): void {
    if (e.type === 'resolved') {
      const tag = /:([^:/]+)$/.exec(e.ref)?.[1] ?? 'latest';
      this.out.write(`${tag}: Pulling from ${e.ref.replace(/:[^:/]+$/, '')}\n`);
      return;
    }
    const text =
      e.status === 'exists'
        ? 'Already exists'
        : e.status === 'done'
          ? 'Pull complete'
          : `Downloading ${bar(e.bytes, e.total)} ${humanSize(e.bytes)}/${humanSize(e.total)}`;
    const id = short(e.digest);
    if (!this.lines.has(id)) this.order.push(id);
    const changed = this.lines.get(id)?.split(' ')[0] !== text.split(' ')[0];
    this.lines.set(id, text);
    if (this.live) this.redraw();
    else if (changed) this.out.write(`${id}: ${text.startsWith('Downloading') ? 'Downloading' : text}\n`);
  }

  private redraw(): void {
    if (this.drawn) this.out.write(`\x1b[${this.drawn}A`);
    for (const id of this.order) this.out.write(`\x1b[2K${id}: ${this.lines.get(id)}\n`);
    this.drawn = this.order.length;
  }
}

function bar(done: number, total: number): string {
  const width = 30;
  const n = total > 0 ? Math.min(width, Math.floor((done / total) * width)) : 0;
  return `[${'='.repeat(Math.max(0, n - 1))}${n > 0 ? '>' : ''}${' '.repeat(width - n)}]`;
}
