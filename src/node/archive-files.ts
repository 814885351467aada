import { createReadStream } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { loadImageArchive, saveImageArchive } from '../engine/image-archive.js';
import type { ImageService } from '../engine/image-service.js';
import { storeDir } from './host.js';
import { FolderContentStore } from '../store/folder/folder-store.js';
import { notFound } from '../engine/errors.js';

export async function loadArchive(images: ImageService, file: string): Promise<string[]> {
  const stream = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
  return loadImageArchive(images, stream);
}

/** Writes the archive next to the target and renames it in place, so a failed save leaves no half file. */
export async function saveArchive(images: ImageService, name: string, file: string, dir = storeDir()): Promise<void> {
  const content = new FolderContentStore(dir);
  const tar = await saveImageArchive(images, [name], async (d) => {
    const b = await content.get(d);
    if (!b) throw notFound(`blob ${d} is missing from the store`);
    return b;
  });
  await writeFile(`${file}.partial`, tar);
  await rename(`${file}.partial`, file);
}
