#!/usr/bin/env bash
# Installs what the tests need and is missing, and nothing else: PostgreSQL server binaries,
# nats-server and openssl (the TLS tests make their certificates with it) as Debian/Ubuntu
# packages via apt-get, then node_modules (npm ci). Safe to run again: when everything is there it
# changes nothing.
#
# The tests start their own servers; they never use a system PostgreSQL or NATS service. Installing
# the `postgresql` package normally creates and starts a cluster on port 5432, so when we are the
# ones installing as root we forbid service starts for the duration (policy-rc.d).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

have_postgres() {
  [[ -n ${PGWALSTREAMS_PG_BINDIR:-} && -x $PGWALSTREAMS_PG_BINDIR/initdb ]] && return 0
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && return 0
  local bindir
  bindir=$(pg_config --bindir 2>/dev/null) && [[ -x $bindir/initdb ]] && return 0
  command -v initdb >/dev/null
}

have_nats() {
  [[ -n ${PGWALSTREAMS_NATS_SERVER:-} && -x $PGWALSTREAMS_NATS_SERVER ]] && return 0
  command -v nats-server >/dev/null || [[ -x /usr/sbin/nats-server ]]
}

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "error: $tool is not installed; install Node.js 20 or newer first" >&2
    exit 1
  fi
done

missing=()
have_postgres || missing+=(postgresql)
have_nats || missing+=(nats-server)
command -v openssl >/dev/null || missing+=(openssl)

if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -eq 0 ]]; then
    as_root=()
  elif command -v sudo >/dev/null; then
    as_root=(sudo)
  else
    echo "error: missing ${missing[*]}; install them as root (e.g. apt-get install ${missing[*]})" >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null; then
    echo "error: missing ${missing[*]} and no apt-get here; install them with your package manager" >&2
    exit 1
  fi

  policy=/usr/sbin/policy-rc.d
  if [[ $(id -u) -eq 0 && ! -e $policy ]]; then
    # Exit status 101 tells invoke-rc.d not to start services while the packages are installed.
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi

  echo "installing ${missing[*]}"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  have_postgres || { echo "error: postgresql installed, but no initdb found" >&2; exit 1; }
  have_nats || { echo "error: nats-server installed, but not found" >&2; exit 1; }
  command -v openssl >/dev/null || { echo "error: openssl installed, but not found" >&2; exit 1; }
fi

# npm writes node_modules/.package-lock.json on every install; older than the lock file means stale.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci
fi
