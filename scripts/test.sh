#!/usr/bin/env bash
# Run the whole test suite: unit and integration tests (including the comparisons with
# Python torch and pyBigWig), doc tests, and a build of the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
# The comparison tests (pyBigWig, Python torch, scipy/scikit-learn) FAIL without the reference
# python (tests/common/mod.rs); PEAKSCOPE_SKIP_REFERENCE=1 skips them on purpose.
if [ "${PEAKSCOPE_SKIP_REFERENCE:-}" != 1 ]; then
  if [ -z "${PEAKSCOPE_PYTHON:-}" ]; then
    if [ -x "$PEAKSCOPE_CACHE/py/bin/python" ]; then PEAKSCOPE_PYTHON="$PEAKSCOPE_CACHE/py/bin/python"; else PEAKSCOPE_PYTHON="$(command -v python3 || true)"; fi
  fi
  export PEAKSCOPE_PYTHON
  if [ -z "$PEAKSCOPE_PYTHON" ] || ! "$PEAKSCOPE_PYTHON" -c 'import torch, numpy, scipy, sklearn, pyBigWig' 2>/dev/null; then
    echo "[peakscope test] the reference python '${PEAKSCOPE_PYTHON}' lacks torch/numpy/scipy/scikit-learn/pyBigWig: set PEAKSCOPE_PYTHON to one that has them, or PEAKSCOPE_SKIP_REFERENCE=1 to skip those comparisons" >&2
    exit 1
  fi
fi
cargo test --release --locked --lib --bins --tests --examples "$@"
cargo test --release --locked --doc
cargo bench --locked --no-run --quiet
