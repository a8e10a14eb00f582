//! Bring your own model: small, randomly initialised models of the families people train and
//! share, built with their own packages (bpnet-lite, chrombpnet-pytorch, enformer-pytorch,
//! borzoi-pytorch) and exported as their users export them, configured only through the
//! project TOML, run through `peakscope predict`, `ism` and `eval`, and compared with Python
//! torch on the same files (tests/py/families.py computes the references following the
//! documented semantics independently: windows, views, heads, transforms, bins, mapping).
mod common;
use common::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const CHR1: usize = 300_000;
const CHR2: usize = 120_000;
/// the model of the fp64 ISM check has Enformer's output size (896 bins × 5,313 + 1,643
/// outputs) from a shorter input: 16-bp bins (4 downsamplings instead of 7)
const BIG_L: usize = 16_384;

/// A model of the fixture: its file(s), how it is built, and its [[models]] description.
struct ModelDef {
    name: &'static str,
    family: &'static str,
    files: Vec<String>,
    seeds: Vec<u64>,
    length: usize,
    kw: Value,
    cfg: Value,
}

fn defs() -> Vec<ModelDef> {
    let one = |name: &'static str, family: &'static str, length: usize, cfg: Value| ModelDef {
        name,
        family,
        files: vec![format!("{name}.pt")],
        seeds: vec![1],
        length,
        kw: json!({}),
        cfg,
    };
    vec![
        // Basset-style, scripted, averaged over both strands and ±1 bp shifts
        one("basset", "basset", 600, json!({"input_length": 600, "targets": ["PT", "DT", "x"], "rc": true, "shifts": 1})),
        // a channels-last CNN (Keras port), configured only through TOML
        one("nlc", "nlc-cnn", 300, json!({"input_length": 300, "input": "onehot-nlc", "targets": ["PT", "DT", "a", "b"], "rc": true})),
        // bpnet-lite ChromBPNet: (profile logits (N,1,1000), log counts (N,1))
        one(
            "cbp_lite",
            "bpnetlite-chrombpnet",
            1400,
            json!({"input_length": 1400, "targets": ["PT"],
                   "height": {"head": 1, "layout": "scalar", "transform": "exp"},
                   "profile": {"head": 0, "layout": "targets-bins", "transform": "softmax-times-height"}}),
        ),
        // BPNet with stranded control tracks: forward(X, X_ctl)
        one(
            "bpnet",
            "bpnet-control",
            800,
            json!({"input_length": 800, "extra_inputs": [[2, "L"]], "targets": ["PT"], "rc": true,
                   "height": {"head": 1, "transform": "exp"},
                   "profile": {"head": 0, "layout": "targets-bins", "bin_size": 1, "transform": "softmax-times-height"}}),
        ),
        // Enformer: channels-last input, dict output, 128-bp bins, a targets file mapping
        // several outputs to one track, one window serving many peaks
        one(
            "enformer",
            "enformer",
            4096,
            json!({"input_length": 4096, "input": "onehot-nlc", "targets_file": "targets_human.txt",
                   "tracks": {"DT": [1], "PT": [0, 7, 40]},
                   "height": {"head": "human", "layout": "bins-targets", "bin_size": 128, "bins": "center"}}),
        ),
        // Enformer traced with int64 tokens
        one(
            "enformer_tok",
            "enformer-tokens",
            4096,
            json!({"input_length": 4096, "input": "tokens", "tracks": {"PT": [3], "DT": [5300, 12]},
                   "height": {"head": "human", "layout": "bins-targets", "bin_size": 128}}),
        ),
        // Borzoi: (N, 7611, B), 32-bp bins
        one(
            "borzoi",
            "borzoi",
            1024,
            json!({"input_length": 1024, "tracks": {"DT": [2], "PT": [0, 1]},
                   "height": {"layout": "targets-bins", "bin_size": 32, "bins": "center"}}),
        ),
        // per-cell-type chrombpnet-pytorch models run as one model set
        ModelDef {
            name: "cbp_set",
            family: "chrombpnet-pytorch",
            files: vec!["cbp_PT.pt".into(), "cbp_DT.pt".into()],
            seeds: vec![11, 12],
            length: 1094,
            kw: json!({}),
            cfg: json!({"input_length": 1094, "targets": ["PT", "DT"],
                        "height": {"head": 1, "transform": "exp"},
                        "profile": {"head": 0, "layout": "bins", "transform": "softmax-times-height"}}),
        },
        ModelDef {
            name: "enformer_big",
            family: "enformer",
            files: vec!["enformer_big.pt".into()],
            seeds: vec![5],
            length: BIG_L,
            kw: json!({"dim": 48, "depth": 1, "num_downsamples": 4, "target_length": 896}),
            cfg: json!({"input_length": BIG_L, "input": "onehot-nlc", "tracks": {"DT": [100, 2000], "PT": [0, 7, 40]},
                        "height": {"head": "human", "layout": "bins-targets", "bin_size": 16}}),
        },
    ]
}

