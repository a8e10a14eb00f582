#!/usr/bin/env bash
# Build peakscope (release) and run it. With no arguments: write the demo project
# (`peakscope demo`) and check it (`peakscope doctor`); otherwise the arguments are passed
# to peakscope.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
cargo build --release --locked --quiet
bin="${CARGO_TARGET_DIR:-target}/release/peakscope"
if [ $# -eq 0 ]; then
  cfg=$("$bin" demo)
  "$bin" doctor "$cfg"
else
  exec "$bin" "$@"
fi
