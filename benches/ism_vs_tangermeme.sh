#!/usr/bin/env bash
# ISM of one 1344-bp window (4032 mutants) with the paper-size Basset model: peakscope
# `bench-ism` against tangermeme 1.6 `saturation_mutagenesis(fast=False)` on the same
# TorchScript file and sequence, side by side on this machine.
#   bash benches/ism_vs_tangermeme.sh [cpu|cuda] [batch sizes] [repeats]
# Needs the release binary and a Python with torch 2.11 + tangermeme 1.6
# (PEAKSCOPE_PYTHON, default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=${1:-cpu}
BS=${2:-64}
REPEATS=${3:-3}
PY=${PEAKSCOPE_PYTHON:-python3}
B=${CARGO_TARGET_DIR:-target}/release/peakscope
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$B" make-model basset -o "$W/basset.pt" --targets 10 --seed 1 2>/dev/null
echo "# peakscope"
"$B" bench-ism --model "$W/basset.pt" --device "$DEV" --batch-sizes "$BS" --repeats "$REPEATS" | tee "$W/ps.tsv"
echo "# tangermeme"
"$PY" benches/gpu/tangermeme_ism.py "$W/basset.pt" --device "$DEV" --dtypes float32 --batch-sizes "$BS" --repeats "$REPEATS" | tee "$W/tm.tsv"
"$PY" - "$W/ps.tsv" "$W/tm.tsv" <<'PY'
import sys
ps = min(float(l.split("\t")[5]) for l in open(sys.argv[1]).read().splitlines()[1:])
tm = min(float(l.split("\t")[4]) for l in open(sys.argv[2]).read().splitlines()[1:])
print(f"best median ms per peak: peakscope {ps:.1f}, tangermeme {tm:.1f}; speed ratio peakscope/tangermeme = {tm/ps:.2f}x")
PY
