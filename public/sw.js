/*
 * Berth's service worker: after a first visit the playground works offline.
 *
 * On install it stores the app shell (the page and every script, style and
 * wasm file the built page refers to, found by following references from
 * index.html) and the guest artifacts listed in guest/manifest.json. Then:
 *   - /assets/* (content-hashed names) are served from the cache first;
 *   - everything else of this origin (the page, guest/*) from the network,
 *     refreshing the cache, and from the cache when the network fails, so a
 *     rebuilt guest is never mixed with an old one while online.
 * Other origins (registries, mirrors) are not touched.
 * Registered only by the built page (vite build), never by the dev server.
 */
const CACHE = 'berth-offline-v1';
const SCOPE = new URL(self.registration.scope);
const ASSET_REF = /["'`]((?:\.{1,2}\/|\/)?[\w\-/.]+\.(?:js|mjs|css|wasm|svg|png|ico|woff2?))["'`]/g;
const HTML_REF = /(?:src|href)="([^"]+)"/g;

self.addEventListener('install', (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name.startsWith('berth-offline-') && name !== CACHE) await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

const inScope = (url) => url.origin === SCOPE.origin && url.pathname.startsWith(SCOPE.pathname);

async function precache() {
  const cache = await caches.open(CACHE);
  const seen = new Set();
  const queue = [SCOPE.href];
  while (queue.length) {
    const href = queue.shift();
    if (seen.has(href)) continue;
    seen.add(href);
    const res = await fetch(href, { cache: 'no-cache' }).catch(() => undefined);
    // Strings in scripts that merely look like file names are not all files: skip what is not there.
    if (!res?.ok) {
      if (href === SCOPE.href) throw new Error(`precache: GET ${href} failed`);
      continue;
    }
    const type = res.headers.get('Content-Type') ?? '';
    // A single-page server answers unknown paths with the page itself: that is not the file.
    if (href !== SCOPE.href && type.includes('html')) continue;
    await cache.put(href, res.clone());
    if (!/html|javascript|css/.test(type)) continue;
    const text = await res.text();
    for (const re of [HTML_REF, ASSET_REF]) {
      for (const m of text.matchAll(re)) {
        let url;
        try {
          url = new URL(m[1], href);
        } catch {
          continue;
        }
        url.hash = '';
        if (inScope(url) && !url.pathname.endsWith('/sw.js')) queue.push(url.href);
      }
    }
  }
  // The guest: its manifest lists every artifact.
  const manifestUrl = new URL('guest/manifest.json', SCOPE).href;
  const res = await fetch(manifestUrl, { cache: 'no-cache' });
  if (!res.ok) return; // not built: the page says so when it boots
  await cache.put(manifestUrl, res.clone());
  const manifest = await res.json();
  for (const path of Object.keys(manifest.artifacts ?? {})) {
    const url = new URL(path, new URL('guest/', SCOPE)).href;
    const r = await fetch(url, { cache: 'no-cache' });
    if (r.ok) await cache.put(url, r);
  }
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET' || req.headers.has('Range')) return;
  const url = new URL(req.url);
  if (!inScope(url)) return;
  if (url.pathname.startsWith(`${SCOPE.pathname}assets/`)) event.respondWith(cacheFirst(req));
  else event.respondWith(networkFirst(req));
});

async function cacheFirst(req) {
  const cache = await caches.open(CACHE);
  // ignoreVary: servers send `Vary: Origin`, and module scripts are requested with an Origin the precache had not.
  const hit = await cache.match(req, { ignoreVary: true });
  if (hit) return hit;
  const res = await fetch(req);
  if (res.ok && res.type === 'basic') await cache.put(req, res.clone());
  return res;
}

async function networkFirst(req) {
  const url = new URL(req.url);
  const cache = await caches.open(CACHE);
  try {
    const res = await fetch(req);
    if (res.ok && res.type === 'basic') {
      // The page is stored under the scope URL whatever its query (?embed, ?registry=…).
      const isPage = req.mode === 'navigate' && (url.pathname === SCOPE.pathname || url.pathname === `${SCOPE.pathname}index.html`);
      const key = isPage ? SCOPE.href : req;
      await cache.put(key, res.clone());
    }
    return res;
  } catch (e) {
    const hit =
      (await cache.match(req, { ignoreVary: true, ignoreSearch: req.mode === 'navigate' })) ??
      (req.mode === 'navigate' ? await cache.match(SCOPE.href, { ignoreVary: true }) : undefined);
    if (hit) return hit;
    throw e;
  }
}
