//! `peakscope eval` end to end on a small synthetic project; the metrics in metrics.json are
//! recomputed from the per-peak TSV with scipy/sklearn, and strata are counted independently.
mod common;
use common::*;
use std::collections::HashMap;
use std::path::Path;

const LABELS: [&str; 3] = ["Ubiq", "A_spec", "B_spec"];
const TRACKS: [&str; 3] = ["A", "B", "C"];

/// A 2-chromosome genome, 3 tracks with peak calls, 150 labelled peaks, and three models
/// on 200-bp windows: base counts (two replicates that differ) and positional weights.
fn project(d: &Path) -> std::path::PathBuf {
    let mut rng = Rng::new(77);
    let chroms = [("chr1", 60_000u32), ("chr2", 40_000u32)];
    let seqs: Vec<Vec<u8>> = chroms.iter().map(|(_, l)| rng.dna(*l as usize)).collect();
    fasta(d, &[("chr1", &seqs[0]), ("chr2", &seqs[1])]);
    // peaks every ~650 bp, labelled
    let mut peaks = Vec::new();
    for (ci, (c, len)) in chroms.iter().enumerate() {
        let mut pos = 500u32;
        while pos + 600 < *len && peaks.len() < 150 {
            let w = 100 + rng.below(200) as u32;
            let label = LABELS[rng.below(3) as usize];
            peaks.push((ci, c.to_string(), pos, pos + w, label));
            pos += w + 300 + rng.below(400) as u32;
        }
    }
    let mut bed = String::new();
    for (i, (_, c, s, e, l)) in peaks.iter().enumerate() {
        bed.push_str(&format!("{c}\t{s}\t{e}\tpk{i}\t{l}\n"));
    }
    write(&d.join("peaks.bed"), &bed);
    // measured signal: a run over each peak whose height depends on track, label and GC
    for (ti, t) in TRACKS.iter().enumerate() {
        let mut recs = Vec::new();
        let mut calls = String::new();
        for (ci, c, s, e, l) in &peaks {
            let gc = seqs[*ci][*s as usize..*e as usize].iter().filter(|&&b| b == b'G' || b == b'C').count() as f32;
            let own = (*l == "Ubiq") || (ti == 0 && *l == "A_spec") || (ti == 1 && *l == "B_spec");
            let h = if own { 2.0 + gc / 20.0 } else { 0.2 } * (0.5 + rng.unit() as f32);
            recs.push((c.clone(), bigtools::Value { start: *s, end: *e, value: h }));
            if own || rng.below(10) == 0 {
                calls.push_str(&format!("{c}\t{s}\t{e}\n"));
            }
        }
        let sizes: Vec<(String, u32)> = chroms.iter().map(|(c, l)| (c.to_string(), *l)).collect();
        peakscope::genome::bigwig::write_bigwig(&d.join(format!("{t}.bw")), &sizes, recs).unwrap();
        write(&d.join(format!("{t}.calls.bed")), &calls);
    }
    let bin = bin();
    assert!(std::process::Command::new(bin).args(["make-model", "count", "--input-length", "200", "-o"]).arg(d.join("count.pt")).status().unwrap().success());
    let w: Vec<f32> = (0..4 * 4 * 200).map(|_| rng.unit() as f32 * 0.02).collect();
    peakscope::model::zoo::save(&peakscope::model::zoo::positional_linear(&w, 4, 200).unwrap(), &d.join("lin.pt")).unwrap();
    let cfg = r#"
[genome]
fasta = "genome.fa"
[[tracks]]
name = "A"
bigwig = "A.bw"
peaks = "A.calls.bed"
[[tracks]]
name = "B"
bigwig = "B.bw"
peaks = "B.calls.bed"
[[tracks]]
name = "C"
bigwig = "C.bw"
peaks = "C.calls.bed"
[peaks]
file = "peaks.bed"
label_column = 5
ubiquitous = ["Ubiq"]
[eval]
center_width = 50
specificity_bins = [1, 2]
batch_peaks = 32
[[models]]
name = "counts"
path = "count.pt"
targets = ["A", "B", "C", "t3"]
input_length = 200
replicate_group = "rep"
[[models]]
name = "linear"
path = "lin.pt"
targets = ["A", "B", "C"]
input_length = 200
replicate_group = "rep"
"#;
    let p = d.join("project.toml");
    write(&p, cfg);
    p
}

