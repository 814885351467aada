#!/usr/bin/env node
// The berth command. Runs the build of src/cli/main.ts that scripts/build-cli.mjs
// makes in dist-cli/ (set-up, npm test, npm start and npm run build:cli make it)
// when every file it was built from still has the mtime and size it had then;
// otherwise, or with BERTH_DEV=1, the TypeScript sources themselves through tsx
// (slower to start, always current). A stale build never runs.
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** dist-cli/<dir>/main.js when the build is there and fresh; undefined otherwise. */
function freshBuild() {
  if (process.env.BERTH_DEV === '1') return undefined;
  const root = fileURLToPath(new URL('..', import.meta.url));
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(`${root}dist-cli/build.json`, 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof stamp?.dir !== 'string' || !Array.isArray(stamp.inputs)) return undefined;
  for (const [path, mtimeMs, size] of stamp.inputs) {
    const st = statSync(`${root}${path}`, { throwIfNoEntry: false });
    if (!st || st.mtimeMs !== mtimeMs || st.size !== size) return undefined;
  }
  return new URL(`../dist-cli/${stamp.dir}/main.js`, import.meta.url).href;
}

const build = freshBuild();
let main;
if (build) {
  try {
    ({ main } = await import(build));
  } catch (e) {
    if (e?.code !== 'ERR_MODULE_NOT_FOUND') throw e; // removed under us (a rebuild's clean-up): the sources will do
  }
}
if (!main) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
await main(process.argv);
