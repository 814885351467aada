import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { LoopbackPorts } from '../../src/node/loopback-ports.js';
import { bootEngine, dockerCommand, guestSh, type GuestStart } from '../helpers/engine.js';
import { freePort } from '../helpers/net.js';

/**
 * Container networks in the real guest: user networks with names, the
 * default bridge, none and host, published ports reached from this machine,
 * and outbound HTTP through v86's fetch adapter. Everything runs twice: on a
 * guest booted cold and on one restored from a snapshot (the daemon's start
 * after its first, every page visit after the first), since what the network
 * keeps of the guest's state is where restores broke before.
 */
let outside: Server;
let outsidePort: number;

beforeAll(async () => {
  // A server on this machine's loopback: what "the internet" is for containers in these tests.
  outside = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      res.setHeader('access-control-allow-origin', '*');
      res.end(`outside saw ${req.method} ${req.url}${body ? ` body=${body}` : ''}\n`);
    });
  });
  await new Promise<void>((r) => outside.listen(0, '127.0.0.1', r));
  outsidePort = (outside.address() as AddressInfo).port;
});
afterAll(() => outside?.close());

const HTTPD = (text: string) => ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 80 -h /www`];

/**
 * A server in a container needs a moment after `run -d` returns (as with Docker): ask until it answers.
 * Each request gives up after 5 s: a port whose bytes go nowhere hangs rather than failing.
 */
async function fetchWhenUp(url: string): Promise<Response> {
  for (let i = 0; ; i++) {
    try {
      return await fetch(url, { signal: AbortSignal.timeout(5000) });
    } catch (e) {
      if (i >= 50 || (e as Error).name === 'TimeoutError') throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** The same from inside a container: wget until the peer's server answers. */
const WGET_WHEN_UP = (url: string) => ['sh', '-c', `for i in $(seq 50); do wget -qO- ${url} >/dev/null 2>&1 && break; sleep 0.2; done; wget -qO- ${url}`];

describe.each<GuestStart>(['cold', 'restored'])('on a guest started %s', (start) => {
  let engine: Engine;
  const ports = new LoopbackPorts();

  beforeAll(async () => {
    engine = await bootEngine({ start, publisher: ports });
  });
  afterAll(async () => {
    ports.closeAll();
    await engine?.vm.stop();
  });

  const docker = (...argv: string[]) => dockerCommand(engine, argv);

  describe('user-defined networks', () => {
    it('lets two containers talk by name and by alias', async () => {
      expect((await docker('network', 'create', 'appnet')).code).toBe(0);
      const web = await docker('run', '-d', '--name', 'web', '--network', 'appnet', '--network-alias', 'www', 'busybox', ...HTTPD('hello-by-name'));
      expect(web.code, web.err).toBe(0);
      const r = await docker('run', '--rm', '--network', 'appnet', 'busybox', 'sh', '-c', `${WGET_WHEN_UP('http://web/')[2]} && wget -qO- http://www/`);
      expect(r).toMatchObject({ code: 0, out: 'hello-by-name\nhello-by-name\n' });
    });

    it('updates running containers when a peer joins later', async () => {
      expect((await docker('run', '-d', '--name', 'early', '--network', 'appnet', 'busybox', 'sleep', '300')).code).toBe(0);
      expect((await docker('run', '-d', '--name', 'late', '--network', 'appnet', 'busybox', ...HTTPD('late-peer'))).code).toBe(0);
      const r = await docker('exec', 'early', ...WGET_WHEN_UP('http://late/'));
      expect(r).toMatchObject({ code: 0, out: 'late-peer\n' });
      await docker('rm', '-f', 'late');
      const gone = await docker('exec', 'early', 'cat', '/etc/hosts');
      expect(gone.out).not.toMatch(/\blate\b/);
      expect(gone.out).toMatch(/\bweb www\b/);
    });

    it('connects and disconnects a running container', async () => {
      expect((await docker('run', '-d', '--name', 'roamer', 'busybox', 'sleep', '300')).code).toBe(0);
      expect((await docker('exec', 'roamer', 'wget', '-qO-', '-T', '3', 'http://web/')).code).not.toBe(0);
      expect((await docker('network', 'connect', 'appnet', 'roamer')).code).toBe(0);
      const ifs = await docker('exec', 'roamer', 'cat', '/proc/net/dev');
      expect(ifs.out).toMatch(/eth1:/);
      expect((await docker('exec', 'roamer', 'wget', '-qO-', 'http://web/')).out).toBe('hello-by-name\n');
      const inspect = await docker('network', 'inspect', '--format', '{{json .Containers}}', 'appnet');
      expect(inspect.out).toMatch(/"Name":"roamer","IPv4Address":"172\.18\.0\.\d+\/16"/);
      expect((await docker('network', 'disconnect', 'appnet', 'roamer')).code).toBe(0);
      expect((await docker('exec', 'roamer', 'cat', '/proc/net/dev')).out).not.toMatch(/eth1:/);
    });

    it('refuses what Docker refuses, with its messages', async () => {
      expect(await docker('network', 'create', 'appnet')).toMatchObject({ code: 1, err: expect.stringMatching(/network with name appnet already exists/) });
      expect(await docker('network', 'rm', 'appnet')).toMatchObject({ code: 1, err: expect.stringMatching(/has active endpoints/) });
      expect(await docker('network', 'rm', 'bridge')).toMatchObject({ code: 1, err: expect.stringMatching(/pre-defined network and cannot be removed/) });
      expect(await docker('run', '--rm', '--network', 'nosuchnet', 'busybox', 'true')).toMatchObject({ code: 125, err: expect.stringMatching(/network nosuchnet not found/) });
      expect(await docker('run', '--rm', '--network-alias', 'x', 'busybox', 'true')).toMatchObject({ code: 125, err: expect.stringMatching(/only for containers in user defined networks/) });
      expect(await docker('network', 'create', '--subnet', '10.0.0.0/33', 'bad')).toMatchObject({ code: 1, err: expect.stringMatching(/invalid subnet/) });
      expect(await docker('network', 'create', '--subnet', '172.18.5.0/24', 'overlapping')).toMatchObject({ code: 1, err: expect.stringMatching(/overlaps/) });
    });

    it('removes the network once its containers are gone, leaving no links behind', async () => {
      await docker('rm', '-f', 'web', 'early', 'roamer');
      expect((await docker('network', 'rm', 'appnet')).code).toBe(0);
      expect((await docker('network', 'ls', '--format', '{{.Name}}')).out.split('\n').filter(Boolean).sort()).toEqual(['bridge', 'host', 'none']);
      const links = await guestSh(engine, 'cat /proc/net/dev');
      expect(links).not.toMatch(/veth|br-/);
    });
  });

  describe('network modes', () => {
    it('gives the default bridge an address and a route out', async () => {
      const r = await docker('run', '--rm', 'busybox', 'sh', '-c', 'ip -o -4 addr show eth0; ip route');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/inet 172\.17\.0\.\d+\/16/);
      expect(r.out).toMatch(/default via 172\.17\.0\.1/);
    });

    it('leaves --network none with loopback only', async () => {
      const r = await docker('run', '--rm', '--network', 'none', 'busybox', 'cat', '/proc/net/dev');
      const ifaces = r.out.split('\n').slice(2).filter(Boolean).map((l) => l.trim().split(':')[0]);
      expect(ifaces).toEqual(['lo']);
    });

    it('shares the guest network with --network host', async () => {
      const r = await docker('run', '--rm', '--network', 'host', 'busybox', 'ip', '-o', '-4', 'addr', 'show', 'eth0');
      expect(r.out).toMatch(/inet 192\.168\.86\.100\/24/);
    });
  });

  describe('published ports', () => {
    it('serves a container from a loopback port on this machine', async () => {
      const port = await freePort();
      const r = await docker('run', '-d', '--name', 'pub', '-p', `${port}:80`, 'busybox', ...HTTPD('published-hello'));
      expect(r.code, r.err).toBe(0);
      const res = await fetchWhenUp(`http://127.0.0.1:${port}/index.html`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('published-hello\n');
      expect((await docker('port', 'pub')).out).toBe(`80/tcp -> 127.0.0.1:${port}\n`);
      expect((await docker('port', 'pub', '80')).out).toBe(`127.0.0.1:${port}\n`);
      expect((await docker('ps', '--format', '{{.Ports}}', '--filter', 'name=pub')).out).toBe(`127.0.0.1:${port}->80/tcp\n`);
    });

    it('carries a larger body intact both ways', async () => {
      const port = (await docker('port', 'pub', '80')).out.trim().split(':')[1];
      await docker('exec', 'pub', 'sh', '-c', 'head -c 300000 /dev/urandom > /www/blob; sha256sum /www/blob > /www/blob.sum');
      const blob = new Uint8Array(await (await fetch(`http://127.0.0.1:${port}/blob`)).arrayBuffer());
      const sum = (await (await fetch(`http://127.0.0.1:${port}/blob.sum`)).text()).split(' ')[0];
      const { createHash } = await import('node:crypto');
      expect(blob.length).toBe(300000);
      expect(createHash('sha256').update(blob).digest('hex')).toBe(sum);
    });

    it('refuses a host port that is taken, and frees it when the container stops', async () => {
      const port = Number((await docker('port', 'pub', '80')).out.trim().split(':')[1]);
      const clash = await docker('run', '-d', '-p', `${port}:80`, 'busybox', 'sleep', '1');
      expect(clash.code).toBe(125);
      expect(clash.err).toMatch(new RegExp(`Bind for 127.0.0.1:${port} failed: port is already allocated`));
      await docker('stop', '-t', '1', 'pub');
      await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
      expect(engine.network.publishedPorts()).toEqual([]);
      await docker('rm', '-f', 'pub');
    });

    it('picks host ports for -p 80 and -P, and refuses bad specs', async () => {
      const r = await docker('run', '-d', '--name', 'anyport', '-p', '80', 'busybox', ...HTTPD('any-port'));
      expect(r.code, r.err).toBe(0);
      const hostPort = Number((await docker('port', 'anyport', '80')).out.trim().split(':')[1]);
      expect(hostPort).toBeGreaterThanOrEqual(49153);
      expect(await (await fetchWhenUp(`http://127.0.0.1:${hostPort}/`)).text()).toBe('any-port\n');
      await docker('rm', '-f', 'anyport');
      expect(await docker('run', '--rm', '-p', '80/udp', 'busybox', 'true')).toMatchObject({ code: 125, err: expect.stringMatching(/only TCP ports/) });
      expect(await docker('run', '--rm', '-p', '70000:80', 'busybox', 'true')).toMatchObject({ code: 125, err: expect.stringMatching(/invalid port "70000"/) });
    });
  });

  describe('outbound HTTP', () => {
    it('reaches a server on this machine through the fetch adapter', async () => {
      // v86's fetch adapter maps http://PORT.external/ to the host's localhost:PORT.
      const r = await docker('run', '--rm', 'busybox', 'wget', '-qO-', `http://${outsidePort}.external/from-container?x=1`);
      expect(r).toMatchObject({ code: 0, out: 'outside saw GET /from-container?x=1\n' });
    });

    it('carries a request body out', async () => {
      const r = await docker('run', '--rm', 'busybox', 'wget', '-qO-', '--post-data', 'name=berth', `http://${outsidePort}.external/form`);
      expect(r).toMatchObject({ code: 0, out: 'outside saw POST /form body=name=berth\n' });
    });

    it('explains a request the host could not make', async () => {
      const dead = await freePort();
      // Raw HTTP so the 502 body the engine writes is visible (wget hides error bodies).
      const r = await docker('run', '--rm', 'busybox', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\nHost: ${dead}.external\\r\\n\\r\\n' | nc -w 5 example.com 80`);
      expect(r.out).toMatch(/^HTTP\/1\.1 502/);
      expect(r.out).toMatch(/Berth could not fetch http:\/\/localhost:\d+\/ for the container/);
      expect(r.out).toMatch(/CORS proxy/);
    });
  });
});
