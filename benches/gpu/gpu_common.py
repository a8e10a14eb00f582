"""Helpers shared by the GPU profiling scripts."""
import time
import torch


def one_hot_batch(n, length=1344, device="cuda", seed=0):
    """(n, 4, length) random one-hot float batch."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, 4, (n, length), generator=g)
    return torch.nn.functional.one_hot(idx, 4).permute(0, 2, 1).float().contiguous().to(device)


def timeit(fn, reps=10, warmup=3):
    """Mean milliseconds per call of fn() under no_grad, synchronising CUDA around it."""
    with torch.no_grad():
        for _ in range(warmup):
            fn()
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / reps * 1e3
