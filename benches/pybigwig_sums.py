"""pyBigWig baseline for benches/bigwig_sums.rs: exact sums of the same 10,000 regions in
the same 8 bigWigs, `bw.stats(chrom, start, end, type="sum", exact=True)`, one thread.
Prints seconds per full pass (best of N) and checks the sums against peakscope's TSV."""
import sys, time, glob, os
import pyBigWig

d = sys.argv[1]
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
regions = [(c, int(s), int(e)) for c, s, e in (l.split()[:3] for l in open(os.path.join(d, "regions.bed")))]
files = sorted(glob.glob(os.path.join(d, "t*.bw")))
best = float("inf")
for _ in range(reps):
    t = time.perf_counter()
    sums = []
    for f in files:
        bw = pyBigWig.open(f)
        sums.append([bw.stats(c, s, e, type="sum", exact=True)[0] for c, s, e in regions])
        bw.close()
    best = min(best, time.perf_counter() - t)
print(f"pyBigWig: {len(files)} files x {len(regions)} regions, best of {reps}: {best:.3f} s")
if len(sys.argv) > 3:
    got = {}
    for line in open(sys.argv[3]).read().splitlines()[1:]:
        tr, name, size, cov, sm = line.split("\t")[:5]
        got[(tr, name)] = float(sm)
    worst_rel = worst_abs = 0.0
    for f, col in zip(files, sums):
        tr = os.path.basename(f)[:-3]
        for (c, s, e), v in zip(regions, col):
            v = v or 0.0
            g = got[(tr, f"{c}:{s}-{e}")]
            worst_abs = max(worst_abs, abs(g - v))
            if abs(v) >= 1.0:
                worst_rel = max(worst_rel, abs(g - v) / abs(v))
    # pyBigWig returns sums rounded to float32; peakscope sums in float64
    print(f"peakscope vs pyBigWig sums: max relative difference (|sum| >= 1) {worst_rel:.2e}, max absolute {worst_abs:.2e}")
