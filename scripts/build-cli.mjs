#!/usr/bin/env node
// npm run build:cli: builds the `berth` command (src/cli/main.ts and what it
// imports) ahead of time into dist-cli/, so a command does not compile the
// TypeScript sources through tsx each time it runs.
//
//   node scripts/build-cli.mjs             build
//   node scripts/build-cli.mjs --if-stale  build only when a source changed since the last build
//                                          (npm test, npm start and set-up run this)
//
// Layout: dist-cli/<hash>/ holds main.js, the client (one file: what talks to
// the daemon), and what it imports when needed: docker-cli.js and io.js for
// help (Docker's command table), daemon.js for `daemon run` (the engine), and
// their shared chunks. dist-cli/build.json, written last, in one rename, names
// the folder to run and every file the build read with its mtime and size. bin/berth.js runs the build only
// when all of them are unchanged, otherwise the sources through tsx: a stale
// build never runs. Packages stay in node_modules (external), read at run time.
//
// esbuild: a devDependency of its own (the same version tsx and vite use).
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const posix = (p) => p.split(sep).join('/');
const OUT = join(root, 'dist-cli');
const STAMP = join(OUT, 'build.json');
/** tsconfig.json and the files it extends (relative ones), whose options the build compiles with. */
function tsconfigChain(rel = 'tsconfig.json', seen = new Set()) {
  if (seen.has(rel)) return [];
  seen.add(rel);
  let text;
  try {
    text = readFileSync(join(root, rel), 'utf8');
  } catch {
    return [rel]; // missing: recorded as such
  }
  const ext = /"extends"\s*:\s*(\[[^\]]*\]|"[^"]*")/.exec(text)?.[1] ?? '';
  const parents = [...ext.matchAll(/"([^"]+)"/g)].map((m) => m[1]).filter((p) => p.startsWith('.'));
  return [rel, ...parents.flatMap((p) => tsconfigChain(posix(relative(root, join(root, dirname(rel), p.endsWith('.json') ? p : `${p}.json`))), seen))];
}

/** Read by every build besides the sources esbuild reports: they change what it makes. */
const EXTRA_INPUTS = ['scripts/build-cli.mjs', ...tsconfigChain()];
/** Builds kept besides the new one: a process started from the previous one may still load its chunks. */
const KEEP_PREVIOUS = 1;

/** mtime and size of a file (relative to the repository), undefined when it is not there. */
function fileState(rel) {
  const st = statSync(join(root, rel), { throwIfNoEntry: false });
  return st ? [st.mtimeMs, st.size] : undefined;
}

/** The stamp of the last build, undefined when there is none (or it cannot be read). */
function readStamp() {
  try {
    return JSON.parse(readFileSync(STAMP, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Whether the last build is there and no file it was built from changed: bin/berth.js makes the same check. */
function buildIsFresh(stamp = readStamp()) {
  if (!stamp?.dir || !Array.isArray(stamp.inputs)) return false;
  if (!statSync(join(OUT, stamp.dir, 'main.js'), { throwIfNoEntry: false })) return false;
  return stamp.inputs.every(([path, mtimeMs, size]) => {
    const now = fileState(path);
    return now !== undefined && now[0] === mtimeMs && now[1] === size;
  });
}

/** Every file under src/ with its state, taken before esbuild reads any: a file changed during the build reads as changed. */
function snapshotSources() {
  const states = new Map();
  const walk = (dir) => {
    for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (e.isFile()) states.set(rel, fileState(rel));
    }
  };
  walk('src');
  for (const rel of EXTRA_INPUTS) states.set(rel, fileState(rel));
  return states;
}

/**
 * `import.meta.url` in a source means the source's own place (new URL('../../bin/berth.js', import.meta.url)):
 * rewritten to it, relative to the built file (dist-cli/<hash>/, two folders below the repository).
 */
const sourceUrls = {
  name: 'source-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const rel = posix(relative(root, args.path));
      const contents = text.replace(/\bimport\.meta\.url\b/g, `new URL(${JSON.stringify(`../../${rel}`)}, import.meta.url).href`);
      return { contents, loader: 'ts' };
    });
  },
};

/**
 * The sources' modules have no side effects of their own on import (none is
 * imported for them alone; the build fails if one is): a module none of whose
 * exports the client uses is left out of it. Without this the client, which
 * needs only cacheDir() of src/node/host.ts, would load the image store and
 * the registry client that host.ts imports for the daemon.
 *
 * A dynamic import in the client (help's command table, the daemon) is left
 * to run time, as ./NAME.js beside main.js: the second build makes those.
 * (One build with code splitting would not do: esbuild puts every module a
 * client module imports, used or not, in the client's chunks.)
 */
function clientPlugin(lazy) {
  const plugin = {
    name: 'berth-client',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\// }, async (args) => {
        if (args.pluginData === plugin) return undefined;
        const r = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: plugin });
        if (r.errors.length) return { errors: r.errors };
        if (args.kind === 'dynamic-import') {
          const name = basename(r.path).replace(/\.[^.]*$/, '');
          if (name === 'main' || (lazy.has(name) && lazy.get(name) !== r.path)) return { errors: [{ text: `two lazily loaded modules named ${name}: rename one` }] };
          lazy.set(name, r.path);
          return { path: `./${name}.js`, external: true };
        }
        return r.path.startsWith(join(root, 'src') + sep) ? { ...r, sideEffects: false } : r;
      });
    },
  };
  return plugin;
}

