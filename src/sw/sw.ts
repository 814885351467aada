/**
 * Berth's service worker, built by vite-plugin-pwa (vite.config.ts): in the
 * built page as sw.js, with the precache list written in at Workbox's
 * injection point (below; it must appear once, and not in a comment); on
 * Vite's dev server served from this source as a module worker
 * (`dev-sw.js?dev-sw`), where the list is empty. Two jobs:
 *
 * 1. Published ports (dev server and built page alike): ports.ts.
 * 2. Offline (built page only, so development never serves stale files):
 *    offline.ts.
 */
import { activateOffline, installOffline, offlineResponse, precacheList } from './offline.js';
import { onMessage, portRoute } from './ports.js';

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: Parameters<typeof precacheList>[0] };

const DEV = import.meta.env.DEV;
if (!DEV) precacheList(self.__WB_MANIFEST);

self.addEventListener('install', (event) => {
  event.waitUntil(DEV ? self.skipWaiting() : installOffline(event).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((DEV ? Promise.resolve() : activateOffline(event)).then(() => self.clients.claim()));
});

self.addEventListener('fetch', (event) => {
  const routed = portRoute(event) ?? (DEV ? undefined : offlineResponse(event));
  if (routed) event.respondWith(routed);
});

self.addEventListener('message', onMessage);
