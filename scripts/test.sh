#!/usr/bin/env bash
# Runs the whole test suite: unit tests, the HA core's decision tests, the integration tests that
# start real etcd and PostgreSQL processes on 127.0.0.1, and the Debian package check.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --test
cargo test --locked --workspace "$@"
# The Debian package: built with cargo-deb and checked unpacked into a clean tree (no install).
if [ $# -eq 0 ]; then
  bash scripts/package.sh --check
fi
