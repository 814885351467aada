// `berth` as a user runs it: whole processes timed from outside (spawn to
// exit), against a warm daemon with a cache folder of its own; beside them the
// same `docker` commands where a Docker daemon answers (`docker info` exits 0).
//
// Part of npm run bench; alone: npx tsx bench/cli.bench.ts [runs]
// (BENCH_CLI_REPO=/other/checkout times that checkout's bin/berth.js instead).
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmtMs, summarize, type Summary } from './stats.js';

export interface CliRow {
  /** What was timed, as typed: `berth ps`, `npx berth ps`. */
  command: string;
  berthMs: Summary;
  /** The same command with `docker`, where a Docker daemon answers. */
  dockerMs?: Summary;
  targetMs?: number;
}

export interface CliBench {
  /** Which client ran: the build in dist-cli/ or the sources through tsx. */
  client: string;
  /** `node -e 0` in the same environment: the floor under every row (NODE_EXTRA_CA_CERTS, for one, is read at every Node start). */
  nodeFloorMs: Summary;
  /** The Docker that was timed beside, or why none was. */
  docker: string;
  rows: CliRow[];
}

const CTR = 'berth-bench-cli';

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { ...opts, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
}

/** One whole process, spawn to exit, in ms; throws if it fails. */
function timeOnce(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string }): number {
  const t0 = performance.now();
  const r = run(cmd, args, opts);
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
  return ms;
}

function timeRuns(n: number, warmup: number, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string }): Summary {
  for (let i = 0; i < warmup; i++) timeOnce(cmd, args, opts);
  const runs: number[] = [];
  for (let i = 0; i < n; i++) runs.push(timeOnce(cmd, args, opts));
  return summarize(runs);
}

/** The client bin/berth.js runs: its build when fresh (the check bin/berth.js makes), else the sources. */
function clientState(repo: string): string {
  const stampPath = join(repo, 'dist-cli/build.json');
  if (!existsSync(join(repo, 'scripts/build-cli.mjs'))) return 'sources through tsx (no build in this checkout)';
  if (!existsSync(stampPath)) return 'sources through tsx (not built)';
  const stamp = JSON.parse(readFileSync(stampPath, 'utf8')) as { dir: string; inputs: Array<[string, number, number]> };
  const stale = stamp.inputs.find(([p, mtime, size]) => {
    const st = statSync(join(repo, p), { throwIfNoEntry: false });
    return !st || st.mtimeMs !== mtime || st.size !== size;
  });
  return stale ? `sources through tsx (build stale: ${stale[0]} changed)` : `build dist-cli/${stamp.dir}`;
}

/** `docker` with a daemon that answers, or why there is none. */
function dockerState(): { ok: boolean; note: string } {
  const v = run('docker', ['--version']);
  if (v.error || v.status !== 0) return { ok: false, note: 'docker: not installed' };
  const info = run('docker', ['info', '--format', '{{.ServerVersion}}']);
  if (info.status !== 0) return { ok: false, note: 'docker: no daemon on this machine' };
  return { ok: true, note: `docker ${info.stdout.trim()}` };
}

