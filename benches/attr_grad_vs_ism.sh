#!/usr/bin/env bash
# Gradient × input against ISM for one 1344-bp window of the paper-size Basset (10 outputs):
# `peakscope attr --method grad` (one forward, 10 backwards) vs `--method ism` (4032 mutants)
# on the same region and device, side by side; prints both times and the ratio.
#   bash benches/attr_grad_vs_ism.sh [cpu|cuda] [repeats]
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=${1:-cpu}
REPEATS=${2:-3}
B=${CARGO_TARGET_DIR:-target}/release/peakscope
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$B" make-model basset -o "$W/basset.pt" --targets 10 --seed 1 2>/dev/null
python3 -c "
import random; random.seed(2); s=''.join(random.choice('ACGT') for _ in range(5000))
open('$W/g.fa','w').write('>chr1\n'+'\n'.join(s[i:i+60] for i in range(0,len(s),60))+'\n')"
"$B" faidx "$W/g.fa" 2>/dev/null
best() { sort -g | head -1; }
for m in grad ism; do
  for _ in $(seq "$REPEATS"); do
    "$B" attr --model "$W/basset.pt" --fasta "$W/g.fa" --input-length 1344 --region chr1:1829-3172 --method $m --device "$DEV" -o "$W/$m.tsv" 2>&1 \
      | sed -n 's/.* in \([0-9.]*\) s on.*/\1/p'
  done | best > "$W/$m.s"
  echo "$m: best of $REPEATS = $(cat "$W/$m.s") s per 1344-bp window (10 outputs)"
done
echo "ratio ism / grad = $(echo "scale=1; $(cat "$W/ism.s") / $(cat "$W/grad.s")" | bc)x"
