import { humanSize } from './format.js';

/**
 * Docker's per-layer progress lines, for `pull` and `push`: `<id>: <status>`,
 * redrawn in place on a terminal (a status with progress gets Docker's bar
 * and sizes); on a pipe a line is written only when a layer's status changes,
 * without the bar, so logs stay short.
 */
export class LayerProgress {
  private readonly order: string[] = [];
  private readonly lines = new Map<string, { status: string; text: string }>();
  private drawn = 0;

  constructor(
    private readonly write: (s: string) => void,
    private readonly live: boolean,
  ) {}

  update(id: string, status: string, progress?: { bytes: number; total: number }): void {
    if (!this.lines.has(id)) this.order.push(id);
    const changed = this.lines.get(id)?.status !== status;
    const text = progress ? `${status} ${bar(progress.bytes, progress.total)} ${humanSize(progress.bytes)}/${humanSize(progress.total)}` : status;
    this.lines.set(id, { status, text });
    if (this.live) {
      if (this.drawn) this.write(`\x1b[${this.drawn}A`);
      for (const l of this.order) this.write(`\x1b[2K${l}: ${this.lines.get(l)!.text}\n`);
      this.drawn = this.order.length;
    } else if (changed) this.write(`${id}: ${status}\n`);
  }
}

function bar(done: number, total: number): string {
  const width = 30;
  const n = total > 0 ? Math.min(width, Math.floor((done / total) * width)) : 0;
  return `[${'='.repeat(Math.max(0, n - 1))}${n > 0 ? '>' : ''}${' '.repeat(width - n)}]`;
}
