#!/usr/bin/env bash
# Builds the guest kernel: tinyconfig + config.fragment from Debian's linux-source-6.1.
# Usage: guest/kernel/build.sh OUT_DIR   (writes OUT_DIR/bzImage and OUT_DIR/config)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$1"
work="$(mktemp -d "${TMPDIR:-/tmp}/berth-kernel.XXXXXX")"
trap 'rm -rf "$work"' EXIT

src_tar=$(ls /usr/src/linux-source-6.1.tar.* | head -1)
echo "berth: unpacking $(basename "$src_tar")" >&2
tar -xf "$src_tar" -C "$work"
cd "$work"/linux-source-6.1

make -s ARCH=i386 tinyconfig
scripts/kconfig/merge_config.sh -m -O . .config "$here/config.fragment" >/dev/null
make -s ARCH=i386 olddefconfig

# Every =y in the fragment must have survived olddefconfig; a silently dropped
# option (a missing dependency) would show up only as a failing container.
missing=0
while IFS= read -r line; do
  case "$line" in CONFIG_*=y) grep -qx "$line" .config || { echo "berth: kernel option lost: $line" >&2; missing=1; } ;; esac
done < "$here/config.fragment"
[ "$missing" = 0 ] || { echo "berth: fix guest/kernel/config.fragment (a dependency is missing)" >&2; exit 1; }

echo "berth: compiling the kernel on $(nproc) cores (about 5 minutes)" >&2
make -s ARCH=i386 -j"$(nproc)" bzImage KBUILD_BUILD_TIMESTAMP='@0' KBUILD_BUILD_USER=berth KBUILD_BUILD_HOST=berth
mkdir -p "$out"
cp arch/x86/boot/bzImage "$out/bzImage"
cp .config "$out/config"
