import type { GuestFs } from '../vm/guest-fs.js';
import type { ImageRecord } from './image-service.js';
import { chainIds, LAYERS_DIR, layerPath, unpackLayer } from './layer-unpacker.js';

/** What of an image the trees are named after: its layers' diff_ids. */
export type ImageLayers = Pick<ImageRecord, 'layers'>;

/**
 * The unpacked layer trees in the 9p tree (`/layers/<chain ID hex>`), and who
 * uses them. The one owner of those folders: it unpacks them (each chain once,
 * however many ask at the same time), counts who holds them and removes those
 * nobody holds.
 *
 * A tree is used by
 * - every image in the image store whose layers make it (read from the store
 *   when pruning: pulls, loads and tags add images without the engine);
 * - every holder: a container from the moment its create begins (before
 *   anything is unpacked, so that a prune while it is created cannot take a
 *   tree it is about to use) until it is removed;
 * - an unpack still under way.
 * A finished or failed unpack leaves the unpack-job map at once: its tree is
 * then an image's or a holder's, or garbage for prune.
 */
export class LayerTrees {
  /** Unpacks under way, by chain ID. */
  private readonly unpacking = new Map<string, Promise<void>>();
  /** The trees (9p paths) each holder holds. */
  private readonly holds = new Map<string, readonly string[]>();

  constructor(
    private readonly fs: GuestFs,
    private readonly images: { list(): Promise<ImageLayers[]> },
  ) {}

  /** The 9p paths of an image's trees, bottom layer first. */
  static async paths(image: ImageLayers): Promise<string[]> {
    return (await chainIds(image.layers.map((l) => l.diffId))).map(layerPath);
  }

  /**
   * `holder` (a container ID) holds the trees of the image's layers until
   * release(holder), whether they are unpacked yet or not (unpack does that).
   * Resolves with their paths, bottom first.
   */
  async hold(holder: string, image: ImageLayers): Promise<string[]> {
    const paths = await LayerTrees.paths(image);
    if (this.holds.has(holder)) throw new Error(`${holder} already holds layer trees`);
    this.holds.set(holder, paths);
    return paths;
  }

  /** Ends `holder`'s hold (nothing if it holds none). */
  release(holder: string): void {
    this.holds.delete(holder);
  }

  /** How many holders hold the tree at `path`. */
  holders(path: string): number {
    let n = 0;
    for (const paths of this.holds.values()) if (paths.includes(path)) n++;
    return n;
  }

  /**
   * Unpacks the image's layers that are not in the tree yet, bottom first
   * (each tree depends on those below it), and resolves with the paths of all
   * of them. A chain another caller is unpacking is waited for, not unpacked
   * twice.
   */
  async unpack(image: Pick<ImageRecord, 'layers' | 'readLayer'>, onProgress?: (diffId: string, bytes: number) => void): Promise<string[]> {
    const chains = await chainIds(image.layers.map((l) => l.diffId));
    for (const [i, layer] of image.layers.entries()) {
      const chainId = chains[i]!;
      let job = this.unpacking.get(chainId);
      if (!job) {
        job = (async () => {
          if (this.fs.exists(layerPath(chainId))) return;
          const blob = await image.readLayer(layer);
          await unpackLayer(this.fs, blob, {
            mediaType: layer.mediaType,
            diffId: layer.diffId,
            chainId,
            lowerPaths: chains.slice(0, i).reverse().map(layerPath),
            onProgress: (b) => onProgress?.(layer.diffId, b),
          });
        })();
        this.unpacking.set(chainId, job);
        // Done or failed, it leaves the map: the tree is then an image's or a holder's, or garbage for prune.
        const settled = () => {
          if (this.unpacking.get(chainId) === job) this.unpacking.delete(chainId);
        };
        job.then(settled, settled);
      }
      await job;
    }
    return chains.map(layerPath);
  }

  /** Removes the trees no image, no holder and no unpack uses; resolves with their paths. */
  async prune(): Promise<string[]> {
    if (!this.fs.exists(LAYERS_DIR)) return [];
    const live = new Set<string>();
    for (const image of await this.images.list()) for (const p of await LayerTrees.paths(image)) live.add(p);
    for (const paths of this.holds.values()) for (const p of paths) live.add(p);
    const removed: string[] = [];
    for (const name of this.fs.list(LAYERS_DIR)) {
      const path = `${LAYERS_DIR}/${name}`;
      // Holds and unpacks that began while this prune runs count too.
      if (name.startsWith('.') || live.has(path) || this.holders(path) > 0 || this.unpacking.has(`sha256:${name}`)) continue;
      await this.fs.remove(path);
      removed.push(path);
    }
    return removed;
  }
}
