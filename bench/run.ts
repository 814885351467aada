// npm run bench: prints each benchmark as median/min/max and writes bench/results.json.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { readFileSync } from 'node:fs';
import { benchEngine } from './engine.bench.js';
import { benchImages } from './images.bench.js';
import { fmtMs, type Summary } from './stats.js';

const fmtRate = (s: Summary) => `${s.median.toFixed(1)} MB/s (min ${s.min.toFixed(1)}, max ${s.max.toFixed(1)}, n=${s.runs.length})`;

const runs = Number(process.env['BENCH_RUNS'] ?? 5);
const manifest = JSON.parse(readFileSync(new URL('../public/guest/manifest.json', import.meta.url), 'utf8'));
const engine = await benchEngine(runs);
const images = await benchImages(runs);

const rows: Array<[string, string, string]> = [
  ['cold boot to agent-ready (Node)', fmtMs(engine.coldBootMs), 'target ≤ 2500 ms'],
  [`snapshot restore to ready (Node, ${engine.snapshotMB.toFixed(0)} MB gz)`, fmtMs(engine.restoreMs), 'target ≤ 300 ms (issue 6)'],
  ['run --rm busybox true (Node)', fmtMs(engine.runTrueMs), 'target ≤ 600 ms'],
  [`unpack ${images.unpackLayerMB.toFixed(0)} MB layer into 9p`, fmtRate(images.unpackMBps), 'target ≥ 50 MB/s'],
  [`pull ${images.pullImageMB.toFixed(1)} MB image (loopback)`, fmtMs(images.pullMs), ''],
];
const width = Math.max(...rows.map((r) => r[0].length));
console.log(`\nBerth benchmarks — medians of ${runs} runs\n`);
for (const [name, value, target] of rows) console.log(`${name.padEnd(width)}  ${value.padEnd(44)}  ${target}`);

const results = {
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version },
  guest: { id: manifest.id, artifacts: manifest.artifacts },
  results: { ...engine, ...images },
};
writeFileSync(new URL('./results.json', import.meta.url), JSON.stringify(results, null, 2) + '\n');
console.log('\nwrote bench/results.json');
// v86 leaves timers behind in Node; the numbers are out.
process.exit(0);
