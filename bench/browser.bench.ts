import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { preview } from 'vite';
import { summarize, type Summary } from './stats.js';

export interface BrowserBench {
  coldBootMs: Summary;
  /** A later visit: the first tab closed, the page opened in a new one. */
  restoreMs: Summary;
  /** A reload of a page whose guest runs (its emulator is torn down while the new one starts). */
  reloadMs: Summary;
  /** `docker run --rm busybox true` through the page's engine (the embed API): the first ones on a guest, and warm. */
  runFirstMs: Summary;
  runWarmMs: Summary;
  /** `sh -c true` in the guest through the page's engine, warm. */
  execWarmMs: Summary;
}

/**
 * In Chromium, on the built page (`vite build`, served by `vite preview` on
 * loopback): from navigation start to the page's "ready" (guest booted, agent
 * answering), as the page measures it (performance.now() at ready), in a fresh
 * browser context (cold: nothing cached, artifacts downloaded, a snapshot
 * saved); then, once the snapshot is stored and the service worker installed,
 * as a later visit (that tab closed, the page opened in a new tab a second later: restore
 * from the service worker's cache and IndexedDB) and as a reload of that
 * running page. Loading the page, its worker and the emulator are included.
 * Then, on one `?embed` page, `docker run --rm busybox true` and an exec,
 * timed by the page around its embed API calls.
 */
export async function benchBrowser(n = 5): Promise<BrowserBench> {
  const root = join(import.meta.dirname, '..');
  const outDir = await mkdtemp(join(tmpdir(), 'berth-bench-dist-'));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_ENV'));
  await promisify(execFile)(join(root, 'node_modules/.bin/vite'), ['build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'error'], { cwd: root, env });
  const server = await preview({ root, configFile: join(root, 'vite.config.ts'), logLevel: 'error', build: { outDir }, preview: { port: 0, strictPort: false } });
  const url = server.resolvedUrls!.local[0]!;
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const cold: number[] = [];
  const restore: number[] = [];
  const reload: number[] = [];
  let latency: Awaited<ReturnType<typeof commandLatency>>;
  try {
    const ready = async (page: import('playwright-core').Page, how: 'goto' | 'reload' = 'goto') => {
      if (how === 'goto') await page.goto(url);
      else await page.reload();
      await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 120_000 });
      if ((await page.getAttribute('body', 'data-state')) !== 'ready') throw new Error(await page.textContent('#status') ?? 'page failed');
      return { ms: Number(await page.getAttribute('body', 'data-ready-ms')), boot: await page.getAttribute('body', 'data-boot') };
    };
    for (let i = 0; i < n; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      const first = await ready(page); // fresh context: no IndexedDB, a cold boot that saves a snapshot
      if (first.boot !== 'cold') throw new Error(`expected a cold boot, got ${first.boot}`);
      cold.push(first.ms);
      // A later visit: the snapshot is stored and the service worker has cached the page and guest.
      await page.waitForSelector('body[data-snapshot]', { timeout: 60_000 });
      await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
      await page.close();
      await new Promise((r) => setTimeout(r, 1000)); // later: the closed tab's emulator is gone
      const later = await context.newPage();
      const second = await ready(later);
      if (second.boot !== 'restored') throw new Error(`expected a restore, got ${second.boot}`);
      restore.push(second.ms);
      const third = await ready(later, 'reload');
      if (third.boot !== 'restored') throw new Error(`expected a restore on reload, got ${third.boot}`);
      reload.push(third.ms);
      await context.close();
    }
    latency = await commandLatency(browser, url, n);
  } finally {
    await browser.close();
    await server.close();
    await rm(outDir, { recursive: true, force: true });
  }
  return { coldBootMs: summarize(cold), restoreMs: summarize(restore), reloadMs: summarize(reload), ...latency };
}

/** Run and exec latency in the page: n first runs on a fresh guest, then n after 10 more (warm), then n execs. */
async function commandLatency(browser: import('playwright-core').Browser, url: string, n: number) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${url}?embed`);
    await page.waitForFunction('window.berth && window.berth.info', undefined, { timeout: 120_000 });
    // A string, not a function: tsx would add helpers the page does not have.
    const times = (await page.evaluate(`(async () => {
      const b = window.berth;
      const time = async (f) => { const s = performance.now(); const r = await f(); if (r.code !== 0) throw new Error(r.stderr || 'exit ' + r.code); return performance.now() - s; };
      const run = () => time(() => b.run(['run', '--rm', 'busybox', 'true']));
      const first = [], warm = [], exec = [];
      for (let i = 0; i < ${n}; i++) first.push(await run());
      for (let i = 0; i < 10; i++) await run();
      for (let i = 0; i < ${n}; i++) warm.push(await run());
      for (let i = 0; i < ${n}; i++) exec.push(await time(() => b.exec('true')));
      return { first, warm, exec };
    })()`)) as { first: number[]; warm: number[]; exec: number[] };
    return { runFirstMs: summarize(times.first), runWarmMs: summarize(times.warm), execWarmMs: summarize(times.exec) };
  } finally {
    await context.close();
  }
}
