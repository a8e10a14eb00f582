"""tangermeme 1.6 `saturation_mutagenesis(fast=True)` on the eager nn.Module equivalent of a
TorchScript Basset file (`peakscope make-model basset`), rebuilt here from the file's own
weights (tangermeme's fast path captures eager modules with torch.export and refuses
TorchScript). Prints one TSV row per variant:

  tool  variant  device  batch  mutants  ms_per_peak_median  ms_per_peak_min

Variants: `fast=True` as a user calls it (tangermeme skips its fast path when it estimates the
naive job under 30 s, and times a check batch before using it); `fast=True (forced)`, the
same call with that 30-s threshold set to 0 so the fast path is always attempted (its capture
and check included, as a user pays them per call); `fastISM kernel`, tangermeme's fast path
object captured once outside the timing and then run on all edits (its best case); and
`fast=False`.

usage: tangermeme_fastism.py MODEL.pt [--length 1344] [--batch-size 256] [--repeats 3]
                             [--device cpu] [--naive] [--kernel-only]
"""
import argparse
import sys
import time
import warnings

import torch
import torch.nn as nn

import tangermeme.saturation_mutagenesis as sm

sys.path.insert(0, __file__.rsplit("/", 1)[0] + "/gpu")
from gen_data import random_dna  # noqa: E402


def const(v):
    """The value of a graph constant or of a list of constants."""
    n = v.node()
    if n.kind() == "prim::ListConstruct":
        return [const(i) for i in n.inputs()]
    return v.toIValue()


def eager_from_traced(path):
    """nn.Sequential with the traced graph's operations and weights, in graph order."""
    ts = torch.jit.load(path, map_location="cpu").eval()
    layers = []
    for n in ts.graph.nodes():
        k = n.kind()
        ins = list(n.inputs())
        if k == "aten::gelu":
            layers.append(nn.GELU(approximate=const(ins[1])))
        elif k == "aten::_convolution":
            w = const(ins[1])
            b = const(ins[2])
            conv = nn.Conv1d(w.shape[1], w.shape[0], w.shape[2], stride=const(ins[3])[0], padding=const(ins[4])[0],
                             dilation=const(ins[5])[0], groups=const(ins[8]), bias=b is not None)
            conv.weight.data.copy_(w)
            if b is not None:
                conv.bias.data.copy_(b)
            layers.append(conv)
        elif k == "aten::batch_norm":
            w, b, mean, var = (const(i) for i in ins[1:5])
            bn = nn.BatchNorm1d(w.shape[0], eps=const(ins[7]))
            bn.weight.data.copy_(w)
            bn.bias.data.copy_(b)
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
            layers.append(bn)
        elif k == "aten::max_pool1d":
            layers.append(nn.MaxPool1d(const(ins[1])[0], const(ins[2])[0], const(ins[3])[0], const(ins[4])[0],
                                       ceil_mode=const(ins[5])))
        elif k == "aten::flatten":
            layers.append(nn.Flatten(const(ins[1]), const(ins[2])))
        elif k == "aten::linear":
            w, b = const(ins[1]), const(ins[2])
            lin = nn.Linear(w.shape[1], w.shape[0])
            lin.weight.data.copy_(w)
            lin.bias.data.copy_(b)
            layers.append(lin)
        elif k == "aten::softplus":
            layers.append(nn.Softplus(const(ins[1]), const(ins[2])))
        elif k.startswith("aten::"):
            raise SystemExit(f"{path}: cannot rebuild {k} eagerly")
    model = nn.Sequential(*layers).eval()
    return ts, model


def one_hot(seq):
    idx = {"A": 0, "C": 1, "G": 2, "T": 3}
    x = torch.zeros(1, 4, len(seq))
    for i, c in enumerate(seq):
        x[0, idx[c], i] = 1
    return x


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--length", type=int, default=1344)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--naive", action="store_true", help="also time fast=False")
    p.add_argument("--kernel-only", action="store_true", help="time only the captured fast path (no saturation_mutagenesis calls)")
    a = p.parse_args()
    ts, model = eager_from_traced(a.model)
    X = one_hot(random_dna(a.length, 7))
    with torch.no_grad():
        xs = torch.cat([X, X.flip(2)])
        diff = (ts(xs) - model(xs)).abs().max().item()
    if diff > 1e-5:
        raise SystemExit(f"the eager rebuild differs from the TorchScript file by {diff}")
    model = model.to(a.device)
    variants = [] if a.kernel_only else [("fast=True", True, None), ("fast=True (forced)", True, 0.0)]
    if a.naive:
        variants.append(("fast=False", False, None))
    print("tool\tvariant\tdevice\tbatch\tmutants\tms_per_peak_median\tms_per_peak_min", flush=True)
    default_min = sm._FAST_MIN_SECONDS
    for name, fast, min_seconds in variants:
        sm._FAST_MIN_SECONDS = default_min if min_seconds is None else min_seconds

        def run():
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                sm.saturation_mutagenesis(model, X, batch_size=a.batch_size, device=a.device, raw_outputs=True, fast=fast)
            return [str(x.message) for x in w]

        msgs = run()
        for m in msgs:
            print(f"# {name}: {m}", file=sys.stderr)
        times = []
        for _ in range(a.repeats):
            t = time.perf_counter()
            run()
            times.append((time.perf_counter() - t) * 1e3)
        times.sort()
        print(f"tangermeme\t{name}\t{a.device}\t{a.batch_size}\t{3 * a.length}\t{times[len(times) // 2]:.2f}\t{times[0]:.2f}", flush=True)
    sm._FAST_MIN_SECONDS = default_min
    # the captured fast path alone
    Xi = sm._to_int8(X)
    _, chars, positions = sm._single_edits(Xi[0], 0, a.length)
    with torch.no_grad():
        fast = sm._FastISM(model, Xi, None, 0, a.length, torch.device(a.device), torch.float32, False)
        fast.predict_edits(0, chars, positions, a.batch_size)
        times = []
        for _ in range(a.repeats):
            t = time.perf_counter()
            fast.predict_edits(0, chars, positions, a.batch_size)
            times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    print(f"tangermeme\tfastISM kernel\t{a.device}\t{a.batch_size}\t{len(chars)}\t{times[len(times) // 2]:.2f}\t{times[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
