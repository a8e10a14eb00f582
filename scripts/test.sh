#!/usr/bin/env bash
# Run the whole test suite (unit, integration, reference comparisons, doc tests) and
# check that the benches compile.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
cargo test --release --locked --all-targets "$@"
cargo test --release --locked --doc
