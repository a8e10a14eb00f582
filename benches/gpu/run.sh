#!/usr/bin/env bash
# The GPU check (issue: prove the CUDA path and make ISM fast). Build the release binary
# on any machine, carry it and this folder to a GPU machine with python3 + torch 2.11, and
# run:  bash benches/gpu/run.sh [path/to/peakscope] [out-dir]
# Needs the tangermeme 1.6 wheel importable (PYTHONPATH) for the baseline. Recipe used with
# the device tool: `pip download --no-deps tangermeme==1.6.0 -d .whl` here, build
# (`bash scripts/run.sh` or cargo build --release), then run with carry
# ["target/release/peakscope", ".whl"]:
#   PYTHONPATH=$PWD/.whl/tangermeme-1.6.0-py3-none-any.whl bash benches/gpu/run.sh target/release/peakscope $OUT
set -uo pipefail
B=${1:-target/release/peakscope}
OUT=${2:-${OUT:-/tmp/peakscope-gpu}}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
TORCH_LIB=$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
W=$(mktemp -d)
step() { echo; echo "=== $* ($(date +%T))"; }

step "GPU"; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
step "doctor"; "$B" doctor || exit 1
step "inputs"
python3 "$HERE/gen_data.py" "$W"
"$B" faidx "$W/g.fa"
"$B" make-model basset -o "$W/basset.pt" --targets 10
M=(--model "$W/basset.pt" --input-length 1344 --fasta "$W/g.fa")

step "fp32 in Python torch: which switch decides CUDA vs CPU (traced TF32 constants)"
(cd "$HERE" && python3 check_fp32.py "$W/basset.pt")

step "predict: CPU vs CUDA (64 regions; fp32 must be <= 1e-4, tf32/fp16/bf16: what they cost)"
"$B" predict "${M[@]}" --bed "$W/few.bed" --device cpu -o "$OUT/pred_cpu.tsv"
for p in fp32 tf32 fp16 bf16; do
  "$B" predict "${M[@]}" --bed "$W/few.bed" --device cuda --precision $p -o "$OUT/pred_cuda_$p.tsv"
  python3 "$HERE/compare.py" "$OUT/pred_cpu.tsv" "$OUT/pred_cuda_$p.tsv" 4
done

step "ism: CPU vs CUDA (100 bp, 300 mutants)"
R=chr1:100,001-100,100
"$B" ism "${M[@]}" --region $R --device cpu -o "$OUT/ism_cpu.tsv"
for p in fp32 tf32 fp16 bf16; do
  "$B" ism "${M[@]}" --region $R --device cuda --precision $p --batch-size 512 -o "$W/ism_cuda_$p.tsv"
  python3 "$HERE/compare.py" "$OUT/ism_cpu.tsv" "$W/ism_cuda_$p.tsv" 4
done
step "ism deltas vs tangermeme raw outputs on CUDA (fp32)"
python3 "$HERE/tangermeme_ism.py" "$W/basset.pt" --device cuda --compare "$W/ism_cuda_fp32.tsv" --window "$W/ism_window.txt" --start 622 --end 722

step "ISM benchmark: peakscope, 1344 bp window, 4032 mutants"
"$B" bench-ism --model "$W/basset.pt" --device cuda --precision fp32,tf32,fp16,bf16 --batch-sizes 512,1024,4032 --repeats 5 --compare-unoptimized | tee "$OUT/bench_peakscope.tsv"
step "ISM benchmark: tangermeme 1.6 (fast=False), same model and window"
# tangermeme runs the traced file as it is: its float32 convolutions use the baked-in TF32,
# so compare its float32 with peakscope's tf32 (peakscope's fp32 is strict IEEE)
python3 "$HERE/tangermeme_ism.py" "$W/basset.pt" --device cuda --dtypes float32,float16,bfloat16 --batch-sizes 512,1024,4032 --repeats 5 | tee "$OUT/bench_tangermeme.tsv"

step "fast ISM (issue 17): CUDA deltas vs the CPU naive ones, then ms per peak fp32/bf16, fast vs naive (1344 bp, 4032 mutants)"
"$B" ism "${M[@]}" --region $R --device cpu --ism-path naive -o "$W/ism_naive_cpu.tsv"
for p in fp32 bf16; do
  "$B" -v ism "${M[@]}" --region $R --device cuda --precision $p --ism-path fast -o "$W/ism_fast_cuda_$p.tsv" 2>&1 | grep -E "fast ISM|path" || true
  python3 "$HERE/compare.py" "$W/ism_naive_cpu.tsv" "$W/ism_fast_cuda_$p.tsv" 4
