/**
 * Published ports in the page: a container's web server, reached through the
 * service worker, in the Ports panel, the preview pane, a new tab and a plain
 * fetch; a port that nothing publishes gets the 502 page that says so. The
 * same on later visits, whose guest is restored from the first visit's
 * snapshot.
 */
import type { Browser, BrowserContext, Frame, Page } from 'playwright-core';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectErrors, launchChromium, shot, startDevServer, typeCommand, waitBooted, waitScreen } from './helpers.js';

let server: ViteDevServer;
let url: string;
let browser: Browser;
/** One browser profile for the file: the first visit boots cold and saves the snapshot later visits restore. */
let context: BrowserContext;

beforeAll(async () => {
  [{ server, url }, browser] = await Promise.all([startDevServer(), launchChromium()]);
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await server?.close();
});

const HELLO = 'hello-from-httpd';

/** The preview frame's text once it shows `re`; reloads while the server is still starting (a 502 page). */
async function waitPreview(page: Page, re: RegExp, timeout = 60_000): Promise<string> {
  const until = Date.now() + timeout;
  let text = '';
  while (Date.now() < until) {
    const state = await page.evaluate(() => {
      const doc = document.querySelector<HTMLIFrameElement>('#preview-frame')?.contentDocument;
      return { text: doc?.body?.textContent ?? '', error: doc?.querySelector('[data-berth-error]')?.getAttribute('data-berth-error') ?? '', ready: doc?.readyState };
    });
    text = state.text;
    if (re.test(text)) return text;
    // The port is listed as soon as the container runs; httpd may listen a moment later.
    if (state.error === 'refused' && state.ready === 'complete') await page.click('#preview-reload');
    await page.waitForTimeout(500);
  }
  throw new Error(`the preview never showed ${re}; it shows: ${text.slice(0, 300)}`);
}

function portFrame(page: Page, hostPort: number): Frame {
  const frame = page.frames().find((f) => f.url().includes(`/__berth/port/${hostPort}/`));
  if (!frame) throw new Error(`no frame shows port ${hostPort}`);
  return frame;
}

