import { readFile, rename, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ClientFiles } from '../engine/docker-cli/io.js';

/** A `berth` client's files: the daemon runs on the same machine, so paths resolve against the client's cwd. */
export const nodeClientFiles: ClientFiles = {
  async read(path, cwd) {
    const data = await readFile(resolve(cwd, path));
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  },
  async write(path, data, cwd) {
    // Written beside and renamed, so a failed save leaves no half file.
    const target = resolve(cwd, path);
    await writeFile(`${target}.partial`, data);
    await rename(`${target}.partial`, target);
  },
};
