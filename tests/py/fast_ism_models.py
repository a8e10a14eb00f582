"""TorchScript models for tests/fast_ism.rs: dilated residual stacks (BPNet/ChromBPNet
style), pooling whose boundaries mutations cross, assorted position-local ops, and graphs
the fast path must refuse or stop early on. usage: fast_ism_models.py OUT_DIR"""
import sys
import torch
import torch.nn as nn
import torch.nn.functional as F


def randomize_bn(m, g):
    for mod in m.modules():
        if isinstance(mod, (nn.BatchNorm1d,)):
            mod.running_mean.copy_(torch.randn(mod.num_features, generator=g) * 0.1)
            mod.running_var.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
            mod.weight.data.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
            mod.bias.data.copy_(torch.randn(mod.num_features, generator=g) * 0.1)


class BPNet(nn.Module):
    """'same'-padded dilated residual stack; profile (cropped) and counts heads; traced."""

    def __init__(self, filters=32, layers=6, trim=40):
        super().__init__()
        self.iconv = nn.Conv1d(4, filters, 21, padding=10)
        self.rconvs = nn.ModuleList([nn.Conv1d(filters, filters, 3, padding=2 ** i, dilation=2 ** i) for i in range(1, layers + 1)])
        self.fconv = nn.Conv1d(filters, 2, 75, padding=37)
        self.linear = nn.Linear(filters, 1)
        self.trim = trim

    def forward(self, x):
        x = F.relu(self.iconv(x))
        for conv in self.rconvs:
            x = x + F.relu(conv(x))
        y = self.fconv(x)[:, :, self.trim:-self.trim]
        counts = self.linear(x.mean(dim=2))
        return y.reshape(y.shape[0], -1), counts


class ChromBPNet(nn.Module):
    """Valid convolutions, residuals cropped to the branch length, dict output; scripted."""

    def __init__(self, filters=24, layers=5, out_len=100):
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
        p = p[:, :, c:c + self.out_len]
        counts = self.linear(torch.mean(x, dim=2))
        return {"profile": p.squeeze(1), "counts": counts}


class Pools(nn.Module):
    """Pooling whose windows do not tile the input: floor mode dropping the last bases,
    ceil mode, padding, count_include_pad=False, dilation; strided conv; batch norm."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(4, 16, 5, padding=2)
        self.p1 = nn.MaxPool1d(3, 3)
        self.c2 = nn.Conv1d(16, 16, 3, padding=1)
        self.p2 = nn.AvgPool1d(2, 2, padding=1, ceil_mode=True, count_include_pad=False)
        self.c3 = nn.Conv1d(16, 24, 4, stride=2)
        self.bn = nn.BatchNorm1d(24)
        self.p3 = nn.MaxPool1d(2, 2, padding=1, ceil_mode=True)
        self.p4 = nn.MaxPool1d(3, 1, dilation=2)
        self.p5 = nn.AvgPool1d(3, 2, padding=1, ceil_mode=True)
        self.head = nn.Linear(24 * 5, 3)

    def forward(self, x):
        x = self.p1(F.elu(self.c1(x)))
        x = self.p2(F.gelu(self.c2(x), approximate="tanh"))
        x = self.p3(self.bn(self.c3(x)))
        x = self.p5(self.p4(x))
        return F.softplus(self.head(torch.flatten(x, 1)))


class Misc(nn.Module):
    """'same' padding with an even kernel, depthwise and grouped convs, constant padding,
    strided slicing, channel concat and slicing, gating, per-channel scale, dropout,
    channel softmax; global average pool."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv1d(4, 16, 4, padding="same")
        self.dw = nn.Conv1d(16, 16, 5, padding=2, groups=16)
        self.g = nn.Conv1d(16, 16, 3, padding=1, groups=4)
        self.b = nn.Conv1d(32, 16, 3)
        self.scale = nn.Parameter(torch.rand(1, 16, 1) + 0.5)
        self.drop = nn.Dropout(0.3)
        self.out = nn.Linear(16, 2)

    def forward(self, x):
        h = F.relu(self.a(x))
        d = self.dw(h)
        h2 = torch.cat([h, d * torch.sigmoid(self.g(h))], dim=1)
        h2 = F.pad(h2, (2, 3), value=0.5)
        h3 = self.drop(F.silu(self.b(h2)))[:, :, ::2]
        h3 = h3 * self.scale + h3[:, :8].repeat(1, 2, 1)
        h3 = torch.softmax(h3, dim=1) + F.leaky_relu(h3, 0.1)
        return self.out(h3.mean(dim=2))


