"""Write the GPU check's inputs: a random genome, regions, and the ISM window sequence.

The sequence generator is the same xorshift as `peakscope bench-ism` (random_dna), so the
Rust and Python sides see identical windows.
"""
import sys, os, random

M = (1 << 64) - 1


def random_dna(n, seed):
    x = ((seed * 0x9E3779B97F4A7C15) & M) | 1
    out = []
    for _ in range(n):
        x ^= (x << 13) & M
        x ^= x >> 7
        x ^= (x << 17) & M
        out.append("ACGT"[(x >> 33) % 4])
    return "".join(out)


def main(d, n_regions=20000):
    chrom = random_dna(400_000, 11)
    with open(os.path.join(d, "g.fa"), "w") as f:
        f.write(">chr1\n")
        for i in range(0, len(chrom), 60):
            f.write(chrom[i:i + 60] + "\n")
    rng = random.Random(5)
    with open(os.path.join(d, "regions.bed"), "w") as f:
        for i in range(n_regions):
            s = rng.randrange(1000, len(chrom) - 2000)
            f.write(f"chr1\t{s}\t{s + 200}\tr{i}\n")
    with open(os.path.join(d, "few.bed"), "w") as f:
        for i in range(64):
            s = 2000 + i * 5000
            f.write(f"chr1\t{s}\t{s + 200}\tf{i}\n")
    # ISM comparison window: region chr1:100,001-100,100 -> [100000, 100100), centre 100050
    ws = 100050 - 672
    with open(os.path.join(d, "ism_window.txt"), "w") as f:
        f.write(f"{ws}\t{chrom[ws:ws + 1344]}\n")


if __name__ == "__main__":
    main(sys.argv[1])
