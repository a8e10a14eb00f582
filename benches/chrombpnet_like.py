"""Write a ChromBPNet-like TorchScript model for the fast-ISM benchmark: 2114-bp input, a
21-bp valid convolution, dilated residual layers (kernel 3, dilation 2..2^layers, valid
convolutions, residuals cropped to the branch), a 75-bp profile head cropped to 1000 bp and
a counts head on the global average (the test suite's ChromBPNet, tests/py/fast_ism_models.py,
at full size); scripted, output {"profile": (N, 1000), "counts": (N, 1)}.

usage: chrombpnet_like.py OUT.pt [--filters 64] [--layers 8] [--seed 1]"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "py"))
from fast_ism_models import ChromBPNet  # noqa: E402


def main():
    a = argparse.ArgumentParser()
    a.add_argument("out")
    a.add_argument("--filters", type=int, default=64)
    a.add_argument("--layers", type=int, default=8)
    a.add_argument("--seed", type=int, default=1)
    a = a.parse_args()
    torch.manual_seed(a.seed)
    m = ChromBPNet(a.filters, a.layers, out_len=1000).eval()
    torch.jit.script(m).save(a.out)


if __name__ == "__main__":
    main()
