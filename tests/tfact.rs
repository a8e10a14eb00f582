//! `peakscope tf-activity` and `peakscope attr` against independent computation: a model
//! whose outputs are base counts, tangermeme 1.6 `marginalize` and Python torch autograd on
//! the same TorchScript file.
mod common;
use common::*;
use peakscope::genome::{Fasta, Locus};
use peakscope::model::ism::IsmPlan;
use peakscope::model::zoo;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const MEME: &str = "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n\
MOTIF M1 GGG\nletter-probability matrix: alength= 4 w= 4 nsites= 20 E= 0\n 0 0 1 0\n 0 0 1 0\n 0 0 1 0\n 0.5 0 0 0.5\n\n\
MOTIF M2 MIX\nletter-probability matrix: alength= 4 w= 6 nsites= 20 E= 0\n 0.25 0.25 0.25 0.25\n 0.7 0.1 0.1 0.1\n 0.1 0.1 0.1 0.7\n 0 1 0 0\n 0.4 0.1 0.4 0.1\n 0.25 0.25 0.25 0.25\n";

/// A project: random genome (with an N run), `n_peaks` peaks, one model.
fn project(dir: &Path, n_peaks: usize, model: &str, input_length: usize, batch: usize) -> PathBuf {
    let mut rng = Rng::new(11);
    let mut chrom = rng.dna(20_000);
    chrom[3000..3100].fill(b'N');
    fasta(dir, &[("chr1", &chrom)]);
    let mut bed = String::new();
    for i in 0..n_peaks {
        let s = 200 + i * 1500;
        bed.push_str(&format!("chr1\t{s}\t{}\tp{i}\n", s + 300));
    }
    write(&dir.join("peaks.bed"), &bed);
    write(&dir.join("motifs.meme"), MEME);
    let cfg = dir.join("project.toml");
    write(
        &cfg,
        &format!("[genome]\nfasta = \"genome.fa\"\n\n[peaks]\nfile = \"peaks.bed\"\n\n[[models]]\nname = \"m\"\npath = \"{model}\"\ninput_length = {input_length}\nbatch_size = {batch}\n"),
    );
    cfg
}

fn read_tsv(p: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(p).unwrap();
    let mut lines = text.lines();
    let head: Vec<String> = lines.next().unwrap().split('\t').map(String::from).collect();
    lines.map(|l| head.iter().cloned().zip(l.split('\t').map(String::from)).collect()).collect()
}

fn count_base(s: &str, b: char) -> f64 {
    s.chars().filter(|&c| c == b).count() as f64
}

