import v86Package from 'v86/package.json';
import type { GuestManifest } from './artifacts.js';

/** Guest memory unless a caller asks for another size. */
export const DEFAULT_MEMORY_MIB = 256;

/**
 * A snapshot fits only the guest, emulator and memory size it was made with.
 * (Its own module so the page can look a snapshot up without loading v86.)
 */
export function snapshotKey(manifest: GuestManifest, memoryMiB: number): string {
  return `${manifest.id}/v86-${(v86Package as { version: string }).version}/${memoryMiB}M`;
}
