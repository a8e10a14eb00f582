#!/usr/bin/env python3
"""Compare the "metrics" of two peakscope metrics.json files: same keys, same nulls, every
number within a tolerance (default 1e-12). Exit 1 and name the first differences otherwise.

    python3 compare_metrics.py single.json merged.json [--tol 1e-12]
"""
import json
import math
import sys


def walk(a, b, path, out, tol):
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            out.append(f"{path}: keys differ: {sorted(set(a) ^ set(b))}")
        for k in sorted(set(a) & set(b)):
            walk(a[k], b[k], f"{path}/{k}", out, tol)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: lengths {len(a)} vs {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            walk(x, y, f"{path}[{i}]", out, tol)
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        d = abs(a - b)
        walk.max = max(walk.max, d)
        if not (d <= tol or (math.isnan(a) and math.isnan(b))):
            out.append(f"{path}: {a!r} vs {b!r} (|diff| {d:.3g})")
    elif a != b:
        out.append(f"{path}: {a!r} vs {b!r}")


def main():
    args = [x for x in sys.argv[1:] if not x.startswith("--")]
    tol = float(sys.argv[sys.argv.index("--tol") + 1]) if "--tol" in sys.argv else 1e-12
    if "--tol" in sys.argv:
        args.remove(sys.argv[sys.argv.index("--tol") + 1])
    a, b = (json.load(open(p))["metrics"] for p in args[:2])
    walk.max = 0.0
    out = []
    walk(a, b, "metrics", out, tol)
    if out:
        print(f"{len(out)} difference(s) beyond {tol}:", *out[:20], sep="\n  ")
        sys.exit(1)
    print(f"metrics equal within {tol} (max |diff| {walk.max:.3g})")


main()
