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
rm -f test-results/vitest.json test-results/vitest.extras.json test-results/typecheck.txt test-results/agent.txt test-results/agent-make.txt

echo "== typecheck (all code, and the engine layers without DOM or Node types) ==" >&2
if npx tsc -p tsconfig.json && npx tsc -p tsconfig.core.json; then echo "1 passed, 0 failed" > test-results/typecheck.txt
else echo "0 passed, 1 failed" > test-results/typecheck.txt; status=1; fi

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

node scripts/test-summary.mjs --since "$started" --vitest-exit "$vitest_exit" test-results/vitest.json test-results/agent.txt test-results/agent-make.txt test-results/typecheck.txt || status=1
exit $status
