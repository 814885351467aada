import { describe, expect, it } from 'vitest';
import { httpRequest, HttpProtocolError, type HttpRequest, type HttpResponse } from '../../src/engine/http-over-tcp.js';
import type { TcpStream } from '../../src/vm/tcp-stream.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** A TcpStream whose far side is the test: it records what the client writes and feeds the server's bytes. */
class FakeStream implements TcpStream {
  readonly written: Uint8Array[] = [];
  closed = false;
  ended = false;
  private dataFns: Array<(d: Uint8Array) => void> = [];
  private endFns: Array<() => void> = [];
  write(data: Uint8Array): void {
    this.written.push(data.slice());
  }
  end(): void {
    this.ended = true;
  }
  close(): void {
    this.closed = true;
  }
  onData(fn: (data: Uint8Array) => void): void {
    this.dataFns.push(fn);
  }
  onEnd(fn: () => void): void {
    this.endFns.push(fn);
  }
  /** Sends bytes to the client, reusing one buffer for every piece (as a network stack may). */
  feed(bytes: Uint8Array, cuts: number[]): void {
    let at = 0;
    const scratch = new Uint8Array(bytes.length);
    for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length), bytes.length]) {
      if (cut <= at) continue;
      const piece = scratch.subarray(0, cut - at);
      piece.set(bytes.subarray(at, cut));
      for (const fn of this.dataFns) fn(piece);
      piece.fill(0xee);
      at = cut;
    }
  }
  hangUp(): void {
    for (const fn of this.endFns) fn();
  }
  request(): string {
    return dec(new Uint8Array(this.written.flatMap((w) => [...w])));
  }
}

const GET: HttpRequest = { method: 'GET', path: '/', headers: [], host: 'localhost:8080' };

type Split = { name: string; cuts: (n: number) => number[] };
const SPLITS: Split[] = [
  { name: 'whole', cuts: () => [] },
  { name: 'byte by byte', cuts: (n) => Array.from({ length: n }, (_, i) => i) },
  { name: 'odd pieces', cuts: (n) => Array.from({ length: n }, (_, i) => i).filter((i) => i % 7 === 3 || i % 11 === 0) },
  { name: 'two halves', cuts: (n) => [Math.floor(n / 2)] },
];

/** Runs one exchange: the server's bytes arrive in `cuts`; `close` hangs up after them. */
async function exchange(raw: string | Uint8Array, cuts: number[], opts: { close?: boolean; req?: HttpRequest } = {}): Promise<{ res: HttpResponse; stream: FakeStream }> {
  const stream = new FakeStream();
  const pending = httpRequest(stream, opts.req ?? GET);
  stream.feed(typeof raw === 'string' ? enc(raw) : raw, cuts);
  if (opts.close) stream.hangUp();
  return { res: await pending, stream };
}

async function failure(raw: string, cuts: number[] = [], close = true): Promise<Error> {
  const stream = new FakeStream();
  const pending = httpRequest(stream, GET);
  stream.feed(enc(raw), cuts);
  if (close) stream.hangUp();
  const e = await pending.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(HttpProtocolError);
  expect(stream.closed).toBe(true);
  return e as Error;
}

