#!/usr/bin/env bash
# The one way the guest build runs a guest (i386) program on the host: under
# qemu-i386-static (Debian package qemu-user-static), called directly with the
# program as its argument. Not through binfmt_misc, which many hosts do not
# mount, and never natively: many 64-bit hosts cannot execute i386 programs at
# all ("Exec format error": no ia32 emulation), and a host that can would hide
# that. Every host takes this same path.
# Only busybox's applet list needs it (there is no file to read it from);
# everything else about the guest's binaries is read from their ELF headers.
# Usage: guest/run-i386.sh PROGRAM [ARG...]   (PROGRAM must be an i386 ELF)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

(($#)) || die "usage: guest/run-i386.sh PROGRAM [ARG...]"
[ -f "$1" ] || die "run-i386: no such file: $1"
is_i386_elf "$1" || die "run-i386: not an i386 ELF program: $1"
qemu="$(command -v qemu-i386-static)" \
  || die "run-i386: qemu-i386-static not found (Debian package qemu-user-static). Run: bash scripts/install-deps.sh"
exec "$qemu" "$@"
