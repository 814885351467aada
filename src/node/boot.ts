import { Engine } from '../engine/engine.js';
import { loadEmbeddedImages } from '../engine/embedded-images.js';
import { ImageStore } from '../engine/image-store.js';
import { GuestVM, type BootProgress } from '../vm/guest-vm.js';
import { readManifest } from '../vm/artifacts.js';
import { FolderArtifactSource, v86WasmPath } from './folder-artifacts.js';

export interface NodeBootOptions {
  guestDir?: string;
  onProgress?: (p: BootProgress) => void;
  onSerial?: (text: string) => void;
  memoryMiB?: number;
}

/** Boots a guest from public/guest/ in Node and puts an engine on it. */
export async function bootNodeEngine(options: NodeBootOptions = {}): Promise<Engine> {
  const artifacts = new FolderArtifactSource(options.guestDir);
  await readManifest(artifacts); // fail fast, with the build command, before anything starts
  const vm = await GuestVM.boot({
    artifacts,
    wasmPath: v86WasmPath(),
    ...(options.memoryMiB ? { memoryMiB: options.memoryMiB } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.onSerial ? { onSerial: options.onSerial } : {}),
  });
  const images = new ImageStore();
  for (const image of await loadEmbeddedImages(artifacts)) images.add(image);
  return new Engine(vm, images);
}
