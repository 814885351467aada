/**
 * Offline (built page only). The build (vite-plugin-pwa's injectManifest,
 * configured in vite.config.ts) lists the app shell (the page, every file of
 * assets/, the icon) and the guest (guest/manifest.json and each artifact it
 * lists, by hash: `guest/x?v=<sha256>`); on install Workbox's precaching
 * stores them, and on activate drops whatever an older build stored that this
 * one does not list (a rebuilt guest's old artifacts among them). Then
 * (Workbox's strategies, chosen by its Router):
 *   - assets/* (content-hashed names) and guest artifacts asked for by hash
 *     are served from the cache first, by the browser itself where it has
 *     static routes (addStaticRoutes);
 *   - everything else of this origin (the page, guest/*) from the network,
 *     refreshing the cache, and from the cache when the network fails, so a
 *     rebuilt guest is never mixed with an old one while online.
 * Other origins (registries, mirrors) are not touched.
 */
import { PrecacheController, type PrecacheEntry } from 'workbox-precaching';
import { Route, Router } from 'workbox-routing';
import { CacheFirst, NetworkFirst, type StrategyOptions } from 'workbox-strategies';

declare const self: ServiceWorkerGlobalScope;

type Plugin = NonNullable<StrategyOptions['plugins']>[number];

/** One cache for the precache and what is stored on the way. */
const CACHE = 'berth-offline-v1';
const SCOPE = new URL(self.registration.scope);
const inScope = (url: URL) => url.origin === SCOPE.origin && url.pathname.startsWith(SCOPE.pathname);

/** Without Vary: module scripts are requested with an Origin header the precache had not, and the static routes match by URL alone. */
function withoutVary(res: Response): Response {
  if (!res.headers.has('Vary')) return res;
  const headers = new Headers(res.headers);
  headers.delete('Vary');
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}

/** Only this origin's successful answers are stored, and without Vary. */
const storable: Plugin = {
  cacheWillUpdate: async ({ response }) => (response.ok && response.type === 'basic' ? withoutVary(response) : null),
};

const precache = new PrecacheController({ cacheName: CACHE, plugins: [storable] });

/** What the build listed (sw.ts hands over the list the build wrote in). */
export function precacheList(entries: Array<PrecacheEntry | string>): void {
  precache.addToCacheList(entries);
}

/** Stores what the build listed, then routes its content-addressed files past this worker. */
export async function installOffline(event: ExtendableEvent): Promise<void> {
  await precache.install(event);
  // Listed without a revision: their names are their versions (assets/x-<hash>.js, guest/x?v=<sha256>).
  const contentAddressed = [...precache.getURLsToCacheKeys()].filter(([url, key]) => url === key).map(([url]) => url);
  await addStaticRoutes(event, contentAddressed);
}

/** Chromium's Static Routing API: not in TypeScript's library yet. */
interface RouterRule {
  condition: { urlPattern: { protocol: string; hostname: string; port: string; pathname: string; search: string }; requestMethod: string };
  source: { cacheName: string };
}
type InstallEventWithRoutes = ExtendableEvent & { addRoutes?: (rules: RouterRule[]) => Promise<void> };

/**
 * The browser serves the content-addressed files (hashed assets, guest
 * artifacts by hash) straight from the cache, without waking this worker (the
 * Static Routing API, Chromium 123+). One route per exact URL, not
 * `assets/*`: an app served from a published port may ask for `/assets/...`
 * of its own, and those must reach the fetch handler.
 */
async function addStaticRoutes(event: InstallEventWithRoutes, urls: string[]): Promise<void> {
  if (typeof event.addRoutes !== 'function' || urls.length === 0) return;
  const exactly = (href: string) => {
    const u = new URL(href);
    return { protocol: u.protocol.slice(0, -1), hostname: u.hostname, port: u.port, pathname: u.pathname, search: u.search.slice(1) };
  };
  try {
    await event.addRoutes(urls.map((href) => ({ condition: { urlPattern: exactly(href), requestMethod: 'GET' }, source: { cacheName: CACHE } })));
  } catch (e) {
    console.warn('static routes not added; the fetch handler serves the assets', e);
  }
}

export async function activateOffline(event: ExtendableEvent): Promise<void> {
  await precache.activate(event);
  for (const name of await caches.keys()) if (name.startsWith('berth-offline-') && name !== CACHE) await caches.delete(name);
  // The page's request starts while this worker starts up, instead of after.
  if (self.registration.navigationPreload) await self.registration.navigationPreload.enable();
}

/** A rebuilt guest's artifact (a new `?v=`) replaces the old one's bytes. */
const dropOlderVersions: Plugin = {
  cacheDidUpdate: async ({ cacheName, request }) => {
    if (!new URL(request.url).searchParams.has('v')) return;
    const cache = await caches.open(cacheName);
    for (const old of await cache.keys(request, { ignoreSearch: true, ignoreVary: true })) if (old.url !== request.url) await cache.delete(old);
  },
};

// ignoreVary: servers send `Vary: Origin`, and module scripts are requested with an Origin the precache had not.
const cacheFirst = new CacheFirst({ cacheName: CACHE, matchOptions: { ignoreVary: true }, plugins: [storable, dropOlderVersions] });

const isPage = (request: Request) => {
  const { pathname } = new URL(request.url);
  return request.mode === 'navigate' && (pathname === SCOPE.pathname || pathname === `${SCOPE.pathname}index.html`);
};

const networkFirst = new NetworkFirst({
  cacheName: CACHE,
  matchOptions: { ignoreVary: true },
  plugins: [
    storable,
    // The page is stored under the scope URL whatever its query (?embed, ?registry=…).
    { cacheKeyWillBeUsed: async ({ request }) => (isPage(request) ? SCOPE.href : request) },
    {
      // Offline, and not stored on the way: what the precache holds (the page for any navigation).
      handlerDidError: async ({ request }) => {
        if (request.mode !== 'navigate') return precache.matchPrecache(request);
        const cache = await caches.open(CACHE);
        return (await cache.match(request, { ignoreVary: true, ignoreSearch: true })) ?? (await cache.match(SCOPE.href, { ignoreVary: true })) ?? precache.matchPrecache(SCOPE.href);
      },
    },
  ],
});

/** GETs of this origin under the scope, whole (a Range request is left to the browser). */
const ours = ({ url, request }: { url: URL; request: Request }) => inScope(url) && !request.headers.has('Range');
/** Content-addressed: hashed asset names, guest artifacts asked for by hash (`?v=<sha256>`). */
const immutable = (url: URL) => url.pathname.startsWith(`${SCOPE.pathname}assets/`) || (url.pathname.startsWith(`${SCOPE.pathname}guest/`) && url.searchParams.has('v'));

const router = new Router();
router.registerRoute(new Route((o) => ours(o) && immutable(o.url), cacheFirst));
router.registerRoute(new Route(ours, networkFirst));

/** The answer for a request of this origin (the page, its files, the guest), or undefined to leave it to the browser. */
export function offlineResponse(event: FetchEvent): Promise<Response> | undefined {
  return router.handleRequest({ request: event.request, event });
}
