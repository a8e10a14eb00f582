#!/usr/bin/env bash
# Run the whole test suite: unit and integration tests (including the comparisons with
# Python torch and pyBigWig), doc tests, and a build of the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
cargo test --release --locked --lib --bins --tests --examples "$@"
cargo test --release --locked --doc
cargo bench --locked --no-run --quiet
