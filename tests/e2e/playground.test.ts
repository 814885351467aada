import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const SHOTS = join(ROOT, 'test-results/screenshots');

let server: ViteDevServer;
let browser: Browser;
let url: string;

beforeAll(async () => {
  server = await createServer({ root: ROOT, configFile: join(ROOT, 'vite.config.ts'), server: { port: 0 }, logLevel: 'error' });
  await server.listen();
  url = server.resolvedUrls!.local[0]!;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  mkdirSync(SHOTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('the playground page in Chromium', () => {
  it('boots the guest in a worker; docker works in its terminal; a second tab is its own shell', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // A slow line (4 MB/s): the first visit shows how much of the guest has arrived.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: 4e6, uploadThroughput: 4e6 });
    await page.goto(url);
    await page.waitForFunction(
      () => {
        const m = /Downloading the guest… (\d+\.\d) of (\d+\.\d) MB/.exec(document.querySelector('#status')?.textContent ?? '');
        return !!m && Number(m[1]) >= 1 && Number(m[1]) < Number(m[2]);
      },
      undefined,
      { timeout: 60_000 },
    );
    await page.screenshot({ path: join(SHOTS, 'playground-downloading.png') });
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 90_000 });
    expect(await page.textContent('#status')).toMatch(/^Ready in/);
    const screen = (n: number) => page.evaluate((i) => document.querySelectorAll('.xterm-rows')[i]?.textContent ?? '', n);
    const waitScreen = (n: number, re: RegExp) =>
      page.waitForFunction(([i, src]) => new RegExp(src as string).test(document.querySelectorAll('.xterm-rows')[i as number]?.textContent ?? ''), [n, re.source], { timeout: 60_000 });
    await waitScreen(0, /berth:~# /);
    await page.keyboard.type('docker run --rm busybox echo hello-from-berth\n');
    await waitScreen(0, /hello-from-berth[\s\S]*berth:~# /);
    expect(await screen(0)).toContain('hello-from-berth');
    await page.screenshot({ path: join(SHOTS, 'playground-docker-run.png') });

    await page.click('#new-tab');
    await waitScreen(1, /berth:~# /);
    await page.keyboard.type('docker ps -a --format "{{.Image}}" | wc -l; echo tab2-$$\n');
    await waitScreen(1, /tab2-\d+/);
    expect(await screen(1)).not.toContain('hello-from-berth');
    await page.screenshot({ path: join(SHOTS, 'playground-second-tab.png') });

    // The first visit saved a snapshot, compressed (zstd after the header line); a reload restores it.
    await page.waitForSelector('body[data-snapshot="saved"]', { timeout: 60_000 });
    const stored = await page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((res, rej) => {
        const r = indexedDB.open('berth-snapshots');
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      const values = await new Promise<Uint8Array[]>((res) => {
        const r = db.transaction('snapshots').objectStore('snapshots').getAll();
        r.onsuccess = () => res(r.result as Uint8Array[]);
      });
      db.close();
      return values.map((v) => ({ size: v.length, magic: [...v.subarray(v.indexOf(10) + 1, v.indexOf(10) + 5)] }));
    });
    expect(stored).toHaveLength(1);
    expect(stored[0]!.magic).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
    expect(stored[0]!.size).toBeLessThan(10_000_000);
    await page.reload();
    await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 90_000 });
    expect(await page.getAttribute('body', 'data-boot')).toBe('restored');
    expect(await page.textContent('#status')).toMatch(/restored from snapshot/);
    await waitScreen(0, /berth:~# /);
    await page.keyboard.type('docker run --rm busybox echo after-restore\n');
    await waitScreen(0, /after-restore[\s\S]*berth:~# /);
    await page.screenshot({ path: join(SHOTS, 'playground-restored.png') });

    // A Dockerfile written in the terminal, built with BuildKit's terminal view, run.
    await page.keyboard.type(`clear; mkdir -p app && cd app && printf 'FROM busybox\\nRUN echo built-in-the-page > /b\\nCMD ["cat", "/b"]\\n' > Dockerfile && docker build -t page:1 . && docker run --rm page:1\n`);
    await waitScreen(0, /FINISHED[\s\S]*built-in-the-page[\s\S]*berth:~\/app# /);
    expect(await screen(0)).toMatch(/=> \[2\/2\] RUN echo built-in-the-page > \/b/);
    await page.screenshot({ path: join(SHOTS, 'playground-build.png') });

    // A corrupt snapshot: a message and a cold boot, not a blank page.
    await page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((res, rej) => {
        const r = indexedDB.open('berth-snapshots');
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      const tx = db.transaction('snapshots', 'readwrite');
      const store = tx.objectStore('snapshots');
      const keys = await new Promise<IDBValidKey[]>((res) => {
        const r = store.getAllKeys();
        r.onsuccess = () => res(r.result);
      });
      for (const k of keys) store.put(new Uint8Array([1, 2, 3, 4]), k);
      await new Promise((res) => (tx.oncomplete = res));
    });
    await page.reload();
    await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 90_000 });
    expect(await page.getAttribute('body', 'data-boot')).toBe('cold');
    expect(await page.textContent('#notice')).toMatch(/snapshot could not be used \(corrupt/);
    await waitScreen(0, /berth:~# /);
    await page.screenshot({ path: join(SHOTS, 'playground-corrupt-snapshot.png') });

    // A restored guest whose system image cannot be read stops, and the page says why.
    await page.waitForSelector('body[data-snapshot="saved"]', { timeout: 60_000 });
    await page.context().route('**/guest/system.img*', (r) => r.abort());
    try {
      await page.reload();
      await page.waitForSelector('body[data-state="stopped"], body[data-state="error"]', { timeout: 90_000 });
      expect(await page.getAttribute('body', 'data-boot')).toBe('restored');
      expect(await page.textContent('#notice')).toMatch(/system image \(system\.img\) could not be read[\s\S]*Reload the page/);
      expect(await page.textContent('#status')).toMatch(/guest stopped/);
      await page.screenshot({ path: join(SHOTS, 'playground-guest-stopped.png') });
    } finally {
      await page.context().unroute('**/guest/system.img*');
    }
    expect(errors).toEqual([]);
  });
});
