"""tangermeme 1.6 saturation_mutagenesis on the same TorchScript file: timing, and (with
--compare) agreement with a `peakscope ism` TSV on the same window.

usage: tangermeme_ism.py MODEL.pt --device cuda --dtypes float32,float16 --batch-sizes 256,1024
                         [--compare ism.tsv --window ism_window.txt --start 622 --end 722]
"""
import argparse, time, sys
import torch
from tangermeme.saturation_mutagenesis import saturation_mutagenesis

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from gen_data import random_dna


def one_hot(seq):
    idx = {"A": 0, "C": 1, "G": 2, "T": 3}
    x = torch.zeros(1, 4, len(seq))
    for i, c in enumerate(seq):
        if c in idx:
            x[0, idx[c], i] = 1
    return x


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtypes", default="float32")
    p.add_argument("--batch-sizes", default="256")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--compare")
    p.add_argument("--window")
    p.add_argument("--start", type=int)
    p.add_argument("--end", type=int)
    p.add_argument("--compare-dtype", default="float32")
    a = p.parse_args()
    model = torch.jit.load(a.model, map_location=a.device).eval()
    if a.compare:
        ws, seq = open(a.window).read().split()
        ws = int(ws)
        X = one_hot(seq)
        dt = getattr(torch, a.compare_dtype)
        y0, y_hat = saturation_mutagenesis(model, X, start=a.start, end=a.end, batch_size=256,
                                           device=a.device, dtype=dt, raw_outputs=True, fast=False)
        y0, y_hat = y0.double(), y_hat.double()  # (1, T), (1, 4, W, T)
        worst, n = 0.0, 0
        alts = {"A": 0, "C": 1, "G": 2, "T": 3}
        with open(a.compare) as f:
            header = f.readline().split()
            for line in f:
                pos, ref, alt, target, rp, ap, delta = line.split()
                t = int(target[1:])
                j = int(pos) - ws - a.start
                ref_t = y0[0, t].item()
                d_t = y_hat[0, alts[alt], j, t].item() - ref_t
                worst = max(worst, abs(d_t - float(delta)))
                n += 1
        print(f"compare\t{a.compare}\trows={n}\tmax_abs_delta_diff={worst:.3g}")
        return
    seq = random_dna(1344, 7)
    X = one_hot(seq)
    print("tool\tdevice\tdtype\tbatch\tms_per_peak_median\tms_per_peak_min")
    for dts in a.dtypes.split(","):
        dt = getattr(torch, dts)
        for bs in [int(b) for b in a.batch_sizes.split(",")]:
            def run():
                return saturation_mutagenesis(model, X, batch_size=bs, device=a.device, dtype=dt,
                                              raw_outputs=True, fast=False)
            run()
            times = []
            for _ in range(a.repeats):
                if a.device.startswith("cuda"):
                    torch.cuda.synchronize()
                t = time.perf_counter()
                run()
                if a.device.startswith("cuda"):
                    torch.cuda.synchronize()
                times.append((time.perf_counter() - t) * 1e3)
            times.sort()
            print(f"tangermeme\t{a.device}\t{dts}\t{bs}\t{times[len(times)//2]:.2f}\t{times[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
