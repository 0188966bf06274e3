#!/usr/bin/env bash
# Makes sure what praetor's demo and tests need is installed: etcd (etcd-server), protoc
# (protobuf-compiler, needed to build the etcd client) and the PostgreSQL server (postgresql-15).
# With --test also haproxy (the routing test drives a real HAProxy), prometheus (for promtool,
# which checks /metrics) and python3-venv (the interoperability tests run the real Patroni and
# patronictl from PyPI), and pgbackrest (tests/backups.rs restores replicas and whole clusters from
# a local pgBackRest repository), iproute2 and nftables (tests/hosts.rs: test hosts as network
# namespaces, faults as nftables rules), and pgbouncer (tests/citus.rs: a pooler beside each worker
# member, registered in pg_dist_poolinfo).
# As root it installs what is missing with apt-get; otherwise it says what to install and fails.
set -euo pipefail

missing=()
if [ "${1:-}" = --test ]; then
  if ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ]; then
    missing+=(haproxy)
  fi
  # tests/metrics.rs checks /metrics with promtool (Debian's prometheus package).
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  command -v pgbackrest >/dev/null 2>&1 || missing+=(pgbackrest)
  command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing+=(iproute2)
  command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || missing+=(nftables)
  command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
  # The interoperability tests put the real Patroni from PyPI into a virtualenv.
  if ! /usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=(python3-venv)
  fi
fi
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && ! command -v postgres >/dev/null 2>&1; then
  missing+=(postgresql-15)
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is not installed: install a Rust toolchain (https://rustup.rs) first" >&2
  exit 1
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "missing: ${missing[*]}. Install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
pkgs=()
for p in "${missing[@]}"; do
  if [ "$p" = postgresql-15 ] && ! apt-cache show postgresql-15 >/dev/null 2>&1; then
    p=postgresql   # Ubuntu releases without 15: any PostgreSQL >= 13 works
  fi
  pkgs+=("$p")
done
apt-get install -y -q --no-install-recommends "${pkgs[@]}"
