#!/usr/bin/env bash
# Builds everything the guest needs into public/guest/ (ignored by git):
#   bzImage, initramfs.img, system.img, bios.bin, images/busybox/ (OCI layout), manifest.json
# Each part is cached under $BERTH_CACHE (default ~/.cache/berth) by the hash of
# its inputs, so a rebuild happens only when guest/ sources or packages change.
# Any failure stops the build with a message naming the step; a part is cached
# only once built and checked (a failed or interrupted build leaves no entry).
# No guest (i386) program runs on the host except through guest/run-i386.sh.
set -eEuo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
out="${BERTH_GUEST_OUT:-$repo/public/guest}"
cache="${BERTH_CACHE:-$HOME/.cache/berth}/guest"
source "$here/lib.sh"
source "$here/packages.sh"

# What is being done, for the message if it fails; empty once all is done. (Not
# $?, which a bash killed by a signal such as ^C does not set for the trap.)
step="setup"
partial=""  # the output dir of the part being built, removed if it fails
trap 'rc=$?; if [ -n "$step" ]; then
  echo "berth: guest build failed while building $step ($( ((rc)) && echo "exit $rc" || echo interrupted)); nothing of it was cached" >&2
  [ -z "$partial" ] || rm -rf "$partial"
fi' EXIT

if ! command -v apt-get >/dev/null || [ ! -e /usr/src/linux-source-6.1.tar.xz ] || ! command -v lz4 >/dev/null \
   || ! command -v mkfs.erofs >/dev/null || ! command -v qemu-i386-static >/dev/null; then
  bash "$repo/scripts/install-deps.sh"
fi

# Inputs of a part: its files plus the Debian versions it is built from.
hash_of() { # hash_of FILE_OR_DIR... -- TEXT
  local files=() text=""
  while (($#)); do [ "$1" = -- ] && { shift; text="$*"; break; }; files+=("$1"); shift; done
  { find "${files[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sed "s|$here/||"; echo "$text"; } \
    | sha256sum | cut -c1-16
}
# Every version in one apt-cache call: each call reads apt's whole cache (seconds).
step="the package versions"
declare -A versions=()
version_list=$(apt-cache show --no-all-versions "${GUEST_PACKAGES[@]/%/:i386}" linux-source-6.1 2>/dev/null \
  | awk '/^Package:/ {p=$2} /^Architecture:/ {a=$2} /^Version:/ {v=$2} /^$/ {if (p) print p (a == "i386" ? ":i386" : ""), v; p=""}') || true
while read -r name v; do versions[$name]=$v; done <<<"$version_list"
pkg_version() {
  [ -n "${versions[$1]:-}" ] || die "apt-cache knows no version of $1. Run: bash scripts/install-deps.sh"
  echo "${versions[$1]}"
}
guest_versions=""
for p in "${GUEST_PACKAGES[@]}"; do v=$(pkg_version "$p:i386"); guest_versions+="$p=$v "; done
kernel_version="linux-source-6.1=$(pkg_version linux-source-6.1)"
busybox_version="busybox-static=$(pkg_version busybox-static:i386)"
gcc_version="$(gcc --version | sed -n 1p)"

# cached NAME HASH OUTPUT_FILES -- BUILD_COMMAND...: runs the command with
# $dir.tmp as its output dir unless a finished build with that hash exists;
# sets $dir either way. The build counts as finished (.done) only if the
# command succeeded and made every one of OUTPUT_FILES, not empty; only then is
# $dir.tmp renamed to $dir, so a failed or interrupted build leaves no entry
# (and $dir.tmp is removed, or by the next run) and the next run builds the
# part again.
cached() {
  local name="$1" hash="$2"; shift 2
  local outputs=() f
  while (($#)) && [ "$1" != -- ]; do outputs+=("$1"); shift; done
  shift
  step="$name"
  [[ $hash =~ ^[0-9a-f]{16}$ ]] || die "$name: no hash of its inputs (got '$hash')"
  dir="$cache/$name-$hash"
  if [ -e "$dir/.done" ]; then echo "berth: $name up to date ($hash)" >&2; return; fi
  echo "berth: building $name ($hash)" >&2
  partial="$dir.tmp"
  rm -rf "$dir.tmp" "$dir"; mkdir -p "$dir.tmp"
  local t0=$SECONDS
  "$@" "$dir.tmp"
  for f in "${outputs[@]}"; do [ -s "$dir.tmp/$f" ] || die "$name: the build made no $f"; done
  touch "$dir.tmp/.done"
  mv "$dir.tmp" "$dir"
  partial=""
  echo "berth: built $name in $((SECONDS - t0)) s" >&2
}

# Each hash is computed before `cached` is called: a failure inside "$(...)"
# used as an argument would go unseen. $step names the part for the message.
step=kernel
h=$(hash_of "$here/kernel" -- "$kernel_version")
cached kernel "$h" bzImage config -- bash "$here/kernel/build.sh"
kernel_dir="$dir"

build_agent() {
  make -s -C "$here/agent" O="$1" >&2
  is_i386_elf "$1/berth-agent" || die "agent: berth-agent is not an i386 ELF program"
}
step=agent
h=$(hash_of "$here/agent" "$here/lib.sh" -- "$gcc_version")
cached agent "$h" berth-agent -- build_agent
agent_dir="$dir"

step=initramfs
h=$(hash_of "$here/rootfs" "$here/packages.sh" "$here/lib.sh" "$here/run-i386.sh" "$agent_dir/berth-agent" -- "$guest_versions")
cached initramfs "$h" system.img initramfs.img packages.txt -- bash "$here/rootfs/build.sh" "$agent_dir/berth-agent"
initramfs_dir="$dir"

step=image-busybox
h=$(hash_of "$here/image" "$here/lib.sh" "$here/run-i386.sh" -- "$busybox_version")
cached image-busybox "$h" oci-layout index.json -- bash "$here/image/build.sh"
image_dir="$dir"

# Assemble public/guest/ and describe it.
step="public/guest (assembling)"
rm -rf "$out.tmp"; mkdir -p "$out.tmp/images"
cp "$kernel_dir/bzImage" "$out.tmp/bzImage"
cp "$initramfs_dir/initramfs.img" "$out.tmp/initramfs.img"
cp "$initramfs_dir/system.img" "$out.tmp/system.img"
cp /usr/share/seabios/bios.bin "$out.tmp/bios.bin"
cp -r "$image_dir" "$out.tmp/images/busybox"
rm -f "$out.tmp/images/busybox/.done"
node "$here/write-manifest.mjs" "$out.tmp" "$initramfs_dir/packages.txt" \
  "$kernel_version" "seabios=$(dpkg-query -W -f='${Version}' seabios)" > "$out.tmp/manifest.json"
rm -rf "$out"; mv "$out.tmp" "$out"
step=""
echo "berth: guest ready in ${out#$repo/}/" >&2
