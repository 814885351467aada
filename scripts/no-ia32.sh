#!/usr/bin/env bash
# Runs a command as on a host that cannot execute 32-bit programs: see
# scripts/no-ia32.c, built here on demand (into ${TMPDIR:-/tmp}).
#   bash scripts/no-ia32.sh COMMAND [ARG...]
set -euo pipefail
src="$(cd "$(dirname "$0")" && pwd)/no-ia32.c"
bin="${TMPDIR:-/tmp}/berth-no-ia32-$(sha256sum "$src" | cut -c1-12)"
if [ ! -x "$bin" ]; then
  gcc -O2 -Wall -Wextra -Werror -o "$bin.tmp.$$" "$src"
  mv "$bin.tmp.$$" "$bin"
fi
exec "$bin" "$@"
