// Adds up vitest's JSON report and the `N passed, N failed[, N skipped]` lines
// of the other suites (the agent's native tests, the typecheck) into the
// closing line CI reads: `N passed, N failed`, or `N passed, N failed,
// N skipped` when something was skipped. It exits non-zero on any failure.
//
//   node scripts/test-summary.mjs --since <ms since epoch> [--vitest-exit <code>] test-results/vitest.json other.txt...
//
// A failing test must never read as passed, so all of these count as failures:
//   - a failed test;
//   - a failed suite or file: a beforeAll/afterAll that throws or times out, a
//     file that does not load. Each test it kept from running counts as one
//     failure (vitest reports those as skipped); a failure that kept nothing
//     from running (an afterAll) counts as one;
//   - every unhandled error vitest reports, an interrupted run, a run vitest
//     itself calls unsuccessful or that exits non-zero (--vitest-exit), a run
//     with no test files;
//   - a skip that is not declared (below);
//   - a report that is missing, unreadable or older than this run: vitest's
//     `startTime` and the file's mtime must not be before --since (test.sh
//     records the time it starts and deletes the old reports first). The same
//     mtime check applies to the other suites' files, and a file without the
//     closing line counts as one failure.
//
// Declared skips. A test may skip only by saying why, in the test itself, with
// vitest's skip function from the test context:
//
//   it('talks to the outside world', (ctx) => {
//     ctx.skip(!process.env.NET, 'needs NET=1: reaches the public registry');
//     ...
//   });
//   beforeEach((ctx) => ctx.skip(!haveKvm, 'needs /dev/kvm')); // a whole group
//
// The reason (a non-empty note) is what vitest records as the skipped test's
// `note`. Vitest's JSON report drops it, so scripts/vitest-extras-reporter.mjs
// writes it to DIR/NAME.extras.json beside the JSON report, with the suite
// errors and unhandled errors the JSON report does not carry either.
// `it.skip`, `describe.skip`, `it.skipIf`/`runIf`, `it.todo`, `ctx.skip()` with
// no reason and tests left out by `.only` carry no reason: each counts as a
// failure. Declared skips are listed with their reasons and counted as skipped.
// In a run filtered by name, line or tag (`-t`, `file:line`, `--tags-filter`),
// tests the filter left out are only reported as not selected.
//
// Other suites' skips (`N passed, N failed, N skipped`) count as declared: those
// suites print their own reasons.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { relative } from 'node:path';

/** The extras report beside a JSON report (the rule of scripts/vitest-extras-reporter.mjs). */
const extrasPathFor = (jsonPath) => `${jsonPath.replace(/\.json$/, '')}.extras.json`;
/** File system timestamps lag the clock by a tick; a report from an earlier run is minutes older. */
const MTIME_SLACK_MS = 1000;
const CLOSING_LINE = /^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/;

let passed = 0;
let failed = 0;
let skipped = 0;
/** What counted as failures, for the reader (failed tests are listed by vitest too). */
const failures = [];
const skips = [];
const notes = [];

function fail(count, why) {
  failed += count;
  failures.push(why);
}

function finish() {
  for (const line of notes) console.log(line);
  if (skips.length) console.log(`\nSkipped, with the reasons the tests give:\n${skips.map((s) => `  ${s}`).join('\n')}`);
  if (failures.length) console.log(`\nFailures:\n${failures.map((f) => `  ${f}`).join('\n')}`);
  console.log(skipped > 0 ? `${passed} passed, ${failed} failed, ${skipped} skipped` : `${passed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}

const args = process.argv.slice(2);
/** Takes `--name value` out of the arguments. */
function option(name) {
  const at = args.indexOf(name);
  if (at < 0) return undefined;
  return args.splice(at, 2)[1];
}
const since = Number(option('--since') ?? NaN);
const vitestExit = option('--vitest-exit');
const [vitestJson, ...summaries] = args;

if (!Number.isFinite(since) || !vitestJson) {
  console.error('usage: test-summary.mjs --since <ms since epoch> [--vitest-exit <code>] <vitest.json> [suite.txt...]');
  fail(1, 'test-summary.mjs: no --since time: cannot tell this run\'s reports from old ones');
  finish();
}

/** Why a report file cannot be used, or null. */
function unusable(file) {
  if (!existsSync(file)) return `${file}: missing (the suite did not run or did not finish)`;
  const mtime = statSync(file).mtimeMs;
  if (mtime < since - MTIME_SLACK_MS) {
    return `${file}: left over from an earlier run (written ${new Date(mtime).toISOString()}, this run started ${new Date(since).toISOString()})`;
  }
  return null;
}

function readJson(file) {
  const why = unusable(file);
  if (why) return { why };
  try {
    const report = JSON.parse(readFileSync(file, 'utf8'));
    if (!(typeof report.startTime === 'number' && report.startTime >= since)) {
      return { why: `${file}: left over from an earlier run (its startTime ${report.startTime} is before this run's ${since})` };
    }
    return { report };
  } catch (e) {
    return { why: `${file}: unreadable (${e.message})` };
  }
}

