/**
 * scripts/test-summary.mjs, the closing line CI reads: fed small reports
 * written here, and once through a real vitest run with the extras reporter.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SUMMARY = join(ROOT, 'scripts/test-summary.mjs');
const REPORTER = join(ROOT, 'scripts/vitest-extras-reporter.mjs');
const CLOSING = /^\d+ passed, \d+ failed(, \d+ skipped)?$/;

const scratch = mkdtempSync(join(tmpdir(), 'berth-summary-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let dir: string;
let since: number;
let n = 0;
beforeEach(() => {
  dir = join(scratch, String(n++));
  mkdirSync(dir);
  since = Date.now();
});

interface Assertion {
  ancestorTitles?: string[];
  title: string;
  status: 'passed' | 'failed' | 'skipped' | 'pending' | 'todo';
}
interface FileResult {
  name: string;
  status: 'passed' | 'failed';
  message?: string;
  assertionResults: Assertion[];
}

/** Vitest's JSON report, as vitest 4's json reporter writes it (the fields the summary reads). */
function vitestJson(testResults: FileResult[], over: Record<string, unknown> = {}): string {
  const tests = testResults.flatMap((f) => f.assertionResults);
  const failed = testResults.some((f) => f.status === 'failed');
  const report = {
    numTotalTests: tests.length,
    numPassedTests: tests.filter((t) => t.status === 'passed').length,
    numFailedTests: tests.filter((t) => t.status === 'failed').length,
    startTime: since + 5,
    success: !failed,
    testResults: testResults.map((f) => ({ message: '', startTime: since + 5, endTime: since + 6, ...f })),
    ...over,
  };
  const file = join(dir, 'vitest.json');
  writeFileSync(file, JSON.stringify(report));
  return file;
}

/** What scripts/vitest-extras-reporter.mjs writes beside it. */
function extras(over: Record<string, unknown> = {}): void {
  const report = { startTime: since + 5, reason: 'passed', filtered: false, skipped: [], suiteErrors: [], unhandledErrors: [], ...over };
  writeFileSync(join(dir, 'vitest.extras.json'), JSON.stringify(report));
}

