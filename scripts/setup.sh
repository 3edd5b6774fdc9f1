#!/usr/bin/env bash
# Berth's idempotent set-up, run by `npm start`, `npm test` and `npm run bench`.
# Installs what is missing (Debian packages, containers.conf drop-ins, npm dependencies, the test
# and workspace images) and prints one line per thing it does. With everything in place it only
# runs cheap checks (files, stamps, `command -v`, `podman image exists`) and prints nothing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"
cd "$here/.."
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

TEST_IMAGE=localhost/berth/test:busybox
WORKSPACE_IMAGE=localhost/berth/workspace:bookworm

# One set-up at a time (two `npm test`s must not both run `npm ci` or build the same image).
# Long-running children get `9>&-` so nothing they leave behind keeps holding the lock.
lock_dir=/run/lock
[[ -d $lock_dir && -w $lock_dir ]] || lock_dir=${TMPDIR:-/tmp}
exec 9>"$lock_dir/berth-setup.lock"
if ! flock -n 9; then
  berth_log "waiting for another set-up to finish"
  flock 9
fi

need_root() {
  [[ $EUID -eq 0 ]] || berth_die "$1 needs root (run as root, as Berth's set-up expects)"
}

# --- 1. Debian packages ------------------------------------------------------------------
# package:probe — the probe is a command, or an absolute path that exists once it is installed.
packages=(
  podman:podman
  runc:runc                          # crun fails on these hosts' hybrid cgroups
  catatonit:catatonit                # the engine's --init
  netavark:/usr/lib/podman/netavark  # bridge networking...
  aardvark-dns:/usr/lib/podman/aardvark-dns
  iptables:iptables                  # ...which NATs through iptables
  uidmap:newuidmap
  busybox-static:/var/lib/dpkg/info/busybox-static.list # the plain busybox is not static
  debootstrap:debootstrap
  e2fsprogs:mkfs.ext4                # the disk-full tests' small loop-mounted file system
  docker-registry:docker-registry    # a local registry for real pulls in tests
  chromium:chromium                  # headless web UI tests
  fonts-liberation:/usr/share/fonts/truetype/liberation
  make:make                          # better-sqlite3 compiles with node-gyp
  g++:g++
  python3:python3
)
missing=()
for entry in "${packages[@]}"; do
  pkg=${entry%%:*} probe=${entry#*:}
  if [[ $probe == /* ]]; then [[ -e $probe ]] && continue
  else command -v "$probe" >/dev/null 2>&1 && continue
  fi
  [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true) == "install ok installed" ]] && continue
  missing+=("$pkg")
done
if ((${#missing[@]})); then
  need_root "installing ${missing[*]}"
  berth_log "installing Debian packages: ${missing[*]}"
  apt_log=$(mktemp)
  # No daemon (e.g. docker-registry on :5000) may start from a package's postinst: the set-up
  # must not occupy ports or leave services behind. Only if the host has no policy of its own.
  policy=/usr/sbin/policy-rc.d own_policy=
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && own_policy=1
  fi
  restore() { [[ -n $own_policy ]] && rm -f "$policy"; rm -f "$apt_log"; }
  trap restore EXIT
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -q && apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"; } \
    </dev/null >"$apt_log" 2>&1 9>&-; then
    tail -n 40 "$apt_log" >&2
    berth_die "apt-get failed installing: ${missing[*]}"
  fi
  restore
  trap - EXIT
  berth_log "installed ${missing[*]}"
fi

# --- 2. Podman configuration ---------------------------------------------------------------
conf_changed=
write_if_changed() { # path content
  local path=$1 content=$2
  [[ -f $path && "$(<"$path")" == "$content" ]] && return 0
  need_root "writing $path"
  mkdir -p "$(dirname "$path")"
  printf '%s\n' "$content" >"$path.berth-tmp"
  mv -f "$path.berth-tmp" "$path"
  berth_log "wrote $path"
  conf_changed=1
}
# nofile: the host's hard limit is 20000 and Podman's higher default makes container start fail
# in setrlimit. runc: crun fails on these hosts' hybrid cgroups. No systemd: cgroupfs, file events.
write_if_changed /etc/containers/containers.conf.d/50-berth.conf '[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"'
# The local test registry (Debian's docker-registry) speaks plain HTTP.
write_if_changed /etc/containers/registries.conf.d/50-berth-test-registry.conf '[[registry]]
location = "127.0.0.1:5000"
insecure = true

[[registry]]
location = "localhost:5000"
insecure = true'
if [[ -n $conf_changed ]] && pgrep -f "podman system service" >/dev/null 2>&1; then
  berth_log "note: a running 'podman system service' still has the old configuration; restart it (Berth restarts its own)"
fi

# --- 3. npm dependencies ---------------------------------------------------------------------
command -v node >/dev/null 2>&1 || berth_die "node (>= 20) is not installed"
stamp=node_modules/.berth-lock-hash
if [[ -f package-lock.json ]]; then
  read -r lock_hash _ < <(sha256sum package-lock.json)
  # Native modules (better-sqlite3) are built for one Node ABI: a new Node needs a reinstall.
  want="$lock_hash node-$(node -v)"
  if [[ ! -d node_modules || ! -f $stamp || "$(<"$stamp")" != "$want" ]]; then
    if [[ ! -d node_modules ]]; then why="node_modules missing"
    elif [[ ! -f $stamp ]]; then why="no install stamp"
    else why="package-lock.json or Node changed"; fi
    berth_log "npm ci ($why; better-sqlite3 compiles from source, about a minute)"
    npm ci --no-audit --no-fund --no-progress </dev/null 9>&-
    printf '%s\n' "$want" >"$stamp"
  fi
else
  berth_log "npm install (no package-lock.json)"
  npm install --no-audit --no-fund --no-progress </dev/null 9>&-
fi

# --- 4./5. Images ----------------------------------------------------------------------------
if ! podman image exists "$TEST_IMAGE"; then
  need_root "building $TEST_IMAGE"
  bash "$here/build-test-image.sh" "$TEST_IMAGE" 9>&-
fi
if ! podman image exists "$WORKSPACE_IMAGE"; then
  need_root "building $WORKSPACE_IMAGE"
  bash "$here/build-workspace-image.sh" "$WORKSPACE_IMAGE" 9>&-
fi
