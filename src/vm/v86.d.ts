/**
 * What src/vm uses of the `v86` package: the emulator's constructor and the
 * options guest-vm.ts passes. tsconfig/vm.json maps `v86` here (`paths`), so
 * the engine layers never load the package's own typings (v86.d.ts), which
 * name DOM types (HTMLElement, HTMLTextAreaElement: screen and xterm.js
 * containers) that these layers may not see. At run time `v86` is the
 * package as always; guest-vm.ts reaches the emulator's methods through its
 * own V86Emulator interface. Option names and meanings: the package's v86.d.ts.
 */

/** An image handed over as bytes (v86's V86BufferImage). */
export interface V86BufferImage {
  buffer: ArrayBuffer;
}

export interface V86Options {
  wasm_path?: string;
  wasm_fn?: (imports: WebAssembly.Imports) => Promise<WebAssembly.Exports>;
  memory_size?: number;
  vga_memory_size?: number;
  autostart?: boolean;
  disable_keyboard?: boolean;
  disable_mouse?: boolean;
  disable_speaker?: boolean;
  bios?: V86BufferImage;
  bzimage?: V86BufferImage;
  initrd?: V86BufferImage;
  cmdline?: string;
  initial_state?: V86BufferImage;
  preserve_mac_from_state_image?: boolean;
  /** An empty object: a 9p tree in memory, without a base filesystem. */
  filesystem?: Record<string, never>;
  virtio_console?: boolean;
  net_device?: {
    type?: 'ne2k' | 'virtio';
    relay_url?: string;
    router_ip?: string;
    vm_ip?: string;
    cors_proxy?: string;
  };
}

export declare class V86 {
  constructor(options: V86Options);
}