function suite(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function summary(...args: string[]): { code: number | null; out: string; last: string } {
  const r = spawnSync(process.execPath, [SUMMARY, ...args], { cwd: dir, encoding: 'utf8' });
  const lines = r.stdout.trimEnd().split('\n');
  return { code: r.status, out: r.stdout, last: lines.at(-1)! };
}

const run = (json: string, ...others: string[]) => summary('--since', String(since), json, ...others);
const T = '/repo/tests/unit/a.test.ts';
const U = '/repo/tests/unit/b.test.ts';

describe('test-summary.mjs', () => {
  it('adds up passed tests of vitest and the other suites', () => {
    const json = vitestJson([{ name: T, status: 'passed', assertionResults: [{ title: 'x', status: 'passed' }, { title: 'y', status: 'passed' }] }]);
    extras();
    const r = run(json, suite('agent.txt', 'noise\n1 passed, 0 failed\n12 passed, 0 failed\n'), suite('typecheck.txt', '1 passed, 0 failed\n'));
    expect(r).toMatchObject({ code: 0, last: '15 passed, 0 failed' });
  });

  it('counts the tests a failed beforeAll kept from running, which vitest reports as skipped', () => {
    const json = vitestJson([
      { name: T, status: 'failed', message: 'boot failed', assertionResults: [{ title: 'one', status: 'skipped' }, { ancestorTitles: ['d'], title: 'two', status: 'skipped' }] },
    ]);
    extras({
      skipped: [
        { file: T, titles: ['one'], mode: 'skip', note: null, blockedBy: { titles: [], error: 'boot failed' } },
        { file: T, titles: ['d', 'two'], mode: 'skip', note: null, blockedBy: { titles: [], error: 'boot failed' } },
      ],
      suiteErrors: [{ file: T, titles: [], errors: [{ message: 'boot failed', stack: 'Error: boot failed' }] }],
    });
    const r = run(json);
    expect(r.code).toBe(1);
    expect(r.last).toBe('0 passed, 2 failed');
    expect(r.out).toContain(`2 not run: ${T} failed: boot failed`);
  });

  it('counts a failed file at least once even without the extras report', () => {
    const json = vitestJson([
      { name: T, status: 'failed', message: 'boot failed', assertionResults: [{ title: 'one', status: 'skipped' }] },
      { name: U, status: 'failed', message: 'Cannot find module', assertionResults: [] },
    ]);
    const r = run(json);
    expect(r.code).toBe(1);
    // The missing extras report, the skip nobody can tell declared, the file that did not load.
    expect(r.last).toBe('0 passed, 3 failed');
    expect(r.out).toContain(`failed: ${U}: Cannot find module`);
    expect(r.out).toMatch(/vitest\.extras\.json: missing/);
  });

  it('counts an afterAll that failed after its tests passed once', () => {
    const json = vitestJson([{ name: T, status: 'failed', assertionResults: [{ ancestorTitles: ['e'], title: 'x', status: 'passed' }] }]);
    extras({ suiteErrors: [{ file: T, titles: ['e'], errors: [{ message: 'teardown failed', stack: '' }] }] });
    const r = run(json);
    expect(r).toMatchObject({ code: 1, last: '1 passed, 1 failed' });
    expect(r.out).toContain(`error in ${T} > e: teardown failed`);
  });

  it('lists declared skips with their reasons and counts them as skipped', () => {
    const json = vitestJson([
      { name: T, status: 'passed', assertionResults: [{ title: 'x', status: 'passed' }, { ancestorTitles: ['net'], title: 'y', status: 'skipped' }] },
    ]);
    extras({ skipped: [{ file: T, titles: ['net', 'y'], mode: 'skip', note: 'needs NET=1' }] });
    const r = run(json, suite('agent.txt', '7 passed, 0 failed, 2 skipped\n'));
    expect(r).toMatchObject({ code: 0, last: '8 passed, 0 failed, 3 skipped' });
    expect(r.out).toContain(`${T} > net > y: needs NET=1`);
  });

  it.each([
    ['it.skip', 'skipped', { mode: 'skip', note: null }],
    ['ctx.skip() with no reason', 'skipped', { mode: 'run', note: '  ' }],
    ['it.todo, even with a note', 'todo', { mode: 'todo', note: 'later' }],
    ['a skip the extras report does not know', 'pending', null],
  ] as const)('fails on an undeclared skip: %s', (_what, status, info) => {
    const json = vitestJson([{ name: T, status: 'passed', assertionResults: [{ title: 'x', status: 'passed' }, { title: 'y', status }] }]);
    extras({ skipped: info ? [{ file: T, titles: ['y'], ...info }] : [] });
    const r = run(json);
    expect(r).toMatchObject({ code: 1, last: '1 passed, 1 failed' });
    expect(r.out).toContain(`skipped without a reason: ${T} > y`);
  });

  it('leaves out tests a name filter did not select', () => {
    const json = vitestJson([{ name: T, status: 'passed', assertionResults: [{ title: 'x', status: 'passed' }, { title: 'y', status: 'skipped' }] }]);
    extras({ filtered: true, skipped: [{ file: T, titles: ['y'], mode: 'skip', note: null }] });
    expect(run(json)).toMatchObject({ code: 0, last: '1 passed, 0 failed' });
  });

  it('counts unhandled errors, an interrupted run and a run vitest calls unsuccessful', () => {
    const passing = (over = {}) => vitestJson([{ name: T, status: 'passed', assertionResults: [{ title: 'x', status: 'passed' }] }], over);
    extras({ unhandledErrors: [{ message: 'late boom', stack: '' }, { message: 'rejected', stack: '' }] });
    let r = run(passing());
    expect(r).toMatchObject({ code: 1, last: '1 passed, 2 failed' });
    expect(r.out).toContain('unhandled error: late boom');
    extras({ reason: 'interrupted' });
    expect(run(passing())).toMatchObject({ code: 1, last: '1 passed, 1 failed' });
    extras();
    expect(run(passing({ success: false }))).toMatchObject({ code: 1, last: '1 passed, 1 failed' });
    expect(run(vitestJson([]))).toMatchObject({ code: 1, last: '0 passed, 1 failed' });
    // vitest exited non-zero for a reason nothing above shows
    r = summary('--since', String(since), '--vitest-exit', '1', passing());
    expect(r).toMatchObject({ code: 1, last: '1 passed, 1 failed' });
    expect(r.out).toContain('vitest exited with code 1');
    expect(summary('--since', String(since), '--vitest-exit', '0', passing())).toMatchObject({ code: 0, last: '1 passed, 0 failed' });
  });

  it('refuses reports left over from an earlier run', () => {
    const files = [{ name: T, status: 'passed' as const, assertionResults: [{ title: 'x', status: 'passed' as const }] }];
    extras();
    // vitest's own start time is before this run's
    let r = run(vitestJson(files, { startTime: since - 60_000 }));
    expect(r).toMatchObject({ code: 1, last: '0 passed, 1 failed' });
    expect(r.out).toMatch(/vitest\.json: left over from an earlier run/);
    // the file itself is older
    const json = vitestJson(files);
    const old = new Date(since - 600_000);
    utimesSync(json, old, old);
    expect(run(json)).toMatchObject({ code: 1, last: '0 passed, 1 failed' });
    // a stale extras report
    extras({ startTime: since - 60_000 });
    r = run(vitestJson(files));
    expect(r).toMatchObject({ code: 1, last: '1 passed, 1 failed' });
    expect(r.out).toMatch(/vitest\.extras\.json: left over/);
    // another suite's stale file
    extras();
    const agent = suite('agent.txt', '5 passed, 0 failed\n');
    utimesSync(agent, old, old);
    expect(run(vitestJson(files), agent)).toMatchObject({ code: 1, last: '1 passed, 1 failed' });
    // and no start time to compare with at all
    expect(summary(vitestJson(files))).toMatchObject({ code: 1, last: '0 passed, 1 failed' });
  });

  it('counts other suites that failed, did not report or did not run', () => {
    const json = vitestJson([{ name: T, status: 'passed', assertionResults: [{ title: 'x', status: 'passed' }] }]);
    extras();
    const r = run(json, suite('agent.txt', '3 passed, 2 failed, 1 skipped\n'), suite('typecheck.txt', 'error TS2322\n'), join(dir, 'missing.txt'));
    expect(r).toMatchObject({ code: 1, last: '4 passed, 4 failed, 1 skipped' });
    expect(r.out).toContain('typecheck.txt: no "N passed, N failed" line');
  });

  it('through a real vitest run: a broken beforeAll fails, a declared skip is listed, an undeclared one fails', () => {
    const work = join(dir, 'project');
    mkdirSync(work);
    // Outside the repository nothing resolves `vitest`: globals instead of imports.
    writeFileSync(join(work, 'vitest.config.mjs'), "export default { test: { include: ['*.test.js'], globals: true } };\n");
    writeFileSync(join(work, 'boot.test.js'), "beforeAll(() => { throw new Error('guest did not boot'); });\nit('runs', () => {});\nit('runs too', () => {});\n");
    writeFileSync(
      join(work, 'skips.test.js'),
      "it('passes', () => {});\nit('declared', (ctx) => ctx.skip('needs a registry'));\nit.skip('undeclared', () => {});\n",
    );
    const json = join(work, 'results/vitest.json');
    // Not this run's vitest settings: a nested run of its own.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_ENV' && !k.startsWith('VITEST')));
    const vitest = spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--root', work, '--config', join(work, 'vitest.config.mjs'),
        '--reporter=dot', '--reporter=json', `--reporter=${REPORTER}`, `--outputFile.json=${json}`],
      { cwd: work, env, encoding: 'utf8' },
    );
    expect(vitest.status).toBe(1);
    const r = run(json);
    expect(r.last).toMatch(CLOSING);
    expect(r.last).toBe('1 passed, 3 failed, 1 skipped');
    expect(r.code).toBe(1);
    expect(r.out).toContain('boot.test.js failed: guest did not boot');
    expect(r.out).toContain('skips.test.js > declared: needs a registry');
    expect(r.out).toContain('skipped without a reason: ');
  }, 60_000);
});
