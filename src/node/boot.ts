import { Engine } from '../engine/engine.js';
import { importEmbeddedImages } from '../engine/embedded-images.js';
import type { ImageService } from '../engine/image-service.js';
import type { PortPublisher } from '../engine/networks.js';
import { GuestVM, type BootProgress } from '../vm/guest-vm.js';
import { startGuest, type SnapshotStore, type StartedGuest } from '../vm/start-guest.js';
import { FolderSnapshotStore } from './folder-snapshots.js';
import { readManifest } from '../vm/artifacts.js';
import { FolderArtifactSource, v86WasmPath } from './folder-artifacts.js';
import { openImageService } from './host.js';

export interface NodeBootOptions {
  guestDir?: string;
  /** The image store; default: the folder store under the cache dir. */
  images?: ImageService;
  onProgress?: (p: BootProgress) => void;
  onSerial?: (text: string) => void;
  memoryMiB?: number;
  /** Restore from (and save) a snapshot: in the cache folder (true), or in the store given. */
  snapshots?: boolean | SnapshotStore;
  /** With `snapshots`: whether the guest was restored, and when its new snapshot (after a cold boot) is stored. */
  onStarted?: (started: Pick<StartedGuest, 'restored' | 'saved'>) => void;
  onNotice?: (text: string) => void;
  /** Where published ports are exposed on this machine (the daemon: loopback listeners). */
  publisher?: PortPublisher;
  /** CORS proxy for containers' outbound HTTP (default: BERTH_CORS_PROXY; none needed in Node). */
  corsProxy?: string;
}

/** Boots a guest from public/guest/ in Node and puts an engine on it. */
export async function bootNodeEngine(options: NodeBootOptions = {}): Promise<Engine> {
  const artifacts = new FolderArtifactSource(options.guestDir);
  await readManifest(artifacts); // fail fast, with the build command, before anything starts
  const images = options.images ?? openImageService();
  await importEmbeddedImages(images, artifacts);
  const vmOptions = {
    artifacts,
    wasmPath: v86WasmPath(),
    ...(options.memoryMiB ? { memoryMiB: options.memoryMiB } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.onSerial ? { onSerial: options.onSerial } : {}),
    network: { corsProxy: options.corsProxy ?? process.env['BERTH_CORS_PROXY'] ?? '' },
  };
  let vm: GuestVM;
  if (options.snapshots) {
    const store = options.snapshots === true ? new FolderSnapshotStore() : options.snapshots;
    const started = await startGuest(vmOptions, store);
    if (started.notice) options.onNotice?.(started.notice);
    options.onStarted?.(started);
    vm = started.vm;
  } else {
    vm = await GuestVM.boot(vmOptions);
  }
  return new Engine(vm, images, options.publisher);
}
