import * as Comlink from 'comlink';
import { FitAddon } from '@xterm/addon-fit';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import type { BootProgress } from '../vm/guest-vm.js';
import type { PlaygroundApi } from './playground-api.js';

const STAGES: Record<BootProgress['stage'], [string, number]> = {
  artifacts: ['Downloading the guest', 10],
  emulator: ['Starting the emulator', 30],
  kernel: ['Booting Linux', 50],
  agent: ['Waiting for the agent', 70],
  ready: ['Ready', 100],
};

const status = document.querySelector<HTMLElement>('#status')!;
const bar = document.querySelector<HTMLProgressElement>('#progress')!;
const tabBar = document.querySelector<HTMLElement>('#tabs')!;
const newTab = document.querySelector<HTMLButtonElement>('#new-tab')!;
const panes = document.querySelector<HTMLElement>('#terminals')!;

const worker = new Worker(new URL('./engine-worker.ts', import.meta.url), { type: 'module' });
const engine = Comlink.wrap<PlaygroundApi>(worker);

interface Tab {
  term: Terminal;
  fit: FitAddon;
  button: HTMLButtonElement;
  pane: HTMLElement;
}
const tabs: Tab[] = [];
let active: Tab | undefined;

function activate(tab: Tab): void {
  active = tab;
  for (const t of tabs) {
    t.pane.hidden = t !== tab;
    t.button.classList.toggle('active', t === tab);
  }
  tab.fit.fit();
  tab.term.focus();
}

/** A new terminal tab with its own shell in the guest. */
async function openTab(): Promise<void> {
  const term = new Terminal({ cursorBlink: true, fontSize: 14, theme: { background: '#101418' } });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.loadAddon(new WebLinksAddon());
  const pane = document.createElement('div');
  pane.className = 'pane';
  panes.append(pane);
  const button = document.createElement('button');
  button.className = 'tab';
  button.textContent = `shell ${tabs.length + 1}`;
  tabBar.insertBefore(button, newTab);
  const tab: Tab = { term, fit, button, pane };
  tabs.push(tab);
  button.addEventListener('click', () => activate(tab));
  term.open(pane);
  activate(tab);
  // Copy on selection, paste with Ctrl/Cmd+Shift+V or the browser's paste.
  term.onSelectionChange(() => {
    const sel = term.getSelection();
    if (sel) void navigator.clipboard?.writeText(sel).catch(() => {});
  });
  const session = await engine.openShell(
    term.rows,
    term.cols,
    Comlink.proxy({
      onData: (d: Uint8Array) => term.write(d),
      onExit: (code: number) => term.write(`\r\n\x1b[2m[shell exited with code ${code}]\x1b[0m\r\n`),
    }),
  );
  term.onData((d) => void engine.write(session, new TextEncoder().encode(d)));
  term.onResize(({ rows, cols }) => engine.resize(session, rows, cols));
}

window.addEventListener('resize', () => active?.fit.fit());
newTab.addEventListener('click', () => void openTab());

function showNotice(text: string): void {
  const el = document.querySelector<HTMLElement>('#notice')!;
  el.textContent = text;
  el.hidden = false;
}

async function start(): Promise<void> {
  try {
    const { bootMs, restored, notice } = await engine.boot(
      Comlink.proxy((p: BootProgress) => {
        const [label, pct] = STAGES[p.stage];
        status.textContent = `${label}… ${(p.elapsedMs / 1000).toFixed(1)} s`;
        bar.value = pct;
      }),
    );
    status.textContent = `Ready in ${(bootMs / 1000).toFixed(1)} s${restored ? ' (restored from snapshot)' : ''} — try: docker run --rm busybox echo hello`;
    document.body.dataset['state'] = 'ready';
    document.body.dataset['boot'] = restored ? 'restored' : 'cold';
    if (notice) showNotice(notice);
    newTab.disabled = false;
    await openTab();
  } catch (e) {
    document.body.dataset['state'] = 'error';
    status.textContent = `Could not start: ${(e as Error).message}`;
  }
}

void start();
