/**
 * One HTTP/1.1 exchange over a TcpStream: the page's preview of a published
 * port sends the browser's request to the guest with `Connection: close` and
 * reads one response, buffered whole (status line, headers, and a body framed
 * by Content-Length, chunked transfer-coding, or the end of the connection;
 * RFC 9112 §6.3).
 *
 * Written here instead of taken from npm: http-parser-js (the parser most
 * packages use) is built on Node's Buffer; its browser forks
 * (@browsery/http-parser and the like) are little-used copies of an old
 * version with Node's callback-index API; bare-http-parser needs the Bare
 * runtime's global Buffer. A client that reads one response needs a small part
 * of HTTP/1.1, and this file must run in a Web Worker and in Node alike.
 *
 * Content-Encoding is left as the server sent it (the caller asks for
 * `identity` or decodes); trailers after a chunked body are read and dropped.
 */
import { concat } from '../vm/bytes.js';
import type { TcpStream } from '../vm/tcp-stream.js';

export interface HttpRequest {
  method: string;
  /** The request target as sent: `/path?query` (already percent-encoded). */
  path: string;
  /** Sent in order; hop-by-hop fields (Host, Connection, Content-Length, Transfer-Encoding, …) are replaced by this client's own. */
  headers: Array<[string, string]>;
  body?: Uint8Array;
  /** The Host header: `localhost:8080`. */
  host: string;
}

export interface HttpResponse {
  status: number;
  statusText: string;
  /** As received, in order, names as the server spelled them (obs-folded lines joined). */
  headers: Array<[string, string]>;
  /** De-chunked; still content-encoded if the server encoded it. */
  body: Uint8Array;
}

export interface HttpRequestOptions {
  /** Aborting rejects with the signal's reason and closes the connection. */
  signal?: AbortSignal;
  /** Largest status line + headers (and any one chunk-size or trailer line) accepted. Default 64 KiB. */
  maxHeaderBytes?: number;
  /** Largest body accepted (it is held in memory). Default 256 MiB. */
  maxBodyBytes?: number;
}

/**
 * Why a response could not be read: `no-response` the connection closed
 * before any byte came back (often: the far end accepted and found nothing
 * to forward to); `cut-off` it closed in the middle of the response;
 * `malformed` the bytes are not HTTP/1.x; `too-large` past a limit.
 */
export type HttpProtocolErrorCode = 'no-response' | 'cut-off' | 'malformed' | 'too-large';

/** The server's bytes are not an HTTP/1.x response, or it stopped in the middle of one. */
export class HttpProtocolError extends Error {
  override readonly name = 'HttpProtocolError';
  constructor(
    readonly code: HttpProtocolErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Fields that describe this one connection: the client writes its own. */
const HOP_BY_HOP = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'content-length']);
const NEEDS_LENGTH = new Set(['POST', 'PUT', 'PATCH']);

/** Header text is a byte string (Fetch's ByteString): one byte per character, as the wire has it. */
function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new TypeError(`HTTP header text must be Latin-1; ${JSON.stringify(s.slice(0, 60))} is not`);
    out[i] = c;
  }
  return out;
}

function latin1String(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}

