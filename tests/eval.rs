//! `peakscope eval` end to end on a small synthetic project; the metrics in metrics.json are
//! recomputed from the per-peak TSV with scipy/sklearn, and strata are counted independently.
mod common;
use common::*;
use std::collections::HashMap;
use std::path::Path;

const TRACKS: [&str; 3] = LABELLED_TRACKS;

/// A 2-chromosome genome, 3 tracks with peak calls, 150 labelled peaks, and two models
/// (a replicate group) on 200-bp windows: base counts and positional weights.
fn project(d: &Path) -> std::path::PathBuf {
    labelled_project(
        d,
        &LabelledSpec {
            seed: 77,
            chroms: [("chr1", 60_000), ("chr2", 40_000)],
            max_peaks: 150,
            first: 500,
            margin: 600,
            width: (100, 200),
            gap: (300, 400),
            name_prefix: "pk",
            open: (2.0, 20.0),
            closed: 0.2,
            jitter: 0.5,
            call_one_in: 10,
            lin_scale: 0.02,
            eval_toml: "[eval]\ncenter_width = 50\nspecificity_bins = [1, 2]\nbatch_peaks = 32\n",
            model_extra: ["", ""],
        },
    )
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
    assert!(!ok && err.contains("'chr9' is in neither the FASTA"), "{err}");
    let (ok, _, err) = peakscope(&["eval", "--config", cfg.to_str().unwrap(), "--device", "cpu", "--model", "nope"]);
    assert!(!ok && err.contains("no model named 'nope'"), "{err}");
}