const RECOMPUTE: &str = r#"
import sys, json, math
import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import roc_auc_score, average_precision_score
tsv, js = sys.argv[1], sys.argv[2]
rows = [l.rstrip("\n").split("\t") for l in open(tsv)]
hdr, rows = rows[0], rows[1:]
col = {h: i for i, h in enumerate(hdr)}
doc = json.load(open(js))["metrics"]
def strata(r):
    s = ["all"]
    lab = r[col["cluster"]]
    s.append("ubiquitous" if lab == "Ubiq" else "specific")
    s.append("cluster:" + lab)
    k = int(r[col["specificity"]])
    s.append("spec:0" if k == 0 else "spec:1" if k == 1 else "spec:2+")
    return s
members = {}
for r in rows:
    for s in strata(r):
        members.setdefault(s, []).append(r)
def cmp(a, b):
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return 0.0 if (b is None or math.isnan(b)) else 1e9
    return abs(a - b)
worst = 0.0
checked = 0
for mname, m in doc["models"].items():
    for track, per in m["targets"].items():
        for st, met in per.items():
            rs = members.get(st, [])
            meas = np.array([float(r[col["measured:" + track]]) for r in rs])
            pred = np.array([float(r[col["pred:%s:%s" % (mname, track)]]) for r in rs])
            called = np.array([int(r[col["called:" + track]]) for r in rs])
            x, y = np.log2(meas + 1), np.log2(pred + 1)
            ok = np.isfinite(x) & np.isfinite(y)
            assert met["n"] == int(ok.sum()), (mname, track, st, met["n"], ok.sum())
            if ok.sum() >= 2 and np.std(x[ok]) > 0 and np.std(y[ok]) > 0:
                r_ = pearsonr(x[ok], y[ok])[0]; s_ = spearmanr(x[ok], y[ok])[0]
            else:
                r_ = s_ = float("nan")
            worst = max(worst, cmp(met["pearson"], r_), cmp(met.get("spearman"), s_))
            if 0 < called.sum() < len(called):
                worst = max(worst, cmp(met.get("auroc"), roc_auc_score(called, pred)), cmp(met.get("auprc"), average_precision_score(called, pred)))
            else:
                worst = max(worst, cmp(met.get("auroc"), float("nan")))
            checked += 1
    # over-correlation of one pair in one stratum
    for st, pairs in m["overcorrelation"].items():
        rs = members.get(st, [])
        for p in pairs:
            pa = np.log2(np.array([float(r[col["pred:%s:%s" % (mname, p["a"])]]) for r in rs]) + 1)
            pb = np.log2(np.array([float(r[col["pred:%s:%s" % (mname, p["b"])]]) for r in rs]) + 1)
            ma = np.log2(np.array([float(r[col["measured:" + p["a"]]]) for r in rs]) + 1)
            mb = np.log2(np.array([float(r[col["measured:" + p["b"]]]) for r in rs]) + 1)
            if len(rs) >= 2:
                worst = max(worst, cmp(p["pred_r"], pearsonr(pa, pb)[0]), cmp(p["measured_r"], pearsonr(ma, mb)[0]))
# replicate CV median over (peak, track) in "all"
cvs = []
for r in rows:
    for t in ["A", "B", "C"]:
        v = np.array([float(r[col["pred:counts:" + t]]), float(r[col["pred:linear:" + t]])])
        if v.mean() != 0:
            cvs.append(v.std() / v.mean())
worst = max(worst, cmp(doc["replicates"]["rep"]["strata"]["all"]["median_cv"], float(np.median(cvs))))
print(f"checked {checked} (model, track, stratum) entries; max abs difference {worst:.3g}")
print("MAXDIFF", worst)
"#;

