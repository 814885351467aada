import { digestHex, sha256Hex } from '../oci/digest.js';
import type { LayoutReader } from '../oci/layout.js';
import { GUEST_PLATFORM } from '../oci/platform.js';
import {
  familiarName,
  familiarString,
  formatReference,
  InvalidReferenceError,
  isNameOnly,
  parseReference,
  type ImageReference,
} from '../oci/reference.js';
import { RegistryError, type RegistryClient } from '../oci/registry-client.js';
import { MediaType, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest } from '../oci/types.js';
import type { ContentStore, MetadataStore } from '../store/content-store.js';
import { BerthError, conflict, invalidArgument, notFound, unavailable } from './errors.js';
import { scanLayer } from './layer-scan.js';
import { CredentialStore } from './credentials.js';
import { UnsafeLayerError } from './layer-unpacker.js';

/**
 * The metadata layer over the content store: which images exist, their tags
 * and digests. Blobs are shared by digest across images; a blob no image
 * refers to is deleted when the last image using it goes (`rmi`, `prune`).
 *
 * A pull or load holds a lease on every blob it uses until its image is
 * recorded (containerd's leases): until then no image refers to a blob it
 * found already stored or has just stored, and a collection running
 * meanwhile (`rmi`, `prune`, another pull cleaning up after a failure) would
 * otherwise delete it under the image about to be recorded.
 */

export interface StoredImage {
  /** Config digest: Docker's image ID. */
  id: string;
  manifestDigest: string;
  manifestMediaType: string;
  /** Fully qualified: `docker.io/library/busybox:latest`. */
  repoTags: string[];
  /** `docker.io/library/busybox@sha256:…` (the manifest, or the index it came from). */
  repoDigests: string[];
  config: ImageConfig;
  configSize: number;
  layers: Array<{ digest: string; size: number; mediaType: string; diffId: string }>;
  /** Other blobs this image holds on to (its manifest, an index). */
  extraBlobs: string[];
  lastTagTime: string;
}

/** An image as the container side needs it. */
export interface ImageRecord extends StoredImage {
  /** Sum of the compressed layer sizes. */
  size: number;
  readLayer(desc: Descriptor): Promise<Uint8Array>;
}

export type PullEvent =
  | { type: 'resolved'; ref: string; digest: string; layers: number }
  | { type: 'layer'; digest: string; status: 'exists' | 'downloading' | 'done'; bytes: number; total: number };

/**
 * What a push reports, in Docker's order: the repository, every layer
 * `preparing` (top layer first, by the short diff ID Docker shows), `waiting`
 * for those queued behind the uploads running, then each one's outcome; a
 * `tag` event when a tag's manifest is in.
 */
export type PushEvent =
  | { type: 'repository'; name: string }
  | { type: 'layer'; id: string; status: 'preparing' | 'waiting' | 'pushing' | 'pushed' | 'exists'; bytes?: number; total?: number }
  | { type: 'layer'; id: string; status: 'mounted'; from: string }
  | { type: 'tag'; tag: string; digest: string; size: number };

export interface PushResult {
  tag: string;
  /** The manifest's digest, now `<repository>@<digest>` among the image's repo digests. */
  digest: string;
  /** The manifest's size in bytes. */
  size: number;
}

/** Uploads at once in a push (Docker's default is 5; each holds its layer in memory here). */
const PUSH_CONCURRENCY = 3;

const KEY = (id: string) => `images/${digestHex(id)}`;
/** Where the build cache keeps its entries in the metadata store; their `layer` blobs are live. */
export const BUILD_CACHE_PREFIX = 'buildcache/';

function parse(name: string): ImageReference {
  try {
    return parseReference(name);
  } catch (e) {
    if (e instanceof InvalidReferenceError) throw invalidArgument(e.message, e);
    throw e;
  }
}

