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
  it('boots the guest in a worker and gives a container shell that runs commands', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 90_000 });
    expect(await page.textContent('#status')).toMatch(/^Ready in/);
    await page.waitForFunction(() => document.querySelector('.xterm-rows')?.textContent?.includes('/ #'), null, { timeout: 30_000 });
    await page.keyboard.type('echo hello-from-berth; echo pid=$$\n');
    await page.waitForFunction(() => /pid=1/.test(document.querySelector('.xterm-rows')?.textContent ?? ''), null, { timeout: 30_000 });
    const text = await page.textContent('.xterm-rows');
    expect(text).toContain('hello-from-berth');
    await page.screenshot({ path: join(SHOTS, 'playground-shell.png') });
    expect(errors).toEqual([]);
  });
});