describe('httpRequest: the request', () => {
  it('writes the request line, Host, the caller’s headers, Content-Length and Connection: close', async () => {
    const stream = new FakeStream();
    const body = enc('a=1&b=2');
    const pending = httpRequest(stream, {
      method: 'POST',
      path: '/form?x=%20y',
      host: 'localhost:8080',
      headers: [
        ['Accept', 'text/html'],
        ['Connection', 'keep-alive'],
        ['Host', 'evil.example'],
        ['Content-Length', '999'],
        ['Transfer-Encoding', 'chunked'],
        ['X-Multi', ' padded  '],
      ],
      body,
    });
    expect(stream.request()).toBe(
      'POST /form?x=%20y HTTP/1.1\r\nHost: localhost:8080\r\nAccept: text/html\r\nX-Multi: padded\r\nContent-Length: 7\r\nConnection: close\r\n\r\na=1&b=2',
    );
    stream.feed(enc('HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n'), []);
    expect((await pending).status).toBe(201);
    expect(stream.closed).toBe(true);
  });

  it('an empty POST says Content-Length: 0; a GET says nothing of length', async () => {
    const post = new FakeStream();
    void httpRequest(post, { ...GET, method: 'POST' }).catch(() => {});
    expect(post.request()).toContain('\r\nContent-Length: 0\r\n');
    const get = new FakeStream();
    void httpRequest(get, GET).catch(() => {});
    expect(get.request()).toBe('GET / HTTP/1.1\r\nHost: localhost:8080\r\nConnection: close\r\n\r\n');
  });

  it('refuses what could split the request: line breaks in values, bad names, spaces in the target', async () => {
    const cases: HttpRequest[] = [
      { ...GET, headers: [['X-A', 'ok\r\nX-Injected: 1']] },
      { ...GET, headers: [['Bad Name', 'v']] },
      { ...GET, path: '/a b' },
      { ...GET, method: 'GET /x' },
      { ...GET, host: 'a\r\nb' },
    ];
    for (const req of cases) {
      const stream = new FakeStream();
      await expect(httpRequest(stream, req)).rejects.toBeInstanceOf(TypeError);
      expect(stream.written).toEqual([]);
      expect(stream.closed).toBe(true);
    }
  });
});

