import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageService } from '../../src/engine/image-service.js';
import type { RegistryClient, ResolvedImage } from '../../src/oci/registry-client.js';
import type { ImageReference } from '../../src/oci/reference.js';
import type { Descriptor } from '../../src/oci/types.js';
import { MemoryContentStore, MemoryMetadataStore } from '../../src/store/memory/memory-store.js';
import { dirEntry, fileEntry, makeLayoutDir, removeLayout, writeImage, type WrittenImage } from '../fixtures/oci-layouts.js';

/**
 * Garbage collection (rmi, prune, a failed pull cleaning up) against pulls
 * in flight: a blob a pull has found or stored but not yet recorded in an
 * image must survive, or the pull records an image whose blobs are gone.
 */

interface Image {
  written: WrittenImage;
  name: string;
}

/** A registry serving images from a layout folder; a blob can be held back until the test lets it go. */
async function fakeRegistry() {
  const dir = await makeLayoutDir('berth-gc-');
  const base = [dirEntry('etc'), fileEntry('etc/base', 'shared base layer\n')];
  const images = new Map<string, Image>();
  for (const name of ['a', 'b', 'c']) {
    const written = await writeImage(dir, { layers: [base, [fileEntry(`${name}.txt`, `${name}\n`)]] });
    images.set(name, { written, name });
  }
  const gates = new Map<string, Promise<void>>();
  const corrupt = new Set<string>();
  const blob = (digest: string) => readFile(join(dir, 'blobs', 'sha256', digest.slice(7)));
  const client = {
    useStoredCredentials: () => {},
    async resolve(ref: ImageReference): Promise<ResolvedImage> {
      const img = images.get(ref.path.replace(/^library\//, ''))!;
      return {
        manifestDigest: img.written.descriptor.digest,
        manifest: img.written.manifest,
        manifestBytes: new Uint8Array(await blob(img.written.descriptor.digest)),
        manifestMediaType: img.written.manifest.mediaType!,
      };
    },
    async fetchConfig(_ref: ImageReference, desc: Descriptor) {
      const bytes = new Uint8Array(await blob(desc.digest));
      return { bytes, config: JSON.parse(new TextDecoder().decode(bytes)) };
    },
    async fetchBlob(_ref: ImageReference, desc: Descriptor): Promise<ReadableStream<Uint8Array>> {
      await gates.get(desc.digest);
      const bytes = new Uint8Array(await blob(desc.digest));
      if (corrupt.has(desc.digest)) bytes[bytes.length >> 1]! ^= 1;
      return new Blob([bytes]).stream();
    },
  } as unknown as RegistryClient;
  /** Holds fetches of `digest` back; returns the function that lets them go. */
  const hold = (digest: string) => {
    let open!: () => void;
    gates.set(digest, new Promise<void>((r) => (open = r)));
    return open;
  };
  /** An OCI layout reader over the same folder (`load`); reads of a held blob wait too, `asked` says when one was asked for. */
  const reader = (asked: (path: string) => void = () => {}) => ({
    async read(path: string): Promise<Uint8Array> {
      asked(path);
      await gates.get(`sha256:${path.split('/').at(-1)}`);
      return new Uint8Array(await readFile(join(dir, path)));
    },
  });
  return { client, images, hold, corrupt, reader, cleanup: () => removeLayout(dir) };
}

async function setup() {
  const reg = await fakeRegistry();
  const content = new MemoryContentStore();
  const svc = new ImageService(content, new MemoryMetadataStore(), reg.client);
  const digests = (name: string) => {
    const w = reg.images.get(name)!.written;
    return [w.descriptor.digest, w.configDescriptor.digest, ...w.layers.map((l) => l.digest)];
  };
  const baseLayer = reg.images.get('a')!.written.layers[0]!.digest;
  const top = (name: string) => reg.images.get(name)!.written.layers[1]!.digest;
  return { reg, content, svc, digests, baseLayer, top };
}

/** Resolves when the pull reports `digest` (stored, or found already there). */
const whenLayer = (digest: string) => {
  let seen!: () => void;
  const p = new Promise<void>((r) => (seen = r));
  return { p, onEvent: (e: { type: string; digest?: string; status?: string }) => e.type === 'layer' && e.digest === digest && e.status !== 'downloading' && seen() };
};

describe('image GC and pulls in flight', () => {
  it('rmi does not delete a shared layer that a pull found already stored and has not recorded yet', async () => {
    const { reg, content, svc, digests, baseLayer, top } = await setup();
    await svc.pull('a');
    const release = reg.hold(top('b'));
    const seen = whenLayer(baseLayer);
    const pulling = svc.pull('b', seen.onEvent);
    await seen.p; // b's pull has seen the base layer "exists"
    await svc.remove('a'); // the last image recording the base layer goes
    release();
    await pulling;
    for (const d of digests('b')) expect(await content.has(d), d).toBe(true);
    expect(await content.has(top('a'))).toBe(false); // a's own layer did go
    await reg.cleanup();
  });

  it('image prune does not delete a shared layer a pull in flight uses', async () => {
    const { reg, content, svc, digests, baseLayer, top } = await setup();
    await svc.pull('a');
    await svc.remove('a', { inUse: () => true }); // untagged, kept (dangling) for a container
    const release = reg.hold(top('b'));
    const seen = whenLayer(baseLayer);
    const pulling = svc.pull('b', seen.onEvent);
    await seen.p;
    expect((await svc.prune()).deleted).toEqual([reg.images.get('a')!.written.configDescriptor.digest]);
    release();
    await pulling;
    for (const d of digests('b')) expect(await content.has(d), d).toBe(true);
    await reg.cleanup();
  });

  it('a failed pull cleaning up does not take a layer another pull in flight shares', async () => {
    const { reg, content, svc, digests, baseLayer, top } = await setup();
    reg.corrupt.add(top('a'));
    const releaseA = reg.hold(top('a'));
    const releaseB = reg.hold(top('b'));
    const seenA = whenLayer(baseLayer);
    const pullA = svc.pull('a', seenA.onEvent).catch((e: Error) => e);
    await seenA.p; // a stored the base layer
    const seenB = whenLayer(baseLayer);
    const pullB = svc.pull('b', seenB.onEvent);
    await seenB.p; // b found it there
    releaseA();
    expect(await pullA).toBeInstanceOf(Error); // a's top layer is corrupt: a removes what it added
    releaseB();
    await pullB;
    for (const d of digests('b')) expect(await content.has(d), d).toBe(true);
    await reg.cleanup();
  });

  it('rmi does not delete a shared layer that a load in flight found stored', async () => {
    const { reg, content, svc, digests, top } = await setup();
    await svc.pull('a');
    const release = reg.hold(top('b'));
    let reached!: () => void;
    const atTop = new Promise<void>((r) => (reached = r));
    const loading = svc.importLayout(reg.reader((p) => p.endsWith(top('b').slice(7)) && reached()), ['b:latest'], reg.images.get('b')!.written.descriptor);
    await atTop; // the load went past the base layer (found stored) to b's own
    await svc.remove('a');
    release();
    await loading;
    for (const d of digests('b')) expect(await content.has(d), d).toBe(true);
    await reg.cleanup();
  });

  it('a pull that starts while a collection runs downloads again what it deletes', async () => {
    const { content, svc, digests } = await setup();
    await svc.pull('a');
    const removing = svc.remove('a');
    const pulling = svc.pull('a');
    await Promise.all([removing, pulling]);
    // Whatever order they ran in, the image that is recorded has all its blobs.
    const images = await svc.list();
    for (const img of images) for (const d of [img.id, ...img.layers.map((l) => l.digest)]) expect(await content.has(d), d).toBe(true);
    expect(images.length).toBeLessThanOrEqual(1);
    if (images.length) for (const d of digests('a')) expect(await content.has(d)).toBe(true);
  });
});