done
"$B" bench-ism --model "$W/basset.pt" --device cuda --precision fp32,bf16 --batch-sizes 1024 --repeats 5 --ism-path fast,naive | tee "$OUT/bench_fast_ism.tsv"

step "eval throughput: the demo project (1,466 peaks, 8 cell types) with a paper-size Basset"
"$B" demo --dir "$W/demo" --no-tui
"$B" make-model basset -o "$W/demo/basset8.pt" --targets 8
cat >> "$W/demo/project.toml" <<'TOML'

[[models]]
name = "basset"
path = "basset8.pt"
targets = ["PT", "DT", "Podocyte", "Endothelial", "Myeloid", "Stromal", "Tcell", "Bcell"]
input_length = 1344
TOML
for pb in fp32:256 fp32:1024 tf32:1024 fp16:1024 bf16:1024; do
  p=${pb%:*}; bs=${pb#*:}
  echo "eval $p batch $bs:"
  "$B" eval --config "$W/demo/project.toml" --model basset --device cuda --precision $p --batch-size $bs -o "$OUT/eval_${p}_$bs.json" 2>&1 | grep -E "^evaluated|^basset +(all|ubiquitous|specific) "
done
echo "the five demo models together, fp32:"
"$B" eval --config "$W/demo/project.toml" --model mt_base_rep1 --model mt_base_rep2 --model mt_base_rep3 --model mt_large --model single_task --device cuda --batch-size 1024 -o "$OUT/eval_demo_models.json" 2>&1 | grep -E "^evaluated"

step "prediction throughput: 20000 regions"
for p in fp32 tf32 fp16 bf16; do
  t0=$(date +%s.%N)
  "$B" predict "${M[@]}" --bed "$W/regions.bed" --device cuda --precision $p --batch-size 1024 -o "$W/p.tsv"
  t1=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'predict cuda $p: 20000 regions in {s:.2f} s = {20000/s:.0f} regions/s (process start, FASTA reads and model load included)')" $t0 $t1
done
step "variant scoring (issue 14): 5,000 SNVs, CUDA fp32, ALT windows through the whole model vs from the REF activations"
python3 - "$W" <<'PY'
import sys, random
w = sys.argv[1]
seq = "".join(l.strip() for l in open(f"{w}/g.fa") if not l.startswith(">"))
rng = random.Random(5)
sites = sorted(rng.sample(range(1000, len(seq) - 1000), 5000))
with open(f"{w}/v.vcf", "w") as f:
    f.write(f"##fileformat=VCFv4.2\n##contig=<ID=chr1,length={len(seq)}>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    for p in sites:
        r = seq[p - 1]
        f.write(f"chr1\t{p}\t.\t{r}\t{rng.choice([b for b in 'ACGT' if b != r])}\t.\t.\t.\n")
PY
printf '[genome]\nfasta = "g.fa"\n[[models]]\nname = "basset"\npath = "basset.pt"\ninput_length = 1344\n' > "$W/v.toml"
for ap in naive auto; do
  t0=$(date +%s.%N)
  "$B" variants --config "$W/v.toml" --vcf "$W/v.vcf" --device cuda --batch-size 1024 --alt-path $ap -o "$W/scores_$ap.tsv" 2>&1 | grep -E "^variants:|SNV ALT"
  t1=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'variants cuda --alt-path $ap: 5000 SNVs in {s:.2f} s = {5000/s:.0f} variants/s (whole command)')" $t0 $t1
done
python3 - "$W" <<'PY'
import sys, csv
w = sys.argv[1]
rows = lambda p: [(float(r["ref_pred"]), float(r["alt_pred"])) for r in csv.DictReader(open(p), delimiter="\t")]
a, b = rows(f"{w}/scores_auto.tsv"), rows(f"{w}/scores_naive.tsv")
print(f"auto vs naive: {len(a)} rows, max relative difference {max(abs(x - y) / max(abs(y), 1e-30) for u, v in zip(a, b) for x, y in zip(u, v)):.1e}")
PY
echo done