#[test]
fn eval_metrics_match_scipy_and_sklearn_recomputed_from_the_per_peak_table() {
    let d = tempfile::tempdir().unwrap();
    let cfg = project(d.path());
    let (js, tsv) = (d.path().join("metrics.json"), d.path().join("peaks.tsv"));
    let (ok, out, err) =
        peakscope(&["eval", "--config", cfg.to_str().unwrap(), "--device", "cpu", "-o", js.to_str().unwrap(), "--per-peak", tsv.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("counts") && out.contains("ubiquitous"), "{out}");
    let n_peaks = std::fs::read_to_string(d.path().join("peaks.bed")).unwrap().lines().count() as u64;
    assert!(n_peaks > 100);
    assert!(err.contains(&format!("evaluated {n_peaks} of {n_peaks} peaks")), "{err}");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&js).unwrap()).unwrap();
    assert_eq!(doc["run"]["complete"], true);
    assert_eq!(doc["metrics"]["done"], n_peaks);
    // strata against an independent count from the BED and the calls
    let text = std::fs::read_to_string(&tsv).unwrap();
    let hdr: Vec<&str> = text.lines().next().unwrap().split('\t').collect();
    assert_eq!(hdr[..6], ["chrom", "start", "end", "name", "cluster", "specificity"]);
    assert!(hdr.contains(&"pred:counts:t3") && hdr.contains(&"called:C"));
    let mut by_label: HashMap<String, u64> = HashMap::new();
    let mut spec_counts: HashMap<u32, u64> = HashMap::new();
    let calls: Vec<peakscope::genome::PeakSet> =
        TRACKS.iter().map(|t| peakscope::genome::PeakSet::read(&d.path().join(format!("{t}.calls.bed")), &Default::default()).unwrap()).collect();
    for line in std::fs::read_to_string(d.path().join("peaks.bed")).unwrap().lines() {
        let f: Vec<&str> = line.split('\t').collect();
        *by_label.entry(f[4].to_string()).or_default() += 1;
        let (s, e): (u64, u64) = (f[1].parse().unwrap(), f[2].parse().unwrap());
        let k = calls.iter().filter(|c| c.peaks().iter().any(|p| p.chrom == f[0] && p.start < e && s < p.end)).count() as u32;
        *spec_counts.entry(k.min(2)).or_default() += 1;
    }
    let summ = &doc["metrics"]["models"]["counts"]["summary"];
    for (l, n) in &by_label {
        assert_eq!(summ[format!("cluster:{l}")]["n"], *n, "{l}");
    }
    assert_eq!(summ["ubiquitous"]["n"], by_label["Ubiq"]);
    assert_eq!(summ["specific"]["n"], n_peaks - by_label["Ubiq"]);
    assert_eq!(summ["spec:1"]["n"].as_u64().unwrap_or(0), spec_counts.get(&1).copied().unwrap_or(0));
    assert_eq!(summ["spec:2+"]["n"].as_u64().unwrap_or(0), spec_counts.get(&2).copied().unwrap_or(0));
    // every metric recomputed with scipy/sklearn from the table
    let Some(py) = python() else { return };
    let out = run_python(&py, RECOMPUTE, &[tsv.to_str().unwrap(), js.to_str().unwrap()]);
    eprintln!("{out}");
    let worst: f64 = out.lines().find_map(|l| l.strip_prefix("MAXDIFF ")).unwrap().trim().parse().unwrap();
    assert!(worst <= 1e-6, "{out}");
}

#[test]
fn eval_limits_chromosomes_and_reports_partial_runs() {
    let d = tempfile::tempdir().unwrap();
    let cfg = project(d.path());
    let js = d.path().join("m.json");
    let (ok, _, err) = peakscope(&[
        "eval",
        "--config",
        cfg.to_str().unwrap(),
        "--device",
        "cpu",
        "--chroms",
        "2",
        "--limit",
        "20",
        "--model",
        "counts",
        "-o",
        js.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&js).unwrap()).unwrap();
    assert_eq!(doc["metrics"]["done"], 20);
    assert!(doc["metrics"]["models"].get("linear").is_none());
    let (ok, _, err) = peakscope(&["eval", "--config", cfg.to_str().unwrap(), "--device", "cpu", "--chroms", "chr9"]);
    assert!(!ok && err.contains("no peak"), "{err}");
    let (ok, _, err) = peakscope(&["eval", "--config", cfg.to_str().unwrap(), "--device", "cpu", "--model", "nope"]);
    assert!(!ok && err.contains("no model named 'nope'"), "{err}");
}
