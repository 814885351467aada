/**
 * Published ports in the browser: the messages between the service worker
 * (src/sw/), the page (port-bridge.ts) and its engine worker (engine-worker.ts).
 * Types and plain values only, with no imports: the service worker is
 * type-checked against the WebWorker library (tsconfig/sw.json), the page
 * against the DOM.
 *
 * The service worker answers requests for `<base>__berth/port/<hostPort>/…`
 * (and absolute paths asked for by pages served from there). It cannot reach
 * the engine itself: it asks a window that hosts one, and that window
 * forwards to its engine worker, which opens a TCP connection into the guest
 * and speaks HTTP/1.1 over it.
 *
 *   page → SW   EngineHostMessage: this window runs an engine (sent once it has booted).
 *   SW → page   HttpMessage, with a MessagePort for the answer;
 *   page → port BridgeReply: `accepted` at once, then `response`.
 *   page → engine worker  `httpRequest(hostPort, PortRequest)` → PortResponse (playground-api.ts).
 */

/** Where a host port's pages are served, relative to the page's base URL. */
export const PORT_PATH = '__berth/port/';

/** An HTTP request for a published port, as the page's service worker received it. */
export interface PortRequest {
  method: string;
  /** `/path?query`, percent-encoded. */
  path: string;
  headers: Array<[string, string]>;
  body?: Uint8Array;
  /** The Host header; `localhost:<hostPort>` when absent (what `curl localhost:8080` would send). */
  host?: string;
}

/**
 * Why a request for a published port got no HTTP response: `not-ready` the
 * guest is still booting; `not-published` no running container publishes
 * the port; `refused` nothing listens on it in the container; `bad-http` the
 * server's answer is not HTTP/1.x or was cut off; `timeout` no answer in
 * time; `failed` anything else.
 */
export type PortErrorKind = 'not-ready' | 'not-published' | 'refused' | 'bad-http' | 'timeout' | 'failed';

export type PortResponse =
  | { ok: true; status: number; statusText: string; headers: Array<[string, string]>; body: Uint8Array }
  | { ok: false; kind: PortErrorKind; message: string };

/** A window's answer to the service worker. `no-engine`: that window hosts no engine (an embedded terminal, say). */
export type BridgeResponse = PortResponse | { ok: false; kind: PortErrorKind | 'no-engine'; message: string };

export interface EngineHostMessage {
  type: 'berth-engine-host';
}

export interface HttpMessage {
  type: 'berth-http';
  hostPort: number;
  request: PortRequest;
}

export type BridgeReply = { type: 'accepted' } | { type: 'response'; response: BridgeResponse };
