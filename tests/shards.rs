//! `--shard K/N` and `peakscope merge`: N ∈ {1, 3, 7} shards of eval merged equal one run
//! (metrics within 1e-12, per-peak TSV identical); predict/ism --bed shards merged equal one
//! run; attribution bigWigs read back; bad specs and bad shard sets refused by name.
mod common;
use common::*;
use std::path::{Path, PathBuf};

/// 2 chromosomes, 3 tracks with calls, 140 labelled peaks, a replicate group of two models
/// (base counts; positional weights) on 200-bp windows; small eval batches so that 7 shards
/// each hold whole batches.
fn project(d: &Path) -> PathBuf {
    labelled_project(
        d,
        &LabelledSpec {
            seed: 2024,
            chroms: [("chr1", 50_000), ("chr2", 45_000)],
            max_peaks: 140,
            first: 400,
            margin: 700,
            width: (80, 250),
            gap: (250, 300),
            name_prefix: "p",
            open: (1.5, 25.0),
            closed: 0.3,
            jitter: 0.4,
            call_one_in: 8,
            lin_scale: 0.03,
            eval_toml: "[eval]\ncenter_width = 60\nspecificity_bins = [1, 2, 3]\nbatch_peaks = 12\n",
            model_extra: ["batch_size = 5", "batch_size = 7"],
        },
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn run_ok(args: &[&str]) -> String {
    let (ok, out, err) = peakscope(args);
    assert!(ok, "peakscope {args:?} failed:\n{err}");
    out
}

fn run_err(args: &[&str]) -> String {
    let (ok, _, err) = peakscope(args);
    assert!(!ok, "peakscope {args:?} should have failed");
    err
}

/// Every number of `a` and `b` equal within `tol`, nulls and keys equal; returns max |diff|.
fn same_json(a: &serde_json::Value, b: &serde_json::Value, path: &str, tol: f64) -> f64 {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>(), "keys at {path}");
            x.iter().map(|(k, v)| same_json(v, &y[k], &format!("{path}/{k}"), tol)).fold(0.0, f64::max)
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "length at {path}");
            x.iter().zip(y).enumerate().map(|(i, (u, v))| same_json(u, v, &format!("{path}[{i}]"), tol)).fold(0.0, f64::max)
        }
        (Value::Number(x), Value::Number(y)) => {
            let d = (x.as_f64().unwrap() - y.as_f64().unwrap()).abs();
            assert!(d <= tol, "{path}: {x} vs {y}");
            d
        }
        _ => {
            assert_eq!(a, b, "at {path}");
            0.0
        }
    }
}

fn metrics(p: &Path) -> serde_json::Value {
    serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(p).unwrap()).unwrap()["metrics"].clone()
}

fn sorted_lines(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_to_string(p).unwrap().lines().map(String::from).collect();
    v.sort();
    v
}

