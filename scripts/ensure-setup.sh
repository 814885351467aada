#!/usr/bin/env bash
# What a new machine needs before anything runs: Debian packages, npm packages
# (when package-lock.json changed since the last install), the berth command's
# build (when a source of it changed since the last build) and the guest.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
bash scripts/install-deps.sh
stamp=node_modules/.berth-lock-sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "berth: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
node scripts/build-cli.mjs --if-stale
bash guest/build.sh
