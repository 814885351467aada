// npm run bench: prints each benchmark as median/min/max and writes bench/results.json.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { readFileSync } from 'node:fs';
import { benchEngine } from './engine.bench.js';
import { benchImages } from './images.bench.js';
import { benchGuest } from './guest.bench.js';
import { benchBrowser } from './browser.bench.js';
import { benchNetwork } from './network.bench.js';
import { benchCli, cliRows } from './cli.bench.js';
import { benchBuild } from './build.bench.js';
import { fmtMs, type Summary } from './stats.js';

const fmtRate = (s: Summary) => `${s.median.toFixed(1)} MB/s (min ${s.min.toFixed(1)}, max ${s.max.toFixed(1)}, n=${s.runs.length})`;

const runs = Number(process.env['BENCH_RUNS'] ?? 5);
const manifest = JSON.parse(readFileSync(new URL('../public/guest/manifest.json', import.meta.url), 'utf8'));
// The command line first: whole `berth` processes against a daemon of its own, which it stops
// (nothing is left in this process); at least 10 runs each.
const cli = process.env['BENCH_SKIP_CLI'] ? undefined : await benchCli(Math.max(runs, 10));
// Chromium next: its page is served by `vite preview` inside this process, which the Node
// benchmarks below leave with a large heap and v86 timers (restore to ready was ~0.15 s slower after them).
const browser = process.env['BENCH_SKIP_BROWSER'] ? undefined : await benchBrowser(runs);
const engine = await benchEngine(runs);
const images = await benchImages(runs);
const guest = await benchGuest(runs);
const network = await benchNetwork(runs);
const build = process.env['BENCH_SKIP_BUILD'] ? undefined : await benchBuild(runs);

const rows: Array<[string, string, string]> = [
  ['cold boot to agent-ready (Node)', fmtMs(engine.coldBootMs), 'target ≤ 1500 ms'],
  [`snapshot restore to ready (Node, ${engine.snapshotMB.toFixed(1)} MB zstd)`, fmtMs(engine.restoreMs), 'target ≤ 300 ms'],
  ['run --rm busybox true, first runs on a new guest', fmtMs(engine.runTrueFirstMs), '(v86 JIT still cold)'],
  ['run --rm busybox true, warm (after 10 more)', fmtMs(engine.runTrueMs), 'target ≤ 350 ms'],
  [`unpack ${images.unpackLayerMB.toFixed(0)} MB layer into 9p`, fmtRate(images.unpackMBps), 'target ≥ 50 MB/s'],
  [`pull ${images.pullImageMB.toFixed(1)} MB image (loopback)`, fmtMs(images.pullMs), ''],
  ['exec true, first execs on a new guest', fmtMs(guest.execFirstMs), '(v86 JIT still cold)'],
  ['exec true, warm (after 10 more)', fmtMs(guest.execMs), 'target ≤ 150 ms'],
  ['control channel guest→host (8 MiB)', fmtRate(guest.channelOutMBps), ''],
  ['control channel host→guest (8 MiB)', fmtRate(guest.channelInMBps), ''],
  ['9p write in a container (16 MiB volume file)', fmtRate(guest.ninePWriteMBps), ''],
  ['9p read in a container (16 MiB, cold cache)', fmtRate(guest.ninePReadMBps), ''],
  [`compute in container: ${guest.compute.workload}`, fmtMs(guest.compute.containerMs), ''],
  ['  same, bare in the guest', fmtMs(guest.compute.bareGuestMs), ''],
  ['  same, natively (Node zlib/crypto)', fmtMs(guest.compute.nativeMs), ''],
  ['  ratio container / bare guest', `${guest.compute.ratioToBare.toFixed(3)}×`, 'target ≤ 1.05×'],
  ['  ratio container / native', `${guest.compute.ratioToNative.toFixed(1)}×`, ''],
  ['host RSS idle / with 10 containers', `${guest.memory.idleRssMB} MB / ${guest.memory.tenContainersRssMB} MB`, ''],
  ['guest MemAvailable idle / with 10 containers', `${guest.memory.guestAvailIdleMB} MB / ${guest.memory.guestAvailTenMB} MB`, ''],
  ['published port: GET 12 B page (loopback → v86 → container)', fmtMs(network.publishedRequestMs), ''],
  ['published port: GET 4 MiB file', fmtRate(network.publishedDownloadMBps), ''],
  ['outbound: wget from a container to a host server', fmtMs(network.outboundRequestMs), ''],
  ['run --rm busybox true, default bridge / --network none', `${network.runBridgeMs.median.toFixed(0)} ms / ${network.runNoneMs.median.toFixed(0)} ms`, ''],
  ...guest.scaling.map((s) => [`run --rm with ${s.containers} containers running`, `${s.runMs} ms; host RSS ${s.hostRssMB} MB; guest avail ${s.guestAvailMB} MB`, ''] as [string, string, string]),
  ...(build
    ? ([
        ['build: 5-step Dockerfile on busybox, --no-cache', fmtMs(build.fiveStepColdMs), ''],
        ['build: the same, every step cached', fmtMs(build.fiveStepCachedMs), 'target ≤ 500 ms'],
        [`build: COPY of a ${build.copyMB.toFixed(0)} MB context (whole build)`, fmtRate(build.copyMBps), 'target ≥ 20 MB/s'],
        ['build: RUN writing 10 MB (layer commit included)', fmtMs(build.runWrite10Ms), ''],
        ['  run --rm of the same command', fmtMs(build.runRmWrite10Ms), 'build − run ≤ 300 ms'],
      ] as Array<[string, string, string]>)
    : []),
  ...(cli ? cliRows(cli) : []),
  ...(browser
    ? ([
        ['Chromium: cold boot to ready (page load included)', fmtMs(browser.coldBootMs), 'target ≤ 3000 ms'],
        ['Chromium: snapshot restore to ready (later visit, new tab)', fmtMs(browser.restoreMs), 'target ≤ 500 ms'],
        ['Chromium: snapshot restore to ready (reload of a running page)', fmtMs(browser.reloadMs), ''],
        ['Chromium: run --rm busybox true, first runs on a new guest', fmtMs(browser.runFirstMs), '(v86 JIT still cold)'],
        ['Chromium: run --rm busybox true, warm (after 10 more)', fmtMs(browser.runWarmMs), ''],
        ['Chromium: sh -c true in the guest, warm', fmtMs(browser.execWarmMs), ''],
      ] as Array<[string, string, string]>)
    : []),
];
const width = Math.max(...rows.map((r) => r[0].length));
console.log(`\nBerth benchmarks — medians of ${runs} runs\n`);
for (const [name, value, target] of rows) console.log(`${name.padEnd(width)}  ${value.padEnd(44)}  ${target}`);

const results = {
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version },
  guest: { id: manifest.id, artifacts: manifest.artifacts },
  versions: { v86: (JSON.parse(readFileSync(new URL('../node_modules/v86/package.json', import.meta.url), 'utf8')) as { version: string }).version, packages: manifest.packages },
  results: { ...engine, ...images, ...guest, network, ...(build ? { build } : {}), ...(browser ? { browser } : {}), ...(cli ? { cli } : {}) },
};
writeFileSync(new URL('./results.json', import.meta.url), JSON.stringify(results, null, 2) + '\n');
console.log('\nwrote bench/results.json');
// v86 leaves timers behind in Node; the numbers are out.
process.exit(0);
