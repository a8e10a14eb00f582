"""Would CUDA graphs at small, L2-resident batch sizes beat one huge batch for GPU ISM?
Times 4032 mutant forwards of the Basset TorchScript (frozen + optimized, fp16/bf16
autocast) as ceil(4032/B) batches, eagerly and as replays of one captured CUDA graph.

usage: profile_graphs.py MODEL.pt
"""
import sys, math
import torch
from gpu_common import timeit

path = sys.argv[1]
dev = "cuda"
torch.backends.cudnn.benchmark = True
fz = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.load(path, map_location=dev).eval()))


for dt in (torch.float16, torch.bfloat16):
    for bs in (32, 64, 128, 256, 512, 1024):
        n = math.ceil(4032 / bs)
        x = torch.zeros(bs, 4, 1344, device=dev)
        x[:, 0, :] = 1
        with torch.no_grad():
            def eager():
                for _ in range(n):
                    with torch.autocast("cuda", dtype=dt):
                        y = fz(x)
                return y
            te = timeit(eager, reps=5, warmup=2)
            static_in = x.clone()
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(3):
                    with torch.autocast("cuda", dtype=dt, cache_enabled=False):
                        fz(static_in)
            torch.cuda.current_stream().wait_stream(s)
            g = torch.cuda.CUDAGraph()
            try:
                with torch.cuda.graph(g):
                    with torch.autocast("cuda", dtype=dt, cache_enabled=False):
                        static_out = fz(static_in)
                def replay():
                    for _ in range(n):
                        static_in.copy_(x)
                        g.replay()
                    return static_out
                tg = timeit(replay, reps=5, warmup=2)
            except Exception as e:
                tg = float("nan")
                print("capture failed:", str(e).splitlines()[0])
        print(f"{dt}\tbatch={bs}\teager={te:.2f} ms\tgraph={tg:.2f} ms\t(per 4032 mutants)", flush=True)
