/**
 * Published ports (dev server and built page alike). Requests for
 * `<scope>__berth/port/<hostPort>/<path>` go to whatever listens behind that
 * host port in the playground's guest: this worker asks a window that hosts
 * an engine (src/ui/port-bridge.ts; the messages are in
 * src/ui/port-protocol.ts), the window asks its engine worker, which speaks
 * HTTP/1.1 over a TCP connection into the guest, and the answer becomes the
 * Response. Pages served from there that ask for absolute paths
 * (`/style.css`) are routed to their port too (found by the requesting client
 * or the Referer), and their links to absolute paths are redirected under the
 * prefix. Failures become a small HTML page with status 502 that says what
 * failed and what to do. These pages share the playground's origin: only run
 * servers you trust with it.
 */
import {
  PORT_PATH as PORT_DIR,
  type BridgeReply,
  type BridgeResponse,
  type EngineHostMessage,
  type HttpMessage,
  type PortRequest,
} from '../ui/port-protocol.js';

declare const self: ServiceWorkerGlobalScope;

const SCOPE = new URL(self.registration.scope);
const PORT_PATH = `${SCOPE.pathname}${PORT_DIR}`;
/** How long a window has to acknowledge a request before the next one is asked. */
const ACK_MS = 3000;
/** The longest wait for a window's answer (its engine gives up after 60 s). */
const ANSWER_MS = 90_000;

/** What a request for a port can fail with here: a window's answer, or a URL that names no port. */
type ErrorKind = Extract<BridgeResponse, { ok: false }>['kind'] | 'invalid-port';
type Answer = Extract<BridgeResponse, { ok: true }>;

/** Answers after which another window (another tab's engine) is worth asking, least telling first. */
const ASK_ANOTHER: readonly ErrorKind[] = ['no-engine', 'not-ready', 'not-published'];

/** Windows that said they host an engine: client id → when they said so. */
const hosts = new Map<string, number>();
/** Frames and tabs showing a port's pages: client id → host port, learnt from their navigations. */
const clientPorts = new Map<string, number>();

const isEngineHostMessage = (data: unknown): data is EngineHostMessage =>
  typeof data === 'object' && data !== null && (data as { type?: unknown }).type === 'berth-engine-host';

/** A window says it hosts an engine (src/ui/port-bridge.ts, announceEngineHost). */
export function onMessage(event: ExtendableMessageEvent): void {
  const source = event.source;
  if (isEngineHostMessage(event.data) && source && 'id' in source && source.id) hosts.set(source.id, Date.now());
}

const validPort = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
/** `http://origin/<scope>__berth/port/8080/` */
const portBase = (port: number) => `${SCOPE.origin}${PORT_PATH}${port}/`;

/** `<scope>__berth/port/8080/x` → { port: 8080, rest: '/x' } (rest '' without the slash); undefined outside the prefix. */
function parsePortPath(pathname: string): { port: number; rest: string } | undefined {
  if (!pathname.startsWith(PORT_PATH)) return undefined;
  const m = /^(\d{1,5})(\/.*)?$/.exec(pathname.slice(PORT_PATH.length));
  return m ? { port: Number(m[1]), rest: m[2] ?? '' } : { port: NaN, rest: '' };
}

function portOfUrl(href: string): number | undefined {
  if (!href) return undefined;
  try {
    const url = new URL(href);
    const p = url.origin === SCOPE.origin ? parsePortPath(url.pathname) : undefined;
    return p && validPort(p.port) ? p.port : undefined;
  } catch {
    return undefined;
  }
}

function rememberClient(id: string, port: number): void {
  clientPorts.set(id, port);
  if (clientPorts.size > 500) clientPorts.delete(clientPorts.keys().next().value!);
}

/** A Response promise when the request is for a published port, else undefined (decided synchronously, as respondWith needs). */
export function portRoute(event: FetchEvent): Promise<Response> | undefined {
  const req = event.request;
  const url = new URL(req.url);
  if (url.origin !== SCOPE.origin) return undefined;
  const direct = parsePortPath(url.pathname);
  if (direct) {
    if (!validPort(direct.port)) {
      const shown = url.pathname.slice(PORT_PATH.length).split('/')[0] ?? '';
      return Promise.resolve(errorPage(shown, 'invalid-port', `"${shown}" is not a port number`));
    }
    // `…/8080` → `…/8080/`, so that the app's relative links resolve under its prefix.
    if (direct.rest === '') return Promise.resolve(Response.redirect(`${portBase(direct.port)}${url.search}`, 307));
    if (req.mode === 'navigate' && event.resultingClientId) rememberClient(event.resultingClientId, direct.port);
    return proxy(req, direct.port, `${direct.rest}${url.search}`);
  }
  // A page served from a port asked for an absolute path of this origin: it means its own server's.
  const from = clientPorts.get(event.clientId) ?? portOfUrl(req.referrer);
  if (from === undefined) return undefined;
  if (req.mode === 'navigate') return Promise.resolve(Response.redirect(`${portBase(from)}${url.pathname.slice(1)}${url.search}`, 307));
  return proxy(req, from, `${url.pathname}${url.search}`);
}

