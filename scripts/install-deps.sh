#!/usr/bin/env bash
# Installs the Debian packages Berth needs to build its guest and run its tests.
# Idempotent: packages already present are skipped by apt.
set -euo pipefail

HOST_PACKAGES=(
  # kernel build
  linux-source-6.1 build-essential bc bison flex libelf-dev libssl-dev cpio xz-utils lz4 kmod
  # agent: static i386 C program
  gcc-multilib libc6-dev-i386
  # BIOS for v86 and the i386 userland fetched with apt-get download
  seabios dpkg-dev erofs-utils
  # the guest build runs busybox (i386) only under qemu-i386-static, to list its
  # applets (guest/run-i386.sh): many hosts cannot execute i386 programs
  qemu-user-static
  # tests: a real registry, image copies, a real browser, a real image builder (buildah
  # builds the Dockerfiles berth builds, without RUN steps: tests/integration/build-buildah.test.ts)
  docker-registry skopeo chromium buildah
)

need=()
for p in "${HOST_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if ! dpkg --print-foreign-architectures | grep -qx i386; then
  dpkg --add-architecture i386
  need+=(__update__)
fi
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  # A mirror mid-sync can fail one index; retry, then go on with what was fetched.
  for i in 1 2 3; do apt-get update -qq && break; echo "berth: apt-get update failed (try $i), retrying" >&2; sleep 5; done
  pkgs=()
  for p in "${need[@]}"; do [[ $p == __update__ ]] || pkgs+=("$p"); done
  if ((${#pkgs[@]})); then
    echo "berth: installing Debian packages: ${pkgs[*]}" >&2
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  fi
fi
# The registry package starts a system service on install; tests start their own.
if command -v systemctl >/dev/null && systemctl is-active -q docker-registry 2>/dev/null; then
  systemctl stop docker-registry || true
fi
