"""Does CUDA fp32 agree with the CPU on a TorchScript model, and which switch decides it?
(TF32 via the legacy and the new API, cuDNN off, the NNC fuser and the profiling executor
off, and finally the traced graph's own constants.) usage: check_fp32.py MODEL.pt

Tracing records each convolution as aten::_convolution(..., benchmark, deterministic,
cudnn_enabled, allow_tf32) with the tracing process's switches as constants (allow_tf32 is
True by default), so none of the global switches reach a traced model's convolutions. The
last step rewrites them to aten::convolution (which reads the switches at run time), as
peakscope does on CUDA (src/model/ffi/torch_extras.cpp), and should bring fp32 to ~1e-6."""
import sys
import torch
from gpu_common import one_hot_batch


def runtime_convolutions(module):
    """Replace traced aten::_convolution nodes by aten::convolution; returns how many."""
    g = module.graph
    n = 0
    for node in list(g.nodes()):
        if node.kind() == "aten::_convolution":
            conv = g.create("aten::convolution", list(node.inputs())[:9])
            conv.insertBefore(node)
            conv.output().setType(node.output().type())
            node.output().replaceAllUsesWith(conv.output())
            node.destroy()
            n += 1
    torch._C._jit_pass_dce(g)
    return n


pt = sys.argv[1]
x = one_hot_batch(32, device="cpu")
with torch.no_grad():
    cpu = torch.jit.load(pt).eval()(x)
    mc = torch.jit.load(pt, map_location="cuda").eval()

    def rel(label):
        y = mc(x.cuda()).cpu()
        print(f"{label}\tmax relative difference to CPU {((y - cpu).abs().max() / cpu.abs().max()).item():.3e}", flush=True)

    traced = [n for n in mc.inlined_graph.nodes() if n.kind() == "aten::_convolution"]
    print("traced convolutions:", len(traced), "with allow_tf32 constant True:",
          sum(1 for n in traced if list(n.inputs())[12].toIValue()))
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
    torch.backends.cudnn.enabled = True
    mc = torch.jit.load(pt, map_location="cuda").eval()
    print("rewritten convolutions:", runtime_convolutions(mc))
    rel("traced convolutions -> aten::convolution, TF32 off, cuDNN on")
    torch.backends.cudnn.conv.fp32_precision = "tf32"
    rel("  the same with TF32 allowed again")
