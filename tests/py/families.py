"""Build small, randomly initialised TorchScript files of the model families peakscope
supports, with the packages their users train them with, exported the way those users
export them (torch.jit.trace or torch.jit.script).

    python families.py FAMILY OUT.pt [--seed S] [--length L]

Families: basset (N,4,L)->(N,T) scripted; nlc-cnn (N,L,4)->(N,T) traced; bpnet-lite
ChromBPNet (tuple of profile logits (N,1,B) and log counts (N,1)); chrombpnet-pytorch
ChromBPNet (tuple of (N,B) and (N,1)); bpnet-control (bpnet-lite BPNet with control tracks,
forward(X, X_ctl)); enformer (dict of (N,B,5313) and (N,B,1643), channels-last input,
128-bp bins) and enformer-tokens (int64 token input); borzoi ((N,7611,B), 32-bp bins).
Prints one JSON line describing the file.
"""
import argparse
import json
import sys
import types
import os
import warnings

import torch

warnings.filterwarnings("ignore")


def basset(L, T=3):
    class Basset(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = torch.nn.Conv1d(4, 32, 19, padding=9)
            self.b1 = torch.nn.BatchNorm1d(32)
            self.c2 = torch.nn.Conv1d(32, 32, 11, padding=5)
            self.pool = torch.nn.MaxPool1d(4)
            self.fc = torch.nn.Linear(32 * (L // 16), T)

        def forward(self, x):
            h = self.pool(torch.relu(self.b1(self.c1(x))))
            h = self.pool(torch.relu(self.c2(h)))
            return torch.nn.functional.softplus(self.fc(h.flatten(1)))

    m = Basset().eval()
    with torch.no_grad():
        m.b1.running_var.uniform_(0.5, 2.0)
        m.b1.running_mean.uniform_(-0.1, 0.1)
    return torch.jit.script(m), {"input": "onehot", "outputs": T}


def nlc_cnn(L, T=4):
    # a Keras-style port: channels-last input, transposed inside
    class NLC(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = torch.nn.Conv1d(4, 24, 15, padding=7)
            self.c2 = torch.nn.Conv1d(24, 24, 5, padding=2)
            self.fc = torch.nn.Linear(24, T)

        def forward(self, x):
            h = torch.relu(self.c1(x.transpose(1, 2)))
            h = torch.nn.functional.gelu(self.c2(h))
            return self.fc(h.mean(dim=2))

    m = NLC().eval()
    return torch.jit.trace(m, torch.zeros(1, L, 4)), {"input": "onehot-nlc", "outputs": T}


def bpnetlite_chrombpnet(L, n_filters=32, n_layers=4):
    from bpnetlite.bpnet import BPNet
    from bpnetlite.chrombpnet import ChromBPNet

    trimming = (L - 1000) // 2 if L > 1000 else None
    bias = BPNet(n_filters=16, n_layers=2, n_outputs=1, n_control_tracks=0, trimming=trimming, verbose=False)
    acc = BPNet(n_filters=n_filters, n_layers=n_layers, n_outputs=1, n_control_tracks=0, trimming=trimming, verbose=False)
    m = ChromBPNet(bias, acc).eval()
    # what bpnet-lite users do: trace with an example batch
    return torch.jit.trace(m, torch.zeros(1, 4, L)), {"input": "onehot", "profile": "(N,1,B)", "counts": "(N,1)"}


def chrombpnet_pytorch(L, n_filters=32, n_layers=5):
    # the package __init__ pulls in its training stack; the model itself is plain torch
    import chrombpnet.chrombpnet as cbp
    import chrombpnet.model_config as mc

    cfg = mc.ChromBPNetConfig(n_filters=n_filters, n_layers=n_layers, out_dim=500)
    m = cbp.ChromBPNet(cfg).eval()
    return torch.jit.trace(m, torch.zeros(1, 4, L)), {"input": "onehot", "profile": "(N,B)", "counts": "(N,1)"}


def bpnet_control(L, n_filters=32, n_layers=4):
    from bpnetlite.bpnet import BPNet

    m = BPNet(n_filters=n_filters, n_layers=n_layers, n_outputs=2, n_control_tracks=2, verbose=False).eval()
    with torch.no_grad():
        # control-track weights matter only with a real control; keep them non-zero
        m.fconv.weight[:, n_filters:].normal_(0, 0.1)
    x = torch.zeros(1, 4, L)
    ctl = torch.zeros(1, 2, L)
    return torch.jit.trace(m, (x, ctl)), {"input": "onehot", "extra_inputs": [[2, "L"]]}


def enformer(L, tokens=False, dim=48, depth=1, target_length=-1):
    from enformer_pytorch import Enformer

    m = Enformer.from_hparams(dim=dim, depth=depth, heads=2, dim_divisible_by=8, target_length=target_length,
                              attn_dim_key=8, num_downsamples=7).eval()
    if tokens:
        ex = torch.zeros(1, L, dtype=torch.long)
    else:
        ex = torch.zeros(1, L, 4)
    # dict outputs need strict=False
    return torch.jit.trace(m, ex, strict=False), {"input": "tokens" if tokens else "onehot-nlc", "keys": ["human", "mouse"]}


def traceable_relative_shift(a, b):
    """borzoi-pytorch's `fast_relative_shift` without torch.vmap, which tracing cannot
    record: out[b, h, i, j] = sum_d a[b, h, i, d] * rel_k[h, n - 1 - i + j, d]."""
    n = a.shape[-2]
    full = torch.einsum("bhid,hjd->bhij", a, b)
    i = torch.arange(n, device=a.device)
    idx = (n - 1 - i[:, None] + i[None, :]).expand(a.shape[0], a.shape[1], n, n)
    return torch.gather(full, -1, idx)


def borzoi(L, dim=64, depth=1, bins=-1):
    import borzoi_pytorch.pytorch_borzoi_transformer as bt
    from borzoi_pytorch import Borzoi
    from borzoi_pytorch.config_borzoi import BorzoiConfig

    a, b = torch.randn(2, 3, 16, 8), torch.randn(3, 31, 8)
    assert torch.allclose(bt.fast_relative_shift(a, b), traceable_relative_shift(a, b), atol=1e-5)
    bt.fast_relative_shift = traceable_relative_shift

    cfg = BorzoiConfig(dim=dim, depth=depth, heads=2, attn_dim_key=8, attn_dim_value=16, bins_to_return=bins)
    m = Borzoi(cfg).eval()
    # the trace check compares graphs and trips over module name mangling: users turn it off
    return torch.jit.trace(m, torch.zeros(1, 4, L), check_trace=False), {"input": "onehot", "layout": "targets-bins"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("family")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--length", type=int)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(1)
    builders = {
        "basset": (basset, 600),
        "nlc-cnn": (nlc_cnn, 300),
        "bpnetlite-chrombpnet": (bpnetlite_chrombpnet, 1400),
        "chrombpnet-pytorch": (chrombpnet_pytorch, 1094),
        "bpnet-control": (bpnet_control, 800),
        "enformer": (enformer, 4096),
        "enformer-tokens": (lambda L: enformer(L, tokens=True), 4096),
        "borzoi": (borzoi, 2048),
    }
    f, default_len = builders[a.family]
    L = a.length or default_len
    with torch.no_grad():
        m, meta = f(L)
    m.save(a.out)
    n = sum(p.numel() for p in m.parameters())
    meta.update({"family": a.family, "input_length": L, "parameters": n})
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
