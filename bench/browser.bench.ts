import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { createServer } from 'vite';
import { summarize, type Summary } from './stats.js';

export interface BrowserBench {
  coldBootMs: Summary;
  restoreMs: Summary;
}

/**
 * In Chromium: from navigation to the page's "ready" (guest booted, agent
 * answering), with IndexedDB cleared (cold) and with the snapshot saved by
 * the previous visit (restore). Includes loading the page and its worker.
 */
export async function benchBrowser(n = 5): Promise<BrowserBench> {
  const root = join(import.meta.dirname, '..');
  const server = await createServer({ root, configFile: join(root, 'vite.config.ts'), server: { port: 0 }, logLevel: 'error' });
  await server.listen();
  const url = server.resolvedUrls!.local[0]!;
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const cold: number[] = [];
  const restore: number[] = [];
  try {
    const ready = async (page: import('playwright-core').Page) => {
      const t0 = Date.now();
      await page.goto(url);
      await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 120_000 });
      if ((await page.getAttribute('body', 'data-state')) !== 'ready') throw new Error(await page.textContent('#status') ?? 'page failed');
      return { ms: Date.now() - t0, boot: await page.getAttribute('body', 'data-boot') };
    };
    // Warm Vite's transform cache so the first measured visit is not a compile.
    const warm = await browser.newPage();
    await ready(warm);
    await warm.close();
    for (let i = 0; i < n; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      const first = await ready(page); // fresh context: no IndexedDB, a cold boot that saves a snapshot
      if (first.boot !== 'cold') throw new Error(`expected a cold boot, got ${first.boot}`);
      cold.push(first.ms);
      // The snapshot is compressed and stored after ready; reload once it is.
      await page.waitForSelector('body[data-snapshot]', { timeout: 60_000 });
      const second = await ready(page);
      if (second.boot !== 'restored') throw new Error(`expected a restore, got ${second.boot}`);
      restore.push(second.ms);
      await context.close();
    }
  } finally {
    await browser.close();
    await server.close();
  }
  return { coldBootMs: summarize(cold), restoreMs: summarize(restore) };
}
