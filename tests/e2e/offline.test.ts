/**
 * The built app (vite build + vite preview) keeps working offline after a
 * first visit: its service worker stored the page, its scripts, the wasm and
 * the guest artifacts.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectErrors, launchChromium, ROOT, shot, typeCommand, waitBooted, waitScreen } from './helpers.js';

let outDir: string;
let server: PreviewServer | undefined;
let browser: Browser;

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'berth-dist-'));
  // `vite build` as a person runs it (inside vitest NODE_ENV is "test", which would not be a production build).
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_ENV' && !k.startsWith('VITEST')));
  await promisify(execFile)(join(ROOT, 'node_modules/.bin/vite'), ['build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'error'], { cwd: ROOT, env });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

describe('offline', () => {
  it('after one visit the built page boots and runs containers with its server gone', async () => {
    server = await preview({ root: ROOT, configFile: join(ROOT, 'vite.config.ts'), logLevel: 'error', build: { outDir }, preview: { port: 0, strictPort: false } });
    const url = server.resolvedUrls!.local[0]!;
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const errors = collectErrors(page);
    await page.goto(url);
    await waitBooted(page);
    // Installed (everything stored) and in control of the page.
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
      if (!navigator.serviceWorker.controller) await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
    });
    const cached = await page.evaluate(async () => (await (await caches.open('berth-offline-v1')).keys()).map((r) => new URL(r.url).pathname));
    expect(cached).toEqual(expect.arrayContaining(['/', '/guest/manifest.json', '/guest/bzImage', '/guest/initramfs.img', '/guest/bios.bin']));
    expect(cached.some((p) => /^\/assets\/engine-worker-.*\.js$/.test(p))).toBe(true);
    expect(cached.some((p) => /^\/assets\/.*\.wasm$/.test(p))).toBe(true);

    await server.close();
    server = undefined;
    await page.reload();
    await waitBooted(page);
    await waitScreen(page, /berth:~# /);
    await typeCommand(page, 'docker run --rm busybox echo offline-ok', /offline-ok[\s\S]*berth:~# /);
    // The same works in a fresh tab of the same browser (a new visit, not a reload).
    const again = await context.newPage();
    await again.goto(`${url}?embed`);
    await waitBooted(again);
    expect(await again.evaluate(() => window.berth!.exec('echo embedded-offline'))).toMatchObject({ code: 0, stdout: 'embedded-offline\n' });
    await shot(page, 'offline-reload');
    expect(errors).toEqual([]);
    await context.close();
  });
});
