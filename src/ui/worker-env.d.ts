/**
 * What the workers (tsconfig/ui-worker.json) use of Vite's client types: an
 * asset's URL (`import wasmUrl from 'v86/build/v86.wasm?url'`). The page has
 * all of them (vite-env.d.ts); here vite/client cannot be loaded, as it names
 * SharedWorker, which the WebWorker library has not.
 */
declare module '*?url' {
  const src: string;
  export default src;
}