export class ImageService {
  /** Registry logins (`login`/`logout`), used by pulls. */
  readonly credentials: CredentialStore;
  /** Blobs pulls and loads in progress use, with how many hold each: collections leave them alone. */
  private readonly leases = new Map<string, number>();
  /** The collection running now and those queued after it (one runs at a time). */
  private collecting: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly content: ContentStore,
    /** Small records by key: images, logins, the build cache. */
    readonly meta: MetadataStore,
    readonly registry?: RegistryClient,
    /**
     * gzip for the layers made here (builds, commits). The host's own when it
     * has a faster one (Node's zlib off the main thread: 2-3x the speed of its
     * CompressionStream); else CompressionStream.
     */
    readonly gzip: (data: Uint8Array) => Promise<Uint8Array> = compressionStreamGzip,
  ) {
    this.credentials = new CredentialStore(meta);
    registry?.useStoredCredentials((host) => this.credentials.get(host));
  }

  async list(): Promise<ImageRecord[]> {
    const out: ImageRecord[] = [];
    for (const key of await this.meta.keys('images/')) {
      const s = await this.meta.get<StoredImage>(key);
      if (s) out.push(this.record(s));
    }
    return out;
  }

  /** Finds a local image by reference or (short) ID; Docker's message when it is not here. */
  async resolve(name: string): Promise<ImageRecord> {
    const found = await this.find(name);
    if (found) return found;
    throw notFound(`Unable to find image '${familiarString(parse(name))}' locally`);
  }

  async find(name: string): Promise<ImageRecord | undefined> {
    const all = await this.list();
    const hex = name.replace(/^sha256:/, '');
    if (/^[a-f0-9]{12,64}$/.test(hex)) {
      const byId = all.filter((r) => digestHex(r.id).startsWith(hex));
      if (byId.length === 1) return byId[0];
    }
    const ref = parse(name);
    const full = formatReference(ref);
    if (ref.digest) {
      return all.find((r) => r.repoDigests.some((d) => d.endsWith(`@${ref.digest}`) && d.startsWith(`${ref.domain}/${ref.path}@`)) || r.manifestDigest === ref.digest);
    }
    return all.find((r) => r.repoTags.includes(full));
  }

  /** Pulls an image for linux/386; blobs already stored are not downloaded again. */
  async pull(name: string, onEvent?: (e: PullEvent) => void): Promise<ImageRecord> {
    if (!this.registry) throw unavailable('no registry client is configured');
    await this.credentials.ready;
    const ref = parse(name);
    const added: string[] = [];
    let release = () => {};
    try {
      const resolved = await this.registry.resolve(ref, GUEST_PLATFORM).catch(mapRegistryError);
      const manifest = resolved.manifest;
      release = await this.lease([
        manifest.config.digest,
        ...manifest.layers.map((l) => l.digest),
        resolved.manifestDigest,
        ...(resolved.index ? [resolved.index.digest] : []),
      ]);
      onEvent?.({ type: 'resolved', ref: familiarString(ref), digest: resolved.index?.digest ?? resolved.manifestDigest, layers: manifest.layers.length });
      let config: ImageConfig;
      if (await this.content.has(manifest.config.digest)) {
        config = JSON.parse(new TextDecoder().decode((await this.content.get(manifest.config.digest))!));
      } else {
        const fetched = await this.registry.fetchConfig(ref, manifest.config).catch(mapRegistryError);
        config = fetched.config;
        await this.content.put(manifest.config, fetched.bytes);
        added.push(manifest.config.digest);
      }
      checkManifest(manifest, config, familiarString(ref));
      await mapLimit(manifest.layers, 3, async (layer) => {
        if (await this.content.has(layer.digest)) {
          onEvent?.({ type: 'layer', digest: layer.digest, status: 'exists', bytes: layer.size, total: layer.size });
          return;
        }
        onEvent?.({ type: 'layer', digest: layer.digest, status: 'downloading', bytes: 0, total: layer.size });
        const stream = await this.registry!.fetchBlob(ref, layer).catch(mapRegistryError);
        await this.content.put(layer, stream, (bytes) =>
          onEvent?.({ type: 'layer', digest: layer.digest, status: 'downloading', bytes, total: layer.size }),
        );
        added.push(layer.digest);
        await checkLayer((await this.content.get(layer.digest))!, layer, config, manifest, familiarString(ref));
        onEvent?.({ type: 'layer', digest: layer.digest, status: 'done', bytes: layer.size, total: layer.size });
      });
      for (const [digest, bytes] of [[resolved.manifestDigest, resolved.manifestBytes], ...(resolved.index ? [[resolved.index.digest, resolved.index.bytes]] : [])] as Array<[string, Uint8Array]>) {
        if (!(await this.content.has(digest))) {
          await this.content.put({ digest, size: bytes.length }, bytes);
          added.push(digest);
        }
      }
      const repoDigest = `${ref.domain}/${ref.path}@${resolved.index?.digest ?? resolved.manifestDigest}`;
      return await this.commit({
        id: manifest.config.digest,
        manifestDigest: resolved.manifestDigest,
        manifestMediaType: resolved.manifestMediaType,
        config,
        configSize: manifest.config.size,
        layers: manifest.layers.map((l, i) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType, diffId: config.rootfs.diff_ids[i]! })),
        extraBlobs: [resolved.manifestDigest, ...(resolved.index ? [resolved.index.digest] : [])],
        repoTags: ref.tag ? [formatReference({ ...ref, digest: undefined } as ImageReference)] : [],
        repoDigests: [repoDigest],
      });
    } catch (e) {
      // Leave the store as it was: drop what this pull added that no image (or other pull) holds.
      release();
      await this.collect(added);
      throw e;
    } finally {
      release();
    }
  }

  /**
   * `push NAME[:TAG]`: uploads the local image a tag names (`latest` when
   * the name has none) to its repository, or with `allTags` every tag of the
   * repository (the name must then have none), as Docker's daemon does. The
   * image's own manifest is pushed, bytes and media type as stored, so its
   * digest stays the one it has here; an image with no stored manifest gets
   * one made from its record (OCI, or Docker's schema 2 if its layers are
   * Docker's), stored with it. Blobs the repository has are skipped; layers
   * the image's repo digests and tags place in another repository of the
   * same registry are mounted from there. Each pushed manifest is recorded
   * as a repo digest of the image.
   */
  async push(name: string, opts: { allTags?: boolean } = {}, onEvent?: (e: PushEvent) => void): Promise<PushResult[]> {
    if (!this.registry) throw unavailable('no registry client is configured');
    await this.credentials.ready;
    const ref = parse(name);
    if (ref.digest) throw invalidArgument('cannot push a digest reference');
    if (opts.allTags && !isNameOnly(name)) throw invalidArgument("tag can't be used with --all-tags/-a");
    const repository = `${ref.domain}/${ref.path}`;
    onEvent?.({ type: 'repository', name: repository });
    const tagged = (await this.list())
      .flatMap((image) => image.repoTags.filter((t) => t.startsWith(`${repository}:`)).map((t) => ({ tag: t.slice(repository.length + 1), image })))
      .sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
    if (tagged.length === 0) throw notFound(`An image does not exist locally with the tag: ${familiarName(ref)}`);
    const targets = opts.allTags ? tagged : tagged.filter((t) => t.tag === ref.tag);
    if (targets.length === 0) throw notFound(`tag does not exist: ${familiarString(ref)}`);
    const known = new Set<string>();
    const results: PushResult[] = [];
    for (const { tag, image } of targets) results.push(await this.pushTag({ domain: ref.domain, path: ref.path, tag }, image.id, known, onEvent));
    return results;
  }

  /** Pushes one tag (see push); `known` lists blobs this push already put in the repository. */
  private async pushTag(target: ImageReference & { tag: string }, id: string, known: Set<string>, onEvent?: (e: PushEvent) => void): Promise<PushResult> {
    const registry = this.registry!;
    const found = await this.meta.get<StoredImage>(KEY(id));
    if (!found) throw notFound(`An image does not exist locally with the tag: ${familiarName(target)}`);
    const image = this.record(found);
    const releases = [await this.lease([image.id, image.manifestDigest, ...image.layers.map((l) => l.digest)].filter(Boolean))];
    try {
      const m = await this.manifestOf(image, (digest) => this.lease([digest]).then((r) => void releases.push(r)));
      const mountFrom = mountCandidates(image, target);
      const read = (digest: string) => () => this.readBlob(digest);
      // Top layer first, as Docker lists them, by the short diff ID it shows.
      const layers = m.manifest.layers.map((desc, i) => ({ desc, id: digestHex(image.layers[i]?.diffId ?? desc.digest).slice(0, 12) })).reverse();
      for (const l of layers) onEvent?.({ type: 'layer', id: l.id, status: 'preparing' });
      for (const l of layers.slice(PUSH_CONCURRENCY)) onEvent?.({ type: 'layer', id: l.id, status: 'waiting' });
      await mapLimit(layers, PUSH_CONCURRENCY, async ({ desc, id }) => {
        if (known.has(desc.digest)) return onEvent?.({ type: 'layer', id, status: 'exists' });
        const result = await registry
          .pushBlob(target, desc, read(desc.digest), {
            mountFrom,
            onUpload: () => onEvent?.({ type: 'layer', id, status: 'pushing', bytes: 0, total: desc.size }),
          })
          .catch(mapRegistryError);
        known.add(desc.digest);
        if (result.status === 'mounted') onEvent?.({ type: 'layer', id, status: 'mounted', from: result.from });
        else onEvent?.({ type: 'layer', id, status: result.status, ...(result.status === 'pushed' ? { bytes: desc.size, total: desc.size } : {}) });
      });
      // The config, as Docker pushes it: after the layers, with no line of its own.
      if (!known.has(m.manifest.config.digest)) {
        await registry.pushBlob(target, m.manifest.config, read(m.manifest.config.digest), { mountFrom }).catch(mapRegistryError);
        known.add(m.manifest.config.digest);
      }
      const digest = await registry.putManifest(target, target.tag, m.mediaType, m.bytes).catch(mapRegistryError);
      onEvent?.({ type: 'tag', tag: target.tag, digest, size: m.bytes.length });
      await this.update(image.id, (s) => ({ ...s, repoDigests: [...new Set([...s.repoDigests, `${target.domain}/${target.path}@${digest}`])] }));
      return { tag: target.tag, digest, size: m.bytes.length };
    } finally {
      for (const release of releases) release();
    }
  }

  /**
   * The image's manifest as stored (its bytes and media type); for an image
   * that has none, one made from its record, stored and recorded (`hold` is
   * called with its digest before it is stored, to keep it from collection).
   */
  private async manifestOf(image: ImageRecord, hold: (digest: string) => Promise<void>): Promise<{ mediaType: string; bytes: Uint8Array; manifest: ImageManifest }> {
    const stored = image.manifestDigest ? await this.content.get(image.manifestDigest) : undefined;
    if (stored) {
      const manifest = JSON.parse(new TextDecoder().decode(stored)) as ImageManifest;
      if (manifest.config && Array.isArray(manifest.layers)) {
        return { mediaType: image.manifestMediaType || manifest.mediaType || MediaType.OciManifest, bytes: stored, manifest };
      }
    }
    const { mediaType, manifest } = manifestFor(image);
    const bytes = new TextEncoder().encode(JSON.stringify(manifest));
    const digest = `sha256:${await sha256Hex(bytes)}`;
    await hold(digest);
    await this.content.put({ digest, size: bytes.length }, bytes);
    await this.update(image.id, (s) => ({ ...s, manifestDigest: digest, manifestMediaType: mediaType, extraBlobs: [...new Set([...s.extraBlobs, digest])] }));
    return { mediaType, bytes, manifest };
  }

  /** Rewrites an image's record in place (its tags and their time unchanged). */
  private async update(id: string, change: (s: StoredImage) => StoredImage): Promise<void> {
    const s = await this.meta.get<StoredImage>(KEY(id));
    if (s) await this.meta.set(KEY(id), change(s));
  }

  /**
   * Imports the linux/386 image of an OCI layout (the embedded images, `load`),
   * verifying every blob, under the given references.
   */
  async importLayout(reader: LayoutReader, refs: string[], indexDescriptor?: Descriptor): Promise<ImageRecord> {
    const added: string[] = [];
    const releases: Array<() => void> = [];
    const releaseAll = () => releases.splice(0).forEach((r) => r());
    const read = async (desc: Descriptor) => {
      const bytes = await reader.read(`blobs/sha256/${digestHex(desc.digest)}`).catch((e) => {
        throw invalidArgument(`the archive lacks blob ${desc.digest}`, e);
      });
      releases.push(await this.lease([desc.digest]));
      if (!(await this.content.has(desc.digest))) {
        await this.content.put(desc, bytes);
        added.push(desc.digest);
      }
      return bytes;
    };
    try {
      let desc = indexDescriptor;
      if (!desc) {
        const index = JSON.parse(new TextDecoder().decode(await reader.read('index.json'))) as ImageIndex;
        desc = index.manifests.find((m) => !m.platform || (m.platform.os === 'linux' && m.platform.architecture === '386')) ?? index.manifests[0];
        if (!desc) throw invalidArgument('the image layout lists no manifest');
      }
      let manifestBytes = await read(desc);
      let mediaType = desc.mediaType;
      let manifestDigest = desc.digest;
      if (mediaType === MediaType.OciIndex || mediaType === MediaType.DockerManifestList) {
        const nested = JSON.parse(new TextDecoder().decode(manifestBytes)) as ImageIndex;
        const m = nested.manifests.find((x) => x.platform?.os === 'linux' && x.platform.architecture === '386');
        if (!m) throw invalidArgument('the image layout has no linux/386 manifest');
        manifestBytes = await read(m);
        mediaType = m.mediaType;
        manifestDigest = m.digest;
      }
      const manifest = JSON.parse(new TextDecoder().decode(manifestBytes)) as ImageManifest;
      const config = JSON.parse(new TextDecoder().decode(await read(manifest.config))) as ImageConfig;
      if (config.os !== 'linux' || config.architecture !== '386') {
        throw invalidArgument(`the image is for ${config.os}/${config.architecture}, not linux/386`);
      }
      checkManifest(manifest, config, refs[0] ?? 'the image');
      for (const l of manifest.layers) {
        const fresh = !(await this.content.has(l.digest));
        const bytes = await read(l);
        if (fresh) await checkLayer(bytes, l, config, manifest, refs[0] ?? 'the image');
      }
      const parsed = refs.map(parse);
      return await this.commit({
        id: manifest.config.digest,
        manifestDigest,
        manifestMediaType: mediaType,
        config,
        configSize: manifest.config.size,
        layers: manifest.layers.map((l, i) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType, diffId: config.rootfs.diff_ids[i]! })),
        extraBlobs: [...new Set([desc.digest, manifestDigest])],
        repoTags: parsed.filter((r) => r.tag).map((r) => formatReference({ domain: r.domain, path: r.path, tag: r.tag! })),
        repoDigests: [],
      });
    } catch (e) {
      releaseAll();
      await this.collect(added);
      throw e;
    } finally {
      releaseAll();
    }
  }

  /** Whether a blob is stored. */
  hasBlob(digest: string): Promise<boolean> {
    return this.content.has(digest);
  }

  /** Deletes the blobs among `digests` that nothing refers to or holds (after a build cache entry went); resolves with the bytes freed. */
  release(digests: string[]): Promise<number> {
    return this.collect(digests);
  }

  /**
   * Stores a blob made here (a built layer, a config, a manifest); the caller
   * holds a lease on its digest until an image or the build cache refers to it.
   */
  async storeBlob(bytes: Uint8Array, mediaType: string, digest?: string): Promise<Descriptor> {
    // A digest the caller computed is checked by the store as the bytes go in, not computed twice.
    const desc = { mediaType, digest: digest ?? `sha256:${await sha256Hex(bytes)}`, size: bytes.length };
    await this.content.put(desc, bytes);
    return desc;
  }

  /**
   * Records an image made here (`build`, `commit`): stores its config and an
   * OCI manifest over its layers, which must be stored already, and tags it.
   */
  async recordImage(config: ImageConfig, layers: StoredImage['layers'], tags: string[]): Promise<ImageRecord> {
    const parsed = tags.map(parse);
    for (const r of parsed) if (r.digest) throw invalidArgument(`refusing to create a tag with a digest reference: ${familiarString(r)}`);
    const enc = new TextEncoder();
    const configBytes = enc.encode(JSON.stringify(config));
    const configDesc = { mediaType: MediaType.OciConfig, digest: `sha256:${await sha256Hex(configBytes)}`, size: configBytes.length };
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: configDesc,
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    };
    const manifestBytes = enc.encode(JSON.stringify(manifest));
    const manifestDigest = `sha256:${await sha256Hex(manifestBytes)}`;
    const release = await this.lease([configDesc.digest, manifestDigest, ...layers.map((l) => l.digest)]);
    try {
      await this.content.put(configDesc, configBytes);
      await this.content.put({ digest: manifestDigest, size: manifestBytes.length }, manifestBytes);
      return await this.commit({
        id: configDesc.digest,
        manifestDigest,
        manifestMediaType: MediaType.OciManifest,
        config,
        configSize: configDesc.size,
        layers,
        extraBlobs: [manifestDigest],
        repoTags: parsed.map((r) => formatReference({ domain: r.domain, path: r.path, tag: r.tag ?? 'latest' })),
        repoDigests: [],
      });
    } finally {
      release();
    }
  }

  /** A stored blob (for `save`). */
  async readBlob(digest: string): Promise<Uint8Array> {
    const b = await this.content.get(digest);
    if (!b) throw notFound(`blob ${digest} is missing from the store; pull the image again`);
    return b;
  }

  /** `tag SOURCE TARGET` */
  async tag(source: string, target: string): Promise<void> {
    const image = await this.resolve(source);
    const ref = parse(target);
    if (ref.digest) throw invalidArgument(`refusing to create a tag with a digest reference: ${target}`);
    await this.commit({ ...image, repoTags: [formatReference(ref)] });
  }

  /**
   * `rmi NAME`: untags a tag; deletes the image when no tag is left (or when
   * named by ID, with `force` if it has several tags). `inUse` says whether a
   * container uses an image ID.
   */
  async remove(name: string, opts: { force?: boolean; inUse?: (id: string) => boolean } = {}): Promise<Array<{ Untagged?: string; Deleted?: string }>> {
    const image = await this.resolve(name).catch((e) => {
      if (e instanceof BerthError && e.category === 'not-found') throw notFound(`No such image: ${name}`);
      throw e;
    });
    const out: Array<{ Untagged?: string; Deleted?: string }> = [];
    const byId = digestHex(image.id).startsWith(name.replace(/^sha256:/, '')) && /^(sha256:)?[a-f0-9]{12,64}$/.test(name);
    let tags = image.repoTags;
    if (!byId) {
      const full = formatReference(parse(name));
      tags = image.repoTags.filter((t) => t !== full);
      out.push({ Untagged: familiarString(parse(full)) });
    } else if (tags.length > 1 && !opts.force) {
      throw conflict(`unable to delete ${digestHex(image.id).slice(0, 12)} (must be forced) - image is referenced in multiple repositories`);
    } else {
      for (const t of tags) out.push({ Untagged: familiarString(parse(t)) });
      tags = [];
    }
    if (tags.length > 0) {
      await this.meta.set(KEY(image.id), { ...stored(image), repoTags: tags });
      return out;
    }
    if (opts.inUse?.(image.id) && !opts.force) {
      if (!byId) {
        // The tag is gone, the image stays (dangling) for its containers, as Docker does.
        await this.meta.set(KEY(image.id), { ...stored(image), repoTags: [] });
        return out;
      }
      throw conflict(`conflict: unable to delete ${digestHex(image.id).slice(0, 12)} (cannot be forced) - image is being used by a container`);
    }
    await this.meta.delete(KEY(image.id));
    out.push({ Deleted: image.id });
    await this.collect([image.id, ...image.extraBlobs, ...image.layers.map((l) => l.digest)]);
    return out;
  }

  /** `image prune`: removes dangling (untagged) images no container uses. */
  async prune(inUse: (id: string) => boolean = () => false): Promise<{ deleted: string[]; reclaimed: number }> {
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const image of await this.list()) {
      if (image.repoTags.length > 0 || inUse(image.id)) continue;
      await this.meta.delete(KEY(image.id));
      reclaimed += await this.collect([image.id, ...image.extraBlobs, ...image.layers.map((l) => l.digest)]);
      deleted.push(image.id);
    }
    return { deleted, reclaimed };
  }

  /** Docker-shaped `image inspect` JSON. */
  inspect(image: ImageRecord): object {
    const c = image.config;
    return {
      Id: image.id,
      RepoTags: image.repoTags.map((t) => familiarString(parse(t))),
      RepoDigests: image.repoDigests.map((d) => {
        const [repo, digest] = d.split('@');
        return `${familiarName(parse(repo!))}@${digest}`;
      }),
      Parent: '',
      Comment: c.history?.at(-1)?.comment ?? '',
      Created: c.created ?? '',
      DockerVersion: '',
      Author: c.author ?? '',
      Config: {
        Env: c.config?.Env ?? [],
        Cmd: c.config?.Cmd ?? null,
        Entrypoint: c.config?.Entrypoint ?? null,
        WorkingDir: c.config?.WorkingDir ?? '',
        User: c.config?.User ?? '',
        Labels: c.config?.Labels ?? null,
        ExposedPorts: c.config?.ExposedPorts,
        Volumes: c.config?.Volumes ?? null,
        StopSignal: c.config?.StopSignal,
        ...(c.config?.Healthcheck ? { Healthcheck: c.config.Healthcheck } : {}),
        ...(c.config?.Shell ? { Shell: c.config.Shell } : {}),
        OnBuild: c.config?.OnBuild ?? null,
      },
      Architecture: c.architecture,
      Os: c.os,
      Size: image.size,
      RootFS: { Type: 'layers', Layers: c.rootfs.diff_ids },
      Metadata: { LastTagTime: image.lastTagTime },
    };
  }

  /**
   * Holds `digests` against collection until the returned function is called.
   * Resolves once the collections that began before have ended, so a blob the
   * caller then finds stored stays stored.
   */
  async lease(digests: string[]): Promise<() => void> {
    const held = [...new Set(digests)];
    for (const d of held) this.leases.set(d, (this.leases.get(d) ?? 0) + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      for (const d of held) {
        const n = this.leases.get(d)! - 1;
        if (n > 0) this.leases.set(d, n);
        else this.leases.delete(d);
      }
    };
    await this.collecting;
    return release;
  }

  /** Deletes the given blobs that no image refers to and no pull or load holds; returns the bytes freed. */
  private collect(candidates: string[]): Promise<number> {
    if (candidates.length === 0) return Promise.resolve(0);
    const run = this.collecting.then(() => this.collectNow(candidates));
    this.collecting = run.catch(() => {});
    return run;
  }

  private async collectNow(candidates: string[]): Promise<number> {
    // Held now: a lease released while this runs belongs to an image just recorded, which `live` predates.
    const held = new Set(this.leases.keys());
    const live = new Set<string>();
    for (const r of await this.list()) for (const d of [r.id, ...r.extraBlobs, ...r.layers.map((l) => l.digest)]) live.add(d);
    // The build cache's layers (src/engine/build/build-cache.ts) stay until `builder prune`.
    for (const k of await this.meta.keys(BUILD_CACHE_PREFIX)) {
      const layer = (await this.meta.get<{ layer?: { digest: string } }>(k))?.layer;
      if (layer) live.add(layer.digest);
    }
    let freed = 0;
    for (const d of new Set(candidates)) {
      if (live.has(d) || held.has(d) || this.leases.has(d)) continue;
      const info = await this.content.info(d);
      if (await this.content.delete(d)) freed += info?.size ?? 0;
    }
    return freed;
  }

  /** Writes an image record; a tag moves from any image that held it. */
  private async commit(image: Omit<StoredImage, 'lastTagTime'> & { lastTagTime?: string }): Promise<ImageRecord> {
    const existing = await this.meta.get<StoredImage>(KEY(image.id));
    const now = new Date().toISOString();
    for (const other of await this.list()) {
      if (other.id === image.id) continue;
      const kept = other.repoTags.filter((t) => !image.repoTags.includes(t));
      if (kept.length !== other.repoTags.length) await this.meta.set(KEY(other.id), { ...stored(other), repoTags: kept });
    }
    const merged: StoredImage = {
      ...stored(image as StoredImage),
      repoTags: [...new Set([...(existing?.repoTags ?? []), ...image.repoTags])],
      repoDigests: [...new Set([...(existing?.repoDigests ?? []), ...image.repoDigests])],
      extraBlobs: [...new Set([...(existing?.extraBlobs ?? []), ...image.extraBlobs])],
      lastTagTime: image.repoTags.length ? now : (existing?.lastTagTime ?? now),
    };
    await this.meta.set(KEY(image.id), merged);
    return this.record(merged);
  }

  private record(s: StoredImage): ImageRecord {
    return {
      ...s,
      size: s.layers.reduce((n, l) => n + l.size, 0),
      readLayer: async (desc) => {
        const data = await this.content.get(desc.digest);
        if (!data) throw notFound(`layer ${desc.digest} is missing from the store; pull the image again`);
        return data;
      },
    };
  }
}