#[test]
fn eval_shards_merge_to_the_single_run_and_bad_sets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = project(d);
    let c = s(&cfg);
    let common = ["--device", "cpu", "--limit", "131"];
    let one = d.join("one.json");
    let one_tsv = d.join("one.tsv");
    run_ok(&[&["eval", "--config", c, "-o", s(&one), "--per-peak", s(&one_tsv)][..], &common].concat());
    let single = metrics(&one);
    assert_eq!(single["done"], 131);
    // replicate CVs, AUROC and over-correlation are all in play
    assert!(single["replicates"]["rep"]["strata"]["all"]["n_cv"].as_u64().unwrap() > 0);
    assert!(single["models"]["counts"]["targets"]["A"]["all"]["auroc"].is_number());
    let mut shards3 = Vec::new();
    for n in [1usize, 3, 7] {
        let mut files = Vec::new();
        let mut rows = 0;
        for k in (1..=n).rev() {
            let f = d.join(format!("s{k}of{n}.json"));
            run_ok(&[&["eval", "--config", c, "--shard", &format!("{k}/{n}"), "-o", s(&f)][..], &common].concat());
            let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            rows += doc["rows"].as_array().unwrap().len();
            files.push(f);
        }
        assert_eq!(rows, 131, "the {n} shards hold every peak once");
        let merged = d.join(format!("merged{n}.json"));
        let merged_tsv = d.join(format!("merged{n}.tsv"));
        let fs: Vec<&str> = files.iter().map(|f| s(f)).collect();
        run_ok(&[&["merge", "-o", s(&merged), "--per-peak", s(&merged_tsv)][..], &fs].concat());
        let max = same_json(&single, &metrics(&merged), "metrics", 1e-12);
        eprintln!("N = {n}: max |diff| {max:.3e}");
        assert_eq!(std::fs::read_to_string(&one_tsv).unwrap(), std::fs::read_to_string(&merged_tsv).unwrap(), "per-peak TSV of N = {n}");
        assert_eq!(sorted_lines(&one_tsv), sorted_lines(&merged_tsv));
        let run: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
        assert_eq!(run["run"]["n_peaks"], 131);
        assert_eq!(run["run"]["complete"], true);
        assert_eq!(run["run"]["shards"]["n"], n);
        if n == 3 {
            shards3 = files;
        }
    }
    shards3.reverse(); // 1/3, 2/3, 3/3
    let out = d.join("bad.json");
    let merge = |files: &[&Path]| {
        let fs: Vec<&str> = files.iter().map(|f| s(f)).collect();
        run_err(&[&["merge", "-o", s(&out)][..], &fs].concat())
    };
    // missing, duplicated
    let e = merge(&[&shards3[0], &shards3[2]]);
    assert!(e.contains("missing shard(s) 2/3"), "{e}");
    let e = merge(&[&shards3[0], &shards3[1], &shards3[1], &shards3[2]]);
    assert!(e.contains("both shard 2/3"), "{e}");
    // a shard of another N
    let e = merge(&[&shards3[0], &shards3[1], &d.join("s3of7.json")]);
    assert!(e.contains("shard count N"), "{e}");
    // foreign: the same shard from a config that differs
    let other = d.join("other.toml");
    std::fs::write(&other, std::fs::read_to_string(&cfg).unwrap().replace("center_width = 60", "center_width = 70")).unwrap();
    let foreign = d.join("foreign2.json");
    run_ok(&[&["eval", "--config", s(&other), "--shard", "2/3", "-o", s(&foreign)][..], &common].concat());
    let e = merge(&[&shards3[0], &foreign, &shards3[2]]);
    assert!(e.contains("foreign") && e.contains("config (SHA-256)") && e.contains("foreign2.json"), "{e}");
    // other settings (seed) with the same config
    let seeded = d.join("seed2.json");
    run_ok(&[&["eval", "--config", c, "--shard", "2/3", "--seed", "9", "-o", s(&seeded)][..], &common].concat());
    let e = merge(&[&shards3[0], &seeded, &shards3[2]]);
    assert!(e.contains("seed2.json is foreign") && e.contains("settings"), "{e}");
    // truncated mid-write (a partial copy)
    let cut = d.join("cut2.json");
    let bytes = std::fs::read(&shards3[1]).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = merge(&[&shards3[0], &cut, &shards3[2]]);
    assert!(e.contains("cut2.json is truncated"), "{e}");
    // not a shard at all
    let e = merge(&[&one]);
    assert!(e.contains("not a peakscope shard") || e.contains("not an eval shard"), "{e}");
    assert!(!out.exists(), "a refused merge writes nothing");
    // bad specs
    for (spec, want) in [("3/2", "does not exist when there are 2 shards"), ("0/4", "numbered from 1"), ("a/b", "not K/N"), ("2/0", "at least 1")] {
        let e = run_err(&["eval", "--config", c, "--shard", spec, "-o", s(&d.join("x.json"))]);
        assert!(e.contains(want) && e.contains(spec), "{spec}: {e}");
    }
    let e = run_err(&["eval", "--config", c, "--shard", "1/2"]);
    assert!(e.contains("--shard needs -o"), "{e}");
}

