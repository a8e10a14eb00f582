#!/usr/bin/env bash
# Variant scoring: N SNVs (default 10,000) with the paper-size Basset (1344 bp, 10 outputs)
# on CPU: `peakscope variants` against a naive Python loop (Python torch on the same
# TorchScript file, REF and ALT one-hot built with numpy, batches of the same size), side by
# side on this machine. Prints variants/s of both and the ratio.
#   bash benches/variants_vs_python.sh [n_variants] [batch_size] [device]
# Needs the release binary and PEAKSCOPE_PYTHON (torch 2.11, numpy).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
BS=${2:-64}
DEV=${3:-cpu}
PY=${PEAKSCOPE_PYTHON:-python3}
B=${CARGO_TARGET_DIR:-target}/release/peakscope
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$B" make-model basset -o "$W/basset.pt" --targets 10 --seed 1 2>/dev/null
# a random 3-chromosome genome and N SNVs (REF from the genome) at least 700 bp from the ends
"$PY" - "$W" "$N" <<'PY'
import sys, random
w, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(1)
chroms = {f"chr{i}": "".join(rng.choice("ACGT") for _ in range(400_000)) for i in (1, 2, 3)}
with open(f"{w}/genome.fa", "w") as f:
    for c, s in chroms.items():
        f.write(f">{c}\n")
        for i in range(0, len(s), 60):
            f.write(s[i:i + 60] + "\n")
sites = sorted((c, rng.randrange(700, len(s) - 700)) for c, s in chroms.items() for _ in range(n // 3 + 1))[:n]
with open(f"{w}/v.vcf", "w") as f:
    f.write("##fileformat=VCFv4.2\n" + "".join(f"##contig=<ID={c},length={len(s)}>\n" for c, s in chroms.items()))
    f.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    for c, p in sites:
        r = chroms[c][p - 1]
        f.write(f"{c}\t{p}\t.\t{r}\t{rng.choice([b for b in 'ACGT' if b != r])}\t.\t.\t.\n")
PY
"$B" faidx "$W/genome.fa" 2>/dev/null
cat > "$W/p.toml" <<TOML
[genome]
fasta = "genome.fa"
[[models]]
name = "basset"
path = "basset.pt"
input_length = 1344
batch_size = $BS
TOML
echo "# peakscope variants ($N SNVs, batch $BS sequences, $DEV), ALT alleles on the whole model (--alt-path naive)"
T0=$(date +%s.%N)
"$B" variants --config "$W/p.toml" --vcf "$W/v.vcf" -o "$W/scores_naive.tsv" --device "$DEV" --alt-path naive 2>&1 | grep '^variants:'
T1=$(date +%s.%N)
echo "# peakscope variants ($N SNVs, batch $BS sequences, $DEV), default path (--alt-path auto: SNV ALT windows reuse their REF window's activations)"
T2=$(date +%s.%N)
"$B" variants --config "$W/p.toml" --vcf "$W/v.vcf" -o "$W/scores.tsv" --device "$DEV" 2>&1 | grep '^variants:'
T3=$(date +%s.%N)
# the two paths agree (sad relative to the largest |sad|, heights relative to the largest)
"$PY" - "$W" <<'PY'
import sys, csv
w = sys.argv[1]
def rows(p):
    with open(p) as f:
        return [(float(r["ref_pred"]), float(r["alt_pred"]), float(r["sad"])) for r in csv.DictReader(f, delimiter="\t")]
a, b = rows(f"{w}/scores.tsv"), rows(f"{w}/scores_naive.tsv")
assert len(a) == len(b), (len(a), len(b))
hs = max(max(abs(x[0]), abs(x[1])) for x in b)
ss = max(abs(x[2]) for x in b)
rel = lambda i: max(abs(x[i] - y[i]) / max(abs(y[i]), 1e-30) for x, y in zip(a, b))
print(f"auto vs naive: {len(a)} rows; ref_pred differ by {rel(0):.1e} and alt_pred by {rel(1):.1e} relative (value by value), "
      f"{max(max(abs(x[0]-y[0]), abs(x[1]-y[1])) for x, y in zip(a, b)) / hs:.1e} of the largest; sad by {max(abs(x[2]-y[2]) for x, y in zip(a, b)) / ss:.1e} of the largest")
PY
echo "# naive Python loop (torch $("$PY" -c 'import torch; print(torch.__version__)'), numpy one-hot, batch $BS sequences)"
"$PY" - "$W" "$BS" "$DEV" "$T0" "$T1" "$T2" "$T3" <<'PY'
import sys, time
import numpy as np, torch
w, bs, dev = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t0, t1, t2, t3 = map(float, sys.argv[4:8])
start = time.time()
genome, name = {}, None
for line in open(f"{w}/genome.fa"):
    if line.startswith(">"):
        name = line[1:].strip(); genome[name] = []
    else:
        genome[name].append(line.strip())
genome = {k: "".join(v) for k, v in genome.items()}
m = torch.jit.load(f"{w}/basset.pt").to(dev).eval()
lut = np.full(256, 4, dtype=np.int64)
for i, b in enumerate(b"ACGT"):
    lut[b] = i
eye = np.vstack([np.eye(4, dtype=np.float32), np.zeros((1, 4), dtype=np.float32)])
def onehot(seqs):
    idx = lut[np.frombuffer("".join(seqs).encode(), dtype=np.uint8)].reshape(len(seqs), -1)
    return torch.from_numpy(np.ascontiguousarray(eye[idx].transpose(0, 2, 1)))
variants = [l.split("\t")[:5] for l in open(f"{w}/v.vcf") if not l.startswith("#")]
L = 1344
out = []
per = max(bs // 2, 1)  # REF + ALT of a variant in the same batch
with torch.no_grad():
    for i in range(0, len(variants), per):
        seqs = []
        for c, p, _, r, a in variants[i:i + per]:
            s = int(p) - 1 - L // 2
            ref = genome[c][s:s + L]
            o = int(p) - 1 - s
            seqs += [ref, ref[:o] + a + ref[o + 1:]]
        y = m(onehot(seqs).to(dev)).double().cpu().numpy()
        for k in range(0, len(seqs), 2):
            out.append(y[k + 1] - y[k])
py_s = time.time() - start
naive_s, ps_s = t1 - t0, t3 - t2
n = len(variants)
print(f"python: {n} variants in {py_s:.1f} s = {n / py_s:.0f} variants/s")
print(f"peakscope --alt-path naive (whole command, incl. startup and writing {n * 10} rows): {n} variants in {naive_s:.1f} s = {n / naive_s:.0f} variants/s ({py_s / naive_s:.2f}x python)")
print(f"peakscope (default, whole command, incl. startup and writing {n * 10} rows): {n} variants in {ps_s:.1f} s = {n / ps_s:.0f} variants/s")
print(f"speed ratio peakscope/python = {py_s / ps_s:.2f}x")
PY
