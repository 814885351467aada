import { sha256Hex } from '../../oci/digest.js';
import type { MetadataStore } from '../../store/content-store.js';
import type { ImageConfig } from '../../oci/types.js';
import { BUILD_CACHE_PREFIX as PREFIX, type ImageService } from '../image-service.js';
import type { LayerEntry } from './layer-writer.js';

type HistoryEntry = NonNullable<ImageConfig['history']>[number];

/** What a cached step made: its layer (none for a step that changed no file) and its history entry. */
export interface CachedStep {
  layer?: LayerEntry;
  history: HistoryEntry;
  /** ISO time of the last build that used it (for `builder prune --filter until=`). */
  lastUsed: string;
}


/**
 * Docker's build cache: a step is found again by a key chained from its
 * parent's key (the base image's ID at the start of a stage), its
 * instruction after substitution and, for COPY and ADD, a digest of what it
 * copies. Entries live in the metadata store, so they survive the daemon and
 * the page; their layers are kept by the image service's collections (which read
 * these entries) until `builder prune` drops them.
 */
export class BuildCache {
  constructor(
    private readonly meta: MetadataStore,
    private readonly images: ImageService,
  ) {}

  static async key(parent: string, ...parts: string[]): Promise<string> {
    return `sha256:${await sha256Hex(new TextEncoder().encode(JSON.stringify([parent, ...parts])))}`;
  }

  /** The step cached under `key`, if its layer is still stored. */
  async get(key: string): Promise<CachedStep | undefined> {
    const entry = await this.meta.get<CachedStep>(PREFIX + key.slice(7));
    if (!entry) return undefined;
    if (entry.layer && !(await this.images.hasBlob(entry.layer.digest))) return undefined;
    await this.meta.set(PREFIX + key.slice(7), { ...entry, lastUsed: new Date().toISOString() });
    return entry;
  }

  async set(key: string, step: Omit<CachedStep, 'lastUsed'>): Promise<void> {
    await this.meta.set(PREFIX + key.slice(7), { ...step, lastUsed: new Date().toISOString() });
  }

  private async entries(): Promise<CachedStep[]> {
    const out: CachedStep[] = [];
    for (const k of await this.meta.keys(PREFIX)) {
      const e = await this.meta.get<CachedStep>(k);
      if (e) out.push(e);
    }
    return out;
  }

  /** Size of the layers the cache holds (`system df`). */
  async size(): Promise<{ entries: number; bytes: number }> {
    const all = await this.entries();
    return { entries: all.length, bytes: all.reduce((n, e) => n + (e.layer?.size ?? 0), 0) };
  }

  /** `builder prune`: drops entries (all, or those unused since `before`) and the layers only they held; resolves with the bytes freed. */
  async prune(before?: Date): Promise<{ entries: number; reclaimed: number }> {
    const dropped: string[] = [];
    let entries = 0;
    for (const k of await this.meta.keys(PREFIX)) {
      const e = await this.meta.get<CachedStep>(k);
      if (!e || (before && new Date(e.lastUsed) >= before)) continue;
      await this.meta.delete(k);
      entries++;
      if (e.layer) dropped.push(e.layer.digest);
    }
    return { entries, reclaimed: await this.images.release(dropped) };
  }
}