fn def(name: &str) -> ModelDef {
    defs().into_iter().find(|d| d.name == name).unwrap()
}

fn peaks() -> Vec<(String, i64, i64)> {
    let mut p = Vec::new();
    for i in 0..24 {
        let s = 20_000 + i * 1_700 + (i * 37) % 400;
        p.push(("chr1".to_string(), s, s + 200 + (i * 53) % 400));
    }
    p.push(("chr1".into(), CHR1 as i64 - 300, CHR1 as i64 - 100)); // window past the end: N padding
    for i in 0..6 {
        let s = 10_000 + i * 3_100;
        p.push(("chr2".into(), s, s + 300));
    }
    p.push(("chr2".into(), 50, 350)); // window before the start
    p
}

struct Fixture {
    dir: PathBuf,
    config: PathBuf,
    results: HashMap<String, Value>,
}

fn model_toml(d: &ModelDef, dir: &Path) -> toml::Value {
    let mut m = serde_json::Map::new();
    m.insert("name".into(), json!(d.name));
    if d.files.len() == 1 {
        m.insert("path".into(), json!(dir.join(&d.files[0])));
    } else {
        m.insert("paths".into(), json!(d.files.iter().map(|f| dir.join(f)).collect::<Vec<_>>()));
    }
    for (k, v) in d.cfg.as_object().unwrap() {
        m.insert(k.clone(), v.clone());
    }
    toml::Value::try_from(Value::Object(m)).unwrap()
}

