/**
 * The playground's panels, files, share links and embed mode in a real
 * Chromium against the real guest and a real registry on loopback.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compressToEncodedURIComponent } from 'lz-string';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeScenario } from '../../src/ui/scenario.js';
import { busyboxBaseEntries, fileEntry, makeLayoutDir, removeLayout, writeLayout } from '../fixtures/oci-layouts.js';
import { startRegistry, type TestRegistry } from '../fixtures/registry.js';
import { clearScreen, collectErrors, launchChromium, screen, shot, startDevServer, typeCommand, waitBooted, waitScreen } from './helpers.js';

let server: ViteDevServer;
let url: string;
let browser: Browser;
/** One context for the file: the first visit's VM snapshot makes the later ones quick. */
let context: BrowserContext;
let registry: TestRegistry;
let layoutDir: string;
let lessonDir: string;
let lessonDigest: string;

const HELLO = 'hello from the registry';

beforeAll(async () => {
  [{ server, url }, browser, registry] = await Promise.all([startDevServer(), launchChromium(), startRegistry()]);
  context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  layoutDir = await makeLayoutDir();
  await writeLayout(layoutDir, { layers: [await busyboxBaseEntries(), [fileEntry('hello.txt', `${HELLO}\n`)]], refName: 'v1' });
  await registry.push(layoutDir, 'berth/hello:v1');
  // A share link's image, pinned by digest.
  lessonDir = await makeLayoutDir();
  const lesson = await writeLayout(lessonDir, { layers: [await busyboxBaseEntries(), [fileEntry('lesson.txt', 'lesson image\n')]], refName: 'v1' });
  lessonDigest = lesson.descriptor.digest;
  await registry.push(lessonDir, 'berth/lesson:v1');
  // Pulled as `mirrored:v1` through ?registry=docker.io=… (a stand-in for a Docker Hub mirror).
  await registry.push(layoutDir, 'library/mirrored:v1');
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await server?.close();
  await registry?.stop();
  if (layoutDir) await removeLayout(layoutDir);
  if (lessonDir) await removeLayout(lessonDir);
});

async function open(query = '', hash = ''): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors = collectErrors(page);
  await page.goto(`${url}${query}${hash}`);
  return { page, errors };
}

const toastText = (page: Page, re: RegExp) =>
  page.waitForFunction((src) => [...document.querySelectorAll('#toasts .toast')].some((t) => new RegExp(src).test(t.textContent ?? '')), re.source, { timeout: 30_000 });

