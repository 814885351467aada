#!/usr/bin/env bash
# npm start: builds whatever is missing (packages, guest), then serves the playground.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-setup.sh
echo "berth: playground at http://127.0.0.1:5173/" >&2
exec npx vite
