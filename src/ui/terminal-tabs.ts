import { h } from './dom.js';
import type { EngineClient } from './engine-client.js';
import { ShellTerminal } from './shell-terminal.js';

export interface Tab {
  shell: ShellTerminal;
  button: HTMLButtonElement;
  pane: HTMLElement;
}

/** The page's terminal tabs: `+` opens a guest shell; panels open tabs for `logs -f` and `exec -it`. */
export class TerminalTabs {
  readonly tabs: Tab[] = [];
  active: Tab | undefined;
  private shells = 0;

  constructor(
    private readonly engine: EngineClient,
    private readonly bar: HTMLElement,
    private readonly newTabButton: HTMLButtonElement,
    private readonly panes: HTMLElement,
  ) {
    window.addEventListener('resize', () => this.active?.shell.fitNow());
    new ResizeObserver(() => this.active?.shell.fitNow()).observe(panes);
  }

  /** The first shell tab (share links type their commands there). */
  get first(): Tab | undefined {
    return this.tabs.find((t) => t.button.dataset['kind'] === 'shell');
  }

  /** Opens a tab; without `command` it is a login shell in the guest. */
  open(opts: { title?: string; command?: string } = {}): Tab {
    const kind = opts.command === undefined ? 'shell' : 'command';
    const title = opts.title ?? `shell ${++this.shells}`;
    const pane = h('div', { class: 'pane' });
    this.panes.append(pane);
    const label = h('span', { class: 'tab-label' }, title);
    const close = h('span', { class: 'tab-close', title: 'Close this tab', attrs: { role: 'button', 'aria-label': `Close ${title}` } }, '×');
    const button = h('button', { class: 'tab', title: opts.command ?? 'A shell in the guest: docker works here', dataset: { kind } }, label, close);
    this.bar.insertBefore(button, this.newTabButton);
    pane.hidden = true;
    // Panes must be visible for xterm to measure its cells.
    for (const t of this.tabs) t.pane.hidden = true;
    pane.hidden = false;
    const shell = new ShellTerminal(this.engine, pane, {
      ...(opts.command !== undefined ? { command: opts.command } : {}),
      trackCommands: kind === 'shell',
      onExit: () => button.classList.add('exited'),
    });
    const tab: Tab = { shell, button, pane };
    this.tabs.push(tab);
    button.addEventListener('click', (e) => {
      if (e.target === close) return void this.close(tab);
      this.activate(tab);
    });
    button.addEventListener('auxclick', (e) => e.button === 1 && this.close(tab));
    this.activate(tab);
    return tab;
  }

  activate(tab: Tab): void {
    this.active = tab;
    for (const t of this.tabs) {
      t.pane.hidden = t !== tab;
      t.button.classList.toggle('active', t === tab);
    }
    tab.shell.fitNow();
    tab.shell.focus();
  }

  close(tab: Tab): void {
    const i = this.tabs.indexOf(tab);
    if (i < 0) return;
    this.tabs.splice(i, 1);
    tab.button.remove();
    tab.pane.remove();
    void tab.shell.dispose();
    if (this.active === tab) {
      const next = this.tabs[Math.min(i, this.tabs.length - 1)];
      this.active = undefined;
      if (next) this.activate(next);
    }
  }
}
