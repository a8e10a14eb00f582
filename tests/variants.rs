//! `peakscope variants` against Python torch on the same TorchScript file (windows built
//! independently in Python from the FASTA and the VCF), against `predict --bed`, and with bad
//! input (REF mismatch, unknown chromosome, window off the chromosome, unsorted VCF,
//! malformed allelic tables).
mod common;
use common::*;
use peakscope::genome::variants::{build_index, VariantOptions, VariantReader};
use peakscope::genome::Fasta;
use peakscope::model::fast_ism::ALT_CHECK_TOLERANCE;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

const PY_VARIANTS: &str = r##"
import sys, torch, numpy as np
model_path, fasta_path, vcf_path, L, K = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
genome, name = {}, None
for line in open(fasta_path):
    line = line.strip()
    if line.startswith(">"):
        name = line[1:].split()[0]; genome[name] = []
    elif name:
        genome[name].append(line.upper())
genome = {k: "".join(v) for k, v in genome.items()}
alias = lambda c: c if c in genome else ("chr" + c if "chr" + c in genome else c)
def fetch(c, s, e):
    seq = genome[c]
    return "".join(seq[i] if 0 <= i < len(seq) else "N" for i in range(s, e))
ctx = L + 2 * K
m = torch.jit.load(model_path).eval()
def onehot(seqs):
    x = np.zeros((len(seqs), 4, len(seqs[0])), dtype=np.float32)
    for i, s in enumerate(seqs):
        for j, ch in enumerate(s):
            k = "ACGT".find(ch)
            if k >= 0:
                x[i, k, j] = 1
    return torch.from_numpy(x)
def height(seq):
    views = [seq[sh:sh + L] for sh in range(2 * K + 1)]
    x = onehot(views)
    with torch.no_grad():
        y = (m(x).double() + m(x.flip([1, 2])).double()) / 2
    return y.mean(0).tolist()
