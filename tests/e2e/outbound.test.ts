/**
 * Containers' outbound HTTP in the page: through v86's fetch adapter, so the
 * browser's rules apply. A server that sends CORS headers answers; one that
 * does not gives the container a 502 that says why and what to do.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, shot, startDevServer, typeCommand, waitBooted, waitScreen } from './helpers.js';

let server: ViteDevServer;
let url: string;
let browser: Browser;
const servers: Server[] = [];

async function serve(cors: boolean, text: string): Promise<number> {
  const s = createServer((_req, res) => {
    if (cors) res.setHeader('access-control-allow-origin', '*');
    res.end(`${text}\n`);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  servers.push(s);
  return (s.address() as AddressInfo).port;
}

beforeAll(async () => {
  [{ server, url }, browser] = await Promise.all([startDevServer(), launchChromium()]);
});
afterAll(async () => {
  for (const s of servers) s.close();
  await browser?.close();
  await server?.close();
});

describe('outbound HTTP from containers in the page', () => {
  it('reaches a server that allows the page, and explains one the browser blocks', async () => {
    const open = await serve(true, 'cors-allowed-answer');
    const closed = await serve(false, 'never-readable');
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await page.goto(url);
    await waitBooted(page);
    await waitScreen(page, /berth:~# /);
    // N.external is v86's name for the page's own machine, port N.
    await typeCommand(page, `docker run --rm busybox wget -qO- http://${open}.external/`);
    // And for the prompt: the guest's docker client reads the terminal while it runs, so keys typed meanwhile are lost.
    await waitScreen(page, /cors-allowed-answer\s*berth:~# \s*$/);
    await typeCommand(page, `docker run --rm busybox sh -c "printf 'GET / HTTP/1.0\\r\\nHost: ${closed}.external\\r\\n\\r\\n' | nc -w 5 example.com 80"`);
    await waitScreen(page, /HTTP\/1\.1 502/);
    await waitScreen(page, /CORS headers/);
    await shot(page, 'outbound-cors');
    const text = await page.evaluate(() => document.querySelector('.xterm-rows')?.textContent ?? '');
    expect(text).not.toMatch(/never-readable/);
  });
});
