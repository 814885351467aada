import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArtifactMissingError, type ArtifactSource, type ReadOptions } from '../vm/artifacts.js';

/** The repository's public/guest/, where `npm run build:guest` puts the guest. */
export const DEFAULT_GUEST_DIR = resolve(fileURLToPath(new URL('../../public/guest', import.meta.url)));

export class FolderArtifactSource implements ArtifactSource {
  readonly location: string;
  constructor(dir: string = process.env['BERTH_GUEST_DIR'] ?? DEFAULT_GUEST_DIR) {
    this.location = dir;
  }
  async read(path: string, options: ReadOptions = {}): Promise<Uint8Array> {
    try {
      const data = await readFile(join(this.location, path));
      options.onBytes?.(data.byteLength);
      return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ArtifactMissingError(`${path}: no such file`);
      throw e;
    }
  }
}

/** v86's wasm file inside node_modules. */
export function v86WasmPath(): string {
  return fileURLToPath(import.meta.resolve('v86/build/v86.wasm'));
}