class Strided(nn.Module):
    """Strided padded convolutions (one dilated and grouped), overlapping average pooling
    with padding counted in the divisor, overlapping padded max pooling, a ceil-mode max pool
    whose last window holds only the final bases, and a flatten head: a substitution at the
    first or last base reaches pooling windows that straddle the padding."""

    def __init__(self, length=601):
        super().__init__()
        self.c1 = nn.Conv1d(4, 12, 7, stride=2, padding=3)
        self.p1 = nn.AvgPool1d(4, 3, padding=2)
        self.c2 = nn.Conv1d(12, 24, 5, stride=3, padding=4, dilation=2, groups=3)
        self.p2 = nn.MaxPool1d(5, 2, padding=2)
        self.c3 = nn.Conv1d(24, 16, 3, padding=1, groups=8)
        self.bn = nn.BatchNorm1d(16)
        self.p3 = nn.MaxPool1d(4, 4, ceil_mode=True)
        with torch.no_grad():
            n = self.trunk(torch.zeros(1, 4, length)).numel()
        self.head = nn.Linear(n, 2)

    def trunk(self, x):
        x = self.p1(F.relu(self.c1(x)))
        x = self.p2(torch.tanh(self.c2(x)))
        return self.p3(F.relu(self.bn(self.c3(x))))

    def forward(self, x):
        return self.head(torch.flatten(self.trunk(x), 1))


class Profile(nn.Module):
    """Fully convolutional: the output itself is positional (N, C, L)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(4, 8, 7, padding=3)
        self.c2 = nn.Conv1d(8, 3, 5, padding=4, dilation=2)

    def forward(self, x):
        return self.c2(torch.tanh(self.c1(x)))


class Attention(nn.Module):
    """Conv stem then attention: the prefix stops at the transpose."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv1d(4, 16, 9, padding=4)
        self.pool = nn.MaxPool1d(2)
        self.att = nn.MultiheadAttention(16, 2, batch_first=True)
        self.out = nn.Linear(16, 2)

    def forward(self, x):
        h = self.pool(F.relu(self.stem(x))).transpose(1, 2)
        h, _ = self.att(h, h, h, need_weights=False)
        return self.out(h.mean(dim=1))


class Reflect(nn.Module):
    """Reflect padding before the first convolution: nothing position-local to exploit."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv1d(4, 8, 5, padding=2, padding_mode="reflect")
        self.out = nn.Linear(8, 1)

    def forward(self, x):
        return self.out(F.relu(self.c(x)).mean(dim=2))


class BatchMix(nn.Module):
    """Position-local convolutions, then a sum over the whole batch: one sequence's output
    depends on the others in its batch (no per-sequence ISM; the fast path must refuse)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(4, 8, 5, padding=2)
        self.c2 = nn.Conv1d(8, 8, 3)
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        x = F.relu(self.c1(x))
        x = x + x.sum()
        x = F.relu(self.c2(x))
        return self.out(x.mean(dim=2))


class TinyDeltas(nn.Module):
    """Large activations (a first convolution with tiny weights and a large bias) that single
    substitutions move by ~1e-6 of the outputs: fp32 rounding of the activations is a large
    share of each delta (the fast path must still be taken)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(4, 16, 7, padding=3)
        self.c2 = nn.Conv1d(16, 16, 3, dilation=2, padding=2)
        self.out = nn.Linear(16, 2)
        with torch.no_grad():
            self.c1.weight.mul_(1e-3)
            self.c1.bias.uniform_(4.0, 6.0)

    def forward(self, x):
        x = F.relu(self.c1(x))
        x = x + F.relu(self.c2(x))
        return self.out(x.mean(dim=2))


class Recurrent(nn.Module):
    """An LSTM over the one-hot input: global from the first operation."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(4, 8, batch_first=True)
        self.out = nn.Linear(8, 1)

    def forward(self, x):
        h, _ = self.rnn(x.transpose(1, 2))
        return self.out(h[:, -1])


def main():
    out = sys.argv[1]
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    specs = [
        ("bpnet_traced", BPNet(), 400, "trace"),
        ("chrombpnet_scripted", ChromBPNet(), 400, "script"),
        ("pools_traced", Pools(), 301, "trace"),
        ("pools_scripted", Pools(), 301, "script"),
        ("misc_scripted", Misc(), 200, "script"),
        ("misc_traced", Misc(), 200, "trace"),
        ("strided_traced", Strided(601), 601, "trace"),
        ("strided_scripted", Strided(601), 601, "script"),
        ("profile_traced", Profile(), 150, "trace"),
        ("attention_scripted", Attention(), 120, "script"),
        ("reflect_scripted", Reflect(), 100, "script"),
        ("lstm_scripted", Recurrent(), 100, "script"),
        ("batchmix_traced", BatchMix(), 120, "trace"),
        ("tiny_scripted", TinyDeltas(), 200, "script"),
    ]
    for name, m, length, how in specs:
        randomize_bn(m, g)
        m.eval()
        with torch.no_grad():
            if how == "trace":
                x = torch.zeros(2, 4, length)
                x[:, 0] = 1
                sm = torch.jit.trace(m, x, strict=False)
            else:
                sm = torch.jit.script(m)
        sm.save(f"{out}/{name}.pt")
        print(name, length)


if __name__ == "__main__":
    main()