async function compressionStreamGzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(new CompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>);
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function stored(r: StoredImage | ImageRecord): StoredImage {
  const { id, manifestDigest, manifestMediaType, repoTags, repoDigests, config, configSize, layers, extraBlobs, lastTagTime } = r;
  return { id, manifestDigest, manifestMediaType, repoTags, repoDigests, config, configSize, layers, extraBlobs, lastTagTime };
}

/**
 * A manifest for an image record that has none stored: the config and the
 * layers as recorded, OCI's media types unless every layer is Docker's (then
 * Docker's schema 2, as a `docker save` of it would have).
 */
export function manifestFor(image: Pick<StoredImage, 'id' | 'configSize' | 'layers'>): { mediaType: string; manifest: ImageManifest } {
  const docker = image.layers.length > 0 && image.layers.every((l) => l.mediaType.startsWith('application/vnd.docker.'));
  const mediaType = docker ? MediaType.DockerManifest : MediaType.OciManifest;
  return {
    mediaType,
    manifest: {
      schemaVersion: 2,
      mediaType,
      config: { mediaType: docker ? MediaType.DockerConfig : MediaType.OciConfig, digest: image.id, size: image.configSize },
      layers: image.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    },
  };
}

/**
 * Repositories of `target`'s registry an image's blobs are known to be in,
 * to mount them from: those of its repo digests (pulled or pushed there),
 * then those of its tags; newest first, those sharing more leading path
 * components with the target first (Docker's order); never the target.
 */
