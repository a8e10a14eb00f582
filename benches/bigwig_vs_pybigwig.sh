#!/usr/bin/env bash
# Side by side on this machine: peakscope's exact sums (criterion bench, then the CLI once)
# against pyBigWig stats(exact=True) on the same 8 bigWigs × 10,000 regions.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PEAKSCOPE_PYTHON:-python3}
T=${CARGO_TARGET_DIR:-target}
cargo bench --bench bigwig_sums -- --noplot
D=$T/bench-data/bigwig_sums
args=(); for f in "$D"/t*.bw; do args+=(--bigwig "$f"); done
s=$(date +%s.%N)
"$T/release/peakscope" summarize --bed "$D/regions.bed" "${args[@]}" -o "$D/peakscope.tsv"
e=$(date +%s.%N)
echo "peakscope summarize (whole process, 8 files x 10,000 regions): $(awk "BEGIN{printf \"%.3f\", $e - $s}") s"
"$PY" benches/pybigwig_sums.py "$D" 3 "$D/peakscope.tsv"
