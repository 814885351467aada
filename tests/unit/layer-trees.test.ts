import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LayerTrees, type ImageLayers } from '../../src/engine/layer-trees.js';
import { chainIds, LAYERS_DIR, layerPath } from '../../src/engine/layer-unpacker.js';
import { MediaType } from '../../src/oci/types.js';
import type { GuestFs } from '../../src/vm/guest-fs.js';
import { makeLayer } from '../helpers/tar.js';
import { realGuestFs } from '../helpers/v86-fs.js';

let fs: GuestFs;
let destroy: () => Promise<void>;
beforeAll(async () => ({ fs, destroy } = await realGuestFs()));
afterAll(() => destroy());

type Layer = Awaited<ReturnType<typeof makeLayer>>;
type FakeImage = ImageLayers & { readLayer(desc: { digest: string }): Promise<Uint8Array>; reads: string[] };

/** An image of these layers (bottom first) whose blobs are read from memory; `reads` lists the diff_ids read. */
function image(layers: Layer[], gate?: Promise<void>): FakeImage {
  const reads: string[] = [];
  return {
    reads,
    layers: layers.map((l) => ({ digest: l.diffId, size: l.gz.length, mediaType: MediaType.OciLayerGzip, diffId: l.diffId })),
    async readLayer(desc) {
      reads.push(desc.digest);
      await gate;
      return layers.find((l) => l.diffId === desc.digest)!.gz;
    },
  };
}

const file = (name: string, body: string) => ({ header: { name, size: body.length, mode: 0o644 }, body });
const trees = () => (fs.exists(LAYERS_DIR) ? fs.list(LAYERS_DIR).filter((n) => !n.startsWith('.')).map((n) => `${LAYERS_DIR}/${n}`).sort() : []);

let base: Layer;
let top: Layer;
let other: Layer;
beforeAll(async () => {
  base = await makeLayer([file('base', 'b')]);
  top = await makeLayer([file('top', 't')]);
  other = await makeLayer([file('other', 'o')]);
});

/** The images the store holds, as the trees see them. */
let stored: ImageLayers[];
let lt: LayerTrees;
beforeEach(async () => {
  for (const t of trees()) await fs.remove(t);
  stored = [];
  lt = new LayerTrees(fs, { list: async () => stored });
});

describe('LayerTrees', () => {
  it('unpacks each layer once, keyed by chain ID, bottom first', async () => {
    const img = image([base, top]);
    const paths = await lt.unpack(img);
    const chains = await chainIds([base.diffId, top.diffId]);
    expect(paths).toEqual(chains.map(layerPath));
    expect(await LayerTrees.paths(img)).toEqual(paths);
    expect(trees()).toEqual([...paths].sort());
    expect(fs.exists(`${paths[1]}/top`)).toBe(true);
    // Already there: nothing read again.
    expect(await lt.unpack(img)).toEqual(paths);
    expect(img.reads).toEqual([base.diffId, top.diffId]);
  });

  it('unpacks a chain once however many ask at the same time', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const a = image([base, top], gate);
    const b = image([base, top], gate);
    const both = Promise.all([lt.unpack(a), lt.unpack(b)]);
    await new Promise((r) => setTimeout(r, 20));
    open();
    const [pa, pb] = await both;
    expect(pa).toEqual(pb);
    expect([...a.reads, ...b.reads]).toEqual([base.diffId, top.diffId]);
  });

  it('prune removes the trees no image and no holder uses, and only those', async () => {
    const shared = image([base, top]);
    const alone = image([base, other]);
    const [sharedPaths, alonePaths] = [await lt.unpack(shared), await lt.unpack(alone)];
    expect(trees()).toHaveLength(3); // the base is shared
    // Finished unpacks protect nothing: with no image and no holder, all go.
    stored = [shared];
    expect(await lt.prune()).toEqual([alonePaths[1]]);
    expect(trees()).toEqual([...sharedPaths].sort());
    stored = [];
    expect((await lt.prune()).sort()).toEqual([...sharedPaths].sort());
    expect(trees()).toEqual([]);
    expect(await lt.prune()).toEqual([]);
  });

  it('a holder keeps its trees from before they are unpacked until it releases them', async () => {
    const img = image([base, top]);
    const held = await lt.hold('c1', img);
    expect(held).toEqual(await LayerTrees.paths(img));
    expect(trees()).toEqual([]); // holding unpacks nothing
    await lt.unpack(img);
    await lt.hold('c2', image([base]));
    expect(lt.holders(held[0]!)).toBe(2);
    expect(lt.holders(held[1]!)).toBe(1);
    expect(await lt.prune()).toEqual([]);
    lt.release('c1');
    expect(await lt.prune()).toEqual([held[1]]); // c2 still holds the base
    lt.release('c2');
    lt.release('c2'); // a second release is nothing
    expect(await lt.prune()).toEqual([held[0]]);
    expect(lt.holders(held[0]!)).toBe(0);
  });

  it('one hold per holder', async () => {
    await lt.hold('c1', image([base]));
    await expect(lt.hold('c1', image([top]))).rejects.toThrow(/already holds/);
  });

  it('a failed unpack leaves the job map: the next one tries again', async () => {
    const img = image([base]);
    const read = img.readLayer.bind(img);
    let fail = true;
    img.readLayer = async (d) => {
      if (fail) {
        fail = false;
        throw new Error('blob gone');
      }
      return read(d);
    };
    await expect(lt.unpack(img)).rejects.toThrow('blob gone');
    expect(trees()).toEqual([]);
    expect(await lt.unpack(img)).toEqual(await LayerTrees.paths(img));
    expect(trees()).toHaveLength(1);
  });

  it('a prune while an unpack runs takes nothing of it', async () => {
    let open!: () => void;
    const img = image([other], new Promise<void>((r) => (open = r)));
    const unpacking = lt.unpack(img);
    await new Promise((r) => setTimeout(r, 10));
    expect(await lt.prune()).toEqual([]);
    open();
    const [path] = await unpacking;
    expect(trees()).toEqual([path]);
  });
});
