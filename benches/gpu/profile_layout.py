"""Does the input's memory layout change GPU ISM speed? Times the Basset TorchScript forward
with (N, 4, L) contiguous input vs the same values stored length-major ("channels-last"
1-D: strides (4L, 1, 4)), under fp16/bf16 autocast, plain and frozen+optimized; then
profiles the fastest variant.

usage: profile_layout.py MODEL.pt
"""
import sys
import torch
from gpu_common import one_hot_batch, timeit

path = sys.argv[1]
dev = "cuda"
torch.backends.cudnn.benchmark = True


def make(bs, cl):
    x = one_hot_batch(bs)
    if cl:
        x = x.transpose(1, 2).contiguous().transpose(1, 2)
    return x


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
                ms = timeit(f) * 4032 / bs
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
