"""Does CUDA fp32 agree with the CPU on a TorchScript model, and does any precision switch
change it? (TF32 via the legacy and the new API, cuDNN off, the NNC fuser and the profiling
executor off.) usage: check_fp32.py MODEL.pt"""
import sys
import torch
from gpu_common import one_hot_batch

pt = sys.argv[1]
x = one_hot_batch(32, device="cpu")
with torch.no_grad():
    cpu = torch.jit.load(pt).eval()(x)
    mc = torch.jit.load(pt, map_location="cuda").eval()

    def rel(label):
        y = mc(x.cuda()).cpu()
        print(f"{label}\tmax relative difference to CPU {((y - cpu).abs().max() / cpu.abs().max()).item():.3e}", flush=True)

    print("defaults: cudnn.allow_tf32", torch.backends.cudnn.allow_tf32, "conv.fp32_precision",
          torch.backends.cudnn.conv.fp32_precision, "matmul", torch.backends.cuda.matmul.fp32_precision)
    rel("defaults")
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    rel("legacy allow_tf32 off")
    torch.backends.cudnn.conv.fp32_precision = "ieee"
    torch.backends.cuda.matmul.fp32_precision = "ieee"
    rel("fp32_precision ieee")
    torch.backends.cudnn.enabled = False
    rel("+ cudnn off")
    torch._C._jit_set_texpr_fuser_enabled(False)
    torch._C._jit_set_profiling_executor(False)
    mc = torch.jit.load(pt, map_location="cuda").eval()
    rel("+ NNC fuser and profiling executor off (reloaded)")
