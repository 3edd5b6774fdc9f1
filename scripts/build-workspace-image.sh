#!/usr/bin/env bash
# Builds the default workspace image (default localhost/berth/workspace:bookworm): a
# `debootstrap --variant=minbase` Debian bookworm from the mirror this machine's apt already
# uses, then `podman import`ed. The pristine debootstrap tree is cached as a tarball under
# $BERTH_CACHE_DIR, so rebuilding after `podman rmi` does not download again.
# Usage: build-workspace-image.sh [IMAGE]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

image=${1:-localhost/berth/workspace:bookworm}
suite=bookworm
cache_dir=${BERTH_CACHE_DIR:-/var/cache/berth}
arch=$(dpkg --print-architecture)
base_tar=$cache_dir/debootstrap-$suite-minbase-$arch.tar.gz

sources=$(berth_debian_sources_for "$suite")
mirror=$(berth_debian_mirror_for "$suite")
[[ -n $mirror ]] || berth_die "no Debian mirror found in /etc/apt/sources.list{,.d}; set BERTH_DEBIAN_MIRROR"
[[ -n $sources ]] || sources="$mirror $suite main"

mkdir -p "$cache_dir"
# Build on the cache's filesystem, not /tmp: it may be small, tmpfs or mounted noexec/nodev.
work=$(mktemp -d "$cache_dir/build.XXXXXX")
root=$work/rootfs
cleanup() {
  # debootstrap mounts /proc and /sys in the target; never rm -rf through a live mount.
  local m
  while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v r="$root" 'index($2, r "/") == 1 { print $2 }' /proc/mounts | sort -r)
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

mkdir -p "$root"
if [[ -s $base_tar ]]; then
  berth_log "workspace image: unpacking cached $suite rootfs ($base_tar)"
  tar --numeric-owner -xzpf "$base_tar" -C "$root"
else
  berth_log "workspace image: debootstrap $suite (minbase) from $mirror (about a minute)"
  if ! debootstrap --variant=minbase --include=ca-certificates "$suite" "$root" "$mirror" \
    >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    [[ -f $root/debootstrap/debootstrap.log ]] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
    berth_die "debootstrap failed"
  fi
  # The downloaded .debs and package lists are not part of the image; do not cache them either.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
  berth_log "workspace image: caching rootfs as $base_tar"
  tar --numeric-owner -czpf "$base_tar.$$.tmp" -C "$root" .
  mv -f "$base_tar.$$.tmp" "$base_tar"
fi

berth_log "workspace image: configuring rootfs"
# The host's bookworm sources, so `apt-get install` works inside a bot.
{
  echo "# Written by Berth from the build host's apt sources."
  while read -r uri s comps; do echo "deb $uri $s $comps"; done <<<"$sources"
} >"$root/etc/apt/sources.list"
rm -f "$root"/etc/apt/sources.list.d/*

# Services must not start during `apt-get install` inside a container (as in Debian's
# official container images).
cat >"$root/usr/sbin/policy-rc.d" <<'EOF'
#!/bin/sh
exit 101
EOF
chmod 0755 "$root/usr/sbin/policy-rc.d"
# Keep bots' images small and apt quick: no cached .debs, no translations.
cat >"$root/etc/apt/apt.conf.d/90berth-container" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
EOF

# Clean caches, lists and logs; the engine provides hostname, hosts and resolv.conf.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
  "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/archives/partial/* \
  "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old "$root/debootstrap"
mkdir -p "$root/var/lib/apt/lists/partial"
find "$root/var/log" -type f -delete
: >"$root/etc/hostname"
: >"$root/etc/resolv.conf"
[[ -e $root/etc/machine-id ]] && : >"$root/etc/machine-id"
mkdir -p "$root/data"

berth_log "workspace image: importing $image"
tar --numeric-owner -C "$root" -cf - . | podman import -q \
  --change 'CMD ["/bin/sleep","infinity"]' \
  --change 'WORKDIR /data' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --message "berth workspace image (debootstrap $suite minbase)" \
  - "$image" >/dev/null
berth_log "workspace image: built $image"