for line in open(vcf_path):
    if line.startswith("#"):
        continue
    f = line.rstrip("\n").split("\t")
    c, pos, ref, alts = alias(f[0]), int(f[1]), f[3], f[4].split(",")
    if c not in genome or fetch(c, pos - 1, pos - 1 + len(ref)) != ref:
        continue
    s0 = pos - 1
    center = s0 + len(ref) // 2
    start = center - ctx // 2
    if start < 0 or start + ctx > len(genome[c]):
        continue
    rw = fetch(c, start, start + ctx)
    href = height(rw)
    for alt in alts:
        d = len(alt) - len(ref)
        o = s0 - start
        if d == 0:
            aw = rw[:o] + alt + rw[o + len(ref):]
        elif d > 0:
            dl, dr = -(d // 2), -(d - d // 2)
            aw = fetch(c, start - dl, start + o) + alt + fetch(c, start + o + len(ref), start + ctx + dr)
        else:
            dl, dr = (-d) // 2, -d - (-d) // 2
            aw = fetch(c, start - dl, start + o) + alt + fetch(c, start + o + len(ref), start + ctx + dr)
        assert len(aw) == ctx
        halt = height(aw)
        for t in range(len(href)):
            print(f"{c}\t{pos}\t{ref}\t{alt}\t{t}\t{href[t]!r}\t{halt[t]!r}")
"##;

struct Project {
    dir: tempfile::TempDir,
    config: PathBuf,
    model: PathBuf,
    fasta: PathBuf,
    genome: HashMap<String, Vec<u8>>,
}

const TRACKS: [&str; 3] = ["A", "B", "C"];

fn project(shifts: u32) -> Project {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(14);
    let c1 = rng.dna(6000);
    let c2 = rng.dna(3000);
    let fasta = fasta(dir.path(), &[("chr1", &c1), ("chr2", &c2)]);
    let model = dir.path().join("basset.pt");
    let (m, _) = peakscope::model::zoo::basset(3, 5).unwrap();
    peakscope::model::zoo::save(&m, &model).unwrap();
    write(&dir.path().join("peaks.bed"), "chr1\t2000\t2400\tp1\tubi\nchr1\t3000\t3300\tp2\tspecA\nchr2\t1400\t1700\tp3\tspecB\n");
    write(&dir.path().join("A.bed"), "chr1\t2100\t2200\nchr1\t3050\t3100\n");
    write(&dir.path().join("B.bed"), "chr1\t2300\t2350\nchr2\t1500\t1600\n");
    write(&dir.path().join("C.bed"), "chr1\t2000\t2010\n");
    let mut toml = format!("[genome]\nfasta = \"{}\"\n", fasta.display());
    for t in TRACKS {
        toml.push_str(&format!("[[tracks]]\nname = \"{t}\"\nbigwig = \"{t}.bw\"\npeaks = \"{t}.bed\"\n"));
    }
    toml.push_str("[peaks]\nfile = \"peaks.bed\"\nlabel_column = 5\nubiquitous = [\"ubi\"]\n");
    toml.push_str(&format!(
        "[[models]]\nname = \"basset\"\npath = \"basset.pt\"\ninput_length = 1344\ntargets = [\"A\", \"B\", \"C\"]\nrc = true\nshifts = {shifts}\nbatch_size = 16\n"
    ));
    let config = dir.path().join("project.toml");
    write(&config, &toml);
    let genome = [("chr1".to_string(), c1), ("chr2".to_string(), c2)].into_iter().collect();
    Project { dir, config, model, fasta, genome }
}

fn other(b: u8) -> char {
    match b {
        b'A' => 'G',
        b'C' => 'T',
        b'G' => 'A',
        _ => 'C',
    }
}

impl Project {
    fn base(&self, c: &str, pos: u64) -> char {
        self.genome[c][pos as usize - 1] as char
    }
    fn bases(&self, c: &str, pos: u64, n: usize) -> String {
        String::from_utf8(self.genome[c][pos as usize - 1..pos as usize - 1 + n].to_vec()).unwrap()
    }
    /// (chrom as written, pos, ref, alt) records of the test VCF
    fn records(&self) -> Vec<(String, u64, String, String)> {
        let mut r = Vec::new();
        for (c, pos) in [("chr1", 2150u64), ("chr1", 3100), ("chr1", 4500), ("chr2", 1550), ("chr2", 2000)] {
            let b = self.genome[c][pos as usize - 1];
            r.push((c.to_string(), pos, (b as char).to_string(), other(b).to_string()));
        }
        // alias spelling, multi-allelic
        let b = self.base("chr1", 1000);
        let alts: Vec<String> = "ACGT".chars().filter(|&x| x != b).map(|x| x.to_string()).collect();
        r.push(("1".into(), 1000, b.to_string(), alts.join(",")));
        // insertion and deletion (with the anchor base)
        r.push(("chr1".into(), 2500, self.base("chr1", 2500).to_string(), format!("{}TTAG", self.base("chr1", 2500))));
        r.push(("chr1".into(), 2700, self.bases("chr1", 2700, 4), self.base("chr1", 2700).to_string()));
        r
    }
    fn write_vcf(&self, name: &str, extra: &[(String, u64, String, String)]) -> PathBuf {
        let mut t = String::from(
            "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=6000>\n##contig=<ID=chr2,length=3000>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n",
        );
        for (c, p, r, a) in self.records().iter().chain(extra) {
            t.push_str(&format!("{c}\t{p}\t.\t{r}\t{a}\t.\t.\t.\n"));
        }
        let p = self.dir.path().join(name);
        write(&p, &t);
        p
    }
}

fn run_variants(p: &Project, vcf: &Path, out: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec!["variants", "--config", p.config.to_str().unwrap(), "--vcf", vcf.to_str().unwrap(), "-o", out.to_str().unwrap(), "--device", "cpu"];
    args.extend_from_slice(extra);
    peakscope(&args)
}

fn read_scores(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split('\t').map(String::from).collect();
    (header, lines.map(|l| l.split('\t').map(String::from).collect()).collect())
}

#[test]
fn scores_equal_python_torch_and_predict() {
    let p = project(1);
    // skipped: REF mismatch, unknown chromosome, window off the chromosome end
    let wrong = other(p.genome["chr1"][3999]);
    let extra = vec![
        ("chr1".to_string(), 4000u64, wrong.to_string(), p.base("chr1", 4000).to_string()),
        ("chrUn".to_string(), 10, "A".to_string(), "C".to_string()),
        ("chr2".to_string(), 2900, p.base("chr2", 2900).to_string(), other(p.genome["chr2"][2899]).to_string()),
    ];
    let vcf = p.write_vcf("v.vcf", &extra);
    let out = p.dir.path().join("scores.tsv");
    let (ok, _, err) = run_variants(&p, &vcf, &out, &[]);
    assert!(ok, "{err}");
    assert!(err.contains("1 REF mismatch"), "{err}");
    assert!(err.contains("mismatch") && err.contains("line 13") && err.contains(&format!("the FASTA has {}", p.base("chr1", 4000))), "{err}");
    assert!(err.contains("chrUn") && err.contains("runs off"), "{err}");
    let (header, rows) = read_scores(&out);
    assert_eq!(header, ["chrom", "pos", "ref", "alt", "model", "track", "ref_pred", "alt_pred", "sad", "log2fc", "peak", "cluster", "stratum", "specificity"]);
    // 5 SNVs + 3 alleles + 2 indels, × 3 tracks; skipped ones absent
    assert_eq!(rows.len(), 10 * 3, "{rows:?}");
    assert!(!rows.iter().any(|r| r[1] == "4000" || r[1] == "2900" || r[0] == "chrUn"));
    // annotation: chr1:2150 in the ubiquitous peak p1 (called by A, B and C), chr2:1550 in p3
    let row = |c: &str, pos: &str| rows.iter().find(|r| r[0] == c && r[1] == pos).unwrap().clone();
    assert_eq!(row("chr1", "2150")[10..], ["p1", "ubi", "ubiquitous", "3"]);
    assert_eq!(row("chr2", "1550")[10..], ["p3", "specB", "specific", "1"]);
    assert_eq!(row("chr1", "4500")[10..], ["NA", "NA", "NA", "NA"]);
    // alias: `1` is written with the FASTA's name
    assert_eq!(rows.iter().filter(|r| r[0] == "chr1" && r[1] == "1000").count(), 9);
    for r in &rows {
        let (rp, ap, sad, lfc): (f64, f64, f64, f64) = (r[6].parse().unwrap(), r[7].parse().unwrap(), r[8].parse().unwrap(), r[9].parse().unwrap());
        assert_eq!(sad, ap - rp);
        assert!((lfc - ((ap + 1.0) / (rp + 1.0)).log2()).abs() < 1e-12);
    }
    // Python torch on the same file, windows built from the FASTA in Python
    let py = python().expect("reference python");
    let got = run_python(&py, PY_VARIANTS, &[p.model.to_str().unwrap(), p.fasta.to_str().unwrap(), vcf.to_str().unwrap(), "1344", "1"]);
    let mut n = 0;
    let mut worst = 0f64;
    for line in got.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let t = TRACKS[f[4].parse::<usize>().unwrap()];
        let r = rows.iter().find(|r| r[0] == f[0] && r[1] == f[1] && r[2] == f[2] && r[3] == f[3] && r[5] == t).unwrap_or_else(|| panic!("no row for {line}"));
        for (mine, theirs) in [(&r[6], f[5]), (&r[7], f[6])] {
            let (a, b): (f64, f64) = (mine.parse().unwrap(), theirs.parse().unwrap());
            worst = worst.max((a - b).abs() / b.abs().max(1e-6));
        }
        n += 1;
    }
    assert_eq!(n, rows.len(), "Python scored {n} rows");
    eprintln!("variants vs Python torch: {n} rows, max relative difference {worst:.2e}");
    assert!(worst <= 1e-5, "max relative difference to Python torch: {worst}");
    // ref_pred equals `predict --bed` of [POS-1, POS): the same window, views and heads. SNV
    // windows take the fast path (REF through the position-local prefix and the rest of the
    // graph, which the check batch allows to differ from the whole model by
    // ALT_CHECK_TOLERANCE, value by value), and fp32 GEMMs of another batch composition may
    // differ in the last bits
    let bed = p.dir.path().join("snv.bed");
    write(&bed, "chr1\t2149\t2150\nchr2\t1549\t1550\n");
    let (ok, pred, err) =
        peakscope(&["predict", "--config", p.config.to_str().unwrap(), "--model", "basset", "--bed", bed.to_str().unwrap(), "--device", "cpu"]);
    assert!(ok, "{err}");
    for line in pred.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let pos = (f[1].parse::<u64>().unwrap() + 1).to_string();
        for (t, name) in TRACKS.iter().enumerate() {
            let r = rows.iter().find(|r| r[0] == f[0] && r[1] == pos && r[5] == *name).unwrap();
            let (a, b): (f64, f64) = (r[6].parse().unwrap(), f[4 + t].parse().unwrap());
            assert!((a - b).abs() <= ALT_CHECK_TOLERANCE * b.abs().max(1e-6), "{} {pos} {name}: {a} vs {b}", f[0]);
        }
    }
    // --limit and --chroms
    let out2 = p.dir.path().join("s2.tsv");
    let (ok, _, err) = run_variants(&p, &vcf, &out2, &["--chroms", "2", "--limit", "1"]);
    assert!(ok, "{err}");
    let (_, rows2) = read_scores(&out2);
    assert_eq!(rows2.len(), 3);
    assert_eq!(rows2[0][..2], ["chr2", "1550"]);
}

