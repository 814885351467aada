import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAYERS_DIR, layerPath, unpackLayer, UnsafeLayerError } from '../../src/engine/layer-unpacker.js';
import { MediaType } from '../../src/oci/types.js';
import type { GuestFs } from '../../src/vm/guest-fs.js';
import { realGuestFs } from '../helpers/v86-fs.js';
import { makeLayer } from '../helpers/tar.js';

let fs: GuestFs;
let destroy: () => Promise<void>;
beforeAll(async () => ({ fs, destroy } = await realGuestFs()));
afterAll(() => destroy());

const mtime = new Date(1_700_000_000_000);
const gz = MediaType.OciLayerGzip;

function visibleLayers(): string[] {
  return fs.exists(LAYERS_DIR) ? fs.list(LAYERS_DIR) : [];
}

describe('unpackLayer', () => {
  it('writes files, dirs, symlinks and hard links with modes, owners and mtimes', async () => {
    const layer = await makeLayer([
      { header: { name: 'bin/', type: 'directory', size: 0, mode: 0o755 } },
      { header: { name: 'bin/tool', size: 5, mode: 0o4755, uid: 0, gid: 0, mtime }, body: 'hello' },
      { header: { name: 'bin/alias', type: 'link', linkname: 'bin/tool', size: 0 } },
      { header: { name: 'bin/sh', type: 'symlink', linkname: '/bin/tool', size: 0 } },
      { header: { name: 'home/u/', type: 'directory', size: 0, mode: 0o700, uid: 1000, gid: 100 } },
      { header: { name: 'home/u/f', size: 1, mode: 0o600, uid: 1000, gid: 100 }, body: 'x' },
    ]);
    const r = await unpackLayer(fs, layer.gz, { mediaType: gz, diffId: layer.diffId });
    const root = layerPath(layer.diffId);
    expect(r.path).toBe(root);
    expect(new TextDecoder().decode(await fs.readFile(`${root}/bin/tool`))).toBe('hello');
    const tool = fs.stat(`${root}/bin/tool`)!;
    expect(tool.mode).toBe(0o104755);
    expect(tool.mtime).toBe(1_700_000_000);
    expect(tool.nlinks).toBe(2);
    expect(fs.stat(`${root}/bin/sh`)!.symlink).toBe('/bin/tool');
    expect(fs.stat(`${root}/home/u`)!.mode).toBe(0o040700);
    expect(fs.stat(`${root}/home/u/f`)!.uid).toBe(1000);
    // A second unpack of the same layer reuses the tree.
    expect((await unpackLayer(fs, layer.gz, { mediaType: gz, diffId: layer.diffId })).reused).toBe(true);
  });

  it('turns whiteouts into char 0:0 nodes, records opaque dirs, skips devices with a warning', async () => {
    const layer = await makeLayer([
      { header: { name: 'etc/.wh.gone', size: 0 }, body: '' },
      { header: { name: 'var/.wh..wh..opq', size: 0 }, body: '' },
      { header: { name: 'dev/null', type: 'character-device', size: 0 } },
    ]);
    const r = await unpackLayer(fs, layer.tar, { mediaType: MediaType.OciLayer, diffId: layer.diffId });
    const wh = fs.stat(`${r.path}/etc/gone`)!;
    expect(wh.mode & 0o170000).toBe(0o020000);
    expect([wh.major, wh.minor]).toEqual([0, 0]);
    expect(r.opaqueDirs).toEqual(['var']);
    expect(r.warnings.join()).toMatch(/character-device "dev\/null"/);
    expect(fs.exists(`${r.path}/dev/null`)).toBe(false);
  });

  it.each([
    ['a parent-directory escape', [{ header: { name: '../escape', size: 1 }, body: 'x' }], 'layer entry "../escape" leaves the layer through ".."'],
    ['an absolute path', [{ header: { name: '/etc/passwd', size: 1 }, body: 'x' }], 'layer entry "/etc/passwd" has an absolute path'],
    [
      'a write through a symlink',
      [
        { header: { name: 'evil', type: 'symlink' as const, linkname: '/etc', size: 0 } },
        { header: { name: 'evil/passwd', size: 1 }, body: 'x' },
      ],
      'layer entry "evil/passwd" would be written through a symlink or file ("evil"), which is refused',
    ],
    [
      'a hard link out of the layer',
      [{ header: { name: 'l', type: 'link' as const, linkname: '../../x', size: 0 } }],
      'layer entry "../../x" leaves the layer through ".."',
    ],
    ['a whiteout of the parent directory', [{ header: { name: 'a/.wh...', size: 0 }, body: '' }], 'layer entry "a/.wh..." is a whiteout of "..", which is refused'],
    ['a whiteout of the directory itself', [{ header: { name: '.wh..', size: 0 }, body: '' }], 'layer entry ".wh.." is a whiteout of ".", which is refused'],
    ['a whiteout of nothing', [{ header: { name: 'x/.wh.', size: 0 }, body: '' }], 'layer entry "x/.wh." is a whiteout of "", which is refused'],
  ])('refuses %s and leaves nothing behind', async (_what, entries, message) => {
    const before = visibleLayers();
    const layer = await makeLayer(entries);
    const err = await unpackLayer(fs, layer.gz, { mediaType: gz, diffId: layer.diffId }).catch((e) => e);
    expect(err).toBeInstanceOf(UnsafeLayerError);
    expect(err.message).toBe(message);
    expect(visibleLayers()).toEqual(before);
  });

  it('a whiteout of ".." leaves the other layers\' trees in place, and the pull-time scan refuses it too', async () => {
    const other = await makeLayer([{ header: { name: 'kept.txt', size: 4 }, body: 'kept' }]);
    const kept = await unpackLayer(fs, other.gz, { mediaType: gz, diffId: other.diffId });
    const evil = await makeLayer([{ header: { name: '.wh...', size: 0 }, body: '' }]);
    await expect(unpackLayer(fs, evil.gz, { mediaType: gz, diffId: evil.diffId })).rejects.toThrow(UnsafeLayerError);
    expect(new TextDecoder().decode(await fs.readFile(`${kept.path}/kept.txt`))).toBe('kept');
    const { scanLayer } = await import('../../src/engine/layer-scan.js');
    await expect(scanLayer(evil.gz, gz, evil.diffId)).rejects.toThrow('is a whiteout of "..", which is refused');
    expect(() => fs.stat('/layers/../layers')).toThrow(/may not contain/);
  });

  it('refuses content whose diff_id differs from the config, keeping nothing', async () => {
    const before = visibleLayers();
    const layer = await makeLayer([{ header: { name: 'f', size: 1 }, body: 'x' }]);
    const wrong = `sha256:${'0'.repeat(64)}`;
    const err = await unpackLayer(fs, layer.gz, { mediaType: gz, diffId: wrong }).catch((e) => e);
    expect(err).toBeInstanceOf(UnsafeLayerError);
    expect(err.message).toBe(`layer content has diff_id ${layer.diffId}, the image config says ${wrong}`);
    expect(visibleLayers()).toEqual(before);
  });

  it('refuses a truncated gzip stream, keeping nothing', async () => {
    const before = visibleLayers();
    const layer = await makeLayer([{ header: { name: 'big', size: 100000 }, body: new Uint8Array(100000).fill(7) }]);
    // Node's DecompressionStream (zlib) error, passed through as it is.
    await expect(
      unpackLayer(fs, layer.gz.subarray(0, layer.gz.length >> 1), { mediaType: gz, diffId: layer.diffId }),
    ).rejects.toMatchObject({ name: 'Error', code: 'Z_BUF_ERROR', message: 'unexpected end of file' });
    expect(visibleLayers()).toEqual(before);
  });
});