/// Build every model and its references once (one Python process).
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let py = python().expect("PEAKSCOPE_PYTHON must point at the reference Python (scripts/env.sh installs it)");
        // one folder under the target dir, replaced by each run (the models take ~200 MB)
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("model-families");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut rng = Rng::new(77);
        let mut chr1 = rng.dna(CHR1);
        chr1[40_100..40_160].fill(b'N');
        let chr2 = rng.dna(CHR2);
        fasta(&dir, &[("chr1", &chr1), ("chr2", &chr2)]);
        // Basenji-style targets file for the Enformer human head (5,313 outputs)
        let mut t = String::from("\tindex\tgenome\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription\n");
        for i in 0..5313 {
            t.push_str(&format!("{i}\t{i}\t0\tENCFF{i:06}\tx.w5\t32\t2\tmean\tDNASE:sample {i}\n"));
        }
        write(&dir.join("targets_human.txt"), &t);
        let bed: String = peaks().iter().enumerate().map(|(i, (c, s, e))| format!("{c}\t{s}\t{e}\tp{i}\tcluster{}\n", i % 3)).collect();
        write(&dir.join("peaks.bed"), &bed);
        let borzoi_bed: String = peaks().iter().take(5).map(|(c, s, e)| format!("{c}\t{s}\t{e}\n")).collect();
        write(&dir.join("borzoi.bed"), &borzoi_bed);
        for (k, name) in ["PT", "DT"].iter().enumerate() {
            random_bigwig(&dir.join(format!("{name}.bw")), &[("chr1", CHR1 as u32), ("chr2", CHR2 as u32)], 5 + k as u64);
        }
        // jobs for the reference
        let all_peaks: Vec<Value> = peaks().iter().map(|(c, s, e)| json!([c, s, e])).collect();
        let mut models = Vec::new();
        let mut jobs = Vec::new();
        let mut keys = Vec::new();
        let mut add = |key: String, job: Value| {
            keys.push(key);
            jobs.push(job);
        };
        for d in defs() {
            for (f, seed) in d.files.iter().zip(&d.seeds) {
                models.push(json!({"family": d.family, "file": f, "seed": seed, "length": d.length, "kw": d.kw}));
            }
            let mut cfg = d.cfg.clone();
            if d.name.starts_with("enformer") {
                let bins = if d.name == "enformer_big" { 896 } else { 32 };
                cfg["_bins"] = json!(bins);
            }
            if d.name == "borzoi" {
                cfg["_bins"] = json!(32);
            }
            let files = json!(d.files);
            match d.name {
                "enformer_big" => {
                    add("enformer_big/ism".into(), json!({"kind": "ism", "files": files, "cfg": cfg, "region": ["chr1", 150_000, 150_004]}));
                    add("enformer_big/ism64".into(), json!({"kind": "ism64", "files": files, "cfg": cfg, "region": ["chr1", 150_000, 150_004]}));
                }
                "borzoi" => {
                    let p: Vec<Value> = all_peaks.iter().take(5).cloned().collect();
                    add("borzoi/predict".into(), json!({"kind": "predict", "files": files, "cfg": cfg, "peaks": p, "center_width": 192}));
                }
                name => {
                    add(format!("{name}/predict"), json!({"kind": "predict", "files": files, "cfg": cfg, "peaks": all_peaks, "center_width": 192}));
                    if name != "enformer_tok" && name != "cbp_set" {
                        add(format!("{name}/ism"), json!({"kind": "ism", "files": files, "cfg": cfg, "region": ["chr1", 40_150, 40_162], "center_width": 192}));
                    }
                    if let Some((bins, bin_size)) = match name {
                        "cbp_lite" => Some((1000, 1)),
                        "bpnet" => Some((646, 1)),
                        "cbp_set" => Some((500, 1)),
                        _ => None,
                    } {
                        add(
                            format!("{name}/profile"),
                            json!({"kind": "profile", "files": files, "cfg": cfg, "region": ["chr2", 5_000, 6_500], "bins": bins, "bin_size": bin_size}),
                        );
                    }
                }
            }
        }
        let spec = json!({"dir": dir, "genome": "genome.fa", "models": models, "jobs": jobs,
                          "refusals": {"state_dict": "weights.pt", "pickled": "pickled.pt"}});
        let spec_path = dir.join("spec.json");
        write(&spec_path, &spec.to_string());
        let out_path = dir.join("reference.json");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/families.py");
        let t = std::time::Instant::now();
        let out = std::process::Command::new(&py).arg(script).arg("fixture").arg(&spec_path).arg(&out_path).output().expect("running python");
        assert!(out.status.success(), "families.py failed:\n{}", String::from_utf8_lossy(&out.stderr));
        eprintln!("reference models and predictions built in {:.1} s", t.elapsed().as_secs_f64());
        let reference: Value = serde_json::from_str(&std::fs::read_to_string(&out_path).unwrap()).unwrap();
        let results = keys.into_iter().zip(reference["results"].as_array().unwrap().iter().cloned()).collect();
        // the project config: every model, two tracks, the peaks
        let mut cfg = String::from(
            "[genome]\nfasta = \"genome.fa\"\n\n[[tracks]]\nname = \"PT\"\nbigwig = \"PT.bw\"\n\n[[tracks]]\nname = \"DT\"\nbigwig = \"DT.bw\"\n\n\
             [peaks]\nfile = \"peaks.bed\"\n\n[eval]\ncenter_width = 192\nbatch_peaks = 7\n\n",
        );
        let models: Vec<toml::Value> = defs().iter().map(|d| model_toml(d, &dir)).collect();
        let mut table = toml::Table::new();
        table.insert("models".into(), toml::Value::Array(models));
        cfg.push_str(&toml::to_string(&table).unwrap());
        let config = dir.join("project.toml");
        write(&config, &cfg);
        Fixture { dir, config, results }
    })
}

/// A TSV as (header, rows).
fn tsv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default().split('\t').map(String::from).collect();
    (header, lines.map(|l| l.split('\t').map(String::from).collect()).collect())
}

fn run_ok(args: &[&str]) -> String {
    let (ok, out, err) = peakscope(args);
    assert!(ok, "peakscope {args:?} failed:\n{err}");
    out
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-3)
}

/// Reported output names in the reference's order.
fn out_names(cfg: &Value, n: usize) -> Vec<String> {
    match cfg.get("tracks") {
        Some(t) => t.as_object().unwrap().keys().cloned().collect(),
        None => cfg["targets"]
            .as_array()
            .map(|v| v.iter().map(|x| x.as_str().unwrap().to_string()).collect())
            .unwrap_or_else(|| (0..n).map(|i| format!("t{i}")).collect()),
    }
}

