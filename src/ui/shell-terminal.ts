import * as Comlink from 'comlink';
import { FitAddon } from '@xterm/addon-fit';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import type { EngineClient } from './engine-client.js';

/** The guest shell's prompt (PS1 `berth:\w\$ `), at the end of the output. */
const PROMPT = /berth:[^\r\n]*[#$] $/;
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])/g;

export interface ShellTerminalOptions {
  /** A shell command line to run instead of an interactive login shell. */
  command?: string;
  /** Keep the command lines typed here (for share links). */
  trackCommands?: boolean;
  onExit?: (code: number) => void;
}

/**
 * An xterm.js terminal on a session in the guest: a login shell where
 * `docker` works, or one command (`docker logs -f …`, `docker exec -it …`).
 */
export class ShellTerminal {
  readonly term: Terminal;
  readonly fit = new FitAddon();
  /** Resolves with the session id once the guest started the process. */
  readonly session: Promise<number>;
  /** Command lines typed (Enter) in this terminal, oldest first. */
  readonly history: string[] = [];
  exited: number | undefined;
  private tail = '';
  private atPrompt = false;
  private promptWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private line = '';
  private readonly enc = new TextEncoder();

  constructor(
    private readonly engine: EngineClient,
    readonly element: HTMLElement,
    private readonly options: ShellTerminalOptions = {},
  ) {
    this.term = new Terminal({
      cursorBlink: true,
      fontSize: 14,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      theme: { background: '#101418', foreground: '#d8dee4', cursor: '#7cc4ff', selectionBackground: '#2b4a66' },
    });
    this.term.loadAddon(this.fit);
    this.term.loadAddon(new WebLinksAddon());
    this.term.open(element);
    this.fitNow();
    // Copy on selection; paste with Ctrl/Cmd+Shift+V or the browser's paste.
    this.term.onSelectionChange(() => {
      const sel = this.term.getSelection();
      if (sel) void navigator.clipboard?.writeText(sel).catch(() => {});
    });
    this.session = engine.openShell(
      this.term.rows,
      this.term.cols,
      Comlink.proxy({
        onData: (d: Uint8Array) => this.onOutput(d),
        onExit: (code: number) => {
          this.exited = code;
          this.term.write(`\r\n\x1b[2m[${options.command ? 'exited' : 'shell exited'} with code ${code}]\x1b[0m\r\n`);
          this.promptNeverComes();
          options.onExit?.(code);
        },
      }),
      options.command,
    );
    // No shell (the guest stopped, say): the terminal says so and takes no more input.
    this.session.catch((e: unknown) => {
      this.exited ??= 255;
      this.term.write(`\r\n\x1b[31m[no shell: ${e instanceof Error ? e.message : String(e)}]\x1b[0m\r\n`);
      this.promptNeverComes();
      options.onExit?.(255);
    });
    this.term.onData((d) => {
      if (options.trackCommands) this.track(d);
      this.send(d).catch(() => {}); // a gone guest: the page's notice says why
    });
    this.term.onResize(({ rows, cols }) => {
      this.session.then((s) => this.engine.resize(s, rows, cols)).catch(() => {});
    });
  }

  fitNow(): void {
    if (this.element.offsetParent !== null) this.fit.fit();
  }

  focus(): void {
    this.term.focus();
  }

  /** Sends keystrokes to the session. */
  async send(text: string): Promise<void> {
    if (this.exited !== undefined) return;
    const s = await this.session;
    await this.engine.write(s, this.enc.encode(text));
  }

  /**
   * Waits for the shell's prompt, types `command` and Enter, and waits for the
   * prompt again. A command that ends the shell (`exit`) is done when it does;
   * a command after that rejects.
   */
  async runCommand(command: string): Promise<void> {
    await this.waitForPrompt();
    this.history.push(command);
    this.atPrompt = false;
    this.tail = '';
    await this.send(`${command}\r`);
    await this.waitForPrompt().catch((e: unknown) => {
      if (this.exited === undefined) throw e;
    });
  }

  /** Resolves at the shell's prompt; rejects once the session has ended (no prompt will come). */
  waitForPrompt(): Promise<void> {
    if (this.atPrompt) return Promise.resolve();
    if (this.exited !== undefined) return Promise.reject(this.exitedError());
    return new Promise((resolve, reject) => this.promptWaiters.push({ resolve, reject }));
  }

  async dispose(): Promise<void> {
    if (this.exited === undefined) await this.session.then((s) => this.engine.closeShell(s)).catch(() => {});
    this.term.dispose();
  }

  private exitedError(): Error {
    return new Error(`the shell exited with code ${this.exited}`);
  }

  /** The session ended: whoever waits for a prompt would wait forever. */
  private promptNeverComes(): void {
    const waiters = this.promptWaiters;
    this.promptWaiters = [];
    for (const w of waiters) w.reject(this.exitedError());
  }

  private onOutput(d: Uint8Array): void {
    this.term.write(d);
    this.tail = (this.tail + new TextDecoder().decode(d)).slice(-600).replace(ANSI, '');
    this.atPrompt = PROMPT.test(this.tail);
    if (this.atPrompt) {
      const waiters = this.promptWaiters;
      this.promptWaiters = [];
      for (const w of waiters) w.resolve();
    }
  }

  /** Follows what is typed closely enough to remember whole command lines (no cursor editing). */
  private track(data: string): void {
    if (data.startsWith('\x1b')) return; // arrows, function keys
    for (const ch of data) {
      if (ch === '\r' || ch === '\n') {
        const cmd = this.line.trim();
        if (cmd) this.history.push(cmd);
        this.line = '';
      } else if (ch === '\x7f' || ch === '\b') this.line = this.line.slice(0, -1);
      else if (ch === '\x03' || ch === '\x15') this.line = '';
      else if (ch >= ' ') this.line += ch;
    }
    if (this.history.length > 50) this.history.splice(0, this.history.length - 50);
  }
}
