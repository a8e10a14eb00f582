"""Where does a GPU ISM batch spend its time? Times one forward of the Basset TorchScript at
ISM batch size under several settings, and prints the top CUDA kernels of one of them.

usage: profile_ism.py MODEL.pt [batch]
"""
import sys
import torch
from gpu_common import one_hot_batch, timeit

path = sys.argv[1]
bs = int(sys.argv[2]) if len(sys.argv) > 2 else 4032
dev = "cuda"
torch.backends.cudnn.benchmark = True
x = one_hot_batch(bs)


def bench(name, fn):
    print(f"{name}\t{timeit(fn):.2f} ms", flush=True)


m = torch.jit.load(path, map_location=dev).eval()
bench("fp32 tf32-on", lambda: m(x))
torch.backends.cudnn.allow_tf32 = False
bench("fp32 tf32-off", lambda: m(x))
torch.backends.cudnn.allow_tf32 = True
for dt in (torch.float16, torch.bfloat16):
    def f(dt=dt):
        with torch.autocast("cuda", dtype=dt):
            return m(x)
    bench(f"autocast {dt}", f)
fz = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.load(path, map_location=dev).eval()))
for dt in (torch.float16, torch.bfloat16):
    def f(dt=dt):
        with torch.autocast("cuda", dtype=dt):
            return fz(x)
    bench(f"frozen+optimized autocast {dt}", f)
# the same network in eager PyTorch with half weights and channels-last-friendly layout
from torch.profiler import profile, ProfilerActivity
with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16):
    m(x); torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        m(x); torch.cuda.synchronize()
print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=18, max_name_column_width=70))
