"""Build small, randomly initialised TorchScript files of the model families peakscope
supports, with the packages their users train them with, exported the way those users
export them (torch.jit.trace or torch.jit.script), and compute reference predictions with
Python torch on the same files, following peakscope's documented semantics independently
(windows, N padding, views, heads, transforms, bins, output mapping, ISM).

    python families.py build FAMILY OUT.pt [--seed S] [--length L]
    python families.py fixture SPEC.json OUT.json

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
import os
import warnings

import torch

warnings.filterwarnings("ignore")


def basset(L, T=3, **kw):
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


def nlc_cnn(L, T=4, **kw):
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


def bpnetlite_chrombpnet(L, n_filters=32, n_layers=4, **kw):
    from bpnetlite.bpnet import BPNet
    from bpnetlite.chrombpnet import ChromBPNet

    trimming = (L - 1000) // 2 if L > 1000 else None
    bias = BPNet(n_filters=16, n_layers=2, n_outputs=1, n_control_tracks=0, trimming=trimming, verbose=False)
    acc = BPNet(n_filters=n_filters, n_layers=n_layers, n_outputs=1, n_control_tracks=0, trimming=trimming, verbose=False)
    m = ChromBPNet(bias, acc).eval()
    # what bpnet-lite users do: trace with an example batch
    return torch.jit.trace(m, torch.zeros(1, 4, L)), {"input": "onehot", "profile": "(N,1,B)", "counts": "(N,1)"}


def chrombpnet_pytorch(L, n_filters=32, n_layers=5, **kw):
    # the package __init__ pulls in its training stack; the model itself is plain torch
    import chrombpnet.chrombpnet as cbp
    import chrombpnet.model_config as mc

    cfg = mc.ChromBPNetConfig(n_filters=n_filters, n_layers=n_layers, out_dim=500)
    m = cbp.ChromBPNet(cfg).eval()
    return torch.jit.trace(m, torch.zeros(1, 4, L)), {"input": "onehot", "profile": "(N,B)", "counts": "(N,1)"}


def bpnet_control(L, n_filters=32, n_layers=4, **kw):
    from bpnetlite.bpnet import BPNet

    m = BPNet(n_filters=n_filters, n_layers=n_layers, n_outputs=2, n_control_tracks=2, verbose=False).eval()
    with torch.no_grad():
        # control-track weights matter only with a real control; keep them non-zero
        m.fconv.weight[:, n_filters:].normal_(0, 0.1)
    x = torch.zeros(1, 4, L)
    ctl = torch.zeros(1, 2, L)
    return torch.jit.trace(m, (x, ctl)), {"input": "onehot", "extra_inputs": [[2, "L"]]}


def enformer(L, tokens=False, dim=48, depth=1, target_length=-1, num_downsamples=7, **kw):
    from enformer_pytorch import Enformer

    m = Enformer.from_hparams(dim=dim, depth=depth, heads=2, dim_divisible_by=8, target_length=target_length,
                              attn_dim_key=8, num_downsamples=num_downsamples).eval()
    if tokens:
        ex = torch.zeros(1, L, dtype=torch.long)
    else:
        ex = torch.zeros(1, L, 4)
    # dict outputs need strict=False
    return torch.jit.trace(m, ex, strict=False), {"input": "tokens" if tokens else "onehot-nlc", "keys": ["human", "mouse"], "module": m}


def traceable_relative_shift(a, b):
    """borzoi-pytorch's `fast_relative_shift` without torch.vmap, which tracing cannot
    record: out[b, h, i, j] = sum_d a[b, h, i, d] * rel_k[h, n - 1 - i + j, d]."""
    n = a.shape[-2]
    full = torch.einsum("bhid,hjd->bhij", a, b)
    i = torch.arange(n, device=a.device)
    idx = (n - 1 - i[:, None] + i[None, :]).expand(a.shape[0], a.shape[1], n, n)
    return torch.gather(full, -1, idx)


def borzoi(L, dim=64, depth=1, bins=-1, **kw):
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


BUILDERS = {
    "basset": (basset, 600),
    "nlc-cnn": (nlc_cnn, 300),
    "bpnetlite-chrombpnet": (bpnetlite_chrombpnet, 1400),
    "chrombpnet-pytorch": (chrombpnet_pytorch, 1094),
    "bpnet-control": (bpnet_control, 800),
    "enformer": (enformer, 4096),
    "enformer-tokens": (lambda L, **kw: enformer(L, tokens=True, **kw), 4096),
    "borzoi": (borzoi, 2048),
}


def build(family, out, seed=1, length=None, **kw):
    torch.manual_seed(seed)
    f, default_len = BUILDERS[family]
    L = length or default_len
    with torch.no_grad():
        m, meta = f(L, **kw)
    m.save(out)
    meta["parameters"] = sum(p.numel() for p in m.parameters())
    meta["input_length"] = L
    return m, meta


# ---------------------------------------------------------------- reference semantics

def read_fasta(path):
    seqs, name, parts = {}, None, []
    for line in open(path):
        line = line.strip()
        if line.startswith(">"):
            if name is not None:
                seqs[name] = "".join(parts)
            name, parts = line[1:].split()[0], []
        elif line:
            parts.append(line)
    if name is not None:
        seqs[name] = "".join(parts)
    return seqs


def fetch(genome, chrom, s, e):
    seq = genome[chrom]
    out = []
    for p in range(s, e):
        out.append(seq[p].upper() if 0 <= p < len(seq) else "N")
    return "".join(out)


def center(start, end):
    return start + (end - start) // 2


def centered(start, end, width):
    s = center(start, end) - width // 2
    return s, s + width


COMP = {"A": "T", "C": "G", "G": "C", "T": "A"}


def revcomp(s):
    return "".join(COMP.get(c, "N") for c in reversed(s))


def encode(seqs, kind, dtype):
    idx = {"A": 0, "C": 1, "G": 2, "T": 3}
    L = len(seqs[0])
    if kind == "tokens":
        return torch.tensor([[idx.get(c, 4) for c in s] for s in seqs], dtype=torch.long)
    x = torch.zeros(len(seqs), 4, L, dtype=dtype)
    for i, s in enumerate(seqs):
        for j, c in enumerate(s):
            if c in idx:
                x[i, idx[c], j] = 1
    return x if kind == "onehot" else x.permute(0, 2, 1).contiguous()


def select(out, head):
    path = head if isinstance(head, list) else ([] if head is None else [head])
    for k in path:
        if isinstance(out, dict):
            out = out[k] if k in out else out[str(k)]
        else:
            out = out[k]
    return out


def normalise(t, layout):
    t = t.float()
    if layout == "scalar":
        return t.reshape(t.shape[0], 1, -1)
    if layout == "bins":
        return t.unsqueeze(2)
    if layout == "bins-targets":
        return t
    return t.transpose(1, 2)


TRANSFORMS = {
    "none": lambda t: t,
    "exp": torch.exp,
    "expm1": torch.expm1,
    "softplus": torch.nn.functional.softplus,
    "sigmoid": torch.sigmoid,
}


def run_members(members, cfg, seqs, dtype=torch.float32):
    """Forward context-free windows through every file: height (N,B,T) and profile (N,Bp,T)."""
    kind = cfg.get("input", "onehot")
    L = len(seqs[0])
    x = encode(seqs, kind, dtype)
    extras = [torch.zeros(len(seqs), *[L if d == "L" else d for d in shape], dtype=dtype) for shape in cfg.get("extra_inputs", [])]
    hs, ps = [], []
    hspec = cfg.get("height", {})
    pspec = cfg.get("profile")
    for m in members:
        with torch.no_grad():
            out = m(x, *extras)
        h = TRANSFORMS[hspec.get("transform", "none")](normalise(select(out, hspec.get("head")), hspec.get("layout", "scalar")).to(dtype))
        hs.append(h)
        if pspec:
            p = normalise(select(out, pspec.get("head")), pspec.get("layout", "targets-bins")).to(dtype)
            tr = pspec.get("transform", "none")
            if tr == "softmax-times-height":
                total = h.sum(1, keepdim=True)
                if p.shape[2] == h.shape[2]:
                    p = torch.softmax(p, 1) * total
                else:
                    n, b, t = p.shape
                    p = torch.softmax(p.reshape(n, b * t), 1).reshape(n, b, t).sum(2, keepdim=True) * total
            else:
                p = TRANSFORMS[tr](p)
                if p.shape[2] != h.shape[2]:
                    p = p.sum(2, keepdim=True)
            ps.append(p)
    h = torch.cat(hs, 2)
    p = torch.cat(ps, 2) if ps else None
    return h, p


def mapped(t, cfg):
    """Reported outputs: [models.tracks] means (in f64), else the raw outputs."""
    t = t.double()
    tracks = cfg.get("tracks")
    if not tracks:
        return t
    return torch.stack([t[..., idx].mean(-1) for idx in tracks.values()], -1)


def views(cfg):
    k = cfg.get("shifts", 0)
    return [(sh, rc) for sh in range(2 * k + 1) for rc in ((False, True) if cfg.get("rc") else (False,))]


def heights(members, cfg, ctx_seqs, intervals, dtype=torch.float32, naive=False):
    """Per (context sequence, interval or None): f64 sum over the selected bins, mean over views.
    With `naive`, also the same sums taken in float32 (what peakscope did before), as a second
    list."""
    L = cfg["input_length"]
    h = cfg.get("height", {})
    layout = h.get("layout", "scalar")
    vs = views(cfg)
    total, total32 = None, None
    for sh, rc in vs:
        wins = [s[sh:sh + L] for s in ctx_seqs]
        if rc:
            wins = [revcomp(w) for w in wins]
        raw, _ = run_members(members, cfg, wins, dtype)
        out = mapped(raw, cfg)
        out32 = mapped(raw.float(), cfg).float()
        B = out.shape[1]
        vals, vals32 = [], []
        for i, iv in enumerate(intervals):
            b0, b1 = 0, B
            if iv is not None and h.get("bins", "all") == "center" and layout != "scalar":
                S = h["bin_size"]
                o = sh + (L - B * S) // 2
                a, e = iv
                b0 = max(0, min(B, (a - o) // S))
                b1 = max(0, min(B, -((o - e) // S)))
                if rc:
                    b0, b1 = B - b1, B - b0
            vals.append(out[i, b0:b1].sum(0))
            vals32.append(out32[i, b0:b1].sum(0))
        v, v32 = torch.stack(vals), torch.stack(vals32)
        total = v if total is None else total + v
        total32 = v32 if total32 is None else total32 + v32
    if naive:
        return (total / len(vs)).tolist(), (total32 / len(vs)).double().tolist()
    return (total / len(vs)).tolist()


def plan(cfg, peaks, W):
    """Windows (chrom, context start) and per peak (window, interval)."""
    L, k = cfg["input_length"], cfg.get("shifts", 0)
    ctx = L + 2 * k
    h = cfg.get("height", {})
    if h.get("bins", "all") != "center":
        return [(c, centered(s, e, ctx)[0]) for c, s, e in peaks], [(i, None) for i in range(len(peaks))]
    S, B = h["bin_size"], cfg["_bins"]
    span = B * S
    margin = (L - span) // 2
    stride = (span - W) // S * S
    windows, queries, index = [], [], {}
    for c, s, e in peaks:
        a = centered(s, e, W)[0]
        if stride < S:
            c0 = centered(s, e, ctx)[0]
            windows.append((c, c0))
            queries.append((len(windows) - 1, (a - c0, a - c0 + W)))
            continue
        j = a // stride
        start = j * stride - margin - k
        if (c, j) not in index:
            index[(c, j)] = len(windows)
            windows.append((c, start))
        queries.append((index[(c, j)], (a - start, a - start + W)))
    return windows, queries


def peak_heights(members, cfg, genome, peaks, W):
    windows, queries = plan(cfg, peaks, W)
    ctx = cfg["input_length"] + 2 * cfg.get("shifts", 0)
    seqs = [fetch(genome, c, s, s + ctx) for c, s in windows]
    out = []
    for wi, iv in queries:
        out.append(heights(members, cfg, [seqs[wi]], [iv])[0])
    return out, len(windows)


def ism(members, cfg, genome, region, W, dtype=torch.float32):
    """Rows per mutant (alt heights and f64 deltas), the reference heights, and the deltas of
    float32 sums of the same outputs."""
    c, s, e = region
    L, k = cfg["input_length"], cfg.get("shifts", 0)
    ctx = L + 2 * k
    cs = centered(s, e, ctx)[0]
    seq = fetch(genome, c, cs, cs + ctx)
    a, b = s - cs, e - cs
    if cfg.get("height", {}).get("bins", "all") == "center":
        m = a + (b - a) // 2 - W // 2
        iv = (m, m + W)
    else:
        iv = (a, b)
    muts = []
    for p in range(a, b):
        for alt in "ACGT":
            if alt != seq[p]:
                muts.append((p, alt))
    seqs = [seq] + [seq[:p] + alt + seq[p + 1:] for p, alt in muts]
    hs, h32 = [], []
    for i in range(0, len(seqs), 16):
        chunk = seqs[i:i + 16]
        x, x32 = heights(members, cfg, chunk, [iv] * len(chunk), dtype, naive=True)
        hs += x
        h32 += x32
    ref, ref32 = hs[0], h32[0]
    rows = [{"pos": cs + p, "alt": alt, "alt_pred": hs[1 + i], "delta": [x - r for x, r in zip(hs[1 + i], ref)],
             "delta32": [float(torch.tensor(x, dtype=torch.float32) - torch.tensor(r, dtype=torch.float32)) for x, r in zip(h32[1 + i], ref32)]}
            for i, (p, alt) in enumerate(muts)]
    return rows, ref


def profile_track(members, cfg, genome, region, B, S):
    """Tiles over the region; rows (start, end, values) clipped to it."""
    c, s, e = region
    L = cfg["input_length"]
    span = B * S
    rows = []
    pos = s
    while pos < e:
        cen = pos + span // 2
        ws = cen - L // 2
        seq = fetch(genome, c, ws, ws + L)
        acc = None
        vs = [False, True] if cfg.get("rc") else [False]
        for rc in vs:
            w = revcomp(seq) if rc else seq
            _, p = run_members(members, cfg, [w])
            if p is None:
                p, _ = run_members(members, cfg, [w])
            p = mapped(p, cfg)[0]
            if rc:
                p = p.flip(0)
            acc = p if acc is None else acc + p
        acc = acc / len(vs)
        for b in range(B):
            st = pos + b * S
            if st >= e:
                break
            rows.append((st, min(st + S, e), acc[b].tolist()))
        pos += span
    return rows


def fixture(spec_path, out_path):
    import time
    spec = json.load(open(spec_path))
    d = spec["dir"]
    built, meta = {}, {}
    for m in spec["models"]:
        t = time.time()
        path = os.path.join(d, m["file"])
        mod, info = build(m["family"], path, seed=m.get("seed", 1), length=m.get("length"), **m.get("kw", {}))
        built[m["file"]] = (torch.jit.load(path).eval(), info.pop("module", None))
        meta[m["file"]] = info
        print(f"built {m['file']}: {time.time() - t:.1f} s", file=sys.stderr)
    # files that are not TorchScript
    for kind, name in spec.get("refusals", {}).items():
        net = torch.nn.Sequential(torch.nn.Conv1d(4, 4, 3))
        path = os.path.join(d, name)
        if kind == "state_dict":
            torch.save(net.state_dict(), path)
        elif kind == "pickled":
            torch.save(net, path)
    genome = read_fasta(os.path.join(d, spec["genome"]))
    results = []
    import time
    t0 = time.time()
    for job in spec["jobs"]:
        t = time.time()
        cfg = job["cfg"]
        files = job["files"]
        members = [built[f][0] for f in files]
        kind = job["kind"]
        if kind == "predict":
            vals, n_windows = peak_heights(members, cfg, genome, [tuple(p) for p in job["peaks"]], job.get("center_width", 192))
            results.append({"values": vals, "windows": n_windows})
        elif kind == "ism":
            rows, ref = ism(members, cfg, genome, tuple(job["region"]), job.get("center_width", 192))
            results.append({"rows": rows, "ref": ref})
        elif kind == "ism64":
            # the same mutants through the Python module in float64
            py = built[files[0]][1].double().eval()
            rows, ref = ism([py], cfg, genome, tuple(job["region"]), job.get("center_width", 192), dtype=torch.float64)
            results.append({"rows": rows, "ref": ref})
        elif kind == "profile":
            rows = profile_track(members, cfg, genome, tuple(job["region"]), job["bins"], job["bin_size"])
            results.append({"rows": rows})
        print(f"{job['kind']} {files}: {time.time() - t:.1f} s", file=sys.stderr)
    print(f"references: {time.time() - t0:.1f} s", file=sys.stderr)
    json.dump({"meta": meta, "results": results}, open(out_path, "w"))


def main():
    torch.set_num_threads(2)
    if sys.argv[1] == "build":
        ap = argparse.ArgumentParser()
        ap.add_argument("cmd")
        ap.add_argument("family")
        ap.add_argument("out")
        ap.add_argument("--seed", type=int, default=1)
        ap.add_argument("--length", type=int)
        a = ap.parse_args()
        _, meta = build(a.family, a.out, a.seed, a.length)
        meta.pop("module", None)
        print(json.dumps(meta))
    elif sys.argv[1] == "fixture":
        fixture(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