/** Request fields that describe the browser's own connection, or that would ask for an encoding the page cannot undo. */
const SKIP_REQUEST = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'te', 'upgrade', 'accept-encoding', 'service-worker-navigation-preload']);
/** Response fields about the guest connection, not about the body the page gets. */
const SKIP_RESPONSE = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'content-length']);
const NULL_BODY = new Set([101, 103, 204, 205, 304]);
const DECODABLE = new Map<string, CompressionFormat>([
  ['gzip', 'gzip'],
  ['x-gzip', 'gzip'],
  ['deflate', 'deflate'],
]);

async function proxy(req: Request, port: number, path: string): Promise<Response> {
  try {
    const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : new Uint8Array(await req.arrayBuffer());
    const headers: Array<[string, string]> = [];
    for (const [name, value] of req.headers) {
      if (SKIP_REQUEST.has(name)) continue;
      headers.push([name, name === 'origin' && value === SCOPE.origin ? `http://localhost:${port}` : value]);
    }
    // What the server would see from a browser at http://localhost:PORT.
    if (req.referrer.startsWith(portBase(port))) headers.push(['Referer', `http://localhost:${port}/${req.referrer.slice(portBase(port).length)}`]);
    headers.push(['Accept-Encoding', 'identity']);
    const answer = await askEngine(port, { method: req.method, path, headers, ...(body?.length ? { body } : {}) });
    if (!answer.ok) return errorPage(port, answer.kind, answer.message);
    return await toResponse(req, port, answer);
  } catch (e) {
    return errorPage(port, 'failed', e instanceof Error ? e.message : String(e));
  }
}

/** Windows to ask, best first: those that announced an engine (focused, visible, most recent), then any other page of the playground. */
async function engineHosts(): Promise<WindowClient[]> {
  const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const id of hosts.keys()) if (!all.some((c) => c.id === id)) hosts.delete(id);
  const candidates = all.filter((c) => {
    const url = new URL(c.url);
    return url.origin === SCOPE.origin && url.pathname.startsWith(SCOPE.pathname) && !url.pathname.startsWith(PORT_PATH);
  });
  const score = (c: WindowClient) => [hosts.has(c.id) ? 1 : 0, c.focused ? 1 : 0, c.visibilityState === 'visible' ? 1 : 0, hosts.get(c.id) ?? 0];
  return candidates.sort((a, b) => {
    const [x, y] = [score(a), score(b)];
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return y[i]! - x[i]!;
    return 0;
  });
}

/** The first useful answer from the windows that host engines (another tab may be the one publishing the port). */
async function askEngine(port: number, request: PortRequest): Promise<BridgeResponse> {
  let best: Extract<BridgeResponse, { ok: false }> | undefined;
  // Of the answers that send us on, the most telling is kept: not published > not ready > no engine.
  const weight = (a: { kind: ErrorKind }) => ASK_ANOTHER.indexOf(a.kind);
  for (const client of await engineHosts()) {
    const answer = await askClient(client, port, request);
    if (!answer) continue;
    if (answer.ok || !ASK_ANOTHER.includes(answer.kind)) return answer;
    if (!best || weight(answer) > weight(best)) best = answer;
  }
  return best ?? { ok: false, kind: 'no-engine', message: 'no Berth playground is open in this browser to answer for this port' };
}

/** One window's answer; undefined when it does not acknowledge in time (a page that hosts nothing, or still loading). */
function askClient(client: WindowClient, port: number, request: PortRequest): Promise<BridgeResponse | undefined> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    let timer = setTimeout(() => done(undefined), ACK_MS);
    const done = (answer: BridgeResponse | undefined) => {
      clearTimeout(timer);
      channel.port1.close();
      resolve(answer);
    };
    channel.port1.onmessage = (e: MessageEvent<BridgeReply | undefined>) => {
      if (e.data?.type === 'accepted') {
        clearTimeout(timer);
        timer = setTimeout(() => done({ ok: false, kind: 'timeout', message: `the playground page did not answer within ${ANSWER_MS / 1000} s (was it closed?)` }), ANSWER_MS);
      } else if (e.data?.type === 'response') done(e.data.response);
    };
    const message: HttpMessage = { type: 'berth-http', hostPort: port, request };
    client.postMessage(message, [channel.port2]);
  });
}

