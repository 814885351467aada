#!/usr/bin/env bash
# Builds the guest's system image and initramfs. system.img is an EROFS image
# of the system: busybox (static i386), crun (i386) and the shared libraries it
# needs, the agent, /etc. The host puts it into the 9p share before boot and
# init mounts it from there through a loop device (agent/init.c), so the kernel
# neither unpacks nor copies it. The initramfs is /init (the agent) and crun.
# Packages come from Debian with `apt-get download` and are unpacked with `dpkg -x`.
# No guest (i386) program is executed on the host, except busybox to list its
# applets, under qemu-i386-static (guest/run-i386.sh). What is built is checked
# before it is written out: the image is unpacked again and compared with the tree.
# Usage: guest/rootfs/build.sh AGENT_BINARY OUT_DIR
#   writes OUT_DIR/system.img and OUT_DIR/initramfs.img (an uncompressed cpio)
set -eEuo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib.sh"
trap_errors rootfs
agent="$1"; out="$2"
source "$here/../packages.sh"
is_i386_elf "$agent" || die "the agent $agent is not an i386 ELF program"

work="$(mktemp -d "${TMPDIR:-/tmp}/berth-rootfs.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs" "$work/pkg" "$work/root"

(cd "$work/debs" && apt-get download -q "${GUEST_PACKAGES[@]/%/:i386}" >/dev/null 2>&1) || {
  echo "berth: apt-get download failed for: ${GUEST_PACKAGES[*]} (i386). Run: bash scripts/install-deps.sh" >&2; exit 1; }
debs=("$work"/debs/*.deb)
[ "${#debs[@]}" = "${#GUEST_PACKAGES[@]}" ] && [ -e "${debs[0]}" ] \
  || die "apt-get download fetched ${#debs[@]} packages for the ${#GUEST_PACKAGES[@]} of guest/packages.sh"
for deb in "${debs[@]}"; do dpkg -x "$deb" "$work/pkg"; done

root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib,etc}
cp "$work/pkg/bin/busybox" "$root/bin/busybox"
is_i386_elf "$root/bin/busybox" || die "busybox-static:i386 has no i386 bin/busybox"
# Applet links, as `busybox --install -s` would make them: one for every path
# busybox lists (bin/busybox is itself); none may be there already.
applets=$(busybox_applets "$root/bin/busybox" --list-full)
grep -qx bin/busybox <<<"$applets" || die "busybox --list-full does not list bin/busybox"
made=0
while IFS= read -r path; do
  [ "$path" = bin/busybox ] && continue
  if [ -e "$root/$path" ] || [ -L "$root/$path" ]; then die "applet link $path: something is there already"; fi
  ln -s /bin/busybox "$root/$path"
  made=$((made + 1))
done <<<"$applets"
n_links=$(grep -cvx bin/busybox <<<"$applets")
[ "$made" = "$n_links" ] || die "made $made applet links for the $n_links applets busybox lists"
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
  needed=$(objdump -p "$f" | awk '/NEEDED/ {print $2}')  # captured: a failing objdump stops the build
  [ -n "$needed" ] || [ "$f" != "$root/usr/bin/crun" ] || die "objdump found no DT_NEEDED in crun"
  for lib in $needed; do
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
interp=$(readelf -lW "$root/usr/bin/crun" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
[ "$interp" = /lib/ld-linux.so.2 ] || die "crun asks for the interpreter '$interp', not /lib/ld-linux.so.2"
cp -L "$work/pkg/lib/ld-linux.so.2" "$root/lib/ld-linux.so.2"

# crun comes in the initramfs instead (agent/init.c, trusted_crun): the image
# keeps an empty file where it is bound.
initramfs="$work/initramfs"
mkdir -p "$initramfs/dev"
mv "$root/usr/bin/crun" "$initramfs/crun"
install -m 0755 /dev/null "$root/usr/bin/crun"

mkdir -p "$out"
mkfs.erofs --quiet -T0 -U00000000-0000-0000-0000-000000000000 --all-root -x-1 "$out/system.img" "$root" >/dev/null

# Check the image itself, not the tree it was made from: unpacked again
# (fsck.erofs reads it without mounting) it must be exactly that tree, and
# hold every applet link pointing at busybox, the agent and crun's libraries.
check="$work/check-system"
fsck.erofs --extract="$check" "$out/system.img" >/dev/null
diff -r --no-dereference "$root" "$check" >&2 || die "system.img does not hold the tree it was made from"
cmp -s "$check/bin/busybox" "$work/pkg/bin/busybox" || die "system.img: bin/busybox differs from the package's"
cmp -s "$check/sbin/berth-agent" "$agent" || die "system.img: sbin/berth-agent differs from $agent"
linked=0
while IFS= read -r path; do
  [ "$path" = bin/busybox ] && continue
  [ "$(readlink "$check/$path")" = /bin/busybox ] || die "system.img: $path is not a link to /bin/busybox"
  linked=$((linked + 1))
done <<<"$applets"
[ "$linked" = "$n_links" ] || die "system.img holds $linked applet links for the $n_links applets busybox lists"
for a in "${REQUIRED_APPLETS[@]}"; do
  found=""
  for d in bin sbin usr/bin usr/sbin; do [ "$(readlink "$check/$d/$a")" = /bin/busybox ] && { found=1; break; }; done
  [ -n "$found" ] || die "system.img: no $a applet in bin, sbin, usr/bin or usr/sbin"
done
for lib in "${!seen[@]}"; do
  is_i386_elf "$check/lib/i386-linux-gnu/$lib" || die "system.img: lib/i386-linux-gnu/$lib is not an i386 library"
done

# The initramfs: /init is the agent itself (it sets the system up, then serves
# the host), crun, and what the kernel needs before init runs.
install -m 0755 "$agent" "$initramfs/init"
mknod -m 600 "$initramfs/dev/console" c 5 1
mknod -m 666 "$initramfs/dev/null" c 1 3
# mtime 0 for every entry: the same inputs make the same bytes (the manifest's id, which snapshots key on).
find "$initramfs" -exec touch -h -d @0 {} +
(cd "$initramfs" && find . -print0 | LC_ALL=C sort -z | cpio --quiet --null --reproducible -o -H newc -R 0:0) > "$out/initramfs.img"
# The same for the initramfs: exactly these entries, /init the agent, /crun crun.
listed=$(cpio --quiet -it < "$out/initramfs.img" | paste -sd' ')
[ "$listed" = ". crun dev dev/console dev/null init" ] || die "initramfs.img holds: $listed"
mkdir "$work/check-initramfs"
(cd "$work/check-initramfs" && cpio --quiet -id crun init) < "$out/initramfs.img"
cmp -s "$work/check-initramfs/init" "$agent" || die "initramfs.img: /init is not the agent"
cmp -s "$work/check-initramfs/crun" "$work/pkg/usr/bin/crun" || die "initramfs.img: /crun is not crun"
# Record the exact package versions that went in.
for deb in "${debs[@]}"; do dpkg-deb -f "$deb" Package Version | awk '{print $2}' | paste -sd' '; done > "$out/packages.txt"
[ "$(wc -l < "$out/packages.txt")" = "${#GUEST_PACKAGES[@]}" ] || die "packages.txt does not list every package"
