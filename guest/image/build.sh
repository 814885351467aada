#!/usr/bin/env bash
# Builds the embedded default image `busybox` as a real OCI image layout
# (oci-layout, index.json, blobs/sha256/...) from Debian's busybox-static:i386,
# so `run busybox` works offline with no registry.
# Usage: guest/image/build.sh OUT_DIR
set -euo pipefail
out="$1"
work="$(mktemp -d "${TMPDIR:-/tmp}/berth-image.XXXXXX")"
trap 'rm -rf "$work"' EXIT

(cd "$work" && apt-get download -q busybox-static:i386 >/dev/null 2>&1) || {
  echo "berth: apt-get download busybox-static:i386 failed. Run: bash scripts/install-deps.sh" >&2; exit 1; }
deb=$(ls "$work"/*.deb)
version=$(dpkg-deb -f "$deb" Version)
dpkg -x "$deb" "$work/pkg"

# The same tree as Docker Hub's busybox: one binary, every applet a hard link in /bin.
r="$work/rootfs"
mkdir -p "$r"/{bin,dev,etc,home,root,tmp,usr/sbin,var/spool/mail,var/www}
chmod 1777 "$r/tmp"; chmod 700 "$r/root"
install -m 0755 "$work/pkg/bin/busybox" "$r/bin/busybox"
for applet in $("$r/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln "$r/bin/busybox" "$r/bin/$applet"
done
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