describe('panels', () => {
  it('pull through the Images panel (mirror from ?registry=) with layer progress; a failed pull shows the engine’s message', async () => {
    const { page, errors } = await open(`?registry=docker.io=${registry.url}`);
    await waitBooted(page);
    await waitScreen(page, /berth:~# /);
    expect(await page.textContent('#mirror-hint')).toContain(`docker.io → ${registry.url}`);

    await page.fill('#pull-ref', 'mirrored:v1');
    await page.click('#pull-button');
    await page.waitForSelector('#image-list li .name:text-is("mirrored:v1")', { timeout: 60_000 });
    // The finished job stays a moment with its bars full.
    const layers = await page.$$eval('.pull-job.done .layer', (els) => els.map((e) => e.textContent));
    expect(layers.length).toBe(2);
    await toastText(page, /Pulled mirrored:v1/);
    await shot(page, 'panels-pull-done');

    await page.fill('#pull-ref', `${registry.host}/berth/nothing-here:v1`);
    await page.click('#pull-button');
    await page.waitForSelector('.pull-job.failed .pull-error', { timeout: 60_000 });
    const message = await page.textContent('.pull-job.failed .pull-error');
    expect(message).toMatch(/nothing-here/);
    expect(message).toMatch(/not found|unknown|denied/i);
    await shot(page, 'panels-pull-failed');

    // The mirror can be changed in the settings dialog; a bad entry is named.
    await page.click('#settings-button');
    await page.fill('#mirrors-input', 'docker.io=ftp://nope');
    await page.click('#settings-form button[type="submit"]');
    expect(await page.textContent('#mirrors-message')).toMatch(/http or https/);
    await page.fill('#mirrors-input', `docker.io=${registry.url}\nghcr.io=${registry.url}`);
    await shot(page, 'settings-dialog');
    await page.click('#settings-form button[type="submit"]');
    await page.waitForSelector('#settings-dialog:not([open])', { state: 'attached' });
    expect(await page.textContent('#mirror-hint')).toContain(`ghcr.io → ${registry.url}`);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('Containers panel: a running container, exec and logs tabs, stop, rm', async () => {
    const { page, errors } = await open();
    await waitBooted(page);
    await waitScreen(page, /berth:~# /);
    await typeCommand(page, `docker run -d --name ticker ${registry.host}/berth/hello:v1 sh -c 'trap "exit 0" TERM; while true; do echo tick; sleep 1; done'`);
    const row = '#container-list li:has(.name:text-is("ticker"))';
    await page.waitForSelector(`${row}[data-state="running"]`, { timeout: 60_000 });
    expect(await page.textContent(`${row} .meta`)).toMatch(/Up /);
    // The same image as mirrored:v1 (one ID), now with a second tag.
    await page.waitForSelector(`#image-list li[title*="${registry.host}/berth/hello:v1"]`);
    await shot(page, 'panels-running-container');

    await page.click(`${row} button[data-action="exec"]`);
    await page.waitForSelector('.tab.active:has-text("exec ticker")');
    await waitScreen(page, /# \s*$/);
    await typeCommand(page, 'cat /hello.txt; hostname', new RegExp(`${HELLO}\\s*\\w{12}`));
    await shot(page, 'panels-exec-tab');

    await page.click(`${row} button[data-action="logs"]`);
    await page.waitForSelector('.tab.active:has-text("logs ticker")');
    await waitScreen(page, /tick\s*tick/);

    await page.click(`${row} button[data-action="stop"]`);
    await page.waitForSelector(`${row}[data-state="exited"]`, { timeout: 30_000 });
    expect(await page.textContent(`${row} .meta`)).toMatch(/Exited \(0\)/);
    // The logs tab's `docker logs -f` ends with the container.
    await page.waitForSelector('.tab.active.exited:has-text("logs ticker")', { timeout: 15_000 });
    await page.click(`${row} button[data-action="rm"]`);
    await page.waitForSelector(row, { state: 'detached', timeout: 30_000 });
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('files', () => {
  it('a dropped file lands in /root and a container reads it; chosen files go into a selected container; download', async () => {
    const { page, errors } = await open();
    await waitBooted(page);
    await waitScreen(page, /berth:~# /);

    const dt = await page.evaluateHandle(() => {
      const d = new DataTransfer();
      d.items.add(new File(['dropped into the guest\n'], 'dropped.txt', { type: 'text/plain' }));
      return d;
    });
    await page.dispatchEvent('#terminals', 'drop', { dataTransfer: dt });
    await toastText(page, /Copied 1 file to \/root/);
    await shot(page, 'files-dropped');
    await typeCommand(page, 'docker run --rm -v /root:/host busybox cat /host/dropped.txt', /dropped into the guest[\s\S]*berth:~# /);

    await typeCommand(page, 'docker run -d --name box busybox sleep 600');
    const row = '#container-list li:has(.name:text-is("box"))';
    await page.waitForSelector(`${row}[data-state="running"]`, { timeout: 60_000 });
    await page.click(`${row} .main`);
    await page.waitForSelector(`${row}.selected`);
    expect(await page.textContent('#files-target')).toBe('container box');
    expect(await page.inputValue('#upload-dest')).toBe('/');
    await page.setInputFiles('#file-input', [
      { name: 'one.txt', mimeType: 'text/plain', buffer: Buffer.from('first file\n') },
      { name: 'two.txt', mimeType: 'text/plain', buffer: Buffer.from('second file\n') },
    ]);
    await toastText(page, /Copied 2 files to box:\/ \(container box\)/);
    await typeCommand(page, 'docker exec box cat /one.txt /two.txt', /first file\s*second file[\s\S]*berth:~# /);
    await shot(page, 'files-into-container');

    const [download] = await Promise.all([page.waitForEvent('download'), (async () => {
      await page.fill('#download-path', '/two.txt');
      await page.click('#download-button');
    })()]);
    expect(download.suggestedFilename()).toBe('two.txt');
    expect(await readFile((await download.path())!, 'utf8')).toBe('second file\n');

    const [tar] = await Promise.all([page.waitForEvent('download'), (async () => {
      await page.fill('#download-path', '/etc');
      await page.click('#download-button');
    })()]);
    expect(tar.suggestedFilename()).toBe('etc.tar');
    const bytes = await readFile((await tar.path())!);
    expect(bytes.subarray(257, 262).toString()).toBe('ustar');
    expect(bytes.toString('latin1')).toContain('./passwd');

    // Deselect: back to the guest. A folder keeps its tree.
    await page.click(`${row} .main`);
    expect(await page.textContent('#files-target')).toBe('the guest');
    const folder = await makeLayoutDir('berth-upload-');
    await mkdir(join(folder, 'project/src'), { recursive: true });
    await writeFile(join(folder, 'project/README'), 'read me\n');
    await writeFile(join(folder, 'project/src/main.sh'), 'echo main\n');
    await page.setInputFiles('#dir-input', join(folder, 'project'));
    await toastText(page, /Copied 2 files to \/root/);
    await typeCommand(page, 'cat /root/project/README /root/project/src/main.sh', /read me\s*echo main[\s\S]*berth:~# /);
    await removeLayout(folder);
    await typeCommand(page, 'docker rm -f box');
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('share links', () => {
  it('a link asks first, then pulls (pinned by digest), writes its files and types its commands', async () => {
    const pinned = `${registry.host}/berth/lesson@${lessonDigest}`;
    const encoded = encodeScenario({
      images: [pinned],
      files: [{ path: '/root/lesson/notes.txt', content: 'written by a share link\n' }],
      commands: ['cat /root/lesson/notes.txt', `docker run --rm ${pinned} cat /lesson.txt`],
      layout: { tabs: 2 },
    });
    const { page, errors } = await open('', `#s=${encoded}`);
    await page.waitForSelector('#consent-dialog[open]');
    const listed = await page.textContent('#consent-body');
    expect(listed).toContain(pinned);
    expect(listed).toContain('/root/lesson/notes.txt');
    expect(listed).toContain('cat /root/lesson/notes.txt');
    await waitBooted(page);
    await shot(page, 'share-consent');
    // Nothing ran before consent.
    expect(await page.$(`#image-list li[title*="${lessonDigest}"]`)).toBeNull();
    await page.click('#consent-run');
    await page.waitForSelector('body[data-link="done"], body[data-link="failed"]', { timeout: 90_000 });
    expect(await page.getAttribute('body', 'data-link')).toBe('done');
    await waitScreen(page, /written by a share link[\s\S]*lesson image[\s\S]*berth:~# /, 0);
    expect(await page.$(`#image-list li[title*="${lessonDigest}"]`)).not.toBeNull();
    expect(await page.$$eval('.tab[data-kind="shell"]', (t) => t.length)).toBe(2);
    await shot(page, 'share-ran');

    // The Share dialog is prefilled from what happened, and gives a link.
    await page.click('#share-button');
    await page.waitForSelector('#share-dialog[open]');
    expect(await page.inputValue('#share-commands')).toContain('cat /root/lesson/notes.txt');
    expect(await page.inputValue('#share-link')).toMatch(/#s=[A-Za-z0-9+\-$]+$/);
    await shot(page, 'share-dialog');
    // Too long for a link: random text does not compress.
    await page.click('#share-add-file');
    await page.fill('#share-files .file-path', '/root/big.txt');
    let seed = 7;
    const noise = Array.from({ length: 16000 }, () => (Math.floor((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 20) % 36).toString(36)).join('');
    await page.fill('#share-files .file-content', noise);
    await page.waitForFunction(() => /limited to 8000/.test(document.querySelector('#share-message')?.textContent ?? ''));
    expect(await page.inputValue('#share-link')).toBe('');
    await shot(page, 'share-too-long');
    await page.click('#share-close');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a tampered or invalid link is refused with a message, and the page still works', async () => {
    const good = encodeScenario({ images: [], files: [], commands: ['echo should-not-run'], layout: { tabs: 1 } });
    const tampered = good.slice(0, 10) + (good[10] === 'A' ? 'B' : 'A') + good.slice(11, -3);
    const { page, errors } = await open('', `#s=${tampered}`);
    await page.waitForSelector('body[data-link="invalid"]');
    expect(await page.textContent('#notice')).toMatch(/share link is (damaged|not valid)/);
    expect(await page.$('#consent-dialog[open]')).toBeNull();
    await waitBooted(page);
    await waitScreen(page, /berth:~# /);
    await typeCommand(page, 'echo still-$((6*7))', /still-42/);
    expect(await screen(page)).not.toContain('should-not-run');
    await shot(page, 'share-tampered');

    // Decodes fine, but asks for something a link may not do: named precisely.
    const evil = compressToEncodedURIComponent(
      JSON.stringify({ v: 1, images: [], files: [{ path: 'relative.txt', content: 'x' }], commands: ['echo hi'], layout: { tabs: 1 } }),
    );
    await page.goto(`${url}#s=${evil}`);
    await page.waitForSelector('body[data-link="invalid"]');
    expect(await page.textContent('#notice')).toContain('files[0].path "relative.txt" must be absolute');
    const escape = compressToEncodedURIComponent(
      JSON.stringify({ v: 1, images: [], files: [], commands: ['echo hi\u001b[2J'], layout: { tabs: 1 } }),
    );
    await page.goto(`${url}#s=${escape}`);
    await page.waitForSelector('body[data-link="invalid"]');
    expect(await page.textContent('#notice')).toContain('control characters');
    await waitBooted(page);
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('embedding', () => {
  it('?embed shows only a terminal; window.berth runs docker and shell commands and moves files', async () => {
    const { page, errors } = await open('?embed');
    await waitBooted(page);
    expect(await page.isVisible('header')).toBe(false);
    expect(await page.isVisible('#side')).toBe(false);
    await waitScreen(page, /berth:~# /);
    const r = await page.evaluate(async (host) => {
      const b = window.berth!;
      const run = await b.run(['run', '--rm', 'busybox', 'echo', 'from-embed']);
      await b.writeFile('/root/embed/file.txt', 'embedded write\n');
      const exec = await b.exec('cat /root/embed/file.txt; exit 3');
      const read = new TextDecoder().decode(await b.readFile('/root/embed/file.txt'));
      const missing = await b.run(['inspect', 'no-such-thing']);
      // A build from the embed API: the context written with writeFile, then docker build and run.
      await b.writeFile('/root/embed-app/Dockerfile', 'FROM busybox\nCOPY msg.txt /\nCMD ["cat", "/msg.txt"]\n');
      await b.writeFile('/root/embed-app/msg.txt', 'built from the embed API\n');
      const build = await b.run(['build', '-q', '-t', 'embed-app:1', 'embed-app']);
      const built = await b.run(['run', '--rm', 'embed-app:1']);
      // Pushed from the page to a registry that sends CORS headers.
      await b.run(['tag', 'embed-app:1', `${host}/me/embed-app:1`]);
      const push = await b.run(['push', `${host}/me/embed-app:1`]);
      return { run, exec, read, missing, build, built, push };
    }, registry.host);
    expect(r.push.stderr).toBe('');
    const pushed = /1: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(r.push.stdout)?.[1];
    expect(pushed).toBeDefined();
    const manifest = await fetch(`${registry.url}/v2/me/embed-app/manifests/1`, { method: 'HEAD', headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(manifest.headers.get('docker-content-digest')).toBe(pushed);
    expect(r.build.stderr).toBe('');
    expect(r.build.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect(r.built).toEqual({ code: 0, stdout: 'built from the embed API\n', stderr: '' });
    expect(r.run).toEqual({ code: 0, stdout: 'from-embed\n', stderr: '' });
    expect(r.exec).toEqual({ code: 3, stdout: 'embedded write\n', stderr: '' });
    expect(r.read).toBe('embedded write\n');
    expect(r.missing.code).toBe(1);
    expect(r.missing.stderr).toMatch(/No such object: no-such-thing/);
    await typeCommand(page, 'ls /root/embed', /file\.txt/);
    await shot(page, 'embed-mode');
    expect(errors).toEqual([]);
    await page.close();
  });
});