async function toResponse(req: Request, port: number, answer: Answer): Promise<Response> {
  const { status } = answer;
  if (status < 200 || status > 599) return errorPage(port, 'bad-http', `the server answered with status ${status}, which cannot be passed to a browser`);
  const headers = new Headers();
  let encoding = '';
  for (const [name, value] of answer.headers) {
    const lower = name.toLowerCase();
    if (SKIP_RESPONSE.has(lower)) continue;
    if (lower === 'content-encoding') encoding = value.trim().toLowerCase();
    try {
      headers.append(name, lower === 'location' ? rewriteLocation(value, port) : value);
    } catch {
      // a field the browser refuses: left out
    }
  }
  const bytes = answer.body as Uint8Array<ArrayBuffer>; // it came by postMessage: a whole ArrayBuffer's
  let body: BodyInit | null = NULL_BODY.has(status) || req.method === 'HEAD' ? null : bytes;
  // The browser does not undo a content coding on a response made here: asked for identity, but decode what can be.
  const format = DECODABLE.get(encoding);
  if (body && format) {
    try {
      body = await new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream(format))).arrayBuffer();
      headers.delete('content-encoding');
    } catch (e) {
      return errorPage(port, 'bad-http', `the server sent a ${encoding} body that does not decode (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  try {
    return new Response(body, { status, statusText: answer.statusText, headers });
  } catch {
    return new Response(body, { status, headers }); // a reason phrase the Fetch API does not accept
  }
}

/** Redirects to the server's own absolute paths (or to http://localhost:PORT/…) stay under the port's prefix. */
function rewriteLocation(value: string, port: number): string {
  if (value.startsWith('/') && !value.startsWith('//')) return `${portBase(port)}${value.slice(1)}`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return value; // relative to the request URL, which is under the prefix already
  }
  const local = ['localhost', '127.0.0.1', '[::1]', '0.0.0.0'].includes(url.hostname);
  if (url.protocol === 'http:' && local && Number(url.port || 80) === port) return `${portBase(port)}${url.pathname.slice(1)}${url.search}${url.hash}`;
  return value;
}

const ADVICE: Record<ErrorKind, (port: number | string) => string> = {
  'no-engine': (port) => `Open the Berth playground in a tab of this browser, start the container there with -p ${port}:<container port>, then reload this page.`,
  'not-ready': () => 'Wait until the playground says Ready, then reload this page.',
  'not-published': (port) => `Publish the port when you start the container, e.g. docker run -d -p ${port}:80 IMAGE; docker ps shows which ports are published.`,
  refused: () => 'Check that the server in the container has started and listens on all addresses (0.0.0.0), not only 127.0.0.1; docker logs NAME shows its output.',
  'bad-http': () => 'The preview speaks plain HTTP/1.1: is the server on this port an HTTP server (not HTTPS or another protocol)? docker logs NAME may say more.',
  timeout: () => 'The server took too long to answer. Check docker logs NAME, then reload this page.',
  failed: () => 'Reload this page to try again; if it keeps failing, look at the playground tab.',
  'invalid-port': () => `Port pages live at ${PORT_PATH}PORT/ with PORT a number from 1 to 65535.`,
};

const escapeHtml = (s: number | string) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The 502 page: what failed, and what to do. */
function errorPage(port: number | string, kind: ErrorKind, message: string): Response {
  const advice = (ADVICE[kind] ?? ADVICE.failed)(port);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Port ${escapeHtml(port)}: cannot reach the server</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:0;padding:32px;color:#d8dee4;background:#0b0e11}main{max-width:640px}h1{font-size:19px;margin:0 0 12px}
.what{color:#ff7b72;font-family:ui-monospace,monospace;font-size:13.5px;white-space:pre-wrap;overflow-wrap:anywhere}a{color:#58a6ff}.hint{color:#8b949e;font-size:13px}</style></head>
<body><main data-berth-error="${escapeHtml(kind)}">
<h1>Berth could not reach port ${escapeHtml(port)}</h1>
<p class="what">${escapeHtml(message)}</p>
<p>${escapeHtml(advice)}</p>
<p class="hint">This page is served by the playground's service worker: <a href="${escapeHtml(SCOPE.href)}" target="_blank" rel="noopener">open the playground</a>.</p>
</main></body></html>
`;
  return new Response(html, {
    status: 502,
    statusText: 'Bad Gateway',
    headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'X-Berth-Error': kind },
  });
}
