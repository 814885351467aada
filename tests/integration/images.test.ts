import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { isBerthError } from '../../src/engine/errors.js';
import { ImageService } from '../../src/engine/image-service.js';
import { chainIds, LAYERS_DIR, layerPath } from '../../src/engine/layer-unpacker.js';
import { RegistryClient, type RegistryClientOptions } from '../../src/oci/registry-client.js';
import { FolderContentStore, FolderMetadataStore } from '../../src/store/folder/folder-store.js';
import { bootNodeEngine } from '../../src/node/boot.js';
import {
  buildAmd64OnlyImage,
  buildMultiLayerImage,
  buildMultiPlatformImage,
  busyboxBaseEntries,
  fileEntry,
  makeLayoutDir,
  writeLayout,
  type MultiLayerImage,
} from '../fixtures/oci-layouts.js';
import { startRegistry, type TestRegistry } from '../fixtures/registry.js';
import { dockerCommand, runCollect, tempStoreDir } from '../helpers/engine.js';

let registry: TestRegistry;
let tokenRegistry: TestRegistry;
let multi: MultiLayerImage;
let engine: Engine;
let storeDir: string;
/** Blob GETs the client made, by URL. */
const blobGets: string[] = [];

function service(opts: RegistryClientOptions = {}, dir = storeDir): ImageService {
  const counting: typeof fetch = (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url.includes('/blobs/')) blobGets.push(url);
    return (opts.fetch ?? fetch)(input, init);
  };
  return new ImageService(new FolderContentStore(dir), new FolderMetadataStore(dir), new RegistryClient({ ...opts, fetch: counting }));
}

/** The unpacked layer trees in the 9p tree (not the hidden partial ones), sorted. */
function layerTrees(): string[] {
  if (!engine.vm.fs.exists(LAYERS_DIR)) return [];
  return engine.vm.fs.list(LAYERS_DIR).filter((n) => !n.startsWith('.')).map((n) => `${LAYERS_DIR}/${n}`).sort();
}

/** The trees an image's layers unpack to, bottom first. */
async function treesOf(image: { layers: Array<{ diffId: string }> }): Promise<string[]> {
  return (await chainIds(image.layers.map((l) => l.diffId))).map(layerPath);
}

async function storeSnapshot(dir = storeDir): Promise<{ blobs: string[]; meta: string[] }> {
  return {
    blobs: (await new FolderContentStore(dir).list()).map((b) => b.digest),
    meta: await new FolderMetadataStore(dir).keys(),
  };
}

beforeAll(async () => {
  [registry, tokenRegistry] = await Promise.all([startRegistry(), startRegistry({ auth: 'token' })]);
  multi = await buildMultiLayerImage();
  await registry.push(multi.dir, `multi:${multi.refName}`);
  await tokenRegistry.push(multi.dir, `private/multi:${multi.refName}`);
  const amd = await buildAmd64OnlyImage();
  await registry.push(amd.dir, 'amd64only:latest', { all: true });
  const mp = await buildMultiPlatformImage();
  await registry.push(mp.dir, 'multiplatform:latest', { all: true });
  // Two images over one identical base layer.
  const base = await busyboxBaseEntries();
  for (const name of ['sharedbase-a', 'sharedbase-b']) {
    const dir = await makeLayoutDir();
    await writeLayout(dir, { layers: [base, [fileEntry('whoami', `${name}\n`)]], refName: 'latest' });
    await registry.push(dir, `${name}:latest`);
  }
  storeDir = tempStoreDir();
  engine = await bootNodeEngine({ images: service() });
});

afterAll(async () => {
  await engine?.vm.stop();
  await registry?.stop();
  await tokenRegistry?.stop();
});