/// `predict --bed` against the reference heights; returns the worst relative difference.
fn check_predict(name: &str, bed: &str) -> f64 {
    let f = fixture();
    let d = def(name);
    let out = run_ok(&["predict", "--config", f.config.to_str().unwrap(), "--model", name, "--bed", f.dir.join(bed).to_str().unwrap(), "--device", "cpu"]);
    let (header, rows) = tsv(&out);
    let want = &f.results[&format!("{name}/predict")]["values"];
    let want = want.as_array().unwrap();
    assert_eq!(rows.len(), want.len(), "{name}: one row per region");
    let names = out_names(&d.cfg, want[0].as_array().unwrap().len());
    let mut worst = 0f64;
    for (r, w) in rows.iter().zip(want) {
        for (k, n) in names.iter().enumerate() {
            let col = header.iter().position(|h| h == n).unwrap_or_else(|| panic!("{name}: no column {n} in {header:?}"));
            let got: f64 = r[col].parse().unwrap();
            let exp = w[k].as_f64().unwrap();
            worst = worst.max(rel(got, exp));
        }
    }
    eprintln!("{name}: predict vs Python torch, max relative difference {worst:.2e}");
    assert!(worst <= 1e-5, "{name}: predict differs from Python torch by {worst:.2e} (relative)");
    worst
}

/// `ism` against the reference: alt heights ≤ 1e-5 relative, deltas ≤ 1e-5 of the reference
/// height.
fn check_ism(name: &str, region: &str, key: &str) -> (f64, Vec<f64>, Vec<f64>) {
    let f = fixture();
    let d = def(name);
    let out = run_ok(&["ism", "--config", f.config.to_str().unwrap(), "--model", name, "--region", region, "--device", "cpu"]);
    let (header, rows) = tsv(&out);
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let reference = &f.results[key];
    let want_rows = reference["rows"].as_array().unwrap();
    let ref_h: Vec<f64> = reference["ref"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let names = out_names(&d.cfg, ref_h.len());
    let mut by_key: HashMap<(i64, String, String), (f64, f64, f64)> = HashMap::new();
    for r in &rows {
        let k = (r[col("pos")].parse().unwrap(), r[col("alt")].clone(), r[col("target")].clone());
        by_key.insert(k, (r[col("ref_pred")].parse().unwrap(), r[col("alt_pred")].parse().unwrap(), r[col("delta")].parse().unwrap()));
    }
    assert_eq!(by_key.len(), want_rows.len() * names.len(), "{name}: one row per mutant and output");
    let (mut worst, mut got_d, mut want_d) = (0f64, Vec::new(), Vec::new());
    for w in want_rows {
        let pos = w["pos"].as_i64().unwrap();
        let alt = w["alt"].as_str().unwrap().to_string();
        for (k, n) in names.iter().enumerate() {
            let (rp, ap, dl) = by_key[&(pos, alt.clone(), n.clone())];
            let (wa, wd) = (w["alt_pred"][k].as_f64().unwrap(), w["delta"][k].as_f64().unwrap());
            worst = worst.max(rel(ap, wa)).max(rel(rp, ref_h[k])).max((dl - wd).abs() / ref_h[k].abs().max(1e-3));
            got_d.push(dl);
            want_d.push(wd);
        }
    }
    eprintln!("{name}: ism vs Python torch, max relative difference {worst:.2e}");
    (worst, got_d, want_d)
}

/// `eval --per-peak` predictions against the reference heights.
fn check_eval(name: &str) -> (Value, String) {
    let f = fixture();
    let d = def(name);
    let per_peak = f.dir.join(format!("{name}.eval.tsv"));
    let metrics = f.dir.join(format!("{name}.metrics.json"));
    let (ok, _, err) = peakscope(&[
        "eval",
        "--config",
        f.config.to_str().unwrap(),
        "--model",
        name,
        "--device",
        "cpu",
        "--per-peak",
        per_peak.to_str().unwrap(),
        "-o",
        metrics.to_str().unwrap(),
    ]);
    assert!(ok, "{name}: eval failed:\n{err}");
    let (header, rows) = tsv(&std::fs::read_to_string(&per_peak).unwrap());
    let want = f.results[&format!("{name}/predict")]["values"].as_array().unwrap().clone();
    let names = out_names(&d.cfg, want[0].as_array().unwrap().len());
    let coords: Vec<(String, i64, i64)> = peaks();
    let mut worst = 0f64;
    assert_eq!(rows.len(), coords.len());
    for r in &rows {
        let key = (r[0].clone(), r[1].parse::<i64>().unwrap(), r[2].parse::<i64>().unwrap());
        let i = coords.iter().position(|c| *c == key).unwrap();
        for (k, n) in names.iter().enumerate() {
            let col = header.iter().position(|h| *h == format!("pred:{name}:{n}")).unwrap_or_else(|| panic!("no pred column for {n}: {header:?}"));
            worst = worst.max(rel(r[col].parse().unwrap(), want[i][k].as_f64().unwrap()));
        }
    }
    eprintln!("{name}: eval vs Python torch, max relative difference {worst:.2e}");
    assert!(worst <= 1e-5, "{name}: eval heights differ from Python torch by {worst:.2e}");
    (serde_json::from_str(&std::fs::read_to_string(&metrics).unwrap()).unwrap(), err)
}

/// `predict --region` of a profile head against the reference tiles.
fn check_profile(name: &str) {
    let f = fixture();
    let out = run_ok(&["predict", "--config", f.config.to_str().unwrap(), "--model", name, "--region", "chr2:5001-6500", "--device", "cpu"]);
    let (header, rows) = tsv(&out);
    let want = f.results[&format!("{name}/profile")]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), want.len(), "{name}: profile rows");
    let names = out_names(&def(name).cfg, 1);
    let mut worst = 0f64;
    for (r, w) in rows.iter().zip(want) {
        assert_eq!((r[1].parse::<i64>().unwrap(), r[2].parse::<i64>().unwrap()), (w[0].as_i64().unwrap(), w[1].as_i64().unwrap()));
        for (k, n) in names.iter().enumerate() {
            let col = header.iter().position(|h| h == n).unwrap();
            let got: f64 = r[col].parse().unwrap();
            let exp = w[2][k].as_f64().unwrap();
            // profile values are f32 rows; scale by the row's magnitude
            worst = worst.max((got - exp).abs() / exp.abs().max(1e-3));
        }
    }
    eprintln!("{name}: profile track vs Python torch, max relative difference {worst:.2e}");
    assert!(worst <= 1e-5, "{name}: profile differs by {worst:.2e}");
}

