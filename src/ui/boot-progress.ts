import type { BootProgress } from './playground-api.js';

const STAGES: Record<BootProgress['stage'], [string, number]> = {
  artifacts: ['Downloading the guest', 10],
  emulator: ['Starting the emulator', 30],
  kernel: ['Booting Linux', 50],
  agent: ['Waiting for the agent', 70],
  ready: ['Ready', 100],
};

const mb = (n: number) => (n / 1e6).toFixed(1);

/** The status line and the progress bar's value (0–100) for a boot report, `elapsedMs` after boot began. */
export function describeProgress(p: BootProgress, elapsedMs = p.elapsedMs): { text: string; percent: number } {
  const [label, percent] = STAGES[p.stage];
  const d = p.download;
  if (d && d.total > 0) return { text: `${label}… ${mb(d.loaded)} of ${mb(d.total)} MB`, percent: 10 + (20 * d.loaded) / d.total };
  return { text: `${label}… ${(elapsedMs / 1000).toFixed(1)} s`, percent };
}

/**
 * Shows boot progress in `show` as reports arrive, and the elapsed time
 * between them (a stage can take seconds with no report: the kernel's boot).
 * Returns a function that stops the clock.
 */
export function followProgress(subscribe: (listener: (p: BootProgress) => void) => void, show: (text: string, percent: number) => void): () => void {
  let last: { p: BootProgress; at: number } | undefined;
  const render = () => {
    if (!last) return;
    const { text, percent } = describeProgress(last.p, last.p.elapsedMs + performance.now() - last.at);
    show(text, percent);
  };
  subscribe((p) => {
    last = { p, at: performance.now() };
    render();
  });
  const timer = setInterval(render, 200);
  return () => clearInterval(timer);
}