#[test]
fn bad_input_is_named_and_nothing_is_written() {
    let p = project(0);
    let out = p.dir.path().join("scores.tsv");
    // malformed allelic table: non-numeric count, missing alt column, unknown track
    let b = p.base("chr1", 2150);
    for (text, want) in [
        (format!("chrom\tpos\tref\talt\tA:ref_count\tA:alt_count\nchr1\t2150\t{b}\tC\t3\tmany\n"), "line 2"),
        ("chrom\tpos\tref\talt\tA:ref_count\n".to_string(), "no A:alt_count"),
        ("chrom\tpos\tref\talt\tPT:ref_count\tPT:alt_count\n".to_string(), "not a [[tracks]] name"),
    ] {
        let t = p.dir.path().join("allelic.tsv");
        write(&t, &text);
        let (ok, _, err) = run_variants(&p, &t, &out, &[]);
        assert!(!ok && err.contains(want) && err.contains("allelic.tsv"), "{want}: {err}");
        assert!(!out.exists(), "nothing written");
    }
    // every record skipped: an error, nothing written, the mismatch reported
    let wrong = other(p.genome["chr1"][99]);
    let vcf = p.dir.path().join("bad.vcf");
    write(&vcf, &format!("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\t100\t.\t{wrong}\tA\t.\t.\t.\n"));
    let (ok, _, err) = run_variants(&p, &vcf, &out, &[]);
    assert!(!ok && err.contains("1 REF mismatch") && err.contains("line 3"), "{err}");
    assert!(!out.exists());
    // --chroms typo
    let good = p.write_vcf("good.vcf", &[]);
    let (ok, _, err) = run_variants(&p, &good, &out, &["--chroms", "chrZ"]);
    assert!(!ok && err.contains("chrZ"), "{err}");
    // not a VCF at all
    let (ok, _, err) = run_variants(&p, &p.model, &out, &[]);
    assert!(!ok && err.contains("basset.pt"), "{err}");
    assert!(!out.exists());
}