// The other suites.
for (const file of summaries) {
  const why = unusable(file);
  if (why) {
    fail(1, why);
    continue;
  }
  const lines = readFileSync(file, 'utf8').split('\n').map((l) => l.trim());
  const m = lines.map((l) => CLOSING_LINE.exec(l)).filter(Boolean).at(-1);
  if (!m) {
    fail(1, `${file}: no "N passed, N failed" line (the suite did not finish)`);
    continue;
  }
  passed += Number(m[1]);
  if (Number(m[2]) > 0) fail(Number(m[2]), `${file}: ${m[2]} failed`);
  skipped += Number(m[3] ?? 0);
}

// Vitest.
const { report: r, why: noReport } = readJson(vitestJson);
if (noReport) {
  fail(1, noReport);
  finish();
}
const extrasFile = extrasPathFor(vitestJson);
const { report: extras, why: noExtras } = readJson(extrasFile);
if (noExtras) fail(1, `${noExtras} (without it no skip can be told declared and unhandled errors go unseen)`);

const rel = (file) => {
  const r = relative(process.cwd(), file);
  return r && !r.startsWith('..') ? r : file;
};
const key = (file, titles) => `${file}\0${titles.join('\0')}`;
const named = (file, titles) => [rel(file), ...titles].join(' > ');

/** Skipped tests as the extras report saw them, by file and titles (a queue: names may repeat). */
const skipInfo = new Map();
for (const s of extras?.skipped ?? []) {
  const k = key(s.file, s.titles);
  skipInfo.set(k, [...(skipInfo.get(k) ?? []), s]);
}
const suiteErrors = new Map();
for (const s of extras?.suiteErrors ?? []) suiteErrors.set(key(s.file, s.titles), s);

const failedBefore = failed;
let notSelected = 0;
for (const file of r.testResults ?? []) {
  const failedInFile = failed;
  /** Suites whose failure already counted through the tests it kept from running. */
  const blockers = new Map();
  for (const a of file.assertionResults ?? []) {
    const titles = [...(a.ancestorTitles ?? []), a.title];
    if (a.status === 'passed') {
      passed += 1;
      continue;
    }
    if (a.status === 'failed') {
      fail(1, `failed: ${named(file.name, titles)}`);
      continue;
    }
    // skipped, pending, todo
    const info = skipInfo.get(key(file.name, titles))?.shift();
    const note = typeof info?.note === 'string' ? info.note.trim() : '';
    if (note && a.status !== 'todo') {
      skipped += 1;
      skips.push(`${named(file.name, titles)}: ${note}`);
    } else if (info?.blockedBy) {
      const k = key(file.name, info.blockedBy.titles);
      const b = blockers.get(k) ?? { ...info.blockedBy, count: 0 };
      b.count += 1;
      blockers.set(k, b);
      failed += 1;
    } else if (extras?.filtered && info?.mode === 'skip') {
      notSelected += 1;
    } else {
      const how = a.status === 'todo' ? 'it.todo' : 'it.skip, describe.skip, skipIf/runIf, .only, or ctx.skip() with no note';
      fail(1, `skipped without a reason: ${named(file.name, titles)} (${how})`);
    }
  }
  for (const [k, b] of blockers) {
    failures.push(`${b.count} not run: ${named(file.name, b.titles)} failed: ${b.error}`);
    suiteErrors.delete(k);
  }
  // Suite and file errors that kept nothing from running (an afterAll, a file that did not load).
  for (const [k, s] of suiteErrors) {
    if (s.file !== file.name) continue;
    fail(1, `error in ${named(s.file, s.titles)}: ${s.errors[0]?.message}`);
    suiteErrors.delete(k);
  }
  if (file.status === 'failed' && failed === failedInFile) {
    fail(1, `failed: ${rel(file.name)}${file.message ? `: ${file.message.split('\n')[0]}` : ''}`);
  }
}
// Errors in files the JSON report does not list.
for (const s of suiteErrors.values()) fail(1, `error in ${named(s.file, s.titles)}: ${s.errors[0]?.message}`);
for (const e of extras?.unhandledErrors ?? []) fail(1, `unhandled error: ${e.message}`);
if (extras?.reason === 'interrupted') fail(1, 'the test run was interrupted');
if (!r.testResults?.length) fail(1, `${vitestJson}: vitest ran no test files`);
if (r.success !== true && failed === failedBefore) fail(1, `${vitestJson}: vitest reports the run as unsuccessful`);
if (vitestExit !== undefined && vitestExit !== '0' && failed === failedBefore) fail(1, `vitest exited with code ${vitestExit}`);
if (notSelected) notes.push(`(${notSelected} tests not selected by the filter; undeclared skips are checked in an unfiltered run only)`);
finish();
