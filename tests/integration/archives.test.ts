import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packTar, type TarEntry } from 'modern-tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { loadImageArchive, saveImageArchive } from '../../src/engine/image-archive.js';
import { bootNodeEngine } from '../../src/node/boot.js';
import { openImageService } from '../../src/node/host.js';
import { FolderContentStore, FolderMetadataStore } from '../../src/store/folder/folder-store.js';
import { buildMultiLayerImage, fileEntry, symlinkEntry, type MultiLayerImage } from '../fixtures/oci-layouts.js';
import { runCollect, tempStoreDir } from '../helpers/engine.js';
import { createHash } from 'node:crypto';

const run = promisify(execFile);
let engine: Engine;
let storeDir: string;
let multi: MultiLayerImage;
const work = mkdtempSync(join(tmpdir(), 'berth-archives-'));

const streamOf = (b: Uint8Array) => new Blob([b as Uint8Array<ArrayBuffer>]).stream();
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function snapshot() {
  return { blobs: (await new FolderContentStore(storeDir).list()).map((b) => b.digest), meta: await new FolderMetadataStore(storeDir).keys() };
}

/** A legacy `docker save` archive holding one uncompressed layer made of `entries`. */
async function legacyArchive(entries: TarEntry[], tag: string): Promise<Uint8Array> {
  const layer = await packTar(entries);
  const config = new TextEncoder().encode(
    JSON.stringify({ architecture: '386', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [`sha256:${sha(layer)}`] } }),
  );
  const manifest = new TextEncoder().encode(JSON.stringify([{ Config: 'config.json', RepoTags: [tag], Layers: ['abc/layer.tar'] }]));
  return packTar([
    { header: { name: 'config.json', size: config.length }, body: config },
    { header: { name: 'abc/layer.tar', size: layer.length }, body: layer },
    { header: { name: 'manifest.json', size: manifest.length }, body: manifest },
  ]);
}

beforeAll(async () => {
  storeDir = tempStoreDir();
  engine = await bootNodeEngine({ images: openImageService({ dir: storeDir }) });
  multi = await buildMultiLayerImage();
});
afterAll(async () => {
  await engine?.vm.stop();
});

describe('save and load', () => {
  it('round-trips through skopeo: save → OCI archive → skopeo → docker archive → load → run', async () => {
    const saved = join(work, 'busybox.tar');
    writeFileSync(saved, await saveImageArchive(engine.images, ['busybox'], (d) => engine.images.readBlob(d)));
    const layout = join(work, 'layout');
    await run('skopeo', ['--insecure-policy', 'copy', '--quiet', `oci-archive:${saved}:latest`, `oci:${layout}:latest`]);
    const dockerArchive = join(work, 'docker.tar');
    await run('skopeo', ['--insecure-policy', 'copy', '--quiet', `oci:${layout}:latest`, `docker-archive:${dockerArchive}:roundtrip/busybox:again`]);
    const loaded = await loadImageArchive(engine.images, streamOf(readFileSync(dockerArchive)));
    expect(loaded).toEqual(['roundtrip/busybox:again']);
    const r = await runCollect(engine, 'roundtrip/busybox:again', ['echo', 'round trip']);
    expect(r.stdout).toBe('round trip\n');
  });

  it('loads an OCI layout archive made by skopeo from a multi-layer image', async () => {
    const archive = join(work, 'multi.tar');
    await run('skopeo', ['--insecure-policy', 'copy', '--quiet', `oci:${multi.dir}:${multi.refName}`, `oci-archive:${archive}:loaded/multi:1`]);
    await loadImageArchive(engine.images, streamOf(readFileSync(archive)));
    const image = (await engine.images.list()).find((i) => i.layers.length === multi.image.layers.length);
    expect(image).toBeDefined();
    await engine.images.tag(image!.id, 'loaded/multi:1');
    const r = await runCollect(engine, 'loaded/multi:1', ['cat', '/data/new.txt']);
    expect(r.stdout).toBe(multi.expected.present['/data/new.txt']);
  });

  it('loads a legacy docker save archive (uncompressed layers)', async () => {
    const { busyboxBaseEntries } = await import('../fixtures/oci-layouts.js');
    const tar = await legacyArchive([...(await busyboxBaseEntries()), fileEntry('hello.txt', 'legacy\n')], 'legacy:1');
    expect(await loadImageArchive(engine.images, streamOf(tar))).toEqual(['legacy:1']);
    expect((await runCollect(engine, 'legacy:1', ['cat', '/hello.txt'])).stdout).toBe('legacy\n');
  });
});

describe('hostile archives are refused and leave the store as it was', () => {
  it.each([
    ['a ".." entry', [fileEntry('../escape', 'x')], /leaves the layer/],
    ['an absolute path', [{ header: { name: '/etc/evil', size: 1 }, body: 'x' }], /absolute path/],
    ['a write through a symlink', [symlinkEntry('etc', '/etc'), fileEntry('etc/passwd', 'x')], /through a symlink/],
    ['a hard link out of the layer', [{ header: { name: 'l', type: 'link' as const, linkname: '../../etc/shadow', size: 0 } }], /leaves the layer/],
  ])('%s', async (_what, entries, message) => {
    const before = await snapshot();
    const err = await loadImageArchive(engine.images, streamOf(await legacyArchive(entries as TarEntry[], 'hostile:1'))).catch((e) => e);
    expect(err.message).toMatch(message);
    expect(await snapshot()).toEqual(before);
  });

  it('a file that is not a tar', async () => {
    const before = await snapshot();
    const junk = join(work, 'junk.tar');
    writeFileSync(junk, 'this is not a tar archive at all'.repeat(40));
    const err = await loadImageArchive(engine.images, streamOf(readFileSync(junk))).catch((e) => e);
    expect(err.message).toMatch(/not a valid tar|neither index.json/);
    expect(await snapshot()).toEqual(before);
  });
});
