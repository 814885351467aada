/**
 * WebAssembly's JavaScript API, as much of it as the engine layers use: v86
 * runs as wasm, and the page hands GuestVM a module it compiled early
 * (GuestVMOptions.wasmModule; hash-wasm, fzstd and zstd-wasm bring their own).
 * Every host has it, but TypeScript declares it only in its DOM and WebWorker
 * libraries, and @types/node 20 not at all: so it is a file of its own, which
 * the engine layers include with src/host-apis.d.ts and the Node layers
 * (tsconfig/node.json, tsconfig/cli.json) include alone, for the engine's
 * declarations that name it. See src/host-apis.d.ts for the rules.
 */

declare namespace WebAssembly {
  interface Module {}
  interface Instance {
    readonly exports: Exports;
  }
  type ExportValue = Function | Global | Memory | Table;
  type Exports = Record<string, ExportValue>;
  type ImportValue = ExportValue | number;
  type ModuleImports = Record<string, ImportValue>;
  type Imports = Record<string, ModuleImports>;
  interface Global {}
  interface Memory {
    readonly buffer: ArrayBuffer;
  }
  interface Table {}
  function instantiate(moduleObject: Module, importObject?: Imports): Promise<Instance>;
}
