// Prints public/guest/manifest.json: what was built, from which Debian
// package versions, and the sha256 and size of every artifact.
// Usage: node write-manifest.mjs GUEST_DIR PACKAGES_TXT [NAME=VERSION...]
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const [dir, packagesTxt, ...extra] = process.argv.slice(2);
const packages = {};
for (const line of readFileSync(packagesTxt, 'utf8').split('\n')) {
  const [name, version] = line.trim().split(/\s+/);
  if (name && version) packages[name] = version;
}
for (const pair of extra) {
  const i = pair.indexOf('=');
  packages[pair.slice(0, i)] = pair.slice(i + 1);
}

function* walk(d) {
  for (const name of readdirSync(d).sort()) {
    const p = join(d, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else yield p;
  }
}
const artifacts = {};
for (const file of walk(dir)) {
  const rel = relative(dir, file);
  if (rel === 'manifest.json') continue;
  const data = readFileSync(file);
  artifacts[rel] = { sha256: createHash('sha256').update(data).digest('hex'), size: data.length };
}
// One id for the whole guest: snapshots and caches key on it.
const id = createHash('sha256').update(JSON.stringify(artifacts)).digest('hex').slice(0, 16);
process.stdout.write(JSON.stringify({ id, arch: 'i386', packages, artifacts }, null, 2) + '\n');
