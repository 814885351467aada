#!/usr/bin/env bash
# Builds everything the guest needs into public/guest/ (ignored by git):
#   bzImage, initramfs.img, system.img, bios.bin, images/busybox/ (OCI layout), manifest.json
# Each part is cached under $BERTH_CACHE (default ~/.cache/berth) by the hash of
# its inputs, so a rebuild happens only when guest/ sources or packages change.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
out="${BERTH_GUEST_OUT:-$repo/public/guest}"
cache="${BERTH_CACHE:-$HOME/.cache/berth}/guest"
source "$here/packages.sh"

if ! command -v apt-get >/dev/null || [ ! -e /usr/src/linux-source-6.1.tar.xz ] || ! command -v lz4 >/dev/null || ! command -v mkfs.erofs >/dev/null; then
  bash "$repo/scripts/install-deps.sh"
fi

# Inputs of a part: its files plus the Debian versions it is built from.
hash_of() { # hash_of FILE_OR_DIR... -- TEXT
  local files=() text=""
  while (($#)); do [ "$1" = -- ] && { shift; text="$*"; break; }; files+=("$1"); shift; done
  { find "${files[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sed "s|$here/||"; echo "$text"; } \
    | sha256sum | cut -c1-16
}
pkg_version() { apt-cache show --no-all-versions "$1" 2>/dev/null | awk '/^Version:/ {print $2; exit}'; }
guest_versions=""
for p in "${GUEST_PACKAGES[@]}"; do guest_versions+="$p=$(pkg_version "$p:i386") "; done
kernel_version="linux-source-6.1=$(pkg_version linux-source-6.1)"
gcc_version="$(gcc --version | head -1)"

# cached NAME HASH BUILD_COMMAND...: runs the command with $dir as its output
# dir unless a finished build with that hash exists; sets $dir either way.
cached() {
  local name="$1" hash="$2"; shift 2
  dir="$cache/$name-$hash"
  if [ -e "$dir/.done" ]; then echo "berth: $name up to date ($hash)" >&2; return; fi
  echo "berth: building $name ($hash)" >&2
  rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
  local t0=$SECONDS
  "$@" "$dir.tmp"
  rm -rf "$dir"; mv "$dir.tmp" "$dir"; touch "$dir/.done"
  echo "berth: built $name in $((SECONDS - t0)) s" >&2
}

cached kernel "$(hash_of "$here/kernel" -- "$kernel_version")" bash "$here/kernel/build.sh"
kernel_dir="$dir"

build_agent() { make -s -C "$here/agent" O="$1" >&2; }
cached agent "$(hash_of "$here/agent" -- "$gcc_version")" build_agent
agent_dir="$dir"

cached initramfs "$(hash_of "$here/rootfs" "$here/packages.sh" "$agent_dir/berth-agent" -- "$guest_versions")" \
  bash "$here/rootfs/build.sh" "$agent_dir/berth-agent"
initramfs_dir="$dir"

cached image-busybox "$(hash_of "$here/image" -- "busybox-static=$(pkg_version busybox-static:i386)")" \
  bash "$here/image/build.sh"
image_dir="$dir"

# Assemble public/guest/ and describe it.
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
echo "berth: guest ready in ${out#$repo/}/" >&2
