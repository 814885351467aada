import { createTarDecoder, packTar, type TarEntry } from 'modern-tar';
import { digestHex, sha256Hex } from '../oci/digest.js';
import { familiarString, formatReference, parseReference } from '../oci/reference.js';
import { MediaType, type Descriptor, type ImageIndex } from '../oci/types.js';
import { invalidArgument } from './errors.js';
import type { ImageRecord, ImageService } from './image-service.js';

/**
 * `load` and `save`: image archives in the format Docker 25+ writes, which is
 * an OCI image layout (oci-layout, index.json, blobs/) plus Docker's
 * manifest.json in the same tar, so both `docker load` and OCI tools read it.
 * Older `docker save` archives (manifest.json with <id>/layer.tar) load too.
 */

const MAX_ENTRY = 2 * 1024 ** 3;

async function readEntries(tar: ReadableStream<Uint8Array>): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  try {
    for await (const entry of tar.pipeThrough(createTarDecoder({ strict: true }))) {
      const name = entry.header.name.replace(/^\.\//, '');
      if ((entry.header.type ?? 'file') !== 'file' || entry.header.size > MAX_ENTRY) {
        await entry.body.cancel();
        continue;
      }
      files.set(name, new Uint8Array(await new Response(entry.body).arrayBuffer()));
    }
  } catch (e) {
    throw invalidArgument(`the archive is not a valid tar file: ${(e as Error).message}`, e);
  }
  return files;
}

const json = <T>(bytes: Uint8Array | undefined, what: string): T => {
  if (!bytes) throw invalidArgument(`the archive has no ${what}`);
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (e) {
    throw invalidArgument(`${what} in the archive is not valid JSON`, e);
  }
};

interface DockerArchiveEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

/** Loads every image of an archive; returns the names Docker would print. */
export async function loadImageArchive(images: ImageService, tar: ReadableStream<Uint8Array>): Promise<string[]> {
  const files = await readEntries(tar);
  const reader = { read: async (p: string) => {
    const f = files.get(p);
    if (!f) throw new Error(`missing ${p}`);
    return f;
  } };
  const loaded: string[] = [];
  const dockerManifest = files.has('manifest.json') ? json<DockerArchiveEntry[]>(files.get('manifest.json'), 'manifest.json') : undefined;

  if (files.has('index.json')) {
    const index = json<ImageIndex>(files.get('index.json'), 'index.json');
    for (const desc of index.manifests) {
      const a = desc.annotations ?? {};
      const name = a['io.containerd.image.name'] ?? (a['org.opencontainers.image.ref.name']?.includes(':') || a['org.opencontainers.image.ref.name']?.includes('/') ? a['org.opencontainers.image.ref.name'] : undefined);
      const fromDocker = dockerManifest?.find((m) => m.Config === `blobs/sha256/${digestHex(desc.digest)}`)?.RepoTags ?? [];
      const refs = [...new Set([...(name ? [name] : []), ...fromDocker])];
      const image = await images.importLayout(reader, refs, desc);
      loaded.push(...(refs.length ? refs.map((r) => familiarString(parseReference(r))) : [`ID: ${image.id}`]));
    }
    return loaded;
  }
  if (!dockerManifest) throw invalidArgument('the archive has neither index.json (OCI layout) nor manifest.json (docker save)');

  // Legacy docker save: build an OCI manifest for its uncompressed layers.
  for (const entry of dockerManifest) {
    const config = files.get(entry.Config);
    if (!config) throw invalidArgument(`the archive lacks ${entry.Config}`);
    const blobs = new Map<string, Uint8Array>();
    const put = async (data: Uint8Array, mediaType: string): Promise<Descriptor> => {
      const digest = `sha256:${await sha256Hex(data)}`;
      blobs.set(`blobs/sha256/${digestHex(digest)}`, data);
      return { mediaType, digest, size: data.length };
    };
    const layers: Descriptor[] = [];
    for (const path of entry.Layers) {
      const data = files.get(path);
      if (!data) throw invalidArgument(`the archive lacks layer ${path}`);
      layers.push(await put(data, MediaType.OciLayer));
    }
    const configDesc = await put(config, MediaType.OciConfig);
    const manifest = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: configDesc, layers }));
    const manifestDesc = await put(manifest, MediaType.OciManifest);
    const refs = entry.RepoTags ?? [];
    const image = await images.importLayout({ read: async (p) => blobs.get(p) ?? Promise.reject(new Error(`missing ${p}`)) }, refs, manifestDesc);
    loaded.push(...(refs.length ? refs.map((r) => familiarString(parseReference(r))) : [`ID: ${image.id}`]));
  }
  return loaded;
}

/** Writes images as one archive (OCI layout + Docker's manifest.json). */
export async function saveImageArchive(images: ImageService, names: string[], read: (digest: string) => Promise<Uint8Array>): Promise<Uint8Array> {
  const records: Array<{ image: ImageRecord; name: string }> = [];
  for (const n of names) records.push({ image: await images.resolve(n), name: n });
  const blobs = new Map<string, Uint8Array>();
  const add = async (digest: string) => {
    if (!blobs.has(digest)) blobs.set(digest, await read(digest));
  };
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
  const docker: DockerArchiveEntry[] = [];
  for (const { image, name } of records) {
    await add(image.manifestDigest);
    await add(image.id);
    for (const l of image.layers) await add(l.digest);
    const ref = parseReference(name);
    const tagged = !name.replace(/^sha256:/, '').match(/^[a-f0-9]{12,64}$/) && ref.tag;
    const full = tagged ? formatReference({ domain: ref.domain, path: ref.path, tag: ref.tag! }) : undefined;
    index.manifests.push({
      mediaType: image.manifestMediaType,
      digest: image.manifestDigest,
      size: blobs.get(image.manifestDigest)!.length,
      platform: { os: 'linux', architecture: '386' },
      ...(full ? { annotations: { 'io.containerd.image.name': full, 'org.opencontainers.image.ref.name': ref.tag! } } : {}),
    });
    docker.push({
      Config: `blobs/sha256/${digestHex(image.id)}`,
      RepoTags: full ? [familiarString(parseReference(full))] : null,
      Layers: image.layers.map((l) => `blobs/sha256/${digestHex(l.digest)}`),
    });
  }
  const enc = new TextEncoder();
  const entries: TarEntry[] = [
    { header: { name: 'blobs/', type: 'directory', size: 0, mode: 0o755 } },
    { header: { name: 'blobs/sha256/', type: 'directory', size: 0, mode: 0o755 } },
    ...[...blobs].map(([d, data]) => ({ header: { name: `blobs/sha256/${digestHex(d)}`, size: data.length, mode: 0o644 }, body: data })),
    file('oci-layout', enc.encode(JSON.stringify({ imageLayoutVersion: '1.0.0' }))),
    file('index.json', enc.encode(JSON.stringify(index))),
    file('manifest.json', enc.encode(JSON.stringify(docker))),
  ];
  return packTar(entries);
}

function file(name: string, body: Uint8Array): TarEntry {
  return { header: { name, size: body.length, mode: 0o644 }, body };
}