fn bgzip(src: &Path, dst: &Path) {
    let mut w = rust_htslib::bgzf::Writer::from_path(dst).unwrap();
    w.write_all(&std::fs::read(src).unwrap()).unwrap();
}

#[test]
fn region_queries_need_a_sorted_indexed_vcf() {
    let p = project(0);
    let fa = Fasta::open(&p.fasta).unwrap();
    let vcf = p.write_vcf("v.vcf", &[]);
    let gz = p.dir.path().join("v.vcf.gz");
    // sort the records (as written they are not: chr1 after chr2)
    let text = std::fs::read_to_string(&vcf).unwrap();
    let (head, body): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| l.starts_with('#'));
    // unindexed: the error says how to index it, and that it is unsorted
    let e = VariantReader::open_region(&vcf, &fa, VariantOptions::default(), "chr1", 0, 5000).err().unwrap().to_string();
    assert!(e.contains("index") && e.contains("not sorted") && e.contains("line 11"), "{e}");
    bgzip(&vcf, &gz);
    let e = build_index(&gz).unwrap_err().to_string();
    assert!(e.contains("not sorted") && e.contains("v.vcf.gz"), "{e}");
    let mut body: Vec<&str> = body;
    let key = |l: &&str| {
        let f: Vec<&str> = l.split('\t').collect();
        let c = if f[0] == "1" { "chr1" } else { f[0] };
        (c.to_string(), f[1].parse::<u64>().unwrap())
    };
    body.sort_by_key(key);
    let sorted: String = head.iter().chain(body.iter().filter(|l| !l.starts_with("1\t"))).map(|l| format!("{l}\n")).collect();
    let sv = p.dir.path().join("s.vcf");
    write(&sv, &sorted);
    bgzip(&sv, &gz);
    build_index(&gz).unwrap();
    let got: Vec<u64> =
        VariantReader::open_region(&gz, &fa, VariantOptions::default(), "1", 2000, 3000).unwrap().read_all().unwrap().iter().map(|v| v.pos).collect();
    assert_eq!(got, vec![2150, 2500, 2700]);
    // the whole bgzip file streams too, with line numbers of the text
    let all = VariantReader::open(&gz, &fa, VariantOptions::default()).unwrap().read_all().unwrap();
    assert_eq!(all.len(), 7);
    assert_eq!(all[0].line, 5);
}

