// A vitest reporter that writes what vitest's JSON report leaves out and
// scripts/test-summary.mjs needs: the reason each skipped test gives
// (`ctx.skip(note)`), the errors of suites and files themselves (a failed
// beforeAll/afterAll, a file that does not load), the tests such a failure kept
// from running, and the unhandled errors of the run.
//
// It writes next to the JSON report: --outputFile.json=DIR/NAME.json gives
// DIR/NAME.extras.json (test-results/vitest.extras.json without one).
//
//   vitest run --reporter=default --reporter=json --reporter=./scripts/vitest-extras-reporter.mjs \
//     --outputFile.json=test-results/vitest.json
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/** The extras report's path for a JSON report's path (test-summary.mjs uses the same rule). */
export function extrasPathFor(jsonPath) {
  return `${jsonPath.replace(/\.json$/, '')}.extras.json`;
}

/** Suite titles from the module down to the test or suite itself (the JSON report's ancestorTitles + title). */
function titlePath(entity) {
  const titles = [];
  for (let e = entity; e && e.type !== 'module'; e = e.parent) titles.unshift(e.name);
  return titles;
}

/** An error's first line, and its stack for whoever reads the report. */
function described(e) {
  return { message: String(e?.message ?? e).split('\n')[0], stack: String(e?.stack || e?.message || e) };
}

export default class ExtrasReporter {
  start = 0;
  filtered = false;

  onInit(vitest) {
    this.vitest = vitest;
    this.start = Date.now();
  }

  onTestRunStart(specifications) {
    const c = this.vitest.config;
    // Tests a name, line or tag filter left out are marked skipped like `it.skip` ones.
    this.filtered = Boolean(
      c.testNamePattern ||
        c.tagsFilter?.length ||
        specifications.some((s) => s.testLines?.length || s.testIds?.length || s.testTagsFilter?.length),
    );
  }

  async onTestRunEnd(testModules, unhandledErrors = [], reason = 'failed') {
    const skipped = [];
    const suiteErrors = [];
    for (const module of testModules) {
      const suites = [module, ...module.children.allSuites()];
      for (const suite of suites) {
        const errors = suite.errors();
        if (errors.length === 0) continue;
        suiteErrors.push({
          file: module.moduleId,
          titles: titlePath(suite),
          errors: errors.map(described),
        });
      }
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state !== 'skipped' && test.options.mode !== 'todo') continue;
        // The nearest suite (or the file) whose own failure kept this test from running.
        let blockedBy;
        for (let p = test.parent; p && !blockedBy; p = p.type === 'module' ? undefined : p.parent) {
          const errors = p.errors();
          if (errors.length > 0) blockedBy = { titles: titlePath(p), error: described(errors[0]).message };
        }
        skipped.push({
          file: module.moduleId,
          titles: titlePath(test),
          mode: test.options.mode,
          note: result.note ?? null,
          ...(blockedBy ? { blockedBy } : {}),
        });
      }
    }
    const report = {
      startTime: this.start,
      endTime: Date.now(),
      reason,
      filtered: this.filtered,
      skipped,
      suiteErrors,
      unhandledErrors: unhandledErrors.map(described),
    };
    const c = this.vitest.config;
    const json = typeof c.outputFile === 'string' ? c.outputFile : c.outputFile?.json;
    const file = resolve(c.root, extrasPathFor(json ?? 'test-results/vitest.json'));
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, `${JSON.stringify(report, null, 1)}\n`);
  }
}
