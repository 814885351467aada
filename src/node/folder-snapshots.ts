import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SnapshotStore } from '../vm/start-guest.js';
import { cacheDir } from './host.js';

/**
 * Snapshots as files in <cache>/snapshots, one per guest (key hashed into the
 * name).
 */
export class FolderSnapshotStore implements SnapshotStore {
  constructor(readonly dir = join(cacheDir(), 'snapshots')) {}

  private file(key: string): string {
    return join(this.dir, `${key.replace(/[^a-zA-Z0-9.-]+/g, '_')}.state`);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const data = await readFile(this.file(key)).catch(() => undefined);
    return data && new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const target = this.file(key);
    await writeFile(`${target}.partial`, data);
    await rename(`${target}.partial`, target);
    for (const name of await readdir(this.dir)) {
      if (join(this.dir, name) !== target) await rm(join(this.dir, name), { force: true });
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }
}
