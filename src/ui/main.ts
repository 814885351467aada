import * as Comlink from 'comlink';
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
const termEl = document.querySelector<HTMLElement>('#terminal')!;

const worker = new Worker(new URL('./engine-worker.ts', import.meta.url), { type: 'module' });
const engine = Comlink.wrap<PlaygroundApi>(worker);

const term = new Terminal({ convertEol: false, cursorBlink: true, fontSize: 14, theme: { background: '#101418' } });
term.open(termEl);
const fit = () => {
  const cell = { w: 9, h: 17 };
  const cols = Math.max(20, Math.floor(termEl.clientWidth / cell.w));
  const rows = Math.max(5, Math.floor(termEl.clientHeight / cell.h));
  term.resize(cols, rows);
};
fit();

async function shell(): Promise<void> {
  const session = await engine.openShell(
    term.rows,
    term.cols,
    Comlink.proxy({
      onData: (d: Uint8Array) => term.write(d),
      onExit: (code: number) => {
        term.write(`\r\n\x1b[2m[container exited with code ${code}; press Enter for a new one]\x1b[0m\r\n`);
        const once = term.onData(() => {
          once.dispose();
          void shell();
        });
      },
    }),
  );
  const input = term.onData((d) => void engine.write(session, new TextEncoder().encode(d)));
  const resize = term.onResize(({ rows, cols }) => engine.resize(session, rows, cols));
  window.addEventListener('resize', fit);
  void Promise.resolve().then(() => () => {
    input.dispose();
    resize.dispose();
  });
}

async function start(): Promise<void> {
  try {
    const { bootMs } = await engine.boot(
      Comlink.proxy((p: BootProgress) => {
        const [label, pct] = STAGES[p.stage];
        status.textContent = `${label}… ${(p.elapsedMs / 1000).toFixed(1)} s`;
        bar.value = pct;
      }),
    );
    status.textContent = `Ready in ${(bootMs / 1000).toFixed(1)} s — a busybox container shell`;
    document.body.dataset['state'] = 'ready';
    term.focus();
    await shell();
  } catch (e) {
    document.body.dataset['state'] = 'error';
    status.textContent = `Could not start: ${(e as Error).message}`;
  }
}

void start();
