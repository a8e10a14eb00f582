"""Compare numeric columns of two peakscope TSVs (same rows): max abs and relative error."""
import sys

def load(p):
    rows = [l.rstrip("\n").split("\t") for l in open(p)]
    return rows[0], rows[1:]

def main(a, b, first_numeric):
    ha, ra = load(a)
    hb, rb = load(b)
    assert ha == hb and len(ra) == len(rb), "different shapes"
    worst_abs = worst_rel = 0.0
    for x, y in zip(ra, rb):
        for u, v in zip(x[first_numeric:], y[first_numeric:]):
            u, v = float(u), float(v)
            worst_abs = max(worst_abs, abs(u - v))
            worst_rel = max(worst_rel, abs(u - v) / max(abs(u), 1e-6))
    print(f"{a} vs {b}: rows={len(ra)} max_abs={worst_abs:.3g} max_rel={worst_rel:.3g}")

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
