/**
 * The host APIs the engine layers (src/vm, src/oci, src/store, src/engine)
 * may use: exactly those that browsers' pages, Web Workers and Node (>= 20)
 * all provide as globals, each declared with only the members this code uses
 * (WebAssembly is in src/host-wasm.d.ts).
 *
 * Those layers compile with the ES libraries alone (no DOM, no WebWorker, no
 * Node types: tsconfig/vm.json, tsconfig/oci.json, tsconfig/store.json,
 * tsconfig/engine.json), so any other global (`self`, `document`, `caches`,
 * `indexedDB`, `process`, `Buffer`, a member not listed here) is a compile
 * error there. To use another host API, add it here with the reason, once it
 * is known to exist in all three hosts; what only one host has belongs to
 * the layer for that host (src/node, src/ui, src/store/folder,
 * src/store/indexeddb), handed in.
 *
 * Only the engine layers' programs include this file. Every other program,
 * including those that read the engine layers' declarations, gets these names
 * from its own libraries (lib.dom / lib.webworker, or @types/node), which
 * declare all of each. Names, signatures and types here follow those
 * libraries, so code checked against this file checks against them too.
 */

// ---------------------------------------------------------------- text
// Frames, JSON documents, guest output: bytes to strings and back, everywhere.

interface TextEncoder {
  encode(input?: string): Uint8Array<ArrayBuffer>;
}
declare var TextEncoder: { prototype: TextEncoder; new (): TextEncoder };

interface TextDecoder {
  /** `stream`: a multi-byte character split across chunks waits for the next (build output, src/engine/docker-cli/build-progress.ts). */
  decode(input?: AllowSharedBufferSource, options?: { stream?: boolean }): string;
}
declare var TextDecoder: { prototype: TextDecoder; new (): TextDecoder };

/** Basic auth for registries (src/oci/registry-client.ts). */
declare function btoa(data: string): string;

type AllowSharedBufferSource = ArrayBufferLike | ArrayBufferView<ArrayBufferLike>;
type BufferSource = ArrayBufferView<ArrayBuffer> | ArrayBuffer;

// ---------------------------------------------------------------- timers and scheduling

/**
 * What setTimeout returns: a number in browsers, an object in Node. Opaque
 * here: it only goes back to clearTimeout. (Not a name the other libraries
 * have: keep it out of exported signatures; write ReturnType<typeof setTimeout>.)
 */
interface HostTimeoutHandle {
  readonly __hostTimeoutHandle?: never;
}
/** Retries, timeouts, delays, the guest's main-loop pacing. */
declare function setTimeout(handler: (...args: any[]) => void, timeout?: number, ...args: any[]): HostTimeoutHandle;
declare function clearTimeout(id: HostTimeoutHandle | undefined): void;
/** src/engine/docker-cli/io.ts: an end-of-output listener runs after the current turn. */
declare function queueMicrotask(callback: () => void): void;

/** Boot timings (src/vm/guest-vm.ts). */
declare var performance: { now(): number };

/**
 * src/vm/guest-vm.ts paces v86's main loop through a MessageChannel of its
 * own (a worker's timers are throttled, its messages are not). Node's global
 * MessageChannel (>= 15) has the web interface, onmessage included.
 */
interface MessageEvent<T = any> {
  readonly data: T;
}
interface MessagePort {
  onmessage: ((ev: MessageEvent) => any) | null;
  postMessage(message: any): void;
  close(): void;
}
interface MessageChannel {
  readonly port1: MessagePort;
  readonly port2: MessagePort;
}
declare var MessageChannel: { prototype: MessageChannel; new (): MessageChannel };

/** Container IDs (src/engine/names.ts). */
declare var crypto: {
  getRandomValues<T extends ArrayBufferView<ArrayBuffer> | null>(array: T): T;
};

/** src/engine/http-over-tcp.ts: a request its caller gave up on stops. */
interface AbortSignal {
  readonly aborted: boolean;
  readonly reason: any;
  addEventListener(type: 'abort', listener: () => void): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}
/** `docker build` stops when its client sends Ctrl-C (src/engine/docker-cli/build-cmd.ts). */
interface AbortController {
  readonly signal: AbortSignal;
  abort(reason?: any): void;
}
declare var AbortController: { prototype: AbortController; new (): AbortController };

// ---------------------------------------------------------------- streams
// Blobs, layers and archives stream from registries (fetch) through
// decompression and tar decoding (modern-tar, whose typings name these too)
// into the stores and the guest's 9p tree.

