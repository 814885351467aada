import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Engine } from '../src/engine/engine.js';
import { bootNodeEngine } from '../src/node/boot.js';
import { LoopbackPorts } from '../src/node/loopback-ports.js';
import { summarize, type Summary } from './stats.js';
import { dockerCommand } from '../tests/helpers/engine.js';
import { freePort } from '../tests/helpers/net.js';

export interface NetworkBench {
  /** GET of a 12-byte page through a published port, a new connection each time (Node fetch → loopback → v86 → proxy → container). */
  publishedRequestMs: Summary;
  /** GET of a 4 MiB file through the same path. */
  publishedDownloadMBps: Summary;
  /** Outbound: wget in a container of a 12-byte page from a server on this machine (fetch adapter). */
  outboundRequestMs: Summary;
  /** `run --rm busybox true` on the default bridge and with --network none: the cost of wiring a network. */
  runBridgeMs: Summary;
  runNoneMs: Summary;
}

/** A docker command on the engine; throws with its stderr if it fails. */
async function docker(engine: Engine, argv: string[]): Promise<string> {
  const r = await dockerCommand(engine, argv);
  if (r.code !== 0) throw new Error(`docker ${argv.join(' ')}: ${r.err}`);
  return r.out;
}


export async function benchNetwork(n = 5): Promise<NetworkBench> {
  const ports = new LoopbackPorts();
  const engine = await bootNodeEngine({ publisher: ports });
  const outside = createHttpServer((_req, res) => res.end('hello-world\n'));
  await new Promise<void>((r) => outside.listen(0, '127.0.0.1', r));
  const outsidePort = (outside.address() as AddressInfo).port;
  try {
    const port = await freePort();
    await docker(engine, ['run', '-d', '--name', 'benchweb', '-p', `${port}:80`, 'busybox', 'sh', '-c',
      'mkdir -p /www && echo hello-world > /www/index.html && head -c 4194304 /dev/urandom > /www/big && exec httpd -f -p 80 -h /www']);
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      if (await fetch(`${url}/index.html`).then((r) => r.ok, () => false)) break;
      if (i > 100) throw new Error('the benchmark web server did not come up');
      await new Promise((r) => setTimeout(r, 100));
    }
    const requests: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const text = await (await fetch(`${url}/index.html`)).text();
      requests.push(performance.now() - t0);
      if (text !== 'hello-world\n') throw new Error(`unexpected body ${JSON.stringify(text)}`);
    }
    const downloads: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const body = new Uint8Array(await (await fetch(`${url}/big`)).arrayBuffer());
      const s = (performance.now() - t0) / 1000;
      if (body.length !== 4194304) throw new Error(`short download: ${body.length} bytes`);
      downloads.push(body.length / 1e6 / s);
    }
    await docker(engine, ['rm', '-f', 'benchweb']);

    await docker(engine, ['run', '-d', '--name', 'benchclient', 'busybox', 'sleep', '600']);
    const outbound: number[] = [];
    for (let i = 0; i < n; i++) {
      // Time the request inside the container, so exec's own cost is left out.
      const out = await docker(engine, ['exec', 'benchclient', 'sh', '-c',
        `a=$(cut -d' ' -f1 /proc/uptime); wget -qO- http://${outsidePort}.external/ >/dev/null; b=$(cut -d' ' -f1 /proc/uptime); echo "$a $b"`]);
      const [a, b] = out.trim().split(' ').map(Number);
      outbound.push((b! - a!) * 1000);
    }
    await docker(engine, ['rm', '-f', 'benchclient']);

    const bridge: number[] = [];
    const none: number[] = [];
    await engine.run('busybox', { rm: true, cmd: ['true'] });
    for (let i = 0; i < n; i++) {
      let t0 = performance.now();
      await engine.run('busybox', { rm: true, cmd: ['true'] });
      bridge.push(performance.now() - t0);
      t0 = performance.now();
      await engine.run('busybox', { rm: true, cmd: ['true'], network: 'none' });
      none.push(performance.now() - t0);
    }
    return {
      publishedRequestMs: summarize(requests),
      publishedDownloadMBps: summarize(downloads),
      outboundRequestMs: summarize(outbound),
      runBridgeMs: summarize(bridge),
      runNoneMs: summarize(none),
    };
  } finally {
    outside.close();
    ports.closeAll();
    await engine.vm.stop();
  }
}
