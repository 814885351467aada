import type { BuildEvent } from '../build/builder.js';

/**
 * BuildKit's progress output for `docker build`: `--progress=plain` (numbered
 * vertices, `#N DONE 0.3s`, output lines with their time) and the terminal
 * display (`[+] Building 1.2s (5/8)`, a line per step with its time, the
 * running step's last lines of output below it, redrawn in place).
 */

interface Vertex {
  id: number;
  name: string;
  started: number;
  ended?: number;
  cached?: boolean;
  error?: string;
  statuses: string[];
  /** Output lines (complete ones) and the partial last one. */
  lines: string[];
  partial: string;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

export interface BuildProgress {
  event(e: BuildEvent): void;
  /** The build ended: draw the last frame. */
  close(): void;
  /** The last lines of output of a step (for the error block). */
  tail(name: string, n: number): string[];
}

abstract class Base implements BuildProgress {
  protected readonly vertices = new Map<number, Vertex>();
  protected readonly start = Date.now();
  protected readonly decoder = new TextDecoder();

  constructor(protected readonly write: (s: string) => void) {}

  event(e: BuildEvent): void {
    const now = Date.now();
    if (e.type === 'warning') return this.onWarning(e.message, e.line);
    if (e.type === 'start') {
      const v: Vertex = { id: e.id, name: e.name, started: now, statuses: [], lines: [], partial: '' };
      this.vertices.set(e.id, v);
      return this.onStart(v);
    }
    const v = this.vertices.get(e.id);
    if (!v) return;
    if (e.type === 'status') {
      v.statuses.push(e.text);
      this.onStatus(v, e.text);
    } else if (e.type === 'log') {
      const text = v.partial + this.decoder.decode(e.data, { stream: true });
      const parts = text.split(/\r?\n/);
      v.partial = parts.pop()!;
      v.lines.push(...parts);
      this.onLines(v, parts);
    } else if (e.type === 'done') {
      if (v.partial) {
        v.lines.push(v.partial);
        this.onLines(v, [v.partial]);
        v.partial = '';
      }
      v.ended = now;
      v.cached = e.cached;
      this.onEnd(v);
    } else if (e.type === 'error') {
      if (v.partial) {
        v.lines.push(v.partial);
        this.onLines(v, [v.partial]);
        v.partial = '';
      }
      v.ended = now;
      v.error = e.message;
      this.onEnd(v);
    }
  }

  tail(name: string, n: number): string[] {
    const v = [...this.vertices.values()].find((x) => x.name === name);
    return v ? v.lines.slice(-n) : [];
  }

  close(): void {}

  protected abstract onStart(v: Vertex): void;
  protected abstract onStatus(v: Vertex, text: string): void;
  protected abstract onLines(v: Vertex, lines: string[]): void;
  protected abstract onEnd(v: Vertex): void;
  protected abstract onWarning(message: string, line?: number): void;
}

/** `--progress=plain`. */
export class PlainProgress extends Base {
  protected onStart(v: Vertex): void {
    this.write(`${v.id === 1 ? '' : '\n'}#${v.id} ${v.name}\n`);
  }
  protected onStatus(v: Vertex, text: string): void {
    this.write(`#${v.id} ${text}\n`);
  }
  protected onLines(v: Vertex, lines: string[]): void {
    const t = ((Date.now() - v.started) / 1000).toFixed(3);
    for (const l of lines) this.write(`#${v.id} ${t} ${l}\n`);
  }
  protected onEnd(v: Vertex): void {
    if (v.error) this.write(`#${v.id} ERROR: ${v.error}\n`);
    else if (v.cached) this.write(`#${v.id} CACHED\n`);
    else this.write(`#${v.id} DONE ${secs(v.ended! - v.started)}\n`);
  }
  protected onWarning(message: string, line?: number): void {
    this.write(`\n WARN: ${message}${line ? ` (line ${line})` : ''}\n`);
  }
}

/** The terminal display, redrawn in place at most every 100 ms. */
export class TtyProgress extends Base {
  private drawn = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly warnings: string[] = [];

  constructor(
    write: (s: string) => void,
    private readonly columns: () => number,
  ) {
    super(write);
  }

  protected onStart(): void {
    this.schedule();
  }
  protected onStatus(): void {
    this.schedule();
  }
  protected onLines(): void {
    this.schedule();
  }
  protected onEnd(): void {
    this.schedule();
  }
  protected onWarning(message: string, line?: number): void {
    this.warnings.push(` WARN: ${message}${line ? ` (line ${line})` : ''}`);
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.draw(false);
    }, 100);
  }

  override close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.draw(true);
    if (this.warnings.length) this.write(`\n${this.warnings.join('\n')}\n`);
  }

  private draw(final: boolean): void {
    const cols = Math.max(40, this.columns());
    const all = [...this.vertices.values()];
    const done = all.filter((v) => v.ended !== undefined).length;
    const failed = all.some((v) => v.error);
    const elapsed = secs(Date.now() - this.start);
    const out: string[] = [`[+] Building ${elapsed} (${done}/${all.length})${final ? (failed ? ' FINISHED' : ' FINISHED') : ''}`];
    for (const v of all) {
      const time = v.cached ? '' : secs((v.ended ?? Date.now()) - v.started);
      const label = `${v.error ? 'ERROR ' : v.cached ? 'CACHED ' : ''}${v.name}`;
      out.push(fit(` => ${label}`, time, cols));
      if (v.ended === undefined || v.error) {
        for (const s of v.statuses.slice(-1)) out.push(fit(` => => ${s}`, '', cols));
        const lines = [...v.lines, ...(v.partial ? [v.partial] : [])].slice(v.error ? -10 : -6);
        for (const l of lines) out.push(fit(` => => # ${l}`, '', cols));
      }
    }
    let s = this.drawn ? `\x1b[${this.drawn}A` : '';
    for (const l of out) s += `\x1b[2K${l}\n`;
    this.write(s);
    this.drawn = out.length;
  }
}

/** A line cut to the terminal's width, `right` (a time) at its right edge. */
function fit(left: string, right: string, cols: number): string {
  const room = cols - right.length - 1;
  const l = left.length > room ? `${left.slice(0, Math.max(0, room - 3))}...` : left;
  return right ? `${l}${' '.repeat(Math.max(1, cols - l.length - right.length - 1))}${right}` : l;
}
