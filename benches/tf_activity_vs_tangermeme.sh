#!/usr/bin/env bash
# Motif-insertion TF activity: 50 JASPAR motifs × 200 backgrounds with the paper-size Basset
# (1344 bp, 10 outputs) on one device: `peakscope tf-activity` against tangermeme 1.6
# `marginalize` on the same TorchScript file, the same shuffled backgrounds and the same
# inserted sites (read back from peakscope's --backgrounds-fasta and --per-background), side by
# side on this machine; prints both times, the ratio and the largest relative difference of
# the per-background deltas.
#   bash benches/tf_activity_vs_tangermeme.sh [cpu|cuda] [motifs] [backgrounds]
# Needs the release binary and a Python with torch 2.11 + tangermeme 1.6 (PEAKSCOPE_PYTHON).
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=${1:-cpu}
NM=${2:-50}
NB=${3:-200}
PY=${PEAKSCOPE_PYTHON:-python3}
B=${CARGO_TARGET_DIR:-target}/release/peakscope
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$B" make-model basset -o "$W/basset.pt" --targets 10 --seed 1 2>/dev/null
"$PY" - "$W" "$NM" <<'PY'
import random, sys
w, nm = sys.argv[1], int(sys.argv[2])
random.seed(1)
with open(f"{w}/genome.fa", "w") as f:
    f.write(">chr1\n")
    s = "".join(random.choice("ACGT") for _ in range(2_000_000))
    for i in range(0, len(s), 60):
        f.write(s[i:i + 60] + "\n")
with open(f"{w}/peaks.bed", "w") as f:
    for i in range(500):
        f.write(f"chr1\t{2000 + i * 3900}\t{2300 + i * 3900}\tp{i}\n")
# the first NM motifs of the shipped JASPAR file
text = open("assets/motifs/JASPAR2024_CORE_vertebrates_latest.meme").read()
head, *blocks = text.split("\nMOTIF ")
open(f"{w}/motifs.meme", "w").write(head + "".join("\nMOTIF " + b for b in blocks[:nm]) + "\n")
open(f"{w}/project.toml", "w").write('[genome]\nfasta = "genome.fa"\n\n[peaks]\nfile = "peaks.bed"\n\n[[models]]\nname = "basset"\npath = "basset.pt"\ninput_length = 1344\nbatch_size = 64\n')
PY
"$B" faidx "$W/genome.fa" 2>/dev/null
echo "# peakscope tf-activity ($NM motifs × $NB backgrounds, $DEV)"
T0=$(date +%s.%N)
"$B" tf-activity --config "$W/project.toml" --motifs "$W/motifs.meme" --backgrounds "$NB" --device "$DEV" \
  -o "$W/act.tsv" --per-background "$W/per.tsv" --backgrounds-fasta "$W/bg.fa" 2>&1 | grep -v '^\s*$' | tail -2
T1=$(date +%s.%N)
echo "peakscope wall (process, incl. model load and writing the per-background TSV): $(echo "$T1 - $T0" | bc) s"
echo "# tangermeme marginalize"
"$PY" - "$W" "$DEV" "$(echo "$T1 - $T0" | bc)" <<'PY'
import csv, sys, time, warnings
warnings.simplefilter("ignore")
import torch
from tangermeme.marginalize import marginalize
from tangermeme.utils import one_hot_encode
w, dev, ps = sys.argv[1], sys.argv[2], float(sys.argv[3])
torch.set_num_threads(torch.get_num_threads())
model = torch.jit.load(f"{w}/basset.pt").eval().to(dev)
seqs = [l.strip() for l in open(f"{w}/bg.fa") if not l.startswith(">")]
X = torch.stack([one_hot_encode(s, ignore=["N"]) for s in seqs]).float()
rows = list(csv.DictReader(open(f"{w}/per.tsv"), delimiter="\t"))
ours, sites, start = {}, {}, {}
for r in rows:
    b = int(r["background"][1:])
    ours[(r["motif"], b, r["track"])] = float(r["delta"])
    sites.setdefault(r["motif"], {})[b] = r["site"]
    start[r["motif"]] = int(r["start"])
motifs = list(sites)
mts = {m: torch.stack([one_hot_encode(sites[m][b]) for b in range(len(seqs))]).float() for m in motifs}
t0 = time.time()
res = {m: marginalize(model, X, mts[m], start=start[m], device=dev, batch_size=64, verbose=False) for m in motifs}
tm = time.time() - t0
worst = 0.0
for m, (before, after) in res.items():
    d = (after.double() - before.double()).tolist()
    for b in range(len(seqs)):
        for t, v in enumerate(d[b]):
            o = ours[(m, b, f"t{t}")]
            worst = max(worst, abs(o - v) / max(abs(v), 1e-6))
print(f"tangermeme marginalize: {tm:.1f} s ({len(motifs)} motifs × {len(seqs)} backgrounds; model load and one-hot encoding not counted)")
print(f"ratio tangermeme / peakscope wall = {tm / ps:.2f}x")
print(f"max relative difference of per-background deltas: {worst:.2e} (batch shapes differ: float32 kernels differ in the last bits)")
PY