describe('pull from a registry', () => {
  it('pulls a multi-layer image whose container sees exactly the merged tree', async () => {
    const image = await engine.pull(`${registry.host}/multi:${multi.refName}`);
    expect(image.layers.length).toBe(multi.image.layers.length);
    const checks = [
      ...Object.entries(multi.expected.present).map(([p, content]) => `[ "$(cat ${p})" = "${content.replace(/\n$/, '')}" ] || echo "WRONG ${p}"`),
      ...multi.expected.absent.map((p) => `[ -e ${p} ] && echo "PRESENT ${p}"`),
      ...Object.entries(multi.expected.symlinks).map(([p, t]) => `[ "$(readlink ${p})" = "${t}" ] || echo "LINK ${p}"`),
      ...multi.expected.hardlinks.map(([a, b]) => `[ ${a} -ef ${b} ] || echo "HARDLINK ${a}"`),
      'echo checked',
    ].join('; ');
    const r = await runCollect(engine, `${registry.host}/multi:${multi.refName}`, ['sh', '-c', checks]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('checked\n');
  });

  it('picks linux/386 from an index with several platforms', async () => {
    await engine.pull(`${registry.host}/multiplatform:latest`);
    const r = await runCollect(engine, `${registry.host}/multiplatform:latest`, ['cat', '/platform']);
    expect(r.stdout.trim()).toBe('linux/386');
  });

  it('downloads nothing on a second pull of the same image', async () => {
    const before = blobGets.length;
    await engine.pull(`${registry.host}/multi:${multi.refName}`);
    expect(blobGets.slice(before)).toEqual([]);
  });

  it('stores a base layer two images share once', async () => {
    const treesBefore = layerTrees();
    const a = await engine.pull(`${registry.host}/sharedbase-a:latest`);
    const b = await engine.pull(`${registry.host}/sharedbase-b:latest`);
    expect(a.layers[0]!.digest).toBe(b.layers[0]!.digest);
    expect(a.id).not.toBe(b.id);
    const blobs = (await storeSnapshot()).blobs;
    expect(blobs.filter((d) => d === a.layers[0]!.digest)).toHaveLength(1);
    const ra = await runCollect(engine, `${registry.host}/sharedbase-a:latest`, ['cat', '/whoami']);
    const rb = await runCollect(engine, `${registry.host}/sharedbase-b:latest`, ['cat', '/whoami']);
    expect([ra.stdout, rb.stdout]).toEqual(['sharedbase-a\n', 'sharedbase-b\n']);
    // Running them added exactly their trees, the shared base's once, and nothing else.
    const [ta, tb] = [await treesOf(a), await treesOf(b)];
    expect(ta[0]).toBe(tb[0]);
    expect(layerTrees()).toEqual([...new Set([...treesBefore, ...ta, ...tb])].sort());
  });

  it('refuses an image with no linux/386 and lists the platforms it has', async () => {
    const before = await storeSnapshot();
    const err = await engine.pull(`${registry.host}/amd64only:latest`).catch((e) => e);
    expect(err.message).toMatch(/no matching manifest for linux\/386.*available: linux\/amd64/);
    expect(await storeSnapshot()).toEqual(before);
  });

  it('says an unknown repository was not found', async () => {
    const err = await engine.pull(`${registry.host}/nosuch:latest`).catch((e) => e);
    expect(isBerthError(err)).toBe(true);
    expect(err.message).toMatch(/not found|pull access denied/);
  });
});

describe('token auth', () => {
  it('pulls with credentials', async () => {
    const images = service({ credentials: () => ({ username: registry.username, password: registry.password }) }, tempStoreDir());
    const image = await images.pull(`${tokenRegistry.host}/private/multi:${multi.refName}`);
    expect(image.layers.length).toBe(multi.image.layers.length);
    expect(tokenRegistry.tokenRequests.some((t) => t.user === 'tester' && t.status === 200)).toBe(true);
  });

  it('without credentials gives a clear unauthorized error', async () => {
    const dir = tempStoreDir();
    const err = await service({}, dir).pull(`${tokenRegistry.host}/private/multi:${multi.refName}`).catch((e) => e);
    expect(isBerthError(err, 'unauthorized')).toBe(true);
    expect(err.message).toMatch(/pull access denied for .*private\/multi/);
    expect(await storeSnapshot(dir)).toEqual({ blobs: [], meta: [] });
  });

  it('with a wrong password says so', async () => {
    const err = await service({ credentials: () => ({ username: 'tester', password: 'wrong' }) }, tempStoreDir())
      .pull(`${tokenRegistry.host}/private/multi:${multi.refName}`)
      .catch((e) => e);
    expect(err.message).toMatch(/incorrect username or password/);
  });
});

describe('bad downloads leave the store as it was', () => {
  /** A fetch that tampers with one kind of response, as a broken proxy would. */
  const tampering = (match: (url: string) => boolean, change: (body: Uint8Array) => Uint8Array, dropDigestHeader = false): typeof fetch =>
    async (input, init) => {
      const res = await fetch(input, init);
      const url = String(input);
      if (!match(url) || !res.ok) return res;
      const body = change(new Uint8Array(await res.arrayBuffer()));
      const headers = new Headers(res.headers);
      headers.delete('Content-Length');
      if (dropDigestHeader) headers.delete('Docker-Content-Digest');
      return new Response(body as Uint8Array<ArrayBuffer>, { status: res.status, headers });
    };
  const layerUrl = (url: string) => url.includes('/blobs/') && multi.image.layers.some((l) => url.endsWith(l.digest));

  it.each([
    ['a blob with the wrong digest', tampering(layerUrl, (b) => b.map((x, i) => (i === 100 ? x ^ 1 : x))), /digest/],
    ['a truncated download', tampering(layerUrl, (b) => b.subarray(0, b.length >> 1)), /truncated/],
    ['a manifest that is not JSON', tampering((u) => u.includes('/manifests/'), () => new TextEncoder().encode('<html>oops</html>'), true), /not valid JSON/],
  ])('%s', async (_what, fetchImpl, message) => {
    const dir = tempStoreDir();
    const good = service({}, dir);
    await good.pull(`${registry.host}/sharedbase-a:latest`); // something already stored must survive
    const before = await storeSnapshot(dir);
    const err = await service({ fetch: fetchImpl, attempts: 1 }, dir).pull(`${registry.host}/multi:${multi.refName}`).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(message);
    expect(await storeSnapshot(dir)).toEqual(before);
    expect((await good.list()).map((i) => i.repoTags).flat()).toEqual([`${registry.host}/sharedbase-a:latest`]);
  });
});

describe('tags, removal and layer trees', () => {
  it('tags, untags, removes and frees blobs and unpacked trees nobody uses', async () => {
    const name = `${registry.host}/sharedbase-b:latest`;
    const treesBefore = layerTrees();
    await engine.images.tag(name, 'mine:v1');
    expect((await engine.images.resolve('mine:v1')).id).toBe((await engine.images.resolve(name)).id);
    expect(await engine.removeImage('mine:v1')).toEqual([{ Untagged: 'mine:v1' }]);
    const image = await engine.images.resolve(name);
    const out = await engine.removeImage(name);
    expect(out.at(-1)).toEqual({ Deleted: image.id });
    const blobs = (await storeSnapshot()).blobs;
    expect(blobs).not.toContain(image.layers[1]!.digest); // its own top layer is gone
    expect(blobs).toContain(image.layers[0]!.digest); // the shared base stays for sharedbase-a
    // Its own top tree (unpacked when the test above ran it) goes; the shared base's and every other image's stay.
    const ownTree = (await treesOf(image))[1]!;
    expect(treesBefore).toContain(ownTree);
    expect(layerTrees()).toEqual(treesBefore.filter((t) => t !== ownTree));
    const err = await engine.images.resolve(name).catch((e) => e);
    expect(err.message).toMatch(/Unable to find image/);
  });
});

describe('docker login / logout', () => {
  it('keeps credentials in the store and pulls with them; logout forgets them', async () => {
    const ref = `${tokenRegistry.host}/private/multi:${multi.refName}`;
    const denied = await dockerCommand(engine, ['pull', ref]);
    expect(denied.code).not.toBe(0);
    expect(denied.err).toMatch(/pull access denied/);
    const bad = await dockerCommand(engine, ['login', '-u', 'tester', '--password-stdin', tokenRegistry.host], 'wrong\n');
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/incorrect username or password/);
    const ok = await dockerCommand(engine, ['login', '-u', registry.username, '--password-stdin', tokenRegistry.host], `${registry.password}\n`);
    expect(ok).toMatchObject({ code: 0, out: 'Login Succeeded\n' });
    expect((await new FolderMetadataStore(storeDir).keys('auth/'))).toEqual([`auth/${tokenRegistry.host}`]);
    expect((await dockerCommand(engine, ['pull', ref])).code).toBe(0);
    expect((await dockerCommand(engine, ['logout', tokenRegistry.host])).out).toBe(`Removing login credentials for ${tokenRegistry.host}\n`);
    expect(await new FolderMetadataStore(storeDir).keys('auth/')).toEqual([]);
  });
});
