/**
 * `docker push` against a real registry (Distribution, token auth): no guest
 * is booted, a push needs only the image service and the registry. The
 * command runs through runDockerCommand over an engine that has an image
 * service and nothing else.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { ImageService } from '../../src/engine/image-service.js';
import { parseReference } from '../../src/oci/reference.js';
import { RegistryClient } from '../../src/oci/registry-client.js';
import { MediaType, type ImageManifest } from '../../src/oci/types.js';
import { MemoryContentStore, MemoryMetadataStore } from '../../src/store/memory/memory-store.js';
import { dirEntry, fileEntry, makeLayoutDir, removeLayout, writeLayout, type WrittenImage } from '../fixtures/oci-layouts.js';
import { freePort, startRegistry, type TestRegistry } from '../fixtures/registry.js';
import { dockerCommand } from '../helpers/engine.js';

let registry: TestRegistry;
let open: TestRegistry;
let layoutDirs: string[] = [];
let content: MemoryContentStore;
let images: ImageService;
let engine: Engine;
let hello: WrittenImage;
let bare: WrittenImage;

const docker = (argv: string[], stdin?: string) => dockerCommand(engine, argv, stdin);
const short = (digest: string) => digest.slice('sha256:'.length, 'sha256:'.length + 12);
const lines = (s: string) => s.split('\n').filter(Boolean);

/** An image written as an OCI layout and loaded into `images` under `name`. */
async function localImage(name: string, layers: Parameters<typeof writeLayout>[1]['layers']): Promise<WrittenImage> {
  const dir = await makeLayoutDir('berth-push-');
  layoutDirs.push(dir);
  const written = await writeLayout(dir, { layers });
  await images.importLayout({ read: async (p) => new Uint8Array(await readFile(join(dir, p))) }, [name]);
  return written;
}

/** The lines of one layer in a push's output, in order. */
function layerLines(out: string, diffId: string): string[] {
  const id = short(diffId);
  return lines(out).filter((l) => l.startsWith(`${id}: `)).map((l) => l.slice(id.length + 2));
}

/** A fresh image service over empty memory stores, logged in to the test registry. */
function emptyService(): ImageService {
  const creds = { username: registry.username, password: registry.password };
  return new ImageService(new MemoryContentStore(), new MemoryMetadataStore(), new RegistryClient({ credentials: () => creds }));
}

beforeAll(async () => {
  [registry, open] = await Promise.all([startRegistry({ auth: 'token' }), startRegistry()]);
  content = new MemoryContentStore();
  images = new ImageService(content, new MemoryMetadataStore(), new RegistryClient());
  engine = { images } as unknown as Engine;
  hello = await localImage('berth-test/hello:v1', [
    [dirEntry('etc/'), fileEntry('etc/base.txt', 'the base layer\n')],
    [fileEntry('hello.txt', 'hello from the top layer\n')],
  ]);
  bare = await localImage('berth-test/bare:v1', [[fileEntry('bare.txt', 'an image whose manifest is made at push time\n')]]);
});

afterAll(async () => {
  await registry?.stop();
  await open?.stop();
  for (const d of layoutDirs) await removeLayout(d);
  layoutDirs = [];
});

