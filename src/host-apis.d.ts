/**
 * The host APIs the engine layers (src/vm, src/oci, src/store, src/engine)
 * may use: exactly those that browsers' pages, Web Workers and Node (>= 20)
 * all provide as globals, declared with only the members this code uses.
 *
 * Those layers compile with the ES libraries alone (no DOM, no WebWorker, no
 * Node types; tsconfig.vm.json and its siblings), so any other global — `self`,
 * `document`, `caches`, `indexedDB`, `process`, `Buffer` — is a compile error
 * there. To use another host API, add it here with the reason, once it is
 * known to exist in all three hosts; what only one host has belongs to the
 * layer for that host (src/node, src/ui, src/store/folder, src/store/indexeddb),
 * passed in.
 *
 * Only the engine layers' programs include this file. The others (and
 * whatever uses the engine's declarations) get these names from their own
 * libraries (lib.dom / lib.webworker or @types/node), which declare more of
 * each: members are kept to what the code uses, with the standard's names
 * and types, so code checked against this file also checks against those.
 */

// ---------------------------------------------------------------- text
// Frames, JSON blobs, guest output: every layer turns bytes into strings.

interface TextEncoder {
  encode(input?: string): Uint8Array<ArrayBuffer>;
}
declare var TextEncoder: { prototype: TextEncoder; new (): TextEncoder };

interface TextDecoderOptions {
  fatal?: boolean;
  ignoreBOM?: boolean;
}
interface TextDecodeOptions {
  stream?: boolean;
}
interface TextDecoder {
  decode(input?: AllowSharedBufferSource, options?: TextDecodeOptions): string;
}
declare var TextDecoder: { prototype: TextDecoder; new (label?: string, options?: TextDecoderOptions): TextDecoder };

/** Basic auth for registries (src/oci/registry-client.ts). */
declare function btoa(data: string): string;

// ---------------------------------------------------------------- buffers

type AllowSharedBufferSource = ArrayBufferLike | ArrayBufferView<ArrayBufferLike>;
type BufferSource = ArrayBufferView<ArrayBuffer> | ArrayBuffer;

// ---------------------------------------------------------------- timers and scheduling
// Retries, timeouts, the guest's main-loop pacing. The handle is opaque: a
// number in browsers, an object in Node; it only goes back to clearTimeout.

interface HostTimeoutHandle {
  readonly __hostTimeoutHandle?: never;
}
declare function setTimeout(handler: (...args: any[]) => void, timeout?: number, ...args: any[]): HostTimeoutHandle;
declare function clearTimeout(id: HostTimeoutHandle | undefined): void;
/** docker-cli/io.ts: tells an end-of-output listener after the current turn. */
declare function queueMicrotask(callback: () => void): void;

/** Boot timings (src/vm/guest-vm.ts). */
declare var performance: { now(): number };