fn eval(cfg: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec!["eval", "--config", cfg.to_str().unwrap(), "--device", "cpu"];
    args.extend(extra);
    peakscope(&args)
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn eval_refuses_meaningless_options_and_bad_outputs_before_any_work() {
    let d = tempfile::tempdir().unwrap();
    let cfg = project(d.path());
    let js = d.path().join("m.json");
    let j = js.to_str().unwrap();
    let (ok, _, err) = eval(&cfg, &["--limit", "0", "-o", j]);
    assert!(!ok && err.contains("--limit 0"), "{err}");
    let (ok, _, err) = eval(&cfg, &["--center-width", "0", "-o", j]);
    assert!(!ok && err.contains("--center-width must be > 0"), "{err}");
    // chrZ is in neither the FASTA nor the peaks: named, with what exists
    let (ok, _, err) = eval(&cfg, &["--chroms", "chr2,chrZ", "-o", j]);
    assert!(!ok && err.contains("'chrZ'") && err.contains("neither the FASTA") && err.contains("chr1"), "{err}");
    // output locations: a missing folder for --per-peak, the config itself as -o
    let bad = d.path().join("typo/peaks.tsv");
    let (ok, _, err) = eval(&cfg, &["-o", j, "--per-peak", bad.to_str().unwrap()]);
    assert!(!ok && err.contains("--per-peak") && err.contains("does not exist"), "{err}");
    let (ok, _, err) = eval(&cfg, &["-o", cfg.to_str().unwrap()]);
    assert!(!ok && err.contains("also an input"), "{err}");
    let (ok, _, err) = eval(&cfg, &["-o", j, "--per-peak", j]);
    assert!(!ok && err.contains("both name"), "{err}");
    assert!(!js.exists(), "nothing was written");
    // refused before the models were loaded: no timing line
    assert!(!err.contains("evaluated"), "{err}");
}

#[test]
fn eval_requested_chromosome_without_peaks_is_a_counted_warning() {
    let d = tempfile::tempdir().unwrap();
    let cfg = project(d.path());
    // the FASTA gains a chr3 that has no peaks
    let text = std::fs::read_to_string(d.path().join("genome.fa")).unwrap();
    let extra: String = Rng::new(3).dna(600).chunks(60).map(|c| format!("{}\n", std::str::from_utf8(c).unwrap())).collect();
    write(&d.path().join("genome.fa"), &format!("{text}>chr3\n{extra}"));
    peakscope::genome::fasta::build_index(d.path().join("genome.fa")).unwrap();
    let js = d.path().join("m.json");
    let (ok, _, err) = eval(&cfg, &["--chroms", "2,chr3", "--model", "counts", "-o", js.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(err.contains("no peak of") && err.contains("lies on chr3"), "{err}");
    let doc = json(&js);
    let per = &doc["run"]["input"]["peaks_per_requested_chrom"];
    assert_eq!(per["chr3"], 0);
    let on_chr2 = std::fs::read_to_string(d.path().join("peaks.bed")).unwrap().lines().filter(|l| l.starts_with("chr2\t")).count();
    assert_eq!(per["2"], on_chr2);
    assert_eq!(doc["metrics"]["done"], on_chr2);
}

#[test]
fn eval_tracks_without_data_fail_and_partial_ones_are_counted() {
    let d = tempfile::tempdir().unwrap();
    let cfg = project(d.path());
    let peaks_text = std::fs::read_to_string(d.path().join("peaks.bed")).unwrap();
    let on_chr2 = peaks_text.lines().filter(|l| l.starts_with("chr2\t")).count();
    let n = peaks_text.lines().count();
    // track C's bigWig has chromosome names that match nothing (not even through aliases)
    let c_bw = d.path().join("C.bw");
    let saved = std::fs::read(&c_bw).unwrap();
    random_bigwig(&c_bw, &[("scaffold_1", 60_000), ("scaffold_2", 40_000)], 5);
    let js = d.path().join("m.json");
    let (ok, _, err) = eval(&cfg, &["-o", js.to_str().unwrap()]);
    assert!(!ok, "{err}");
    assert!(err.contains("track C") && err.contains("none of the chromosomes") && err.contains("scaffold_1"), "{err}");
    assert!(!js.exists());
    // track C covers chr1 only: a warning with the count, NaN for the chr2 peaks, counted in
    // metrics.json, and C's metrics use the chr1 peaks only
    std::fs::write(&c_bw, &saved).unwrap();
    let full = peakscope::genome::BigWig::open(&c_bw).unwrap().values("chr1", 0, 60_000).unwrap().unwrap();
    let mut recs = Vec::new();
    for (i, v) in full.iter().enumerate() {
        if !v.is_nan() {
            recs.push(("chr1".to_string(), bigtools::Value { start: i as u32, end: i as u32 + 1, value: *v }));
        }
    }
    peakscope::genome::bigwig::write_bigwig(&c_bw, &[("chr1".to_string(), 60_000)], recs).unwrap();
    let (ok, _, err) = eval(&cfg, &["--model", "counts", "-o", js.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(err.contains("track C: its bigWig") && err.contains(&format!("({on_chr2} of {n} selected peaks)")), "{err}");
    assert!(err.contains(&format!("track C: {on_chr2} of {n} evaluated peaks have no measured value")), "{err}");
    let doc = json(&js);
    assert_eq!(doc["run"]["measured_nan"]["C"], on_chr2);
    assert_eq!(doc["run"]["measured_nan"]["A"], 0);
    assert_eq!(doc["run"]["input"]["missing_in_bigwig"]["C"], on_chr2);
    let targets = &doc["metrics"]["models"]["counts"]["targets"];
    assert_eq!(targets["C"]["all"]["n"], n - on_chr2);
    assert_eq!(targets["A"]["all"]["n"], n);
}

#[test]
fn eval_skips_and_counts_peaks_the_fasta_lacks_and_refuses_a_stale_index() {
    let d = tempfile::tempdir().unwrap();
    let cfg = project(d.path());
    let bed = d.path().join("peaks.bed");
    let text = std::fs::read_to_string(&bed).unwrap();
    let n = text.lines().count();
    // two peaks on a contig the FASTA lacks, one running past chr2's end (40,000 bp): its
    // 200-bp window [39925, 40125) is 125 bp of N padding
    write(&bed, &format!("{text}chrUn_x\t100\t300\tlost1\tUbiq\nchrUn_x\t500\t700\tlost2\tUbiq\nchr2\t39950\t40100\tedge\tUbiq\n"));
    let js = d.path().join("m.json");
    let (ok, _, err) = eval(&cfg, &["--model", "counts", "-o", js.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(err.contains(&format!("skipped 2 of {} peaks", n + 3)) && err.contains("chrUn_x"), "{err}");
    assert!(err.contains("1 selected peaks of") && err.contains("run past their chromosome's end"), "{err}");
    assert!(err.contains(&format!("1 of {} evaluated peaks have a model window that is more than half N", n + 1)), "{err}");
    let doc = json(&js);
    assert_eq!(doc["run"]["input"]["skipped_not_in_fasta"], 2);
    assert_eq!(doc["run"]["input"]["past_chrom_end"], 1);
    assert_eq!(doc["run"]["input"]["mostly_n_windows"], 1);
    assert_eq!(doc["metrics"]["done"], n + 1);
    // the FASTA edited after indexing: refused with the fix, before any model runs
    let fa = d.path().join("genome.fa");
    let mut t = std::fs::read_to_string(&fa).unwrap();
    t.insert_str(t.find('\n').unwrap() + 1, "ACGT");
    std::fs::write(&fa, t).unwrap();
    let (ok, _, err) = eval(&cfg, &[]);
    assert!(!ok && err.contains("peakscope faidx") && !err.contains("evaluated"), "{err}");
}

/// `peakscope eval` on the demo, interrupted with SIGINT once or twice at various moments:
/// every run ends with 0 (finished before the signal), 130, or death by SIGINT itself (a
/// signal before the handler is installed) — never a crash (SIGSEGV/SIGABRT, 134/139) or
/// another error. One interrupt writes partial results marked incomplete.
#[test]
fn eval_interrupted_with_ctrl_c_exits_cleanly() {
    use std::os::unix::process::ExitStatusExt;
    let d = tempfile::tempdir().unwrap();
    let (ok, out, err) = peakscope(&["demo", "--dir", d.path().join("demo").to_str().unwrap(), "--no-tui"]);
    assert!(ok, "{err}");
    // smaller batches than the demo's 256 peaks, so a first interrupt finishes sooner and
    // later signals land between as well as inside batches
    let cfg = d.path().join("demo/project.toml");
    assert_eq!(out.trim(), cfg.to_str().unwrap());
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("[eval]\n"));
    write(&cfg, &text.replace("[eval]\n", "[eval]\nbatch_peaks = 64\n"));
    let cfg = cfg.to_str().unwrap().to_string();
    let js = d.path().join("m.json");
    // the process start (loading libtorch) takes a while on a busy machine: signals are timed
    // from when a run of the binary could first react, so they land during model loading,
    // the first batches and later ones
    let t = std::time::Instant::now();
    assert!(peakscope(&["--version"]).0);
    let start = t.elapsed().as_millis() as u64;
    // (first signal after ms, second signal after a further ms; None = only one)
    let plan: [(u64, Option<u64>); 10] = [
        (50, Some(0)),
        (300, Some(30)),
        (700, Some(0)),
        (1500, Some(200)),
        (2500, Some(5)),
        (4000, Some(100)),
        (6000, Some(0)),
        (400, None),
        (3000, None),
        (6000, None),
    ];
    let mut codes = Vec::new();
    for (first, second) in plan {
        let first = start + first;
        let _ = std::fs::remove_file(&js);
        let child = std::process::Command::new(bin())
            .args(["eval", "--config", &cfg, "--device", "cpu", "-o", js.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        std::thread::sleep(std::time::Duration::from_millis(first));
        // SAFETY: kill(2) on our own child's pid; a finished child makes it fail harmlessly
        unsafe { libc::kill(pid, libc::SIGINT) };
        if let Some(ms) = second {
            std::thread::sleep(std::time::Duration::from_millis(ms));
            // SAFETY: as above
            unsafe { libc::kill(pid, libc::SIGINT) };
        }
        let res = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&res.stderr).into_owned();
        let (code, sig) = (res.status.code(), res.status.signal());
        codes.push((first, second, code, sig));
        assert!(matches!(code, Some(0) | Some(130)) || sig == Some(libc::SIGINT), "interrupt at {first} ms (+{second:?}): exit {code:?} signal {sig:?}\n{err}");
        assert!(!err.contains("bad_alloc") && !err.contains("panicked"), "{err}");
        if second.is_none() && code == Some(130) && js.exists() {
            let doc = json(&js);
            assert_eq!(doc["run"]["complete"], false, "{err}");
            assert!(doc["run"]["n_peaks"].as_u64().unwrap() > 0);
            assert!(err.contains("partial results"), "{err}");
        }
    }
    eprintln!("interrupt runs (first ms, second ms, exit code, signal): {codes:?}");
}
