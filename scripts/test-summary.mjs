// Adds up vitest's JSON report and the `N passed, N failed` lines of the other
// suites (the agent's, the typecheck) into the closing line CI reads.
import { existsSync, readFileSync } from 'node:fs';

const [vitestJson, ...summaries] = process.argv.slice(2);
let passed = 0;
let failed = 0;

for (const file of summaries) {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const m = /^(\d+) passed, (\d+) failed$/m.exec(text);
  if (m) {
    passed += Number(m[1]);
    failed += Number(m[2]);
  } else {
    failed += 1; // a suite that did not report counts as a failure
  }
}

if (existsSync(vitestJson)) {
  const r = JSON.parse(readFileSync(vitestJson, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  // A file that failed to load reports no tests; count it.
  failed += r.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
} else {
  failed += 1;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
