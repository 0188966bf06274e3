#!/usr/bin/env bash
# Builds the programs praetor ships (praetor, praetorctl, praetor-fence-guard) in release mode,
# statically linked (glibc's static-pie: `-C target-feature=+crt-static`), and prints the
# directory that holds them. Used by scripts/package.sh (the Debian package) and bench/run (so
# the benchmark measures the binaries that ship).
#
# Why static: an agent and its fence guard live for months beside every database server, and a
# dynamically linked Rust program maps libc, libm, libgcc_s and the dynamic loader — about 2 MiB
# of resident pages in the agent and 0.7 MiB in the guard, most of it code the programs never
# run. Linked statically, only the C library functions they call are in the binary. Host names
# are still resolved through /etc/nsswitch.conf's `files` and `dns` sources, which glibc 2.34
# and later carries inside libc itself.
#
# The explicit --target keeps RUSTFLAGS away from build scripts and proc-macros (which must stay
# dynamic); the programs land in target/<host triple>/release/.
set -euo pipefail
cd "$(dirname "$0")/.."
host=$(rustc -vV | sed -n 's/^host: //p')
case "$host" in
  *-linux-gnu) ;;
  *) echo "build-release.sh: static linking is set up for *-linux-gnu hosts, not $host" >&2; exit 1 ;;
esac
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --release --locked --target "$host" --bins "$@" >&2
echo "${CARGO_TARGET_DIR:-$PWD/target}/$host/release"
