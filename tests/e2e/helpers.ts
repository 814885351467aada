import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';

export const ROOT = join(import.meta.dirname, '../..');
export const SHOTS = join(ROOT, 'test-results/screenshots');

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export async function startDevServer(): Promise<{ server: ViteDevServer; url: string }> {
  const server = await createServer({ root: ROOT, configFile: join(ROOT, 'vite.config.ts'), server: { port: 0 }, logLevel: 'error' });
  await server.listen();
  return { server, url: server.resolvedUrls!.local[0]! };
}

export async function launchChromium(): Promise<Browser> {
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

export const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`) });

export async function waitBooted(page: Page): Promise<void> {
  await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 90_000 });
  const state = await page.getAttribute('body', 'data-state');
  if (state !== 'ready') throw new Error(`the page did not boot: ${await page.textContent('#status')}`);
}

/** Text of the visible terminal (the active tab), or of tab `n`. */
export function screen(page: Page, n?: number): Promise<string> {
  return page.evaluate((i) => {
    const rows = i === undefined ? document.querySelector('.pane:not([hidden]) .xterm-rows, #embed-root .xterm-rows') : document.querySelectorAll('.pane .xterm-rows')[i];
    return rows?.textContent ?? '';
  }, n);
}

export async function waitScreen(page: Page, re: RegExp, n?: number, timeout = 60_000): Promise<void> {
  try {
    await page.waitForFunction(
      ([i, src]) => {
        const rows = i === null ? document.querySelector('.pane:not([hidden]) .xterm-rows, #embed-root .xterm-rows') : document.querySelectorAll('.pane .xterm-rows')[i as number];
        return new RegExp(src as string).test(rows?.textContent ?? '');
      },
      [n ?? null, re.source] as const,
      { timeout },
    );
  } catch (e) {
    // Say what the terminal showed instead.
    const text = await screen(page, n).catch(() => '(page gone)');
    throw new Error(`${(e as Error).message}\nwaiting for ${re} on the screen, which shows:\n${text.slice(-600)}`);
  }
}

/** Types a command line into the active terminal (focusing it first) and waits for `until` on its screen. */
export async function typeCommand(page: Page, line: string, until?: RegExp): Promise<void> {
  await page.click('.pane:not([hidden]) .xterm-screen, #embed-root .xterm-screen');
  await page.keyboard.type(`${line}\n`);
  if (until) await waitScreen(page, until);
}

/** Clears the active terminal's screen so later waits do not match old output. */
export async function clearScreen(page: Page): Promise<void> {
  await typeCommand(page, 'clear');
  await page.waitForFunction(() => !/\S/.test((document.querySelector('.pane:not([hidden]) .xterm-rows')?.textContent ?? '').replace(/berth:\S*[#$]/g, '')), null, { timeout: 20_000 });
}

/** Collects uncaught page errors, to assert none happened. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}