export async function benchCli(n = 10, repo = process.env['BENCH_CLI_REPO'] ?? fileURLToPath(new URL('..', import.meta.url))): Promise<CliBench> {
  repo = resolve(repo);
  const bin = join(repo, 'bin/berth.js');
  if (existsSync(join(repo, 'scripts/build-cli.mjs'))) {
    const b = run(process.execPath, [join(repo, 'scripts/build-cli.mjs'), '--if-stale'], { cwd: repo });
    if (b.status !== 0) throw new Error(`build-cli: ${b.stderr}`);
  }
  const cache = mkdtempSync(join(tmpdir(), 'berth-bench-cli-'));
  const env: NodeJS.ProcessEnv = { ...process.env, BERTH_CACHE: cache };
  delete env['BERTH_STORE'];
  delete env['BERTH_DEV'];
  const opts = { env, cwd: repo };
  const berth = (args: string[]) => run(process.execPath, [bin, ...args], opts);
  const docker = dockerState();
  const rows: CliRow[] = [];
  const clientBefore = clientState(repo);
  const nodeFloorMs = timeRuns(n, 2, process.execPath, ['-e', '0'], opts);
  try {
    const start = berth(['daemon', 'start']);
    if (start.status !== 0) throw new Error(`berth daemon start: ${start.stderr}`);
    const d = berth(['run', '-d', '--name', CTR, 'busybox', 'sleep', '3600']);
    if (d.status !== 0) throw new Error(`berth run -d: ${d.stderr}`);
    let dockerCtr: string | undefined;
    if (docker.ok) {
      run('docker', ['rm', '-f', CTR]);
      const r = run('docker', ['run', '-d', '--name', CTR, 'busybox', 'sleep', '3600']);
      if (r.status === 0) dockerCtr = CTR;
    }
    const commands: Array<{ args: string[]; targetMs?: number; warmup: number }> = [
      { args: ['version'], targetMs: 80, warmup: 2 },
      { args: ['ps'], targetMs: 80, warmup: 2 },
      // The guest's JIT warms up over the first runs (see the engine rows): these are the warm runs.
      { args: ['run', '--rm', 'busybox', 'true'], targetMs: 300, warmup: 10 },
      { args: ['exec', CTR, 'true'], targetMs: 150, warmup: 10 },
    ];
    for (const c of commands) {
      const row: CliRow = { command: `berth ${c.args.join(' ').replace(CTR, 'CTR')}`, berthMs: timeRuns(n, c.warmup, process.execPath, [bin, ...c.args], opts) };
      if (c.targetMs !== undefined) row.targetMs = c.targetMs;
      if (docker.ok && (c.args[0] !== 'exec' || dockerCtr)) row.dockerMs = timeRuns(n, c.warmup, 'docker', c.args, {});
      rows.push(row);
    }
    // As the README shows it: npm resolves `berth` to this package's bin first.
    const npx: CliRow = { command: 'npx berth ps', berthMs: timeRuns(n, 2, 'npx', ['berth', 'ps'], opts) };
    if (docker.ok) npx.dockerMs = timeRuns(n, 2, 'docker', ['ps'], {});
    rows.push(npx);
    if (dockerCtr) run('docker', ['rm', '-f', dockerCtr]);
  } finally {
    berth(['rm', '-f', CTR]);
    berth(['daemon', 'stop']);
    rmSync(cache, { recursive: true, force: true });
  }
  const clientAfter = clientState(repo);
  const client = clientAfter === clientBefore ? clientBefore : `${clientBefore}, then ${clientAfter} (a source changed during the run)`;
  return { client, nodeFloorMs, docker: docker.note, rows };
}

/** Rows in bench/run.ts's form: name, value, target. */
export function cliRows(b: CliBench): Array<[string, string, string]> {
  const ca = process.env['NODE_EXTRA_CA_CERTS'] ? ' (NODE_EXTRA_CA_CERTS is set: read at each start)' : '';
  const out: Array<[string, string, string]> = [
    [`berth client: ${b.client}`, '', ''],
    [`node -e 0, Node's own start${ca}`, fmtMs(b.nodeFloorMs), 'the floor under each row'],
  ];
  for (const r of b.rows) {
    out.push([`${r.command} (whole process, warm daemon)`, fmtMs(r.berthMs), r.targetMs !== undefined ? `target ≤ ${r.targetMs} ms` : '']);
    const dockerCmd = r.command.replace(/^(npx )?berth/, 'docker');
    out.push([`  ${dockerCmd}`, r.dockerMs ? `${fmtMs(r.dockerMs)}; berth/docker ${(r.berthMs.median / r.dockerMs.median).toFixed(1)}×` : b.docker, '']);
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const n = Number(process.argv[2] ?? process.env['BENCH_RUNS'] ?? 10);
  const b = await benchCli(Math.max(n, 1));
  const rows = cliRows(b);
  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`\nberth command line — medians of ${n} runs\n`);
  for (const [name, value, target] of rows) console.log(`${name.padEnd(width)}  ${value.padEnd(44)}  ${target}`);
  if (process.env['BENCH_JSON']) console.log(JSON.stringify(b));
}
