#!/usr/bin/env bash
# Build peakscope (release) and run it. With no arguments: the demo — in a terminal it
# opens the UI on the demo project; otherwise it writes the project and checks it with
# `peakscope doctor`. With arguments: they are passed to peakscope.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
cargo build --release --locked --quiet
bin="${CARGO_TARGET_DIR:-target}/release/peakscope"
if [ $# -gt 0 ]; then
  exec "$bin" "$@"
elif [ -t 1 ] && [ -t 0 ]; then
  exec "$bin" demo
else
  cfg=$("$bin" demo --no-tui)
  "$bin" doctor "$cfg"
fi