/**
 * src/vm/guest-vm.ts paces v86's main loop through a MessageChannel of its
 * own (timers are throttled, messages are not). Node's global MessageChannel
 * (>= 15) has the web interface, onmessage included.
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

// ---------------------------------------------------------------- randomness
// Container names and IDs (src/engine/names.ts).

declare var crypto: {
  getRandomValues<T extends ArrayBufferView<ArrayBuffer> | null>(array: T): T;
};

// ---------------------------------------------------------------- abort
// http-over-tcp.ts: a request its caller gave up on stops reading.

interface AbortSignal {
  readonly aborted: boolean;
  readonly reason: any;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

// ---------------------------------------------------------------- streams
// Blobs, layers and archives stream from the registry (fetch) through
// decompression and tar decoding into the stores and the guest's 9p tree.

interface QueuingStrategy<T = any> {
  highWaterMark?: number;
  size?: (chunk: T) => number;
}

interface ReadableStreamDefaultController<R = any> {
  readonly desiredSize: number | null;
  close(): void;
  enqueue(chunk: R): void;
  error(e?: any): void;
}
interface UnderlyingDefaultSource<R = any> {
  cancel?: (reason: any) => void | PromiseLike<void>;
  pull?: (controller: ReadableStreamDefaultController<R>) => void | PromiseLike<void>;
  start?: (controller: ReadableStreamDefaultController<R>) => any;
  type?: undefined;
}
type ReadableStreamReadResult<T> = { done: false; value: T } | { done: true; value: T | undefined };
interface ReadableStreamDefaultReader<R = any> {
  readonly closed: Promise<void>;
  cancel(reason?: any): Promise<void>;
  read(): Promise<ReadableStreamReadResult<R>>;
  releaseLock(): void;
}
interface ReadableWritablePair<R = any, W = any> {
  readable: ReadableStream<R>;
  writable: WritableStream<W>;
}
interface StreamPipeOptions {
  preventAbort?: boolean;
  preventCancel?: boolean;
  preventClose?: boolean;
  signal?: AbortSignal;
}
interface ReadableStreamAsyncIterator<T> extends AsyncIteratorObject<T, BuiltinIteratorReturn, unknown> {
  [Symbol.asyncIterator](): ReadableStreamAsyncIterator<T>;
}
interface ReadableStream<R = any> {
  readonly locked: boolean;
  cancel(reason?: any): Promise<void>;
  getReader(): ReadableStreamDefaultReader<R>;
  pipeThrough<T>(transform: ReadableWritablePair<T, R>, options?: StreamPipeOptions): ReadableStream<T>;
  pipeTo(destination: WritableStream<R>, options?: StreamPipeOptions): Promise<void>;
  [Symbol.asyncIterator](options?: { preventCancel?: boolean }): ReadableStreamAsyncIterator<R>;
}
declare var ReadableStream: {
  prototype: ReadableStream;
  new <R = any>(underlyingSource?: UnderlyingDefaultSource<R>, strategy?: QueuingStrategy<R>): ReadableStream<R>;
};

interface WritableStreamDefaultWriter<W = any> {
  readonly closed: Promise<void>;
  readonly ready: Promise<void>;
  abort(reason?: any): Promise<void>;
  close(): Promise<void>;
  releaseLock(): void;
  write(chunk?: W): Promise<void>;
}
interface WritableStream<W = any> {
  readonly locked: boolean;
  abort(reason?: any): Promise<void>;
  close(): Promise<void>;
  getWriter(): WritableStreamDefaultWriter<W>;
}

interface TransformStreamDefaultController<O = any> {
  readonly desiredSize: number | null;
  enqueue(chunk?: O): void;
  error(reason?: any): void;
  terminate(): void;
}
interface Transformer<I = any, O = any> {
  flush?: (controller: TransformStreamDefaultController<O>) => void | PromiseLike<void>;
  start?: (controller: TransformStreamDefaultController<O>) => any;
  transform?: (chunk: I, controller: TransformStreamDefaultController<O>) => void | PromiseLike<void>;
}
interface TransformStream<I = any, O = any> {
  readonly readable: ReadableStream<O>;
  readonly writable: WritableStream<I>;
}
declare var TransformStream: {
  prototype: TransformStream;
  new <I = any, O = any>(transformer?: Transformer<I, O>): TransformStream<I, O>;
};

/** gzip layers (src/engine/layer-unpacker.ts); Node has it since 18, browsers since 2023. */
interface DecompressionStream {
  readonly readable: ReadableStream<Uint8Array<ArrayBuffer>>;
  readonly writable: WritableStream<BufferSource>;
}
declare var DecompressionStream: {
  prototype: DecompressionStream;
  new (format: 'deflate' | 'deflate-raw' | 'gzip'): DecompressionStream;
};

/** A stream of bytes already in memory (`new Blob([bytes]).stream()`). */
type BlobPart = BufferSource | Blob | string;
interface Blob {
  readonly size: number;
  readonly type: string;
  arrayBuffer(): Promise<ArrayBuffer>;
  stream(): ReadableStream<Uint8Array<ArrayBuffer>>;
}
declare var Blob: { prototype: Blob; new (blobParts?: BlobPart[], options?: { type?: string }): Blob };

// ---------------------------------------------------------------- fetch
// Registries (src/oci), guest artifacts (src/vm/artifacts.ts), the guest's
// outbound HTTP (src/vm/guest-network.ts: v86's fetch adapter calls it).

interface URLSearchParams {
  get(name: string): string | null;
  set(name: string, value: string): void;
  append(name: string, value: string): void;
  toString(): string;
}
interface URL {
  href: string;
  readonly origin: string;
  protocol: string;
  host: string;
  hostname: string;
  port: string;
  pathname: string;
  search: string;
  readonly searchParams: URLSearchParams;
  hash: string;
  toString(): string;
}
declare var URL: { prototype: URL; new (url: string | URL, base?: string | URL): URL };

type HeadersInit = [string, string][] | Record<string, string> | Headers;
interface Headers {
  get(name: string): string | null;
  has(name: string): boolean;
  set(name: string, value: string): void;
  forEach(callbackfn: (value: string, key: string, parent: Headers) => void): void;
}
declare var Headers: { prototype: Headers; new (init?: HeadersInit): Headers };

type BodyInit = ReadableStream | Blob | BufferSource | string;
interface RequestInit {
  body?: BodyInit | null;
  headers?: HeadersInit;
  method?: string;
  redirect?: 'error' | 'follow' | 'manual';
  signal?: AbortSignal | null;
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
  readonly redirected: boolean;
  readonly status: number;
  readonly statusText: string;
  readonly url: string;
  arrayBuffer(): Promise<ArrayBuffer>;
  json(): Promise<any>;
  text(): Promise<string>;
}
declare var Response: { prototype: Response; new (body?: BodyInit | null, init?: ResponseInit): Response };

declare function fetch(input: string | URL, init?: RequestInit): Promise<Response>;
