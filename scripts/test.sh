#!/usr/bin/env bash
# Runs the whole test suite: unit tests, the HA core's decision tests, and the integration tests
# that start real etcd and PostgreSQL processes on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --test
cargo test --locked "$@"