/**
 * A package's JSON (v86/package.json, whose version keys the snapshots) is
 * bundled: Node imports JSON only with an import attribute, which the sources
 * do not write (tsx needs none). The file is then one of the build's inputs,
 * so an upgraded package makes the build stale, as a changed source does.
 */
const packageJson = {
  name: 'package-json',
  setup(b) {
    b.onResolve({ filter: /^[^./].*\.json$/ }, (args) => ({ path: createRequire(args.importer).resolve(args.path) }));
  },
};

const common = {
  absWorkingDir: root,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  tsconfig: 'tsconfig.json',
  outdir: 'dist-cli/out',
  sourcemap: 'linked',
  sourcesContent: false,
  metafile: true,
  write: false,
  logLevel: 'warning',
};

async function buildCli() {
  const { build } = await import('esbuild');
  const before = snapshotSources();
  // The client: main.js, one file, what talks to the daemon and nothing else.
  const lazy = new Map();
  const client = await build({ ...common, entryPoints: { main: 'src/cli/main.ts' }, plugins: [sourceUrls, packageJson, clientPlugin(lazy)] });
  const ignored = client.warnings.filter((w) => w.id === 'ignored-bare-import');
  if (ignored.length) throw new Error(`a source is imported for its side effects alone, which this build leaves out (see clientPlugin in ${posix(relative(root, fileURLToPath(import.meta.url)))}): ${ignored.map((w) => `${w.location?.file}:${w.location?.line}`).join(', ')}`);
  // What it loads when needed: help (Docker's command table) and the daemon (the engine), sharing chunks.
  const rest = await build({ ...common, entryPoints: Object.fromEntries(lazy), splitting: true, chunkNames: 'chunk-[hash]', plugins: [sourceUrls, packageJson] });

  // The folder is named by the output's hash: an unchanged output is the folder already there.
  const files = [...client.outputFiles, ...rest.outputFiles].map((f) => ({ rel: posix(relative(join(OUT, 'out'), f.path)), bytes: f.contents })).sort((a, b) => (a.rel < b.rel ? -1 : 1));
  const hash = createHash('sha256');
  for (const f of files) hash.update(f.rel).update('\0').update(f.bytes).update('\0');
  const dir = hash.digest('hex').slice(0, 12);
  const final = join(OUT, dir);
  if (!statSync(join(final, 'main.js'), { throwIfNoEntry: false })) {
    const tmp = join(OUT, `.tmp-${process.pid}-${Date.now()}`);
    for (const f of files) {
      mkdirSync(dirname(join(tmp, f.rel)), { recursive: true });
      writeFileSync(join(tmp, f.rel), f.bytes);
    }
    try {
      renameSync(tmp, final); // whole: a folder of this name is never half written
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e; // else a build at the same time made the same
    }
  }

  // Files only: a module a plugin makes up (namespace:path) has no file to compare.
  const read = [...Object.keys(client.metafile.inputs), ...Object.keys(rest.metafile.inputs)].filter((p) => !/^[a-z][\w-]*:/.test(p)).map(posix);
  const inputs = [...new Set([...read, ...EXTRA_INPUTS])].sort();
  // A source not seen before the build was created during it: recorded as missing, so the build reads as stale.
  // Other inputs (a package's JSON) are taken as they are now.
  const state = (p) => before.get(p) ?? (p.startsWith('src/') ? undefined : fileState(p)) ?? [-1, -1];
  const stamp = { dir, built: new Date().toISOString(), inputs: inputs.map((p) => [p, ...state(p)]) };
  const previous = readStamp();
  const tmpStamp = `${STAMP}.${process.pid}`;
  writeFileSync(tmpStamp, JSON.stringify(stamp) + '\n');
  renameSync(tmpStamp, STAMP);
  // A build that reads as stale at once would never run (bin/berth.js would run the sources every time): say which input.
  const unmatched = stamp.inputs.find(([p, mtimeMs, size]) => {
    const now = fileState(p);
    return !now || now[0] !== mtimeMs || now[1] !== size;
  });
  if (unmatched && !fileState(unmatched[0])) throw new Error(`the build names ${unmatched[0]} among its inputs, which is no file: it would read as stale, and never run`);
  if (unmatched) console.error(`berth: ${unmatched[0]} changed during the build: the build is stale already and will not be run (build again)`);

  const keep = new Set([dir, ...(previous?.dir && previous.dir !== dir ? [previous.dir] : []).slice(0, KEEP_PREVIOUS)]);
  for (const e of readdirSync(OUT, { withFileTypes: true })) {
    if (!e.isDirectory() || keep.has(e.name)) continue;
    // Another build's temporary folder is left alone unless an hour old (that build was interrupted).
    if (e.name.startsWith('.tmp-') && Date.now() - (statSync(join(OUT, e.name), { throwIfNoEntry: false })?.mtimeMs ?? 0) < 3600_000) continue;
    rmSync(join(OUT, e.name), { recursive: true, force: true });
  }
  const clientBytes = client.outputFiles.find((f) => f.path.endsWith('main.js'))?.contents.byteLength ?? 0;
  return { dir, inputs: inputs.length, clientBytes, bytes: files.reduce((n, f) => n + f.bytes.byteLength, 0) };
}

if (!(process.argv.includes('--if-stale') && buildIsFresh())) {
  const t0 = performance.now();
  const r = await buildCli();
  console.error(`berth: built the berth command into dist-cli/${r.dir} (${r.inputs} sources; client ${(r.clientBytes / 1024).toFixed(0)} KiB, all ${(r.bytes / 1024).toFixed(0)} KiB; ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
