#!/usr/bin/env bash
# npm test: sets up whatever is missing, then runs every suite (the agent's
# native tests, unit and integration tests on the real guest) and closes with
# one line: `N passed, N failed` (`, N skipped` when tests skipped, each with
# its reason; see scripts/test-summary.mjs).
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
bash scripts/ensure-setup.sh || { echo "0 passed, 1 failed"; exit 1; }

mkdir -p test-results
status=0
# The summary refuses reports older than this run; none are left to mistake for it.
started="$(node -p 'Date.now()')"
rm -f test-results/vitest.json test-results/vitest.extras.json test-results/typecheck.txt test-results/deps.txt test-results/unused.txt test-results/packages.txt test-results/agent.txt test-results/agent-make.txt

echo "== typecheck (each layer with only the libraries and types it may use: tsconfig/*.json) ==" >&2
if npm run -s typecheck; then echo "1 passed, 0 failed" > test-results/typecheck.txt
else echo "0 passed, 1 failed" > test-results/typecheck.txt; status=1; fi

# Each check's output goes to its report too, above its closing line: the summary names the file.
check() { # check SCRIPT REPORT: `npm run -s SCRIPT`, its output and closing line in test-results/REPORT.txt
  local report="test-results/$2.txt"
  npm run -s "$1" 2>&1 | tee "$report"
  if [ "${PIPESTATUS[0]}" = 0 ]; then echo "1 passed, 0 failed" >> "$report"
  else echo "0 passed, 1 failed" >> "$report"; status=1; fi
}
echo "== import direction between layers (dependency-cruiser, .dependency-cruiser.cjs) ==" >&2
check lint:deps deps
echo "== unused dependencies and files (knip, knip.json) ==" >&2
check lint:unused unused
echo "== installed packages match package.json and the lock (npm ls) ==" >&2
check lint:packages packages

echo "== guest agent (native) ==" >&2
make -s -C guest/agent test O="$repo/test-results/agent" 2>&1 | tee test-results/agent.txt
# A make that failed (a build error, a crash after the tests' closing line) is a failure the line may not show.
if [ "${PIPESTATUS[0]}" = 0 ]; then echo "0 passed, 0 failed" > test-results/agent-make.txt
else echo "0 passed, 1 failed" > test-results/agent-make.txt; status=1; fi

echo "== unit and integration tests ==" >&2
npx vitest run --reporter=default --reporter=json --reporter=./scripts/vitest-extras-reporter.mjs \
  --outputFile.json=test-results/vitest.json "$@"
vitest_exit=$?
[ "$vitest_exit" = 0 ] || status=1

node scripts/test-summary.mjs --since "$started" --vitest-exit "$vitest_exit" test-results/vitest.json test-results/agent.txt test-results/agent-make.txt test-results/typecheck.txt test-results/deps.txt test-results/unused.txt test-results/packages.txt || status=1
exit $status