#[test]
fn count_model_activity_is_the_exact_base_count_change() {
    // outputs A C G T counts: inserting a site changes them by (site − replaced bases)
    let d = tempfile::tempdir().unwrap();
    zoo::save(&zoo::base_count(64).unwrap(), &d.path().join("count.pt")).unwrap();
    let cfg = project(d.path(), 9, "count.pt", 64, 5);
    let (act, per, fa) = (d.path().join("act.tsv"), d.path().join("per.tsv"), d.path().join("bg.fa"));
    let (ok, _, err) = peakscope(&[
        "tf-activity",
        "--config",
        cfg.to_str().unwrap(),
        "--motifs",
        d.path().join("motifs.meme").to_str().unwrap(),
        "--backgrounds",
        "6",
        "--seed",
        "3",
        "--device",
        "cpu",
        "-o",
        act.to_str().unwrap(),
        "--per-background",
        per.to_str().unwrap(),
        "--backgrounds-fasta",
        fa.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(!err.contains("with replacement"), "{err}");
    let bgs: Vec<String> = std::fs::read_to_string(&fa).unwrap().lines().filter(|l| !l.starts_with('>')).map(String::from).collect();
    assert_eq!(bgs.len(), 6);
    let rows = read_tsv(&per);
    assert_eq!(rows.len(), 2 * 6 * 4);
    let mut sums: HashMap<(String, String), Vec<f64>> = HashMap::new();
    for r in &rows {
        let b: usize = r["background"][1..].parse().unwrap();
        let site = &r["site"];
        let start: usize = r["start"].parse().unwrap();
        assert_eq!(start, 32 - site.len() / 2);
        let replaced = &bgs[b][start..start + site.len()];
        let base = r["track"].chars().next().unwrap();
        let base = match base {
            't' => ['A', 'C', 'G', 'T'][r["track"][1..].parse::<usize>().unwrap()],
            c => c,
        };
        let want = count_base(site, base) - count_base(replaced, base);
        let got: f64 = r["delta"].parse().unwrap();
        assert_eq!(got, want, "{r:?}");
        if r["tf"] == "GGG" {
            assert!(site.starts_with("GGG"), "sampled from the PWM: {site}");
        }
        sums.entry((r["motif"].clone(), r["track"].clone())).or_default().push(got);
    }
    let act_rows = read_tsv(&act);
    assert_eq!(act_rows.len(), 2 * 4);
    for r in &act_rows {
        let v = &sums[&(r["motif"].clone(), r["track"].clone())];
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt();
        assert!((r["activity"].parse::<f64>().unwrap() - mean).abs() < 1e-12);
        assert!((r["se"].parse::<f64>().unwrap() - sd / (v.len() as f64).sqrt()).abs() < 1e-12);
        assert_eq!(r["n"], "6");
    }
    // backgrounds are shuffles of the peak windows: same dinucleotides as some peak window
    let genome = Fasta::open(d.path().join("genome.fa")).unwrap();
    let windows: Vec<_> = (0..9)
        .map(|i| {
            let (s, e) = Locus::new("chr1", 200 + i * 1500, 500 + i * 1500).centered_window(64);
            peakscope::genome::shuffle::dinucleotide_counts(&genome.fetch("chr1", s, e).unwrap())
        })
        .collect();
    for b in &bgs {
        assert!(windows.contains(&peakscope::genome::shuffle::dinucleotide_counts(b.as_bytes())));
    }
    // seeded: the same command gives the same file; another seed another one
    let act2 = d.path().join("act2.tsv");
    let run = |seed: &str, out: &Path| {
        peakscope(&[
            "tf-activity",
            "--config",
            cfg.to_str().unwrap(),
            "--motifs",
            d.path().join("motifs.meme").to_str().unwrap(),
            "--backgrounds",
            "6",
            "--seed",
            seed,
            "-o",
            out.to_str().unwrap(),
        ])
    };
    assert!(run("3", &act2).0);
    assert_eq!(std::fs::read(&act).unwrap(), std::fs::read(&act2).unwrap());
    assert!(run("4", &act2).0);
    assert_ne!(std::fs::read(&act).unwrap(), std::fs::read(&act2).unwrap());
}

#[test]
fn bad_input_gets_clear_messages() {
    let d = tempfile::tempdir().unwrap();
    zoo::save(&zoo::base_count(16).unwrap(), &d.path().join("count.pt")).unwrap();
    let cfg = project(d.path(), 3, "count.pt", 16, 5);
    let c = cfg.to_str().unwrap();
    let meme = d.path().join("motifs.meme");
    let run = |extra: &[&str]| {
        let mut a = vec!["tf-activity", "--config", c, "--device", "cpu"];
        a.extend_from_slice(extra);
        peakscope(&a)
    };
    // not MEME: a BED file, and JASPAR-style text
    let bed = d.path().join("peaks.bed");
    let (ok, _, err) = run(&["--motifs", bed.to_str().unwrap()]);
    assert!(!ok && err.contains("peaks.bed") && err.contains("MEME"), "{err}");
    let jas = d.path().join("m.jaspar");
    write(&jas, ">MA0001.1 X\nA [ 1 2 ]\nC [ 0 0 ]\n");
    let (ok, _, err) = run(&["--motifs", jas.to_str().unwrap()]);
    assert!(!ok && err.contains("m.jaspar") && err.contains("jaspar2meme"), "{err}");
    // motif longer than the 16 bp window (the default JASPAR file has CTCF at 19+ bp)
    let (ok, _, err) = run(&["--tf", "CTCF"]);
    assert!(!ok && err.contains("longer than model m's 16 bp input window") && err.contains("CTCF"), "{err}");
    // zero backgrounds
    let (ok, _, err) = run(&["--motifs", meme.to_str().unwrap(), "--backgrounds", "0"]);
    assert!(!ok && err.contains("--backgrounds 0"), "{err}");
    // an unknown TF
    let (ok, _, err) = run(&["--motifs", meme.to_str().unwrap(), "--tf", "NOPE"]);
    assert!(!ok && err.contains("NOPE"), "{err}");
    // fewer peaks than backgrounds: drawn with replacement, and said so
    let out = d.path().join("a.tsv");
    let (ok, _, err) = run(&["--motifs", meme.to_str().unwrap(), "--backgrounds", "7", "-o", out.to_str().unwrap()]);
    assert!(ok && err.contains("only 3 peak(s)") && err.contains("with replacement"), "{err}");
    assert_eq!(read_tsv(&out).len(), 2 * 4);
    // an empty peak set
    write(&bed, "");
    let (ok, _, err) = run(&["--motifs", meme.to_str().unwrap()]);
    assert!(!ok && err.contains("peak"), "{err}");
}

/// tangermeme `marginalize` on the same TorchScript file, backgrounds and inserted sites:
/// per-background deltas (after − before, in float64 of the float32 outputs).
const PY_MARGINALIZE: &str = r#"
import sys, csv, torch, warnings
warnings.simplefilter("ignore")
from tangermeme.marginalize import marginalize
from tangermeme.utils import one_hot_encode
model = torch.jit.load(sys.argv[1]).eval()
seqs = [l.strip() for l in open(sys.argv[2]) if not l.startswith(">")]
X = torch.stack([one_hot_encode(s, ignore=["N"]) for s in seqs]).float()
rows = list(csv.DictReader(open(sys.argv[3]), delimiter="\t"))
motifs = []
for r in rows:
    if r["motif"] not in motifs: motifs.append(r["motif"])
for m in motifs:
    sites, start = {}, None
    for r in rows:
        if r["motif"] == m:
            sites[int(r["background"][1:])] = r["site"]; start = int(r["start"])
    mt = torch.stack([one_hot_encode(sites[b]) for b in range(len(seqs))]).float()
    res = marginalize(model, X, mt, start=start, device="cpu", batch_size=1, verbose=False)
    before, after = res
    d = after.double() - before.double()
    for b in range(len(seqs)):
        print(m, b, "\t".join(repr(v) for v in d[b].tolist()), "\t".join(repr(v) for v in before[b].tolist()), sep="\t")
"#;

#[test]
fn per_background_deltas_equal_tangermeme_marginalize() {
    let d = tempfile::tempdir().unwrap();
    let model = d.path().join("basset.pt");
    zoo::save(&zoo::basset(3, 4).unwrap().0, &model).unwrap();
    // 3 peaks for 5 backgrounds: with replacement; the N run and the chromosome start reach into windows
    // batch size 1 on both sides: CPU convolution kernels depend on the batch shape (float32
    // results differ in the last bits), and a delta is a difference of two such outputs
    let cfg = project(d.path(), 3, "basset.pt", 1344, 1);
    let (per, fa) = (d.path().join("per.tsv"), d.path().join("bg.fa"));
    let (ok, _, err) = peakscope(&[
        "tf-activity",
        "--config",
        cfg.to_str().unwrap(),
        "--motifs",
        d.path().join("motifs.meme").to_str().unwrap(),
        "--backgrounds",
        "5",
        "--device",
        "cpu",
        "--per-background",
        per.to_str().unwrap(),
        "--backgrounds-fasta",
        fa.to_str().unwrap(),
        "-o",
        d.path().join("act.tsv").to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(std::fs::read_to_string(&fa).unwrap().contains('N'), "a background holds the N run");
    let ours: HashMap<(String, usize, String), f64> = read_tsv(&per)
        .into_iter()
        .map(|r| ((r["motif"].clone(), r["background"][1..].parse().unwrap(), r["track"].clone()), r["delta"].parse().unwrap()))
        .collect();
    let Some(py) = python() else { return };
    let out = run_python(&py, PY_MARGINALIZE, &[model.to_str().unwrap(), fa.to_str().unwrap(), per.to_str().unwrap()]);
    let mut n = 0;
    let mut worst = (0f64, String::new());
    for line in out.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let b: usize = f[1].parse().unwrap();
        let t_n = (f.len() - 2) / 2;
        for t in 0..t_n {
            let v: f64 = f[2 + t].parse().unwrap();
            let before: f64 = f[2 + t_n + t].parse().unwrap();
            let o = ours[&(f[0].to_string(), b, format!("t{t}"))];
            let rel = (o - v).abs() / v.abs().max(1e-6);
            if rel > worst.0 {
                worst = (rel, format!("motif {} background {b} target {t}: ours {o}, tangermeme {v} (prediction before {before})", f[0]));
            }
            n += 1;
        }
    }
    assert_eq!(n, ours.len(), "every delta compared");
    assert!(worst.0 <= 1e-5, "max relative difference to tangermeme marginalize: {} at {}", worst.0, worst.1);
}

/// torch.autograd gradient × input of the (strand-averaged) output on the same file.
const PY_GRAD: &str = r#"
import sys, torch
model = torch.jit.load(sys.argv[1]).eval()
seq, rc = open(sys.argv[2]).read().strip(), sys.argv[3] == "1"
idx = {"A": 0, "C": 1, "G": 2, "T": 3}
x = torch.zeros(1, 4, len(seq))
for i, c in enumerate(seq):
    if c in idx: x[0, idx[c], i] = 1
x.requires_grad_(True)
# the strand average as one batch of both views, as peakscope runs it (CPU convolution
# kernels depend on the batch shape, so float32 results would differ in the last bits)
y = model(torch.cat([x, x.flip([1, 2])])).mean(0, keepdim=True) if rc else model(x)
for t in range(y.shape[1]):
    g, = torch.autograd.grad(y[0, t], x, retain_graph=True)
    print("\t".join(repr(v) for v in (g * x).sum(1)[0].tolist()))
"#;

fn grad_vs_torch(rc: bool) {
    let d = tempfile::tempdir().unwrap();
    let model = d.path().join("basset.pt");
    zoo::save(&zoo::basset(3, 9).unwrap().0, &model).unwrap();
    let mut rng = Rng::new(5);
    let mut chrom = rng.dna(3000);
    chrom[1480..1490].fill(b'N');
    let fa = fasta(d.path(), &[("chr1", &chrom)]);
    let out = d.path().join("attr.tsv");
    let mut args = vec![
        "attr",
        "--model",
        model.to_str().unwrap(),
        "--fasta",
        fa.to_str().unwrap(),
        "--input-length",
        "1344",
        "--region",
        "chr1:1401-1600",
        "--method",
        "grad",
        "--device",
        "cpu",
        "-o",
        out.to_str().unwrap(),
    ];
    if rc {
        args.push("--rc");
    }
    let (ok, _, err) = peakscope(&args);
    assert!(ok, "{err}");
    let plan = IsmPlan::new(&Fasta::open(&fa).unwrap(), &Locus::new("chr1", 1400, 1600), 1344).unwrap();
    let sp = d.path().join("seq.txt");
    write(&sp, std::str::from_utf8(&plan.seq).unwrap());
    let Some(py) = python() else { return };
    let want: Vec<Vec<f64>> = run_python(&py, PY_GRAD, &[model.to_str().unwrap(), sp.to_str().unwrap(), if rc { "1" } else { "0" }])
        .lines()
        .map(|l| l.split('\t').map(|v| v.parse().unwrap()).collect())
        .collect();
    let rows = read_tsv(&out);
    assert_eq!(rows.len(), 200 * 3);
    let scale = want.iter().flatten().fold(0f64, |m, v| m.max(v.abs()));
    assert!(scale > 0.0);
    let mut worst = 0f64;
    for r in &rows {
        let pos: i64 = r["pos"].parse().unwrap();
        let t: usize = r["target"][1..].parse().unwrap();
        let w = want[t][(pos - plan.window_start) as usize];
        let got: f64 = r["attr"].parse().unwrap();
        if r["ref"] == "N" {
            assert_eq!(got, 0.0);
        }
        worst = worst.max((got - w).abs() / w.abs().max(1e-3 * scale));
    }
    assert!(worst <= 1e-5, "max relative difference to torch.autograd grad × input (rc {rc}): {worst}");
}

#[test]
fn grad_attributions_equal_torch_autograd() {
    grad_vs_torch(false);
}

#[test]
fn grad_attributions_follow_the_strand_average() {
    grad_vs_torch(true);
}