const PY_EVAL: &str = r##"
import sys, json, math
import numpy as np
from scipy.stats import pearsonr
from sklearn.metrics import roc_auc_score, average_precision_score
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
head, rows = rows[0], rows[1:]
col = {c: i for i, c in enumerate(head)}
doc = json.load(open(sys.argv[2]))["variants"]
min_depth = doc["min_depth"]
met = doc["metrics"]
def close(a, b, what):
    if b is None or (isinstance(b, float) and math.isnan(b)):
        assert a is None, (what, a, b)
    else:
        assert a is not None and abs(a - b) <= 1e-6, (what, a, b)
checked = 0
models = sorted(set(r[col["model"]] for r in rows))
for m in models:
    mr = [r for r in rows if r[col["model"]] == m]
    tracks = sorted(set(r[col["track"]] for r in mr))
    for st in doc["strata"]:
        sr = [r for r in mr if st in r[col["strata"]].split(",")]
        for t in tracks:
            tr = [r for r in sr if r[col["track"]] == t and r[col["ref_count"]] != "NA"]
            tr = [r for r in tr if int(r[col["ref_count"]]) + int(r[col["alt_count"]]) >= min_depth]
            got = met[m]["allelic"].get(t, {}).get(st)
            if not tr:
                assert got is None, (m, t, st)
                continue
            p = np.array([float(r[col["log2fc"]]) for r in tr])
            rc = np.array([int(r[col["ref_count"]]) for r in tr]); ac = np.array([int(r[col["alt_count"]]) for r in tr])
            meas = np.log2((ac + 0.5) / (rc + 0.5))
            assert np.allclose(meas, [float(r[col["measured_log2"]]) for r in tr])
            assert got["n"] == len(tr)
            close(got["pearson"], pearsonr(p, meas)[0] if len(tr) > 1 and np.ptp(p) > 0 and np.ptp(meas) > 0 else None, (m, t, st, "pearson"))
            imb = rc != ac
            y = (ac > rc)[imb]
            assert got["n_imbalanced"] == int(imb.sum())
            close(got["auroc"], roc_auc_score(y, p[imb]) if 0 < y.sum() < len(y) else None, (m, t, st, "auroc"))
            sign = np.mean(np.where(y, p[imb] > 0, p[imb] < 0)) if imb.any() else None
            close(got["sign_accuracy"], sign, (m, t, st, "sign"))
            checked += 1
        for t in tracks + ["mean_abs_sad"]:
            if t == "mean_abs_sad":
                by = {}
                for r in sr:
                    if r[col["label"]] != "NA":
                        by.setdefault((r[0], r[1], r[2], r[3]), []).append((abs(float(r[col["sad"]])), r[col["label"]] == "1"))
                x = [np.mean([v for v, _ in vs]) for vs in by.values()]; y = [vs[0][1] for vs in by.values()]
            else:
                lr = [r for r in sr if r[col["track"]] == t and r[col["label"]] != "NA"]
                x = [abs(float(r[col["sad"]])) for r in lr]; y = [r[col["label"]] == "1" for r in lr]
            got = met[m]["labelled"].get(t, {}).get(st)
            if not y:
                assert got is None
                continue
            assert got["n"] == len(y)
            close(got["auroc"], roc_auc_score(y, x) if 0 < sum(y) < len(y) else None, (m, t, st, "lab auroc"))
            close(got["auprc"], average_precision_score(y, x) if sum(y) > 0 else None, (m, t, st, "lab auprc"))
            checked += 1