#[test]
fn predict_and_ism_bed_shards_merge_to_the_single_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = project(d);
    let c = s(&cfg);
    // predict --bed: 140 regions, batch 7 (the linear model): 3 and 7 shards
    let bed = d.join("peaks.bed");
    let one = d.join("pred.tsv");
    let pargs = ["predict", "--config", c, "--model", "linear", "--device", "cpu", "--bed", s(&bed)];
    run_ok(&[&pargs[..], &["-o", s(&one)]].concat());
    for n in [3usize, 7] {
        let files: Vec<PathBuf> = (1..=n).map(|k| d.join(format!("p{k}of{n}.tsv"))).collect();
        for (k, f) in files.iter().enumerate() {
            run_ok(&[&pargs[..], &["--shard", &format!("{}/{n}", k + 1), "-o", s(f)]].concat());
        }
        let merged = d.join(format!("pred{n}.tsv"));
        let fs: Vec<&str> = files.iter().rev().map(|f| s(f)).collect();
        run_ok(&[&["merge", "-o", s(&merged)][..], &fs].concat());
        assert_eq!(std::fs::read_to_string(&one).unwrap(), std::fs::read_to_string(&merged).unwrap(), "predict, N = {n}");
        if n == 3 {
            // a truncated record shard (rows cut, no end line), and a missing one
            let cut = d.join("pcut.tsv");
            let text = std::fs::read_to_string(&files[1]).unwrap();
            std::fs::write(&cut, &text[..text.len() * 2 / 3]).unwrap();
            let e = run_err(&["merge", "-o", s(&d.join("x.tsv")), s(&files[0]), s(&cut), s(&files[2])]);
            assert!(e.contains("pcut.tsv is truncated"), "{e}");
            let e = run_err(&["merge", "-o", s(&d.join("x.tsv")), s(&files[0]), s(&files[2])]);
            assert!(e.contains("missing shard(s) 2/3"), "{e}");
        }
    }
    // ism --bed: 6 regions, two of them overlapping; attr TSV and one bigWig per output
    let regions = d.join("ism.bed");
    write(&regions, "chr1\t1000\t1040\tr0\nchr1\t1030\t1060\tr1\nchr2\t5000\t5025\tr2\nchr1\t3000\t3010\tr3\nchr2\t44980\t45000\tr4\nchr1\t20000\t20030\tr5\n");
    let iargs = ["ism", "--config", c, "--model", "counts", "--device", "cpu", "--bed", s(&regions), "--format", "attr"];
    let one = d.join("attr.tsv");
    let bw1 = d.join("bw1");
    run_ok(&[&iargs[..], &["-o", s(&one), "--bigwig-out", s(&bw1)]].concat());
    let files: Vec<PathBuf> = (1..=4).map(|k| d.join(format!("i{k}.tsv"))).collect();
    for (k, f) in files.iter().enumerate() {
        run_ok(&[&iargs[..], &["--shard", &format!("{}/4", k + 1), "-o", s(f)]].concat());
    }
    let merged = d.join("attr_merged.tsv");
    let bw2 = d.join("bw2");
    let fs: Vec<&str> = files.iter().map(|f| s(f)).collect();
    run_ok(&[&["merge", "-o", s(&merged), "--bigwig-out", s(&bw2)][..], &fs].concat());
    let text = std::fs::read_to_string(&one).unwrap();
    assert_eq!(text, std::fs::read_to_string(&merged).unwrap());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "region\tchrom\tpos\tref\ttarget\tattr");
    assert_eq!(lines.len(), 1 + (40 + 30 + 25 + 10 + 20 + 30) * 4, "every base × 4 outputs");
    // the bigWigs: per base, the attribution (the mean of the two regions where they overlap)
    let mut want: std::collections::BTreeMap<(String, String, u64), Vec<f64>> = Default::default();
    for l in &lines[1..] {
        let f: Vec<&str> = l.split('\t').collect();
        want.entry((f[4].to_string(), f[1].to_string(), f[2].parse().unwrap())).or_default().push(f[5].parse::<f32>().unwrap() as f64);
    }
    for t in ["A", "B", "C", "t3"] {
        for dir in [&bw1, &bw2] {
            let p = dir.join(format!("counts.{t}.attr.bw"));
            let mut bw = peakscope::genome::BigWig::open(&p).unwrap();
            for ((tt, chrom, pos), v) in want.iter().filter(|k| k.0 .0 == t) {
                assert_eq!(tt, t);
                let got = bw.values(chrom, *pos, pos + 1).unwrap().unwrap()[0];
                let mean = (v.iter().sum::<f64>() / v.len() as f64) as f32;
                assert_eq!(got, mean, "{t} {chrom}:{pos}");
            }
            // nothing outside the regions
            assert!(bw.values("chr1", 500, 999).unwrap().is_none_or(|v| v.iter().all(|x| x.is_nan())));
        }
    }
    assert!(want.keys().filter(|k| k.0 == "A" && k.1 == "chr1" && (1030..1040).contains(&k.2)).all(|k| want[k].len() == 2), "overlap counted twice");
    // loadable as a track of a project config
    let track_cfg = d.join("attr.toml");
    write(&track_cfg, &format!("[genome]\nfasta = \"genome.fa\"\n[[tracks]]\nname = \"attr_A\"\nbigwig = \"{}\"\n", s(&bw2.join("counts.A.attr.bw"))));
    let cfgd = peakscope::config::ProjectConfig::load(&track_cfg).unwrap();
    assert_eq!(cfgd.tracks[0].name, "attr_A");
    let (ok, out, err) = peakscope(&["doctor", s(&track_cfg)]);
    assert!(ok, "doctor on the attribution track: {out}\n{err}");
    // deltas shards cannot make bigWigs; --bigwig-out with --shard is refused
    let e = run_err(&[&iargs[..], &["--shard", "1/2", "-o", s(&d.join("y.tsv")), "--bigwig-out", s(&d.join("bw3"))]].concat());
    assert!(e.contains("written by the merge"), "{e}");
}

