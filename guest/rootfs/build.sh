#!/usr/bin/env bash
# Builds the guest's system image and initramfs. system.img is an EROFS image
# of the system: busybox (static i386), crun (i386) and the shared libraries it
# needs, the agent, /etc. The host puts it into the 9p share before boot and
# init mounts it from there through a loop device (agent/init.c), so the kernel
# neither unpacks nor copies it. The initramfs is /init (the agent) and crun.
# Packages come from Debian with `apt-get download` and are unpacked with `dpkg -x`.
# Usage: guest/rootfs/build.sh AGENT_BINARY OUT_DIR
#   writes OUT_DIR/system.img and OUT_DIR/initramfs.img (an uncompressed cpio)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
agent="$1"; out="$2"
source "$here/../packages.sh"

work="$(mktemp -d "${TMPDIR:-/tmp}/berth-rootfs.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs" "$work/pkg" "$work/root"

(cd "$work/debs" && apt-get download -q "${GUEST_PACKAGES[@]/%/:i386}" >/dev/null 2>&1) || {
  echo "berth: apt-get download failed for: ${GUEST_PACKAGES[*]} (i386). Run: bash scripts/install-deps.sh" >&2; exit 1; }
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/pkg"; done

root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib,etc}
cp "$work/pkg/bin/busybox" "$root/bin/busybox"
# Applet links, as `busybox --install -s` would make them.
for applet in $("$root/bin/busybox" --list-full); do
  [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
cp "$work/pkg/usr/bin/crun" "$root/usr/bin/crun"
install -m 0755 "$agent" "$root/sbin/berth-agent"
ln -s /sbin/berth-agent "$root/usr/bin/docker"  # `docker` in the guest: the agent's client (client.c)
cp "$here/etc-passwd" "$root/etc/passwd"
cp "$here/etc-group" "$root/etc/group"

# crun's shared libraries: follow DT_NEEDED from crun through the unpacked packages.
libdirs=("$work/pkg/lib/i386-linux-gnu" "$work/pkg/usr/lib/i386-linux-gnu")
declare -A seen=()
queue=("$root/usr/bin/crun")
while ((${#queue[@]})); do
  f="${queue[0]}"; queue=("${queue[@]:1}")
  for lib in $(objdump -p "$f" | awk '/NEEDED/ {print $2}'); do
    [ -n "${seen[$lib]:-}" ] && continue
    seen[$lib]=1
    found=""
    for d in "${libdirs[@]}"; do [ -e "$d/$lib" ] && { found="$d/$lib"; break; }; done
    [ -n "$found" ] || { echo "berth: crun needs $lib, which no package in guest/packages.sh provides" >&2; exit 1; }
    mkdir -p "$root/lib/i386-linux-gnu"
    cp -L "$found" "$root/lib/i386-linux-gnu/$lib"
    queue+=("$found")
  done
done
cp -L "$work/pkg/lib/ld-linux.so.2" "$root/lib/ld-linux.so.2"

# crun comes in the initramfs instead (agent/init.c, trusted_crun): the image
# keeps an empty file where it is bound.
initramfs="$work/initramfs"
mkdir -p "$initramfs/dev"
mv "$root/usr/bin/crun" "$initramfs/crun"
install -m 0755 /dev/null "$root/usr/bin/crun"

mkdir -p "$out"
mkfs.erofs --quiet -T0 -U00000000-0000-0000-0000-000000000000 --all-root -x-1 "$out/system.img" "$root" >/dev/null

# The initramfs: /init is the agent itself (it sets the system up, then serves
# the host), crun, and what the kernel needs before init runs.
install -m 0755 "$agent" "$initramfs/init"
mknod -m 600 "$initramfs/dev/console" c 5 1
mknod -m 666 "$initramfs/dev/null" c 1 3
(cd "$initramfs" && find . -print0 | LC_ALL=C sort -z | cpio --quiet --null --reproducible -o -H newc -R 0:0) > "$out/initramfs.img"
# Record the exact package versions that went in.
for deb in "$work"/debs/*.deb; do dpkg-deb -f "$deb" Package Version | awk '{print $2}' | paste -sd' '; done > "$out/packages.txt"