type ReadableStreamReadResult<T> = { done: false; value: T } | { done: true; value: T | undefined };
interface ReadableStreamDefaultReader<R = any> {
  cancel(reason?: any): Promise<void>;
  read(): Promise<ReadableStreamReadResult<R>>;
  releaseLock(): void;
}
interface ReadableWritablePair<R = any, W = any> {
  readable: ReadableStream<R>;
  writable: WritableStream<W>;
}
interface ReadableStreamAsyncIterator<T> extends AsyncIteratorObject<T, BuiltinIteratorReturn, unknown> {
  [Symbol.asyncIterator](): ReadableStreamAsyncIterator<T>;
}
/** Only consumed here: the engine layers make streams from blobs, responses and transforms. */
interface ReadableStream<R = any> {
  cancel(reason?: any): Promise<void>;
  getReader(): ReadableStreamDefaultReader<R>;
  pipeThrough<T>(transform: ReadableWritablePair<T, R>): ReadableStream<T>;
  [Symbol.asyncIterator](): ReadableStreamAsyncIterator<R>;
}
/** Only named here (modern-tar's typings, TransformStream). */
interface WritableStream<W = any> {}

interface TransformStreamDefaultController<O = any> {
  enqueue(chunk?: O): void;
}
interface Transformer<I = any, O = any> {
  flush?: (controller: TransformStreamDefaultController<O>) => void | PromiseLike<void>;
  start?: (controller: TransformStreamDefaultController<O>) => any;
  transform?: (chunk: I, controller: TransformStreamDefaultController<O>) => void | PromiseLike<void>;
}
/** Layer digests measured as they stream, zstd layers (src/engine/layer-unpacker.ts). */
interface TransformStream<I = any, O = any> {
  readonly readable: ReadableStream<O>;
  readonly writable: WritableStream<I>;
}
declare var TransformStream: {
  prototype: TransformStream;
  new <I = any, O = any>(transformer?: Transformer<I, O>): TransformStream<I, O>;
};

/** gzip layers (src/engine/layer-unpacker.ts): Node has it since 18, all browsers since 2023. */
interface DecompressionStream {
  readonly readable: ReadableStream<Uint8Array<ArrayBuffer>>;
  readonly writable: WritableStream<BufferSource>;
}
declare var DecompressionStream: {
  prototype: DecompressionStream;
  new (format: 'deflate' | 'deflate-raw' | 'gzip'): DecompressionStream;
};

/** gzip of layers the builder makes (src/engine/build/layer-writer.ts): Node 18+, all browsers since 2023. */
interface CompressionStream {
  readonly readable: ReadableStream<Uint8Array<ArrayBuffer>>;
  readonly writable: WritableStream<BufferSource>;
}
declare var CompressionStream: {
  prototype: CompressionStream;
  new (format: 'deflate' | 'deflate-raw' | 'gzip'): CompressionStream;
};

/** Bytes in memory as a stream (`new Blob([bytes]).stream()`). */
type BlobPart = BufferSource | Blob | string;
interface Blob {
  readonly size: number;
  stream(): ReadableStream<Uint8Array<ArrayBuffer>>;
}
declare var Blob: { prototype: Blob; new (blobParts?: BlobPart[]): Blob };

// ---------------------------------------------------------------- fetch
// Registries (src/oci), guest artifacts (src/vm/artifacts.ts), the guest's
// outbound HTTP (src/vm/guest-network.ts: v86's fetch adapter calls it), and
// a stream read whole (`await new Response(stream).arrayBuffer()`). A push
// sends HEAD, POST, PUT and DELETE with bodies, asks for a token of several
// scopes and adds `digest=` to an upload's Location (src/oci/registry-client.ts).

interface URLSearchParams {
  append(name: string, value: string): void;
  set(name: string, value: string): void;
}
interface URL {
  readonly href: string;
  readonly origin: string;
  search: string;
  /** ADD URL names the file after the path's last segment (src/engine/build/add-sources.ts). */
  readonly pathname: string;
  readonly searchParams: URLSearchParams;
}
declare var URL: { prototype: URL; new (url: string | URL, base?: string | URL): URL };

type HeadersInit = [string, string][] | Record<string, string> | Headers;
interface Headers {
  get(name: string): string | null;
}

type BodyInit = ReadableStream | Blob | BufferSource | string;
interface RequestInit {
  body?: BodyInit | null;
  headers?: HeadersInit;
  method?: string;
}
interface ResponseInit {
  headers?: HeadersInit;
  status?: number;
  statusText?: string;
}
interface Response {
  readonly body: ReadableStream<Uint8Array<ArrayBuffer>> | null;
  readonly headers: Headers;
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  arrayBuffer(): Promise<ArrayBuffer>;
  json(): Promise<any>;
  text(): Promise<string>;
}
declare var Response: { prototype: Response; new (body?: BodyInit | null, init?: ResponseInit): Response };

declare function fetch(input: string | URL, init?: RequestInit): Promise<Response>;
