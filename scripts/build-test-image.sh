#!/usr/bin/env bash
# Builds the tiny test image (default localhost/berth/test:busybox) from the busybox-static
# package's binary: no registry is reachable, so the rootfs is made here and `podman import`ed.
# Usage: build-test-image.sh [IMAGE]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

image=${1:-localhost/berth/test:busybox}
busybox=/bin/busybox

[[ -x $busybox ]] || berth_die "$busybox is missing (install the busybox-static package)"
# A dynamically linked busybox (the plain "busybox" package) would not run without the host's libc.
if ldd "$busybox" >/dev/null 2>&1; then
  berth_die "$busybox is dynamically linked; install the busybox-static package"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/berth-test-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/rootfs

berth_log "building test image $image"
mkdir -p "$root"/{bin,etc,root,tmp,usr}
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
install -m 0755 "$busybox" "$root/bin/busybox"
while read -r applet; do
  [[ -n $applet && $applet != busybox ]] && ln -s busybox "$root/bin/$applet"
done < <("$busybox" --list)
# Merged-/usr layout, so /usr/bin/env, /sbin/... and friends resolve too.
ln -s bin "$root/sbin"
ln -s ../bin "$root/usr/bin"
ln -s ../bin "$root/usr/sbin"

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF

tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$work/rootfs.tar" .
podman import -q \
  --change 'CMD ["/bin/sleep","2147483647"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --message 'berth test image (busybox-static)' \
  "$work/rootfs.tar" "$image" >/dev/null
berth_log "built $image"
