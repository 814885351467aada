import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { defineConfig, type LogLevel, type Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';

/** The build's output folder, as resolved (`vite build --outDir` included): where the guest's manifest is read. */
let outDir = 'dist';
/** The build's log level (`--logLevel`), which the service worker's own build follows. */
let logLevel: LogLevel = 'info';
const buildSettings: Plugin = {
  name: 'berth:build-settings',
  apply: 'build',
  configResolved(config) {
    outDir = resolve(config.root, config.build.outDir);
    logLevel = config.logLevel ?? 'info';
  },
};

/**
 * The guest artifacts guest/manifest.json lists, as the engine asks for them:
 * by hash (`guest/bzImage?v=<sha256>`, src/vm/artifacts.ts), so without a
 * revision of their own. A missing one is left out (the page says so when it
 * boots), and so is the whole guest when it is not built.
 */
async function guestArtifacts(): Promise<{ entries: Array<{ url: string; revision: null; size: number }>; warnings: string[] }> {
  const guest = join(outDir, 'guest');
  let listed: { artifacts?: Record<string, { sha256: string }> };
  try {
    listed = JSON.parse(await readFile(join(guest, 'manifest.json'), 'utf8'));
  } catch {
    return { entries: [], warnings: ['guest/manifest.json not found: the guest is not built (npm run build:guest), so it is not precached'] };
  }
  const entries = [];
  const warnings = [];
  for (const [path, { sha256 }] of Object.entries(listed.artifacts ?? {})) {
    const file = await stat(join(guest, path)).catch(() => undefined);
    if (!file?.isFile()) {
      warnings.push(`guest/${path} is listed in guest/manifest.json but missing: not precached`);
      continue;
    }
    const url = new URL(path, 'http://base/guest/');
    url.searchParams.set('v', sha256);
    entries.push({ url: `${url.pathname.slice(1)}${url.search}`, revision: null, size: file.size });
  }
  return { entries, warnings };
}

export default defineConfig({
  server: { host: '127.0.0.1', port: 5173, strictPort: false },
  preview: { host: '127.0.0.1', port: 4173 },
  worker: { format: 'es' },
  build: { target: 'es2022' },
  // v86 is a prebuilt ESM bundle; pre-bundling it only slows the dev server. The zstd
  // compressor finds its wasm next to its module (new URL(..., import.meta.url)), which
  // pre-bundling would move. Workbox is the service worker's (src/sw/): bundled at start, since
  // one found later, when the worker first loads, would have the dev server reload the page.
  optimizeDeps: { exclude: ['v86', '@bokuweb/zstd-wasm'], include: ['workbox-precaching', 'workbox-routing', 'workbox-strategies'] },
  plugins: [
    buildSettings,
    // The service worker (src/sw/sw.ts): built into sw.js with the precache list written in
    // (Workbox's injectManifest); on the dev server served from its source as a module
    // worker, without the list (offline.ts is left out there).
    VitePWA({
      strategies: 'injectManifest',
      srcDir: 'src/sw',
      filename: 'sw.ts',
      // src/ui/port-bridge.ts registers it; no web app manifest.
      injectRegister: false,
      manifest: false,
      devOptions: { enabled: true, type: 'module' },
      integration: {
        // The worker's own build (a second `vite build`): as quiet as the page's, and
        // with Rolldown's name for one chunk (the plugin still passes the deprecated one).
        configureCustomSWViteBuild(inline) {
          inline.logLevel = logLevel;
          const output = inline.build?.rollupOptions?.output;
          if (output && !Array.isArray(output) && output.inlineDynamicImports) {
            delete output.inlineDynamicImports;
            output.codeSplitting = false;
          }
        },
      },
      injectManifest: {
        // The app shell and the guest's manifest (the artifacts come from it, below).
        globPatterns: ['index.html', 'favicon.svg', 'assets/**/*', 'guest/manifest.json'],
        // v86.wasm is 2 MB.
        maximumFileSizeToCacheInBytes: 32 * 1024 * 1024,
        manifestTransforms: [
          async (entries) => {
            const guest = await guestArtifacts();
            // The page is stored as the scope URL, which is how it is asked for.
            const manifest = [...entries.map((e) => (e.url === 'index.html' ? { ...e, url: './' } : e)), ...guest.entries];
            return { manifest, warnings: guest.warnings };
          },
        ],
      },
    }),
  ],
});
