/**
 * The page's part in reaching containers' published ports from the browser,
 * and the service worker's registration.
 *
 * The service worker (src/sw/) answers requests for
 * `<base>/__berth/port/<hostPort>/…` (and absolute paths asked for by pages
 * served from there). It cannot reach the engine itself: it asks a window
 * that hosts one, and that window forwards to its engine worker, which opens
 * a TCP connection into the guest and speaks HTTP/1.1 over it. The messages
 * are in port-protocol.ts.
 */
import type { EngineClient } from './engine-client.js';
import { PORT_PATH, type BridgeReply, type BridgeResponse, type EngineHostMessage, type HttpMessage } from './port-protocol.js';

/** The page's URL for `path` (starting with `/`) of what listens behind `hostPort`. */
export function portUrl(hostPort: number, path = '/'): string {
  return new URL(`${PORT_PATH}${hostPort}${path.startsWith('/') ? path : `/${path}`}`, document.baseURI).href;
}

/** The path of a port URL below its prefix (`/index.html?x`), or undefined for any other URL. */
export function pathOfPortUrl(href: string, hostPort: number): string | undefined {
  const prefix = new URL(`${PORT_PATH}${hostPort}/`, document.baseURI);
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return undefined;
  }
  if (url.origin !== prefix.origin || !url.pathname.startsWith(prefix.pathname)) return undefined;
  return `/${url.pathname.slice(prefix.pathname.length)}${url.search}${url.hash}`;
}

/**
 * Registers the service worker (src/sw/sw.ts, built by vite-plugin-pwa). The
 * built page gets offline caching and the port routing; Vite's dev server
 * gets only the port routing, so development never serves stale files: there
 * the plugin serves the source as a module worker at `dev-sw.js?dev-sw`.
 * `?nosw` leaves it out.
 */
export function registerServiceWorker(options: { production: boolean; disabled: boolean }): void {
  if (!('serviceWorker' in navigator) || options.disabled) return;
  const url = new URL(options.production ? 'sw.js' : 'dev-sw.js?dev-sw', document.baseURI);
  const type: WorkerType = options.production ? 'classic' : 'module';
  const register = () => navigator.serviceWorker.register(url, { scope: './', type }).catch((e: unknown) => console.warn('service worker not registered', e));
  if (document.readyState === 'complete') void register();
  else window.addEventListener('load', () => void register(), { once: true });
}

/**
 * Resolves once a service worker is active and controls this page, so that
 * port URLs are answered by it rather than by the web server; rejects with a
 * message for people if that does not happen in `timeoutMs`.
 */
export async function serviceWorkerInControl(timeoutMs = 30_000): Promise<void> {
  if (!('serviceWorker' in navigator)) throw new Error('this browser has no service workers (a private window may turn them off), so container ports cannot be shown here');
  if (navigator.serviceWorker.controller) return;
  const sw = navigator.serviceWorker;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            new URLSearchParams(location.search).has('nosw')
              ? 'the service worker is turned off (?nosw in the address), so container ports cannot be shown'
              : 'the service worker did not take control of this page; reload the page and try again',
          ),
        ),
      timeoutMs,
    );
  });
  const controlled = (async () => {
    await sw.ready;
    if (!sw.controller) await new Promise((resolve) => sw.addEventListener('controllerchange', resolve, { once: true }));
  })();
  try {
    await Promise.race([controlled, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function isHttpMessage(data: unknown): data is HttpMessage {
  if (typeof data !== 'object' || data === null) return false;
  const m = data as Record<string, unknown>;
  const r = m['request'] as Record<string, unknown> | undefined;
  return (
    m['type'] === 'berth-http' &&
    Number.isInteger(m['hostPort']) &&
    typeof r === 'object' &&
    r !== null &&
    typeof r['method'] === 'string' &&
    typeof r['path'] === 'string' &&
    Array.isArray(r['headers']) &&
    (r['headers'] as unknown[]).every((h) => Array.isArray(h) && h.length === 2 && typeof h[0] === 'string' && typeof h[1] === 'string') &&
    (r['body'] === undefined || r['body'] instanceof Uint8Array)
  );
}

/**
 * Answers the service worker's requests for published ports with `engine()`
 * (undefined while there is none: the answer then says so). Call once, early:
 * the service worker may ask before the engine has booted.
 */
export function answerPortRequests(engine: () => EngineClient | undefined): void {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.addEventListener('message', (event: MessageEvent) => {
    const reply = event.ports[0];
    if (!reply || !isHttpMessage(event.data)) return;
    const accepted: BridgeReply = { type: 'accepted' };
    reply.postMessage(accepted);
    const { hostPort, request } = event.data;
    const client = engine();
    const answer: Promise<BridgeResponse> = client
      ? client.httpRequest(hostPort, request).catch((e: unknown) => ({ ok: false, kind: 'failed', message: e instanceof Error ? e.message : String(e) }))
      : Promise.resolve({ ok: false, kind: 'no-engine', message: 'this page runs no Berth engine' });
    void answer.then((response) => {
      const message: BridgeReply = { type: 'response', response };
      reply.postMessage(message, response.ok ? [response.body.buffer] : []);
      reply.close();
    });
  });
  // Messages from the service worker wait in a queue until this (or an onmessage handler).
  navigator.serviceWorker.startMessages();
}

/** Tells the service worker that this window's engine is up, so it asks here first (again whenever a new worker takes over). */
export function announceEngineHost(): void {
  if (!('serviceWorker' in navigator)) return;
  const announce = () =>
    void navigator.serviceWorker.ready.then((reg) => reg.active?.postMessage({ type: 'berth-engine-host' } satisfies EngineHostMessage));
  announce();
  navigator.serviceWorker.addEventListener('controllerchange', announce);
}