#[test]
fn basset_style_scripted_with_rc_and_shifts() {
    check_predict("basset", "peaks.bed");
    let (worst, _, _) = check_ism("basset", "chr1:40151-40162", "basset/ism");
    assert!(worst <= 1e-5, "basset ism: {worst:.2e}");
    check_eval("basset");
}

#[test]
fn channels_last_cnn_from_toml_alone() {
    check_predict("nlc", "peaks.bed");
    let (worst, _, _) = check_ism("nlc", "chr1:40151-40162", "nlc/ism");
    assert!(worst <= 1e-5, "nlc ism: {worst:.2e}");
}

#[test]
fn chrombpnet_tuple_counts_and_profile() {
    check_predict("cbp_lite", "peaks.bed");
    let (worst, _, _) = check_ism("cbp_lite", "chr1:40151-40162", "cbp_lite/ism");
    assert!(worst <= 1e-5, "cbp_lite ism: {worst:.2e}");
    check_profile("cbp_lite");
}

#[test]
fn bpnet_with_control_tracks() {
    check_predict("bpnet", "peaks.bed");
    let (worst, _, _) = check_ism("bpnet", "chr1:40151-40162", "bpnet/ism");
    assert!(worst <= 1e-5, "bpnet ism: {worst:.2e}");
    check_profile("bpnet");
}

#[test]
fn chrombpnet_pytorch_model_set_runs_as_one_model() {
    check_predict("cbp_set", "peaks.bed");
    check_eval("cbp_set");
    check_profile("cbp_set");
}

