import { V86 } from 'v86';
import { v86WasmPath } from '../../src/node/folder-artifacts.js';
import { GuestFs, type V86FileSystem } from '../../src/vm/guest-fs.js';

/**
 * v86's real 9p filesystem object, from an emulator that is loaded but never
 * started: the unpacker runs against the same code as in a booted guest.
 */
export async function realGuestFs(): Promise<{ fs: GuestFs; destroy: () => Promise<void> }> {
  const emu = new V86({
    wasm_path: v86WasmPath(),
    memory_size: 8 * 1024 * 1024,
    filesystem: {},
    autostart: false,
    disable_speaker: true,
    disable_keyboard: true,
    disable_mouse: true,
  } as ConstructorParameters<typeof V86>[0]) as unknown as {
    add_listener(e: string, f: () => void): void;
    fs9p: V86FileSystem;
    destroy(): Promise<void>;
  };
  await new Promise<void>((r) => emu.add_listener('emulator-loaded', r));
  return { fs: new GuestFs(emu.fs9p), destroy: () => emu.destroy() };
}