describe('httpRequest: the response, in every split', () => {
  const html = '<!doctype html><p>hello-from-httpd</p>\n';
  const lengthResponse = `HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: ${html.length}\r\nX-Folded: one\r\n  two\r\n\r\n${html}`;
  const chunked =
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Type: text/plain\r\n\r\n' +
    '5;name=value;q="x"\r\nhello\r\n' +
    '1A \r\n, chunked world with exts\n\r\n' +
    '0;last\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n';
  const closeDelimited = 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end\r\n\r\nmore lines';

  for (const split of SPLITS) {
    it(`Content-Length (${split.name})`, async () => {
      const { res, stream } = await exchange(lengthResponse, split.cuts(lengthResponse.length));
      expect(res.status).toBe(200);
      expect(res.statusText).toBe('OK');
      expect(res.headers).toEqual([
        ['Content-Type', 'text/html'],
        ['Content-Length', String(html.length)],
        ['X-Folded', 'one two'],
      ]);
      expect(dec(res.body)).toBe(html);
      // Complete without waiting for the server to hang up; the connection is closed by the client.
      expect(stream.closed).toBe(true);
    });

    it(`chunked with extensions and trailers (${split.name})`, async () => {
      const { res } = await exchange(chunked, split.cuts(chunked.length));
      expect(dec(res.body)).toBe('hello, chunked world with exts\n');
      expect(res.headers.map(([k]) => k)).toEqual(['Transfer-Encoding', 'Content-Type']);
    });

    it(`close-delimited (${split.name})`, async () => {
      const { res } = await exchange(closeDelimited, split.cuts(closeDelimited.length), { close: true });
      expect(res.status).toBe(200);
      expect(dec(res.body)).toBe('until the end\r\n\r\nmore lines');
    });
  }

  it('a binary body arrives byte for byte', async () => {
    const body = Uint8Array.from({ length: 3000 }, (_, i) => (i * 31) & 0xff);
    const head = enc(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
    const raw = new Uint8Array([...head, ...body]);
    const { res } = await exchange(raw, SPLITS[2]!.cuts(raw.length));
    expect(res.body).toEqual(body);
  });

  it('204 and 304 have no body, and neither has the answer to HEAD', async () => {
    for (const status of ['204 No Content', '304 Not Modified']) {
      const { res } = await exchange(`HTTP/1.1 ${status}\r\nETag: "x"\r\nContent-Length: 12\r\n\r\n`, []);
      expect(res.status).toBe(Number(status.slice(0, 3)));
      expect(res.body.length).toBe(0);
    }
    const { res } = await exchange('HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n', [], { req: { ...GET, method: 'HEAD' } });
    expect(res.headers).toEqual([['Content-Length', '5000']]);
    expect(res.body.length).toBe(0);
  });

  it('skips 100 Continue and 103 Early Hints before the final response', async () => {
    const raw = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope';
    const { res } = await exchange(raw, SPLITS[1]!.cuts(raw.length));
    expect(res.status).toBe(404);
    expect(res.statusText).toBe('Not Found');
    expect(res.headers).toEqual([['Content-Length', '4']]);
    expect(dec(res.body)).toBe('nope');
  });

  it('bare LF line ends and a status line without a reason phrase', async () => {
    const { res } = await exchange('HTTP/1.1 200\nContent-Length: 2\n\nok', []);
    expect(res.status).toBe(200);
    expect(res.statusText).toBe('');
    expect(dec(res.body)).toBe('ok');
  });

  it('bytes after a complete response are ignored', async () => {
    const { res } = await exchange('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA GARBAGE', [], { close: true });
    expect(dec(res.body)).toBe('ok');
  });

  it('a chunked body whose server hangs up right after the last chunk is complete', async () => {
    const { res } = await exchange('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n', [], { close: true });
    expect(dec(res.body)).toBe('ok');
  });
});

describe('httpRequest: failures say what went wrong', () => {
  it('something that is not HTTP', async () => {
    expect((await failure('SSH-2.0-OpenSSH_9.2\r\n', [], false)).message).toMatch(/did not answer with HTTP\/1\.x: its first line is "SSH-2\.0-OpenSSH_9\.2"/);
    expect((await failure('HTTP/2 200\r\n\r\n', [], false)).message).toMatch(/did not answer with HTTP\/1\.x/);
    expect((await failure('HTTP/1.1 20 OK\r\n\r\n', [], false)).message).toMatch(/did not answer with HTTP\/1\.x/);
  });

  it('a bad status line is refused as soon as it is complete, without waiting for the close', async () => {
    const e = await failure('<html>not a status line\r\nmore', [3, 9], false);
    expect(e.message).toContain('"<html>not a status line"');
  });

  it('malformed headers', async () => {
    expect((await failure('HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n', [], false)).message).toMatch(/malformed header line in the response: "No colon here"/);
    expect((await failure('HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n', [], false)).message).toMatch(/malformed header line/);
    expect((await failure('HTTP/1.1 200 OK\r\n folded first\r\n\r\n', [], false)).message).toMatch(/continuation line/);
    expect((await failure('HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcd', [], false)).message).toMatch(/invalid Content-Length: "3, 4"/);
    expect((await failure('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', [], false)).message).toMatch(/invalid Content-Length/);
    expect((await failure('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n', [], false)).message).toMatch(/switched protocols/);
  });

  it('a bad chunked body', async () => {
    expect((await failure('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', [], false)).message).toMatch(/bad chunk size line in a chunked body: "zz"/);
    expect((await failure('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokay\r\n0\r\n\r\n', [], false)).message).toMatch(/longer than its size line/);
  });

  it('closed before anything, before the end of the headers, in the body', async () => {
    const none = (await failure('')) as HttpProtocolError;
    expect(none.message).toBe('the server closed the connection without sending a response');
    expect(none.code).toBe('no-response');
    expect(((await failure('HTTP/1.1 200 OK\r\n')) as HttpProtocolError).code).toBe('cut-off');
    expect(((await failure('HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n', [], false)) as HttpProtocolError).code).toBe('malformed');
    expect((await failure('HTTP/1.1 200 OK\r\nContent-Le', [4])).message).toBe('the server closed the connection before the end of the response headers');
    expect((await failure('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc')).message).toBe('the server closed the connection after 3 of 10 body bytes (Content-Length)');
    expect((await failure('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab')).message).toMatch(/in the middle of a chunked body/);
  });

  it('headers past the limit', async () => {
    const stream = new FakeStream();
    const pending = httpRequest(stream, GET, { maxHeaderBytes: 100 });
    stream.feed(enc(`HTTP/1.1 200 OK\r\nX-Big: ${'x'.repeat(200)}`), SPLITS[2]!.cuts(220));
    await expect(pending).rejects.toThrow(/larger than 100 bytes|longer than 100 bytes/);
    expect(stream.closed).toBe(true);
  });

  it('an abort rejects with its reason and closes the connection', async () => {
    const stream = new FakeStream();
    const ctl = new AbortController();
    const pending = httpRequest(stream, GET, { signal: ctl.signal });
    stream.feed(enc('HTTP/1.1 200 OK\r\n'), []);
    ctl.abort(new Error('the preview took too long'));
    await expect(pending).rejects.toThrow('the preview took too long');
    expect(stream.closed).toBe(true);
  });
});