#[test]
fn enformer_dict_targets_file_and_shared_windows() {
    check_predict("enformer", "peaks.bed");
    let (worst, _, _) = check_ism("enformer", "chr1:40151-40162", "enformer/ism");
    assert!(worst <= 1e-5, "enformer ism: {worst:.2e}");
    let (metrics, report) = check_eval("enformer");
    // one long window serves several peaks: the saving is reported
    let n_windows = fixture().results["enformer/predict"]["windows"].as_u64().unwrap() as usize;
    assert!(n_windows < peaks().len(), "{n_windows} windows for {} peaks", peaks().len());
    let w = &metrics["run"]["windows"][0];
    assert_eq!(w["windows"].as_u64().unwrap() as usize, n_windows, "{w}");
    assert_eq!(w["forward_passes_avoided"].as_u64().unwrap() as usize, peaks().len() - n_windows);
    assert!(report.contains("forward passes") && report.contains("avoided"), "{report}");
}

#[test]
fn enformer_tokens_and_borzoi_binned() {
    check_predict("enformer_tok", "peaks.bed");
    check_predict("borzoi", "borzoi.bed");
}

#[test]
fn ism_on_an_enformer_size_output_matches_fp64() {
    let f = fixture();
    let (_, got, _) = check_ism("enformer_big", "chr1:150001-150004", "enformer_big/ism");
    // against the same mutants through the Python module in float64
    let r64 = &f.results["enformer_big/ism64"];
    let want: Vec<f64> =
        r64["rows"].as_array().unwrap().iter().flat_map(|r| r["delta"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect::<Vec<_>>()).collect();
    assert_eq!(got.len(), want.len());
    let sums: Vec<f64> = r64["ref"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(sums.iter().all(|s| *s > 100.0), "Enformer-size sums: {sums:?}");
    let corr = pearson(&got, &want);
    // what float32 bin sums give on the same float32 outputs (peakscope before): the case is
    // one where the summation error matters
    let naive: Vec<f64> = f.results["enformer_big/ism"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["delta32"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect::<Vec<_>>())
        .collect();
    let naive_corr = pearson(&naive, &want);
    eprintln!("enformer_big: ISM deltas vs fp64 reference: Pearson {corr:.6}; float32 bin sums would give {naive_corr:.4} (sums {sums:?})");
    assert!(corr >= 0.99, "ISM deltas correlate {corr} with the fp64 reference");
    assert!(naive_corr < 0.99, "the check should be one that float32 sums fail ({naive_corr})");
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

/// Every refusal names what is wrong, expected vs got, and the fix; none panics.
#[test]
fn refusals_are_explained() {
    let f = fixture();
    let d = &f.dir;
    let fa = d.join("genome.fa");
    let bed = d.join("borzoi.bed");
    let predict = |model: &Path, extra: &[&str]| -> String {
        let mut args = vec!["predict", "--model", model.to_str().unwrap(), "--fasta", fa.to_str().unwrap(), "--bed", bed.to_str().unwrap(), "--device", "cpu"];
        args.extend_from_slice(extra);
        let (ok, _, err) = peakscope(&args);
        assert!(!ok, "expected a refusal for {model:?} {extra:?}");
        assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "panic: {err}");
        err
    };
    let must = |e: &str, parts: &[&str]| {
        for p in parts {
            assert!(e.contains(p), "missing {p:?} in:\n{e}");
        }
    };
    // torch.save checkpoints
    let e = predict(&d.join("weights.pt"), &["--input-length", "100"]);
    must(&e, &["torch.save checkpoint", "state_dict", "torch.jit.trace"]);
    let e = predict(&d.join("pickled.pt"), &["--input-length", "100"]);
    must(&e, &["torch.save checkpoint", "pickled module", "torch.nn.modules.container.Sequential", "torch.jit.trace"]);
    // a tuple output is never read silently: its elements are listed and a head asked for
    let e = predict(&d.join("cbp_PT.pt"), &["--input-length", "1094"]);
    must(&e, &["tuple of 2", "(2, 500)", "(2, 1)", "--height-head"]);
    // chrombpnet-pytorch's profile declared as the height: 500 positions are not 500 targets
    let (_, _, e) = peakscope(&[
        "predict",
        "--model",
        d.join("cbp_PT.pt").to_str().unwrap(),
        "--fasta",
        fa.to_str().unwrap(),
        "--bed",
        bed.to_str().unwrap(),
        "--device",
        "cpu",
        "--input-length",
        "1094",
        "--height-head",
        "0",
        "--targets",
        "PT",
    ]);
    must(&e, &["1 target name(s) for 500 outputs", "layout"]);
    // a dict output lists its keys
    let e = predict(&d.join("enformer.pt"), &["--input-length", "4096", "--input", "onehot-nlc"]);
    must(&e, &["dict", "\"human\"", "\"mouse\"", "head"]);
    let e = predict(&d.join("enformer.pt"), &["--input-length", "4096", "--input", "onehot-nlc", "--height-head", "humna"]);
    must(&e, &["without key \"humna\"", "\"human\""]);
    // channels-last input declared as (N, 4, L)
    let e = predict(&d.join("nlc.pt"), &["--input-length", "300"]);
    must(&e, &["dummy batch of shape (2, 4, 300)", "input"]);
    // a control input not declared
    let e = predict(&d.join("bpnet.pt"), &["--input-length", "800", "--height-head", "1"]);
    must(&e, &["extra_inputs", "2, \"L\""]);
    // Borzoi read the wrong way round
    let e = predict(&d.join("borzoi.pt"), &["--input-length", "1024", "--height-layout", "bins-targets", "--height-bin-size", "32"]);
    must(&e, &["7611 bins × 32 bp", "1024 bp input", "targets-bins"]);
    // a wrong input length on ChromBPNet: no divide by zero, the bins are counted
    let e =
        predict(&d.join("cbp_lite.pt"), &["--input-length", "400", "--height-head", "1", "--profile-head", "0", "--profile-transform", "softmax-times-height"]);
    must(&e, &["0 output bins", "input_length"]);
    // a targets file that does not match the head
    let short = d.join("short_targets.txt");
    write(&short, "index\tidentifier\tdescription\n0\ta\tA\n1\tb\tB\n");
    let e = predict(
        &d.join("enformer.pt"),
        &[
            "--input-length",
            "4096",
            "--input",
            "onehot-nlc",
            "--height-head",
            "human",
            "--height-layout",
            "bins-targets",
            "--height-bin-size",
            "128",
            "--targets-file",
            short.to_str().unwrap(),
        ],
    );
    must(&e, &["names 2 outputs", "5313"]);
    // inspect-model explains a checkpoint too
    let (ok, _, err) = peakscope(&["inspect-model", d.join("weights.pt").to_str().unwrap()]);
    assert!(!ok);
    must(&err, &["state_dict"]);
}

/// inspect-model probes each family and prints a block that loads.
#[test]
fn inspect_model_probes_and_suggests_a_block() {
    let f = fixture();
    for (file, len, want) in [
        ("cbp_lite.pt", Some("1400"), &["tuple of 2", "head = 1", "transform = \"exp\"", "[models.profile]", "softmax-times-height"][..]),
        ("nlc.pt", Some("300"), &["input = \"onehot-nlc\"", "layout = \"scalar\""][..]),
        ("bpnet.pt", Some("800"), &["extra_inputs = [[2, \"L\"]]", "[models.profile]"][..]),
        ("enformer.pt", Some("4096"), &["dict with keys \"human\", \"mouse\"", "head = \"human\"", "layout = \"bins-targets\"", "bin_size = 128"][..]),
        ("enformer_tok.pt", Some("4096"), &["input = \"tokens\""][..]),
        ("borzoi.pt", Some("1024"), &["layout = \"targets-bins\"", "bin_size = 32"][..]),
        ("basset.pt", None, &["input_length = 600", "parameters"][..]),
    ] {
        let p = f.dir.join(file);
        let mut args = vec!["inspect-model", p.to_str().unwrap()];
        if let Some(l) = len {
            args.extend(["--input-length", l]);
        }
        let out = run_ok(&args);
        for w in want {
            assert!(out.contains(w), "{file}: missing {w:?} in\n{out}");
        }
        assert!(out.contains("the block below loads and runs"), "{file}:\n{out}");
        // the block parses as a project's [[models]] entry
        let cfg = format!("[genome]\nfasta = \"x.fa\"\n{}", out.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n"));
        peakscope::config::ProjectConfig::parse(&cfg).unwrap_or_else(|e| panic!("{file}: block does not parse: {e:#}\n{cfg}"));
    }
    // doctor --models reports the same per model
    let (ok, out, err) = peakscope(&["doctor", f.config.to_str().unwrap(), "--models"]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("model enformer") && out.contains("dict with keys") && out.contains("height head \"human\""), "{out}");
    assert!(out.contains("a set of 2 files"), "{out}");
}
