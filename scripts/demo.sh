#!/usr/bin/env bash
# Builds praetor and starts the demo: etcd and a three-member group on 127.0.0.1, until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --release --locked --workspace --bins
exec ./target/release/praetor-demo "$@"