describe('docker push', () => {
  it('without a login fails with the registry\'s reason and exit 1', async () => {
    expect((await docker(['tag', 'berth-test/hello:v1', `${registry.host}/me/hello:v1`])).code).toBe(0);
    const r = await docker(['push', `${registry.host}/me/hello:v1`]);
    expect(r.code).toBe(1);
    expect(r.err).toBe('unauthorized: authentication required\n');
    expect(lines(r.out)[0]).toBe(`The push refers to repository [${registry.host}/me/hello]`);
    expect(layerLines(r.out, hello.diffIds[1]!)[0]).toBe('Preparing');
    // Nothing was recorded as pushed.
    expect((await images.resolve(`${registry.host}/me/hello:v1`)).repoDigests).toEqual([]);
  });

  it('pushes a local image to a new repository, with Docker\'s lines, and records the repo digest', async () => {
    const login = await docker(['login', '-u', registry.username, '--password-stdin', registry.host], `${registry.password}\n`);
    expect(login).toMatchObject({ code: 0, out: 'Login Succeeded\n' });
    const r = await docker(['push', `${registry.host}/me/hello:v1`]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const image = await images.resolve(`${registry.host}/me/hello:v1`);
    const manifestBytes = (await content.get(image.manifestDigest))!;
    const out = lines(r.out);
    expect(out[0]).toBe(`The push refers to repository [${registry.host}/me/hello]`);
    // Top layer first, each by its short diff ID, as Docker lists them.
    expect(out.slice(1, 3)).toEqual([`${short(hello.diffIds[1]!)}: Preparing`, `${short(hello.diffIds[0]!)}: Preparing`]);
    for (const diffId of hello.diffIds) expect(layerLines(r.out, diffId)).toEqual(['Preparing', 'Pushing', 'Pushed']);
    // The stored manifest goes as it is: same digest, same size.
    expect(out.at(-1)).toBe(`v1: digest: ${image.manifestDigest} size: ${manifestBytes.length}`);
    expect(image.manifestDigest).toBe(hello.descriptor.digest);
    expect(image.repoDigests).toEqual([`${registry.host}/me/hello@${image.manifestDigest}`]);
    expect(images.inspect(image)).toMatchObject({ RepoDigests: [`${registry.host}/me/hello@${image.manifestDigest}`] });
    // The token was asked for pull and push on the repository, by the logged-in user.
    expect(registry.tokenRequests.some((t) => t.user === 'tester' && t.granted.some((g) => g.name === 'me/hello' && g.actions.includes('push')))).toBe(true);
  });

  it('pulls what it pushed, by digest, into an empty store: same manifest, config and layers', async () => {
    const local = await images.resolve(`${registry.host}/me/hello:v1`);
    const fresh = emptyService();
    const pulled = await fresh.pull(`${registry.host}/me/hello@${local.manifestDigest}`);
    expect(pulled.manifestDigest).toBe(local.manifestDigest);
    expect(pulled.id).toBe(local.id);
    expect(pulled.config).toEqual(local.config);
    expect(pulled.layers).toEqual(local.layers);
    for (const l of local.layers) expect(await fresh.readBlob(l.digest)).toEqual(await images.readBlob(l.digest));
    // And by tag.
    expect((await emptyService().pull(`${registry.host}/me/hello:v1`)).manifestDigest).toBe(local.manifestDigest);
  });

  it('says every layer already exists on a second push', async () => {
    const r = await docker(['push', `${registry.host}/me/hello:v1`]);
    expect(r.code).toBe(0);
    for (const diffId of hello.diffIds) expect(layerLines(r.out, diffId)).toEqual(['Preparing', 'Layer already exists']);
    expect(lines(r.out).at(-1)).toMatch(new RegExp(`^v1: digest: ${hello.descriptor.digest} size: \\d+$`));
  });

  it('mounts the layers from the repository it pushed them to when pushing to another one', async () => {
    await docker(['tag', `${registry.host}/me/hello:v1`, `${registry.host}/other/hello:v2`]);
    const before = registry.tokenRequests.length;
    const r = await docker(['image', 'push', `${registry.host}/other/hello:v2`]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    for (const diffId of hello.diffIds) expect(layerLines(r.out, diffId)).toEqual(['Preparing', 'Mounted from me/hello']);
    expect(lines(r.out).at(-1)).toMatch(/^v2: digest: /);
    // The mount's token covers pushing to the target and pulling from the source.
    const granted = registry.tokenRequests.slice(before).flatMap((t) => t.granted);
    expect(granted).toEqual(expect.arrayContaining([
      { type: 'repository', name: 'other/hello', actions: ['pull', 'push'] },
      { type: 'repository', name: 'me/hello', actions: ['pull'] },
    ]));
    const pulled = await emptyService().pull(`${registry.host}/other/hello:v2`);
    expect(pulled.manifestDigest).toBe(hello.descriptor.digest);
  });

  it('-a pushes every tag of the repository; -q prints only the reference', async () => {
    await docker(['tag', `${registry.host}/me/hello:v1`, `${registry.host}/other/hello:v3`]);
    const r = await docker(['push', '-a', '-q', `${registry.host}/other/hello`]);
    expect(r).toEqual({ code: 0, out: `${registry.host}/other/hello\n`, err: '' });
    const client = new RegistryClient({ credentials: () => ({ username: registry.username, password: registry.password }) });
    for (const tag of ['v2', 'v3']) expect((await client.resolve(parseReference(`${registry.host}/other/hello:${tag}`))).manifestDigest).toBe(hello.descriptor.digest);
    const verbose = await docker(['push', '--all-tags', `${registry.host}/other/hello`]);
    expect(verbose.code).toBe(0);
    expect(lines(verbose.out).filter((l) => /^v\d: digest:/.test(l)).map((l) => l.split(':')[0])).toEqual(['v2', 'v3']);
    expect(verbose.out).not.toContain('Using default tag');
  });

  it('pushes latest when the name has no tag, and says so', async () => {
    const none = await docker(['push', `${registry.host}/other/hello`]);
    expect(none.code).toBe(1);
    expect(lines(none.out)[0]).toBe('Using default tag: latest');
    expect(none.err).toBe(`tag does not exist: ${registry.host}/other/hello:latest\n`);
    await docker(['tag', `${registry.host}/me/hello:v1`, `${registry.host}/other/hello:latest`]);
    const r = await docker(['push', `${registry.host}/other/hello`]);
    expect(r.code).toBe(0);
    expect(lines(r.out).slice(0, 2)).toEqual(['Using default tag: latest', `The push refers to repository [${registry.host}/other/hello]`]);
    expect(lines(r.out).at(-1)).toMatch(/^latest: digest: /);
  });

  it('makes, stores and pushes a manifest for an image that has none stored', async () => {
    const local = await images.resolve('berth-test/bare:v1');
    expect(await content.delete(local.manifestDigest)).toBe(true);
    await docker(['tag', 'berth-test/bare:v1', `${registry.host}/fresh/a:v1`]);
    await docker(['tag', 'berth-test/bare:v1', `${registry.host}/fresh/b:v1`]);
    // fresh/a is a candidate to mount from (a tag of the image names it) but has nothing: the registry
    // answers the mount with an upload, which the push then uses.
    const r = await docker(['push', `${registry.host}/fresh/b:v1`]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(layerLines(r.out, bare.diffIds[0]!)).toEqual(['Preparing', 'Pushing', 'Pushed']);
    const image = await images.resolve(`${registry.host}/fresh/b:v1`);
    expect(await content.has(image.manifestDigest)).toBe(true);
    const made = JSON.parse(new TextDecoder().decode((await content.get(image.manifestDigest))!)) as ImageManifest;
    expect(made).toEqual({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: local.id, size: local.configSize },
      layers: local.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    });
    expect(image.extraBlobs).toContain(image.manifestDigest);
    // The canonical form: here byte for byte the manifest the layout had.
    expect(image.manifestDigest).toBe(bare.descriptor.digest);
    expect(lines(r.out).at(-1)).toBe(`v1: digest: ${image.manifestDigest} size: ${(await content.get(image.manifestDigest))!.length}`);
    const pulled = await emptyService().pull(`${registry.host}/fresh/b@${image.manifestDigest}`);
    expect(pulled.id).toBe(local.id);
    expect(pulled.config).toEqual(local.config);
  });

  it('says when no local image has the name, or the tag', async () => {
    const r = await docker(['push', `${registry.host}/nothing/here`]);
    expect(r).toEqual({
      code: 1,
      out: `Using default tag: latest\nThe push refers to repository [${registry.host}/nothing/here]\n`,
      err: `An image does not exist locally with the tag: ${registry.host}/nothing/here\n`,
    });
    const hub = await docker(['push', 'nosuchimage']);
    expect(hub.err).toBe('An image does not exist locally with the tag: nosuchimage\n');
    expect(hub.out).toContain('The push refers to repository [docker.io/library/nosuchimage]');
    const tag = await docker(['push', `${registry.host}/me/hello:nope`]);
    expect(tag.code).toBe(1);
    expect(tag.err).toBe(`tag does not exist: ${registry.host}/me/hello:nope\n`);
  });

  it('refuses a tag with -a and a digest reference, as Docker\'s client does', async () => {
    expect(await docker(['push', '-a', `${registry.host}/me/hello:v1`])).toEqual({ code: 1, out: '', err: "tag can't be used with --all-tags/-a\n" });
    const digest = await docker(['push', `${registry.host}/me/hello@${hello.descriptor.digest}`]);
    expect(digest).toEqual({ code: 1, out: '', err: 'cannot push a digest reference\n' });
  });

  it('says so when the registry cannot be reached', async () => {
    const host = `127.0.0.1:${await freePort()}`;
    await docker(['tag', 'berth-test/hello:v1', `${host}/me/hello:v1`]);
    const r = await docker(['push', `${host}/me/hello:v1`]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`^cannot reach http://${host.replace(/\./g, '\\.')} for ${host.replace(/\./g, '\\.')}/me/hello: fetch failed .*ECONNREFUSED`));
  });
});

describe('CORS for a push from a page', () => {
  it('lets a page start an upload and put its bytes on an open registry', async () => {
    const origin = { Origin: 'http://localhost:5173' };
    const preflight = await fetch(`${open.url}/v2/me/hello/blobs/uploads/`, {
      method: 'OPTIONS',
      headers: { ...origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization' },
    });
    await preflight.arrayBuffer();
    expect(preflight.status).toBe(200);
    for (const m of ['POST', 'PUT', 'PATCH']) expect(preflight.headers.get('access-control-allow-methods')).toContain(m);
    const start = await fetch(`${open.url}/v2/me/hello/blobs/uploads/`, { method: 'POST', headers: origin });
    await start.arrayBuffer();
    expect(start.status).toBe(202);
    const exposed = start.headers.get('access-control-expose-headers') ?? '';
    for (const h of ['Location', 'Docker-Upload-UUID', 'Docker-Content-Digest']) expect(exposed).toContain(h);
    const put = await fetch(new URL(start.headers.get('location')!, open.url), {
      method: 'OPTIONS',
      headers: { ...origin, 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'content-type' },
    });
    await put.arrayBuffer();
    expect(put.status).toBe(200);
    expect(put.headers.get('access-control-allow-headers')).toContain('Content-Type');
  });
});