export function mountCandidates(image: Pick<StoredImage, 'repoDigests' | 'repoTags'>, target: ImageReference): string[] {
  const out: string[] = [];
  for (const name of [...[...image.repoDigests].reverse(), ...[...image.repoTags].reverse()]) {
    let ref: ImageReference;
    try {
      ref = parseReference(name);
    } catch {
      continue;
    }
    if (ref.domain === target.domain && ref.path !== target.path && !out.includes(ref.path)) out.push(ref.path);
  }
  const parts = target.path.split('/');
  const likeness = (path: string) => {
    const p = path.split('/');
    let i = 0;
    while (i < p.length && i < parts.length && p[i] === parts[i]) i++;
    return i;
  };
  return out.map((path, i) => ({ path, i, like: likeness(path) })).sort((a, b) => b.like - a.like || a.i - b.i).map((c) => c.path);
}

function checkManifest(manifest: ImageManifest, config: ImageConfig, name: string): void {
  if (config.rootfs?.diff_ids?.length !== manifest.layers.length) {
    throw invalidArgument(`image ${name} is inconsistent: its config lists ${config.rootfs?.diff_ids?.length ?? 0} layers, its manifest ${manifest.layers.length}`);
  }
  for (const l of manifest.layers) digestHex(l.digest);
}

async function checkLayer(blob: Uint8Array, layer: Descriptor, config: ImageConfig, manifest: ImageManifest, name: string): Promise<void> {
  const diffId = config.rootfs.diff_ids[manifest.layers.indexOf(layer)]!;
  try {
    await scanLayer(blob, layer.mediaType, diffId);
  } catch (e) {
    if (e instanceof UnsafeLayerError) throw invalidArgument(`image ${name}: layer ${layer.digest}: ${e.message}`, e);
    throw e;
  }
}

function mapRegistryError(e: unknown): never {
  if (e instanceof RegistryError) {
    const category = ({ unauthorized: 'unauthorized', 'not-found': 'not-found', platform: 'invalid-argument', 'bad-manifest': 'invalid-argument', network: 'unavailable', protocol: 'internal' } as const)[e.kind];
    throw new BerthError(category, e.message, { cause: e });
  }
  throw e;
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length && errors.length === 0) {
        const item = items[next++]!;
        await fn(item).catch((e) => errors.push(e));
      }
    }),
  );
  if (errors.length) throw errors[0];
}

