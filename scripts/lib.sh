# Shared helpers for Berth's set-up scripts. Source it; it defines functions only.
# shellcheck shell=bash

berth_log() { printf 'setup: %s\n' "$*"; }
berth_die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# Prints one line per enabled binary ("deb") apt source of this machine:
#   URI SUITE COMPONENT...
# Reads the one-line format (sources.list, *.list) and deb822 (*.sources), so nothing
# about the mirror is hard-coded: images are built from whatever mirror apt already uses.
berth_apt_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r $f ]] || continue
    awk '
      { sub(/#.*/, "") }
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        if (i + 1 > NF) next
        line = $i " " $(i + 1)
        for (j = i + 2; j <= NF; j++) line = line " " $j
        print line
      }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    awk '
      function flush(   n, m, a, b, U, S) {
        if (types ~ /(^| )deb( |$)/ && enabled !~ /^(no|false|0)$/) {
          n = split(uris, U, " "); m = split(suites, S, " ")
          for (a = 1; a <= n; a++) for (b = 1; b <= m; b++) print U[a], S[b], comps
        }
        types = uris = suites = comps = enabled = ""
      }
      /^#/ { next }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]/ { next }   # continuation line (e.g. an inline Signed-By key)
      {
        k = tolower(substr($0, 1, index($0, ":") - 1)); v = substr($0, index($0, ":") + 1)
        gsub(/^[ \t]+|[ \t]+$/, "", v); gsub(/[ \t]+/, " ", v)
        if (k == "types") types = v; else if (k == "uris") uris = v
        else if (k == "suites") suites = v; else if (k == "components") comps = v
        else if (k == "enabled") enabled = tolower(v)
      }
      END { flush() }' "$f"
  done
}

# The host's Debian sources re-targeted at SUITE (e.g. bookworm), one "URI SUITE COMPONENTS" per
# line: the host's own release (its codename or "stable") plus its -updates and -security
# pockets, http(s) only, since a container cannot reach file: or cdrom: sources.
berth_debian_sources_for() {
  local target=$1 host_codename=""
  if [[ -r /etc/os-release ]]; then
    host_codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
  fi
  berth_apt_sources | awk -v t="$target" -v h="${host_codename:-$target}" '
    $1 !~ /^https?:\/\// { next }
    {
      s = $2; suffix = ""
      if (match(s, /(-updates|-security|\/updates)$/)) { suffix = substr(s, RSTART); s = substr(s, 1, RSTART - 1) }
      if (s != h && s != t && s != "stable") next
      if (suffix == "/updates") suffix = "-security"
      key = $1 " " t suffix
      if (seen[key]++) next
      comps = ""; for (j = 3; j <= NF; j++) comps = comps " " $j
      if (comps == "") comps = " main"
      print $1, t suffix comps
    }'
}

# The mirror to debootstrap SUITE from: $BERTH_DEBIAN_MIRROR, else the URI of the host's main
# (non-security, non-updates) Debian source.
berth_debian_mirror_for() {
  if [[ -n ${BERTH_DEBIAN_MIRROR:-} ]]; then printf '%s\n' "$BERTH_DEBIAN_MIRROR"; return; fi
  berth_debian_sources_for "$1" | awk -v t="$1" '$2 == t { print $1; exit }'
}
