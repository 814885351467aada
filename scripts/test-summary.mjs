// Adds up the agent's TAP summary and vitest's JSON report into the closing
// line CI reads: `N passed, N failed`.
import { existsSync, readFileSync } from 'node:fs';

const [agentTxt, vitestJson] = process.argv.slice(2);
let passed = 0;
let failed = 0;

const agent = existsSync(agentTxt) ? readFileSync(agentTxt, 'utf8') : '';
const m = /^(\d+) passed, (\d+) failed$/m.exec(agent);
if (m) {
  passed += Number(m[1]);
  failed += Number(m[2]);
} else {
  failed += 1; // the agent suite did not report: count it as a failure
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