/** The request head, validated so nothing a page sends can split it into two requests. */
export function encodeRequestHead(req: HttpRequest): Uint8Array {
  if (!TOKEN.test(req.method)) throw new TypeError(`invalid HTTP method ${JSON.stringify(req.method)}`);
  if (!/^[\x21-\x7e]+$/.test(req.path)) throw new TypeError(`invalid request target ${JSON.stringify(req.path)}: visible ASCII only, percent-encode the rest`);
  if (!/^[\x21-\x7e]+$/.test(req.host)) throw new TypeError(`invalid Host ${JSON.stringify(req.host)}`);
  const lines = [`${req.method} ${req.path} HTTP/1.1`, `Host: ${req.host}`];
  for (const [name, value] of req.headers) {
    if (!TOKEN.test(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
    if (/[\r\n\0]/.test(value)) throw new TypeError(`the value of header ${name} holds a line break or NUL`);
    if (HOP_BY_HOP.has(name.toLowerCase())) continue;
    lines.push(`${name}: ${value.replace(/^[ \t]+|[ \t]+$/g, '')}`);
  }
  const length = req.body?.length ?? 0;
  if (length > 0 || NEEDS_LENGTH.has(req.method.toUpperCase())) lines.push(`Content-Length: ${length}`);
  lines.push('Connection: close', '', '');
  return latin1Bytes(lines.join('\r\n'));
}

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'close' | 'done';


/** Reads one response from bytes fed in any split; `push` says when it is complete, `end` when the connection closed. */
export class HttpResponseReader {
  private state: State = 'head';
  /** Bytes received and not yet consumed. */
  private buf: Uint8Array = new Uint8Array(0);
  /** Where the search for the next line break resumes in `buf`. */
  private scanFrom = 0;
  private received = 0;
  private headBytes = 0;
  private headLines: string[] = [];
  /** Body bytes still expected: of the whole body (`length`) or of the current chunk. */
  private remaining = 0;
  private readonly bodyParts: Uint8Array[] = [];
  private bodyBytes = 0;
  private status = 0;
  private statusText = '';
  private headers: Array<[string, string]> = [];
  private readonly maxHeaderBytes: number;
  private readonly maxBodyBytes: number;

  constructor(
    private readonly method: string,
    limits: { maxHeaderBytes?: number; maxBodyBytes?: number } = {},
  ) {
    this.maxHeaderBytes = limits.maxHeaderBytes ?? 64 * 1024;
    this.maxBodyBytes = limits.maxBodyBytes ?? 256 * 1024 * 1024;
  }

  get done(): boolean {
    return this.state === 'done';
  }

  /** Feeds bytes from the server; true once the response is complete (later bytes are ignored). Throws HttpProtocolError. */
  push(data: Uint8Array): boolean {
    if (this.state === 'done' || data.length === 0) return this.done;
    this.received += data.length;
    if (this.buf.length === 0) this.buf = data;
    else {
      const joined = new Uint8Array(this.buf.length + data.length);
      joined.set(this.buf);
      joined.set(data, this.buf.length);
      this.buf = joined;
    }
    this.run();
    // Keep no view into the caller's buffer: the stream may reuse it for its next bytes.
    if (this.buf.length > 0 && this.buf.buffer === data.buffer) this.buf = this.buf.slice();
    return this.done;
  }

  /** The server closed the connection: completes a close-delimited body, or throws for a cut-off response. */
  end(): void {
    switch (this.state) {
      case 'done':
        return;
      case 'close':
        this.state = 'done';
        return;
      case 'head':
        if (this.received === 0) throw new HttpProtocolError('no-response', 'the server closed the connection without sending a response');
        throw new HttpProtocolError('cut-off', 'the server closed the connection before the end of the response headers');
      case 'length':
        throw new HttpProtocolError('cut-off', `the server closed the connection after ${this.bodyBytes} of ${this.bodyBytes + this.remaining} body bytes (Content-Length)`);
      case 'trailers':
        // The last chunk arrived; only the closing empty line is missing. Nothing of the body is lost.
        if (this.buf.length === 0 && this.headLines.length === 0) {
          this.state = 'done';
          return;
        }
      // falls through
      default:
        throw new HttpProtocolError('cut-off', 'the server closed the connection in the middle of a chunked body');
    }
  }

  response(): HttpResponse {
    if (this.state !== 'done') throw new Error('the response is not complete yet');
    return { status: this.status, statusText: this.statusText, headers: this.headers, body: concat(this.bodyParts) };
  }

  /** The next line without its CR LF (a bare LF is accepted too), or undefined until one is complete. */
  private line(): string | undefined {
    const nl = this.buf.indexOf(0x0a, this.scanFrom);
    if (nl < 0) {
      this.scanFrom = this.buf.length;
      if (this.buf.length > this.maxHeaderBytes) throw new HttpProtocolError('too-large', `a line of the response is longer than ${this.maxHeaderBytes} bytes`);
      return undefined;
    }
    const end = nl > 0 && this.buf[nl - 1] === 0x0d ? nl - 1 : nl;
    const text = latin1String(this.buf.subarray(0, end));
    this.buf = this.buf.subarray(nl + 1);
    this.scanFrom = 0;
    return text;
  }

  private takeBody(n: number): void {
    const part = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.scanFrom = 0;
    this.bodyBytes += part.length;
    this.remaining -= part.length;
    if (this.bodyBytes > this.maxBodyBytes) throw new HttpProtocolError('too-large', `the response body is larger than ${this.maxBodyBytes} bytes`);
    // Copied: the stream may reuse the buffer it handed over.
    if (part.length) this.bodyParts.push(part.slice());
  }

  private run(): void {
    for (;;) {
      switch (this.state) {
        case 'head': {
          const before = this.buf.length;
          const line = this.line();
          if (line === undefined) {
            if (this.headBytes + this.buf.length > this.maxHeaderBytes) throw new HttpProtocolError('too-large', `the response headers are larger than ${this.maxHeaderBytes} bytes`);
            return;
          }
          this.headBytes += before - this.buf.length;
          if (this.headBytes > this.maxHeaderBytes) throw new HttpProtocolError('too-large', `the response headers are larger than ${this.maxHeaderBytes} bytes`);
          if (line !== '') {
            this.headLines.push(line);
            // The status line comes first: refuse something that is not HTTP before waiting for more of it.
            if (this.headLines.length === 1) this.parseStatusLine(line);
            continue;
          }
          if (this.headLines.length === 0) continue; // a stray empty line before the status line
          this.endOfHead();
          continue;
        }
        case 'length': {
          if (this.buf.length === 0) return;
          this.takeBody(Math.min(this.remaining, this.buf.length));
          if (this.remaining === 0) this.state = 'done';
          continue;
        }
        case 'close': {
          if (this.buf.length === 0) return;
          this.takeBody(this.buf.length);
          return;
        }
        case 'chunk-size': {
          const line = this.line();
          if (line === undefined) return;
          // chunk-size [ chunk-ext ]: extensions (`;name=value`) carry nothing a preview needs.
          const m = /^([0-9A-Fa-f]{1,12})[ \t]*(?:;.*)?$/.exec(line);
          if (!m) throw new HttpProtocolError('malformed', `bad chunk size line in a chunked body: ${JSON.stringify(line.slice(0, 60))}`);
          const size = parseInt(m[1]!, 16);
          if (size === 0) this.state = 'trailers';
          else {
            this.remaining = size;
            this.state = 'chunk-data';
          }
          continue;
        }
        case 'chunk-data': {
          if (this.buf.length === 0) return;
          this.takeBody(Math.min(this.remaining, this.buf.length));
          if (this.remaining === 0) this.state = 'chunk-end';
          continue;
        }
        case 'chunk-end': {
          const line = this.line();
          if (line === undefined) return;
          if (line !== '') throw new HttpProtocolError('malformed', 'a chunk of a chunked body is longer than its size line says');
          this.state = 'chunk-size';
          continue;
        }
        case 'trailers': {
          const line = this.line();
          if (line === undefined) return;
          if (line === '') {
            this.headLines = [];
            this.state = 'done';
          } else this.headLines.push(line); // trailer fields: read, not kept
          continue;
        }
        case 'done':
          return;
      }
    }
  }

  private parseStatusLine(line: string): void {
    const m = /^HTTP\/1\.(\d) (\d{3})(?: (.*))?$/.exec(line);
    if (!m) throw new HttpProtocolError('malformed', `the server did not answer with HTTP/1.x: its first line is ${JSON.stringify(line.slice(0, 80))}`);
    this.status = Number(m[2]);
    this.statusText = m[3] ?? '';
    if (this.status < 100) throw new HttpProtocolError('malformed', `the server answered with an invalid status code ${m[2]}`);
  }

  private endOfHead(): void {
    const headers: Array<[string, string]> = [];
    for (const line of this.headLines.slice(1)) {
      const last = headers[headers.length - 1];
      if (line[0] === ' ' || line[0] === '\t') {
        // obs-fold: a continuation of the previous field's value (RFC 9112 §5.2 lets a client join it with a space).
        if (!last) throw new HttpProtocolError('malformed', 'the response headers begin with a continuation line');
        last[1] = `${last[1]} ${line.trim()}`.trim();
        continue;
      }
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.slice(0, colon) : '';
      if (!TOKEN.test(name)) throw new HttpProtocolError('malformed', `malformed header line in the response: ${JSON.stringify(line.slice(0, 80))}`);
      headers.push([name, line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '')]);
    }
    this.headLines = [];
    if (this.status < 200) {
      this.headBytes = 0;
      if (this.status === 101) throw new HttpProtocolError('malformed', 'the server switched protocols (101), which a one-request HTTP client cannot follow');
      return; // 100 Continue, 103 Early Hints: the final response follows
    }
    this.headers = headers;
    const values = (n: string) => headers.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
    if (this.method.toUpperCase() === 'HEAD' || this.status === 204 || this.status === 304) {
      this.state = 'done';
      return;
    }
    const codings = values('transfer-encoding')
      .flatMap((v) => v.split(','))
      .map((c) => c.trim().toLowerCase())
      .filter(Boolean);
    if (codings.length > 0) {
      // Transfer-Encoding overrides Content-Length; a final coding other than chunked runs to the close.
      this.state = codings[codings.length - 1] === 'chunked' ? 'chunk-size' : 'close';
      return;
    }
    const lengths = values('content-length').flatMap((v) => v.split(',').map((s) => s.trim()));
    if (lengths.length > 0) {
      const first = lengths[0]!;
      if (!/^\d{1,15}$/.test(first) || lengths.some((l) => l !== first)) throw new HttpProtocolError('malformed', `the response has an invalid Content-Length: ${JSON.stringify(values('content-length').join(', '))}`);
      this.remaining = Number(first);
      if (this.remaining > this.maxBodyBytes) throw new HttpProtocolError('too-large', `the response body (${this.remaining} bytes) is larger than ${this.maxBodyBytes} bytes`);
      this.state = this.remaining === 0 ? 'done' : 'length';
      return;
    }
    this.state = 'close';
  }
}

/**
 * Sends `req` on `stream` and reads the response. The stream is closed when
 * the response is complete, on any error, and on abort. Rejects with
 * HttpProtocolError for a malformed or cut-off response, TypeError for a
 * request that cannot be written.
 */
export function httpRequest(stream: TcpStream, req: HttpRequest, options: HttpRequestOptions = {}): Promise<HttpResponse> {
  let head: Uint8Array;
  try {
    head = encodeRequestHead(req);
  } catch (e) {
    stream.close();
    return Promise.reject(e);
  }
  const { signal } = options;
  return new Promise<HttpResponse>((resolve, reject) => {
    const reader = new HttpResponseReader(req.method, options);
    let settled = false;
    const onAbort = () => finish(signal?.reason ?? new Error('the request was aborted'));
    const finish = (error?: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      try {
        stream.close();
      } catch {
        // already closed
      }
      if (error !== undefined) reject(error);
      else resolve(reader.response());
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort);
    stream.onData((data) => {
      if (settled) return;
      try {
        if (reader.push(data)) finish();
      } catch (e) {
        finish(e);
      }
    });
    stream.onEnd(() => {
      if (settled) return;
      try {
        reader.end();
        finish();
      } catch (e) {
        finish(e);
      }
    });
    stream.write(head);
    if (req.body && req.body.length > 0) stream.write(req.body);
  });
}