print(checked)
"##;

#[test]
fn eval_variant_metrics_equal_scipy_and_sklearn() {
    let p = project(0);
    for (i, t) in TRACKS.iter().enumerate() {
        random_bigwig(&p.dir.path().join(format!("{t}.bw")), &[("chr1", 6000), ("chr2", 3000)], 40 + i as u64);
    }
    // heterozygous sites with counts in tracks A and B (C has none), and labels
    let mut rng = Rng::new(77);
    let mut t = String::from("chrom\tpos\tref\talt\tA:ref_count\tA:alt_count\tB:ref_count\tB:alt_count\tset\n");
    let mut n = 0;
    for (c, lo, hi) in [("chr1", 800u64, 5200u64), ("chr2", 800, 2200)] {
        let mut pos = lo;
        while pos < hi {
            let b = p.genome[c][pos as usize - 1];
            let cnt = |rng: &mut Rng| if rng.below(6) == 0 { "NA".to_string() } else { rng.below(30).to_string() };
            let (ar, aa, br, ba) = (cnt(&mut rng), cnt(&mut rng), cnt(&mut rng), cnt(&mut rng));
            let lab = ["1", "0", "NA"][rng.below(3) as usize];
            t.push_str(&format!("{c}\t{pos}\t{}\t{}\t{ar}\t{aa}\t{br}\t{ba}\t{lab}\n", b as char, other(b)));
            pos += 40 + rng.below(120);
            n += 1;
        }
    }
    assert!(n > 40);
    write(&p.dir.path().join("allelic.tsv"), &t);
    let mut cfg = std::fs::read_to_string(&p.config).unwrap();
    cfg.push_str("[variants]\nallelic = \"allelic.tsv\"\nlabel = \"set\"\nmin_depth = 12\n");
    write(&p.config, &cfg);
    let (m, pv) = (p.dir.path().join("m.json"), p.dir.path().join("pv.tsv"));
    let (ok, out, err) =
        peakscope(&["eval", "--config", p.config.to_str().unwrap(), "-o", m.to_str().unwrap(), "--per-variant", pv.to_str().unwrap(), "--device", "cpu"]);
    assert!(ok, "{err}");
    assert!(out.contains("ai_auroc") && out.contains("ubiquitous"), "{out}");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&m).unwrap()).unwrap();
    assert_eq!(doc["variants"]["scoring"]["scored"].as_u64().unwrap(), n);
    let py = python().expect("reference python");
    let checked: usize = run_python(&py, PY_EVAL, &[pv.to_str().unwrap(), m.to_str().unwrap()]).trim().parse().unwrap();
    assert!(checked >= 10, "{checked} metrics checked");
}
