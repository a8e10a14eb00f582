"""Does the input's memory layout change GPU ISM speed? Times the Basset TorchScript forward
with (N, 4, L) contiguous input vs the same values stored length-major ("channels-last"
1-D: strides (4L, 1, 4)), under fp16/bf16 autocast, plain and frozen+optimized; then
profiles the fastest variant.

usage: profile_layout.py MODEL.pt
"""
import sys, time
import torch

path = sys.argv[1]
dev = "cuda"
torch.backends.cudnn.benchmark = True


def make(bs, cl):
    x = torch.zeros(bs, 4, 1344, device=dev)
    idx = torch.randint(0, 4, (bs, 1344), device=dev)
    x.scatter_(1, idx.unsqueeze(1), 1.0)
    if cl:
        x = x.transpose(1, 2).contiguous().transpose(1, 2)
    return x


def bench(fn, reps=10):
    with torch.no_grad():
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / reps * 1e3


m = torch.jit.load(path, map_location=dev).eval()
fz = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.load(path, map_location=dev).eval()))
best = None
for name, mod in (("plain", m), ("frozen", fz)):
    for dt in (torch.float16, torch.bfloat16):
        for cl in (False, True):
            for bs in (1024, 4032):
                x = make(bs, cl)
                def f(mod=mod, dt=dt, x=x):
                    with torch.autocast("cuda", dtype=dt):
                        return mod(x)
                ms = bench(f) * 4032 / bs
                print(f"{name}\t{dt}\tchannels_last={cl}\tbatch={bs}\t{ms:.2f} ms per 4032", flush=True)
                if best is None or ms < best[0]:
                    best = (ms, f, name, dt, cl, bs)
print("best:", best[2:])
from torch.profiler import profile, ProfilerActivity
with torch.no_grad():
    best[1](); torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        best[1](); torch.cuda.synchronize()
print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=14, max_name_column_width=60))
