//! `peakscope demo`: the shipped dataset and models, end to end.
mod common;
use common::*;

#[test]
fn demo_writes_a_complete_project_that_passes_doctor_and_evaluates() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("demo");
    let t = std::time::Instant::now();
    let (ok, out, err) = peakscope(&["demo", "--dir", dir.to_str().unwrap(), "--no-tui"]);
    assert!(ok, "{err}");
    assert!(t.elapsed().as_secs_f64() < 30.0);
    let cfg = out.trim().to_string();
    assert_eq!(std::path::Path::new(&cfg), dir.join("project.toml"));
    for f in ["genome.fa", "genome.fa.fai", "genes.bed", "peaks.bed", "PT.bw", "Bcell.peaks.bed", "models/mt_base_rep1.pt", "models/single_task.pt"] {
        assert!(dir.join(f).exists(), "{f}");
    }
    let before = std::fs::read(dir.join("peaks.bed")).unwrap();
    // a second call finds the folder complete and leaves it alone
    let (ok, out2, _) = peakscope(&["demo", "--dir", dir.to_str().unwrap(), "--no-tui"]);
    assert!(ok && out2 == out);
    // --force regenerates the same files from the seed
    assert!(peakscope(&["demo", "--dir", dir.to_str().unwrap(), "--no-tui", "--force"]).0);
    assert_eq!(std::fs::read(dir.join("peaks.bed")).unwrap(), before, "deterministic from the seed");
    let (ok, dout, derr) = peakscope(&["doctor", &cfg, "--models"]);
    assert!(ok, "{dout}\n{derr}");
    assert!(dout.contains("all 24 checks passed"), "{dout}");
    // held-out chromosome evaluation of the baseline replicates and the single-task set
    let js = d.path().join("m.json");
    let (ok, _, err) = peakscope(&[
        "eval",
        "--config",
        &cfg,
        "--chroms",
        "chr3",
        "--device",
        "cpu",
        "--model",
        "mt_base_rep1",
        "--model",
        "mt_base_rep2",
        "--model",
        "mt_base_rep3",
        "--model",
        "single_task",
        "-o",
        js.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&js).unwrap()).unwrap();
    let m = &doc["metrics"]["models"];
    let base = &m["mt_base_rep1"]["summary"];
    assert!(base["ubiquitous"]["n"].as_u64().unwrap() > 20 && base["specific"]["n"].as_u64().unwrap() > 100);
    assert!(doc["metrics"]["replicates"]["mt_base"]["strata"]["all"]["median_cv"].as_f64().unwrap() > 0.0);
    // what the shipped models show on the held-out chromosome (the paper's direction):
    // ubiquitous peaks are predicted better than cell type-specific ones by the multi-task
    // model, and multi-task predictions over-correlate across cell types far more than
    // independent single-task models
    let p = |model: &str, st: &str, key: &str| m[model]["summary"][st][key].as_f64().unwrap();
    assert!(p("mt_base_rep1", "ubiquitous", "mean_pearson") > p("mt_base_rep1", "specific", "mean_pearson"));
    assert!(p("mt_base_rep1", "specific", "overcorrelation") > p("single_task", "specific", "overcorrelation") + 0.3);
    // and the baseline replicates disagree more at specific than at ubiquitous peaks
    let cv = |st: &str| doc["metrics"]["replicates"]["mt_base"]["strata"][st]["median_cv"].as_f64().unwrap();
    assert!(cv("specific") > cv("ubiquitous"));
    // variants ([variants] in the demo config): allelic imbalance is predicted above chance at
    // ubiquitous peaks and not better at specific ones
    let v = &doc["variants"];
    assert!(v["scoring"]["scored"].as_u64().unwrap() > 300, "{v}");
    let ai = |st: &str| v["metrics"]["mt_base_rep1"]["summary"][st]["allelic_auroc"].as_f64().unwrap();
    assert!(ai("ubiquitous") > 0.6 && ai("ubiquitous") > ai("specific"), "{v}");
}
