import { defineConfig } from 'vite';

export default defineConfig({
  server: { host: '127.0.0.1', port: 5173, strictPort: false },
  preview: { host: '127.0.0.1', port: 4173 },
  worker: { format: 'es' },
  build: { target: 'es2022' },
  // v86 is a prebuilt ESM bundle; pre-bundling it only slows the dev server. The zstd
  // compressor finds its wasm next to its module (new URL(..., import.meta.url)), which
  // pre-bundling would move.
  optimizeDeps: { exclude: ['v86', '@bokuweb/zstd-wasm'] },
});
