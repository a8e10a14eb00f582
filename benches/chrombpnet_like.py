"""Write a ChromBPNet-like TorchScript model for the fast-ISM benchmark: 2114-bp input, a
21-bp valid convolution, dilated residual layers (kernel 3, dilation 2..2^layers, valid
convolutions, residuals cropped to the branch), a 75-bp profile head cropped to 1000 bp and
a counts head on the global average; traced, output (profile (N, 1000), counts (N, 1)).

usage: chrombpnet_like.py OUT.pt [--filters 64] [--layers 8] [--seed 1]"""
import argparse
import torch
import torch.nn as nn
import torch.nn.functional as F


class ChromBPNetLike(nn.Module):
    def __init__(self, filters, layers, out_len=1000):
        super().__init__()
        self.iconv = nn.Conv1d(4, filters, 21)
        self.rconvs = nn.ModuleList([nn.Conv1d(filters, filters, 3, dilation=2 ** i) for i in range(1, layers + 1)])
        self.fconv = nn.Conv1d(filters, 1, 75)
        self.linear = nn.Linear(filters, 1)
        self.out_len = out_len

    def forward(self, x):
        x = F.relu(self.iconv(x))
        for conv in self.rconvs:
            y = F.relu(conv(x))
            crop = (x.shape[-1] - y.shape[-1]) // 2
            x = x[:, :, crop:x.shape[-1] - crop] + y
        p = self.fconv(x)
        c = (p.shape[-1] - self.out_len) // 2
        p = p[:, :, c:c + self.out_len].squeeze(1)
        return p, self.linear(x.mean(dim=2))


def main():
    a = argparse.ArgumentParser()
    a.add_argument("out")
    a.add_argument("--filters", type=int, default=64)
    a.add_argument("--layers", type=int, default=8)
    a.add_argument("--seed", type=int, default=1)
    a = a.parse_args()
    torch.manual_seed(a.seed)
    m = ChromBPNetLike(a.filters, a.layers).eval()
    x = torch.zeros(2, 4, 2114)
    x[:, 0] = 1
    with torch.no_grad():
        torch.jit.trace(m, x).save(a.out)


if __name__ == "__main__":
    main()