describe('published ports', () => {
  it('docker run -p 8080:80 busybox httpd: listed in Ports, previewed, opened in a tab, fetched; an unpublished port is a 502 that says why', async () => {
    const page = await context.newPage();
    const errors = collectErrors(page);
    await page.goto(url);
    await waitBooted(page);
    await waitScreen(page, /berth:~# /);

    await typeCommand(
      page,
      `docker run -d --name web -p 8080:80 busybox sh -c 'mkdir -p /www/sub && echo ${HELLO} > /www/index.html && echo in-sub > /www/sub/index.html && httpd -f -p 80 -h /www'`,
    );
    const row = '#port-list li[data-port="8080"]';
    await page.waitForSelector(row, { timeout: 60_000 });
    expect(await page.textContent(`${row} .name`)).toBe('8080 → 80/tcp');
    expect(await page.textContent(`${row} .meta`)).toBe('web');
    expect(await page.textContent('#ports-count')).toBe('1');
    await page.waitForFunction(() => [...document.querySelectorAll('#toasts .toast')].some((t) => /web publishes port 8080/.test(t.textContent ?? '')), null, { timeout: 10_000 });

    // The preview pane: the server's page in an iframe, its path in the address bar.
    await page.click(`${row} button[data-action="preview"]`);
    await page.waitForSelector('#preview:not([hidden])');
    expect(await waitPreview(page, new RegExp(HELLO))).toContain(HELLO);
    expect(await page.textContent('#preview-title')).toBe('localhost:8080');
    expect(await page.inputValue('#preview-address')).toBe('/');
    await shot(page, 'ports-preview');

    // A page served from the port that asks for an absolute path gets its own server's file.
    const fromFrame = await portFrame(page, 8080).evaluate(async () => {
      const r = await fetch('/index.html');
      return { status: r.status, text: await r.text() };
    });
    expect(fromFrame).toEqual({ status: 200, text: `${HELLO}\n` });
    // Its links to absolute paths stay under the port's prefix (the service worker redirects the navigation).
    await portFrame(page, 8080).evaluate(() => (location.href = '/sub/'));
    await page.waitForFunction(() => /\/__berth\/port\/8080\/sub\/$/.test(document.querySelector<HTMLIFrameElement>('#preview-frame')?.contentWindow?.location.href ?? ''), null, { timeout: 30_000 });
    await waitPreview(page, /in-sub/);
    expect(await page.inputValue('#preview-address')).toBe('/sub/');

    // The address bar goes to a path on the server: httpd's own 404 comes through as it is.
    await page.fill('#preview-address', '/missing.html');
    await page.press('#preview-address', 'Enter');
    await page.waitForFunction(() => /404/.test(document.querySelector<HTMLIFrameElement>('#preview-frame')?.contentDocument?.body?.textContent ?? ''), null, { timeout: 30_000 });
    await page.fill('#preview-address', '/');
    await page.press('#preview-address', 'Enter');
    await waitPreview(page, new RegExp(HELLO));

    // From the page itself, with fetch().
    const fetched = await page.evaluate(async () => {
      const ok = await fetch('/__berth/port/8080/index.html');
      const missing = await fetch('/__berth/port/8080/nope.txt');
      const unpublished = await fetch('/__berth/port/9999/');
      // httpd redirects a folder without its slash to `Location: /sub/`: rewritten under the prefix, and followed.
      const folder = await fetch('/__berth/port/8080/sub');
      return {
        ok: { status: ok.status, text: await ok.text(), type: ok.headers.get('content-type') },
        missing: missing.status,
        folder: { status: folder.status, redirected: folder.redirected, url: new URL(folder.url).pathname, text: await folder.text() },
        unpublished: { status: unpublished.status, kind: unpublished.headers.get('x-berth-error'), text: await unpublished.text() },
      };
    });
    expect(fetched.ok).toEqual({ status: 200, text: `${HELLO}\n`, type: expect.stringMatching(/^text\/html/) });
    expect(fetched.missing).toBe(404);
    expect(fetched.folder).toEqual({ status: 200, redirected: true, url: '/__berth/port/8080/sub/', text: 'in-sub\n' });
    expect(fetched.unpublished.status).toBe(502);
    expect(fetched.unpublished.kind).toBe('not-published');
    expect(fetched.unpublished.text).toContain('no running container publishes port 9999 (published: 8080)');
    expect(fetched.unpublished.text).toContain('docker run -d -p 9999:80');

    // A new tab from the Ports panel.
    const [tab] = await Promise.all([context.waitForEvent('page'), page.click(`${row} a[data-action="open"]`)]);
    await tab.waitForURL(/\/__berth\/port\/8080\/$/);
    await tab.waitForFunction((hello) => document.body?.textContent?.includes(hello), HELLO, { timeout: 30_000 });
    await tab.close();

    // Published, but nothing listens behind it.
    await typeCommand(page, 'docker run -d --name idle -p 8081:80 busybox sleep 600');
    await page.waitForSelector('#port-list li[data-port="8081"]', { timeout: 60_000 });
    const idle = await page.evaluate(async () => {
      const r = await fetch('/__berth/port/8081/');
      return { status: r.status, kind: r.headers.get('x-berth-error'), text: await r.text() };
    });
    expect(idle.status).toBe(502);
    expect(idle.kind).toBe('refused');
    expect(idle.text).toMatch(/nothing (may )?listens? on port 80 in container idle/);
    expect(idle.text).toContain('listens on all addresses (0.0.0.0)');
    // Wait for the prompt: the guest's docker client reads the terminal while it runs, so keys typed meanwhile are lost.
    await typeCommand(page, 'docker rm -f idle', /docker rm -f idle\s*idle\s*berth:~# \s*$/);

    // The 502 page, as a person sees it.
    const lost = await context.newPage();
    await lost.goto(`${url}__berth/port/9999/`);
    expect(await lost.textContent('h1')).toBe('Berth could not reach port 9999');
    expect(await lost.textContent('.what')).toContain('no running container publishes port 9999');
    await shot(lost, 'ports-unpublished-502');
    await lost.close();

    await page.click('#preview-close');
    expect(await page.isHidden('#preview')).toBe(true);
    await typeCommand(page, 'docker rm -f web');
    await page.waitForSelector(row, { state: 'detached', timeout: 30_000 });
    expect(errors).toEqual([]);
    // Stays open until its snapshot is stored, for the next test's visits.
    await page.waitForSelector('body[data-snapshot="saved"]', { timeout: 60_000 });
    await page.close();
  });

  it('answers on every later visit, each restored from the snapshot', async () => {
    const page = await context.newPage();
    const errors = collectErrors(page);
    await page.goto(url);
    for (const port of [8082, 8083]) {
      if (port !== 8082) await page.reload();
      await waitBooted(page);
      expect(await page.getAttribute('body', 'data-boot')).toBe('restored');
      await waitScreen(page, /berth:~# /);
      await typeCommand(page, `docker run -d -p ${port}:80 busybox sh -c 'mkdir -p /www && echo hello-${port} > /www/index.html && httpd -f -p 80 -h /www'`);
      await page.waitForSelector(`#port-list li[data-port="${port}"]`, { timeout: 60_000 });
      // httpd may listen a moment after the port is listed: ask until it answers, as a person reloading would.
      const answer = await page.evaluate(async (p) => {
        let last = '';
        for (let i = 0; i < 60; i++) {
          const r = await fetch(`/__berth/port/${p}/`);
          last = `${r.status} ${await r.text()}`;
          if (r.status === 200 || r.headers.get('x-berth-error') !== 'refused') break;
          await new Promise((t) => setTimeout(t, 500));
        }
        return last;
      }, port);
      expect(answer).toBe(`200 hello-${port}\n`);
    }
    expect(errors).toEqual([]);
    await page.close();
  });
});
