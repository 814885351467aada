import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unpackLayer } from '../src/engine/layer-unpacker.js';
import { openImageService } from '../src/node/host.js';
import { MediaType } from '../src/oci/types.js';
import { busyboxBaseEntries, fileEntry, makeLayoutDir, writeLayout, type TarEntry } from '../tests/fixtures/oci-layouts.js';
import { startRegistry } from '../tests/fixtures/registry.js';
import { makeLayer } from '../tests/helpers/tar.js';
import { realGuestFs } from '../tests/helpers/v86-fs.js';
import { summarize, type Summary } from './stats.js';

export interface ImagesBench {
  unpackMBps: Summary;
  unpackLayerMB: number;
  pullMs: Summary;
  pullImageMB: number;
}

/** A layer like a real one: a few large files and many small ones. */
function layerEntries(): TarEntry[] {
  const entries: TarEntry[] = [{ header: { name: 'usr/', type: 'directory', size: 0 } }];
  for (let i = 0; i < 4; i++) entries.push(fileEntry(`usr/big${i}.bin`, randomBytes(4 * 1024 * 1024)));
  for (let d = 0; d < 20; d++) {
    entries.push({ header: { name: `usr/lib${d}/`, type: 'directory', size: 0 } });
    for (let f = 0; f < 50; f++) entries.push(fileEntry(`usr/lib${d}/f${f}.txt`, randomBytes(4096)));
  }
  return entries;
}

export async function benchImages(n = 5): Promise<ImagesBench> {
  // Unpack: gzip layer of ~20 MB into v86's real 9p tree.
  const layer = await makeLayer(layerEntries());
  const mbps: number[] = [];
  for (let i = 0; i < n; i++) {
    const { fs, destroy } = await realGuestFs();
    const t0 = performance.now();
    const r = await unpackLayer(fs, layer.gz, { mediaType: MediaType.OciLayerGzip, diffId: layer.diffId });
    mbps.push(r.bytes / 1e6 / ((performance.now() - t0) / 1000));
    await destroy();
  }

  // Pull: a ~5 MB image from a loopback registry into an empty store.
  const registry = await startRegistry();
  const dir = await makeLayoutDir();
  await writeLayout(dir, { layers: [await busyboxBaseEntries(), [fileEntry('data.bin', randomBytes(4 * 1024 * 1024))]], refName: 'latest' });
  await registry.push(dir, 'bench5mb:latest');
  const pulls: number[] = [];
  let size = 0;
  try {
    for (let i = 0; i < n; i++) {
      const store = mkdtempSync(join(tmpdir(), 'berth-bench-store-'));
      const t0 = performance.now();
      const image = await openImageService({ dir: store }).pull(`${registry.host}/bench5mb:latest`);
      pulls.push(performance.now() - t0);
      size = image.size;
      rmSync(store, { recursive: true, force: true });
    }
  } finally {
    await registry.stop();
  }
  return { unpackMBps: summarize(mbps), unpackLayerMB: layer.tar.length / 1e6, pullMs: summarize(pulls), pullImageMB: size / 1e6 };
}
