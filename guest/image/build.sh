#!/usr/bin/env bash
# Builds the embedded default image `busybox` as a real OCI image layout
# (oci-layout, index.json, blobs/sha256/...) from Debian's busybox-static:i386,
# so `run busybox` works offline with no registry.
# Busybox runs on the host only to list its applets, under qemu-i386-static
# (guest/run-i386.sh). The layout is checked before it is written out: the
# layer unpacked again holds every applet, and every blob matches its digest.
# Usage: guest/image/build.sh OUT_DIR
set -eEuo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib.sh"
trap_errors image-busybox
out="$1"
work="$(mktemp -d "${TMPDIR:-/tmp}/berth-image.XXXXXX")"
trap 'rm -rf "$work"' EXIT

(cd "$work" && apt-get download -q busybox-static:i386 >/dev/null 2>&1) || {
  echo "berth: apt-get download busybox-static:i386 failed. Run: bash scripts/install-deps.sh" >&2; exit 1; }
debs=("$work"/*.deb)
[ "${#debs[@]}" = 1 ] && [ -e "${debs[0]}" ] || die "apt-get download busybox-static:i386 fetched ${#debs[@]} files"
deb="${debs[0]}"
version=$(dpkg-deb -f "$deb" Version)
dpkg -x "$deb" "$work/pkg"

# The same tree as Docker Hub's busybox: one binary, every applet a hard link in /bin.
r="$work/rootfs"
mkdir -p "$r"/{bin,dev,etc,home,root,tmp,usr/sbin,var/spool/mail,var/www}
chmod 1777 "$r/tmp"; chmod 700 "$r/root"
install -m 0755 "$work/pkg/bin/busybox" "$r/bin/busybox"
is_i386_elf "$r/bin/busybox" || die "busybox-static:i386 has no i386 bin/busybox"
applets=$(busybox_applets "$r/bin/busybox" --list)
grep -qx busybox <<<"$applets" || die "busybox --list does not list busybox"
n_links=$(grep -cvx busybox <<<"$applets")
made=0
while IFS= read -r applet; do
  [ "$applet" = busybox ] && continue
  ln "$r/bin/busybox" "$r/bin/$applet"  # fails if the name is there already
  made=$((made + 1))
done <<<"$applets"
[ "$made" = "$n_links" ] || die "made $made applet links for the $n_links applets busybox lists"
cat > "$r/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
PW
cat > "$r/etc/group" <<'GR'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:root
mail:x:12:
www-data:x:33:
users:x:100:
nogroup:x:65534:
GR
echo "127.0.0.1 localhost" > "$r/etc/hosts"
touch "$r/etc/resolv.conf"

blobs="$out/blobs/sha256"
rm -rf "$out"; mkdir -p "$blobs"
put() { # put FILE -> echoes its digest hex and moves it into blobs/
  local h; h=$(sha256sum "$1" | cut -d' ' -f1); mv "$1" "$blobs/$h"; echo "$h"; }

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$r" -cf "$work/layer.tar" .
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n -9 < "$work/layer.tar" > "$work/layer.tar.gz"
layer_size=$(stat -c %s "$work/layer.tar.gz")
layer=$(put "$work/layer.tar.gz")

created="1970-01-01T00:00:00Z"
printf '%s' "{\"architecture\":\"386\",\"os\":\"linux\",\"created\":\"$created\",\"config\":{\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"],\"Cmd\":[\"sh\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$diff_id\"]},\"history\":[{\"created\":\"$created\",\"created_by\":\"berth: Debian busybox-static $version (i386)\"}]}" > "$work/config.json"
config_size=$(stat -c %s "$work/config.json")
config=$(put "$work/config.json")

printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$config\",\"size\":$config_size},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$layer\",\"size\":$layer_size}],\"annotations\":{\"org.opencontainers.image.version\":\"$version\"}}" > "$work/manifest.json"
manifest_size=$(stat -c %s "$work/manifest.json")
manifest=$(put "$work/manifest.json")

printf '%s' '{"imageLayoutVersion":"1.0.0"}' > "$out/oci-layout"

printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$manifest\",\"size\":$manifest_size,\"platform\":{\"architecture\":\"386\",\"os\":\"linux\"},\"annotations\":{\"org.opencontainers.image.ref.name\":\"latest\",\"io.containerd.image.name\":\"docker.io/library/busybox:latest\"}}]}" > "$out/index.json"

# Check what was written: every blob is what its name says, the manifest names
# this layer and config, and the layer unpacked again has busybox with every
# applet as a hard link of it in /bin (the required ones among them).
(cd "$blobs" && for b in *; do echo "$b  $b"; done | sha256sum --quiet -c -) || die "a blob does not match its digest"
[ "$(ls "$blobs" | wc -l)" = 3 ] || die "blobs: expected a manifest, a config and a layer"
grep -qF "\"digest\":\"sha256:$manifest\"" "$out/index.json" || die "index.json does not name the manifest"
grep -qF "\"digest\":\"sha256:$layer\"" "$blobs/$manifest" || die "the manifest does not name the layer"
grep -qF "\"digest\":\"sha256:$config\"" "$blobs/$manifest" || die "the manifest does not name the config"
[ "$(gzip -dc "$blobs/$layer" | sha256sum | cut -d' ' -f1)" = "$diff_id" ] || die "the layer's diff_id is wrong"
check="$work/check"
mkdir "$check"
tar -xzf "$blobs/$layer" -C "$check"
cmp -s "$check/bin/busybox" "$work/pkg/bin/busybox" || die "layer: bin/busybox differs from the package's"
linked=0
while IFS= read -r applet; do
  [ "$applet" = busybox ] && continue
  [ "$check/bin/$applet" -ef "$check/bin/busybox" ] || die "layer: bin/$applet is not a hard link of bin/busybox"
  linked=$((linked + 1))
done <<<"$applets"
[ "$linked" = "$n_links" ] && [ "$(stat -c %h "$check/bin/busybox")" = $((n_links + 1)) ] \
  || die "layer: $linked applet links (bin/busybox has $(stat -c %h "$check/bin/busybox") names) for the $n_links applets busybox lists"
for a in "${REQUIRED_APPLETS[@]}"; do
  [ "$check/bin/$a" -ef "$check/bin/busybox" ] || die "layer: no $a applet in /bin"
done
