"""Does CUDA fp32 agree with the CPU, and which TF32 switch controls it?"""
import sys, torch
pt = sys.argv[1]
torch.manual_seed(0)
idx = torch.randint(0, 4, (32, 1344))
x = torch.nn.functional.one_hot(idx, 4).permute(0, 2, 1).float()
with torch.no_grad():
    cpu = torch.jit.load(pt).eval()(x)
    mc = torch.jit.load(pt, map_location="cuda").eval()
    print("defaults: cudnn.allow_tf32", torch.backends.cudnn.allow_tf32, "conv.fp32_precision", torch.backends.cudnn.conv.fp32_precision, "matmul", torch.backends.cuda.matmul.fp32_precision)
    def rel():
        y = mc(x.cuda()).cpu()
        return ((y - cpu).abs().max() / cpu.abs().max()).item()
    print("default", rel())
    torch.backends.cudnn.allow_tf32 = False
    print("legacy allow_tf32=False", rel(), torch.backends.cudnn.conv.fp32_precision)
    torch.backends.cudnn.conv.fp32_precision = "ieee"
    torch.backends.cuda.matmul.fp32_precision = "ieee"
    print("conv+matmul fp32_precision=ieee", rel())
    torch.backends.cudnn.benchmark = True
    print("ieee + benchmark", rel())
    torch.backends.cudnn.deterministic = True
    print("ieee + deterministic", rel())
