#!/usr/bin/env bash
# Build peakscope (release) and run it. With no arguments: `peakscope --help` and
# `peakscope doctor`; otherwise the arguments are passed to peakscope.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
cargo build --release --locked --quiet
bin="${CARGO_TARGET_DIR:-target}/release/peakscope"
if [ $# -eq 0 ]; then
  "$bin" --help
  echo
  "$bin" doctor
else
  exec "$bin" "$@"
fi
