#!/usr/bin/env bash
# Fast ISM (issue 17), side by side on this machine, CPU:
#  1. the paper-size Basset (`peakscope make-model basset`, 10 targets), one 1344-bp window,
#     4032 mutants: peakscope fast and naive (`bench-ism`), and tangermeme 1.6
#     `saturation_mutagenesis(fast=True)` on the equivalent eager nn.Module rebuilt from the
#     same file's weights (benches/tangermeme_fastism.py; its fastISM refuses TorchScript);
#  2. a ChromBPNet-like dilated residual model (2114 bp, 8 dilated layers, counts head):
#     peakscope fast vs naive over a central region.
#   bash benches/fast_ism.sh [repeats] [chrombpnet region bp]
# Needs the release binary and a Python with torch 2.11 + tangermeme 1.6 (PEAKSCOPE_PYTHON,
# default python3; `. scripts/env.sh` sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${1:-3}
CBP_REGION=${2:-200}
PY=${PEAKSCOPE_PYTHON:-python3}
B=${CARGO_TARGET_DIR:-target}/release/peakscope
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$B" make-model basset -o "$W/basset.pt" --targets 10 --seed 1 2>/dev/null
echo "# machine: $(nproc) cores; $(date -u +%FT%TZ)"
echo "# 1. Basset 1344 bp, 4032 mutants: peakscope fast and naive"
"$B" bench-ism --model "$W/basset.pt" --device cpu --ism-path fast,naive --repeats "$REPEATS" | tee "$W/ps.tsv"
echo "# 1. the same model and window: tangermeme 1.6 on the eager rebuild"
"$PY" benches/tangermeme_fastism.py "$W/basset.pt" --repeats "$REPEATS" | tee "$W/tm.tsv"
echo "# 2. ChromBPNet-like, 2114 bp, ${CBP_REGION}-bp central region: peakscope fast and naive"
"$PY" benches/chrombpnet_like.py "$W/cbp.pt"
"$B" bench-ism --model "$W/cbp.pt" --input-length 2114 --region-length "$CBP_REGION" --height-head counts --device cpu --ism-path fast,naive --repeats "$REPEATS" | tee "$W/cbp.tsv"
"$PY" - "$W/ps.tsv" "$W/tm.tsv" "$W/cbp.tsv" <<'PY'
import sys
def rows(path):
    lines = [l.split("\t") for l in open(path).read().splitlines() if l and not l.startswith("#")]
    head = lines[0]
    return [dict(zip(head, l)) for l in lines[1:]]
def best(rs, key, val):
    return min(float(r["ms_per_peak_median"]) for r in rs if r[key] == val)
ps, tm, cbp = rows(sys.argv[1]), rows(sys.argv[2]), rows(sys.argv[3])
fast, naive = best(ps, "path", "fast"), best(ps, "path", "naive")
print(f"Basset 1344 bp, 4032 mutants, CPU, median ms per peak: peakscope fast {fast:.0f}, peakscope naive {naive:.0f} ({naive / fast:.1f}x)")
for r in tm:
    t = float(r["ms_per_peak_median"])
    print(f"  tangermeme {r['variant']}: {t:.0f} ms -> peakscope fast is {t / fast:.2f}x faster")
cf, cn = best(cbp, "path", "fast"), best(cbp, "path", "naive")
print(f"ChromBPNet-like 2114 bp, {cbp[0]['mutants']} mutants, CPU: fast {cf:.0f} ms, naive {cn:.0f} ms ({cn / cf:.1f}x)")
PY