/// examples/workflow runs locally with Snakemake (from the reference venv): 3 eval shards
/// and 2 ISM shards as separate jobs on 2 cores, then merge; the merged metrics equal one
/// run's. Fails (does not skip) without the reference python's Snakemake.
#[test]
fn snakemake_workflow_runs_locally_to_the_single_run() {
    let Some(py) = python() else { return };
    let (ok, _, err) = {
        let o = std::process::Command::new(&py).args(["-m", "snakemake", "--version"]).output().unwrap();
        (o.status.success(), String::from_utf8_lossy(&o.stdout).to_string(), String::from_utf8_lossy(&o.stderr).to_string())
    };
    assert!(ok, "Snakemake is missing from {py} (scripts/env.sh installs it): {err}");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = project(d);
    let regions = d.join("ism.bed");
    write(&regions, "chr1\t1000\t1012\tr0\nchr2\t7000\t7009\tr1\nchr1\t9000\t9005\tr2\n");
    let one = d.join("one.json");
    let one_tsv = d.join("one.tsv");
    run_ok(&["eval", "--config", s(&cfg), "--device", "cpu", "--limit", "100", "-o", s(&one), "--per-peak", s(&one_tsv)]);
    let attr = d.join("attr.tsv");
    run_ok(&["ism", "--config", s(&cfg), "--model", "linear", "--device", "cpu", "--bed", s(&regions), "--format", "attr", "-o", s(&attr)]);
    let wf = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/workflow");
    let out = d.join("results");
    let o = std::process::Command::new(&py)
        .current_dir(d)
        .args(["-m", "snakemake", "-s", s(&wf.join("Snakefile")), "--profile", s(&wf.join("profiles/local")), "--cores", "2", "--config"])
        .arg(format!("peakscope={}", bin()))
        .arg(format!("project={}", s(&cfg)))
        .arg(format!("outdir={}", s(&out)))
        .args(["shards=3", "device=cpu", "gpus_per_shard=0", "eval_args=--limit 100"])
        .arg(format!("ism={{bed: {}, model: linear}}", s(&regions)))
        .output()
        .unwrap();
    assert!(o.status.success(), "snakemake failed:\n{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    for k in 1..=3 {
        assert!(out.join(format!("eval/shards/{k}-of-3.json")).exists());
        assert!(out.join(format!("ism/shards/{k}-of-3.tsv")).exists());
    }
    same_json(&metrics(&one), &metrics(&out.join("eval/metrics.json")), "metrics", 1e-12);
    assert_eq!(std::fs::read_to_string(&one_tsv).unwrap(), std::fs::read_to_string(out.join("eval/per_peak.tsv")).unwrap());
    assert_eq!(std::fs::read_to_string(&attr).unwrap(), std::fs::read_to_string(out.join("ism/attr.tsv")).unwrap());
    assert!(out.join("ism/bigwig/linear.A.attr.bw").exists());
}
