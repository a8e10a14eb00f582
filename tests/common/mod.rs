//! Shared helpers for integration tests: deterministic random data, small files, and
//! access to the reference Python (torch, pyBigWig) that scripts/env.sh installs.
#![allow(dead_code)]
use std::io::Write;
use std::path::{Path, PathBuf};

/// xorshift64*: deterministic, dependency-free.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn dna(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| b"ACGT"[self.below(4) as usize]).collect()
    }
}

pub fn write(path: &Path, text: &str) {
    std::fs::File::create(path).unwrap().write_all(text.as_bytes()).unwrap();
}

/// A FASTA with the given sequences (60 bp lines), indexed.
pub fn fasta(dir: &Path, seqs: &[(&str, &[u8])]) -> PathBuf {
    let p = dir.join("genome.fa");
    let mut s = String::new();
    for (name, seq) in seqs {
        s.push_str(&format!(">{name}\n"));
        for chunk in seq.chunks(60) {
            s.push_str(std::str::from_utf8(chunk).unwrap());
            s.push('\n');
        }
    }
    write(&p, &s);
    peakscope::genome::fasta::build_index(&p).unwrap();
    p
}

/// Random bedGraph-like runs over each chromosome with gaps; returns the per-base truth
/// (NaN = no data) alongside the written bigWig.
pub fn random_bigwig(path: &Path, chroms: &[(&str, u32)], seed: u64) -> Vec<(String, Vec<f32>)> {
    let mut rng = Rng::new(seed);
    let mut records = Vec::new();
    let mut truth = Vec::new();
    for &(name, len) in chroms {
        let mut per_base = vec![f32::NAN; len as usize];
        let mut pos = rng.below(50) as u32;
        while pos < len {
            let span = if rng.below(4) == 0 { 200 } else { 12 };
            let run = 1 + rng.below(span) as u32;
            let end = (pos + run).min(len);
            if rng.below(5) > 0 {
                let v = ((rng.unit() * 20.0 - 2.0) * 1000.0).round() as f32 / 1000.0;
                records.push((name.to_string(), bigtools::Value { start: pos, end, value: v }));
                for x in &mut per_base[pos as usize..end as usize] {
                    *x = v;
                }
            }
            let gap = if rng.below(3) == 0 { rng.below(30) as u32 } else { 0 };
            pos = end + gap;
        }
        truth.push((name.to_string(), per_base));
    }
    let sizes: Vec<(String, u32)> = chroms.iter().map(|(n, l)| (n.to_string(), *l)).collect();
    peakscope::genome::bigwig::write_bigwig(path, &sizes, records).unwrap();
    truth
}

/// The reference Python (torch, numpy, scipy, scikit-learn, pyBigWig) that scripts/env.sh
/// installs and scripts/test.sh always exports as `PEAKSCOPE_PYTHON`.
///
/// A comparison with the reference must not pass without running: when `PEAKSCOPE_PYTHON`
/// is unset (or names no file) this panics, so the test FAILS. To skip the comparisons on
/// purpose (e.g. a quick local run without the venv), set `PEAKSCOPE_SKIP_REFERENCE=1`:
/// then this returns `None`, says so on stderr, and the caller returns early.
pub fn python() -> Option<String> {
    let skip = std::env::var("PEAKSCOPE_SKIP_REFERENCE").is_ok_and(|v| v == "1");
    match std::env::var("PEAKSCOPE_PYTHON") {
        Ok(p) if !p.is_empty() && std::path::Path::new(&p).exists() => Some(p),
        Ok(p) if !p.is_empty() && !skip => panic!("PEAKSCOPE_PYTHON={p} does not exist: run `bash scripts/test.sh` (it installs the reference venv), or set PEAKSCOPE_SKIP_REFERENCE=1 to skip the Python comparisons on purpose"),
        _ if skip => {
            eprintln!("PEAKSCOPE_SKIP_REFERENCE=1: skipping the comparison with the Python reference");
            None
        }
        _ => panic!(
            "PEAKSCOPE_PYTHON is not set, so the comparison with the Python reference (torch, scipy, scikit-learn, pyBigWig) cannot run: run `bash scripts/test.sh` (it sets it), export PEAKSCOPE_PYTHON=/path/to/python with those packages, or set PEAKSCOPE_SKIP_REFERENCE=1 to skip the comparisons on purpose"
        ),
    }
}

/// Run a Python snippet with arguments; panics with its stderr on failure.
pub fn run_python(py: &str, code: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(py).arg("-c").arg(code).args(args).output().expect("running python");
    if !out.status.success() {
        panic!("python failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    String::from_utf8(out.stdout).unwrap()
}

pub fn bin() -> &'static str {
    option_env!("CARGO_BIN_EXE_peakscope").unwrap_or("target/release/peakscope")
}

/// Run the peakscope binary; returns (exit ok, stdout, stderr).
pub fn peakscope(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(bin()).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// How [`labelled_project`] draws its synthetic project.
#[allow(dead_code)]
pub struct LabelledSpec {
    pub seed: u64,
    pub chroms: [(&'static str, u32); 2],
    pub max_peaks: usize,
    /// first peak start on each chromosome; no peak starts within `margin` of the end
    pub first: u32,
    pub margin: u32,
    /// peak width: base + below(range)
    pub width: (u32, u64),
    /// gap after a peak: base + below(range)
    pub gap: (u32, u64),
    pub name_prefix: &'static str,
    /// signal where a track is open: (base + GC count / div), else `closed`; times (jitter + unit)
    pub open: (f32, f32),
    pub closed: f32,
    pub jitter: f32,
    /// a closed peak is still called one time in this many
    pub call_one_in: u64,
    /// scale of the positional-linear model's weights
    pub lin_scale: f64,
    /// the [eval] section and the [[models]] extras (e.g. `batch_size = 5`) of the two models
    pub eval_toml: &'static str,
    pub model_extra: [&'static str; 2],
}

/// Labels of [`labelled_project`]'s peaks (BED column 5) and its tracks.
#[allow(dead_code)]
pub const LABELLED_LABELS: [&str; 3] = ["Ubiq", "A_spec", "B_spec"];
#[allow(dead_code)]
pub const LABELLED_TRACKS: [&str; 3] = ["A", "B", "C"];

/// A 2-chromosome genome, tracks A B C with peak calls, labelled peaks (`Ubiq` open in every
/// track, `A_spec`/`B_spec` in one; signal rises with GC), and a replicate group of two models
/// on 200-bp windows (base counts; positional weights). Returns the project.toml.
#[allow(dead_code)]
pub fn labelled_project(d: &Path, spec: &LabelledSpec) -> PathBuf {
    let mut rng = Rng::new(spec.seed);
    let seqs: Vec<Vec<u8>> = spec.chroms.iter().map(|(_, l)| rng.dna(*l as usize)).collect();
    fasta(d, &[(spec.chroms[0].0, &seqs[0]), (spec.chroms[1].0, &seqs[1])]);
    let mut peaks = Vec::new();
    for (ci, (c, len)) in spec.chroms.iter().enumerate() {
        let mut pos = spec.first;
        while pos + spec.margin < *len && peaks.len() < spec.max_peaks {
            let w = spec.width.0 + rng.below(spec.width.1) as u32;
            peaks.push((ci, c.to_string(), pos, pos + w, LABELLED_LABELS[rng.below(3) as usize]));
            pos += w + spec.gap.0 + rng.below(spec.gap.1) as u32;
        }
    }
    let bed: String = peaks.iter().enumerate().map(|(i, (_, c, s, e, l))| format!("{c}\t{s}\t{e}\t{}{i}\t{l}\n", spec.name_prefix)).collect();
    write(&d.join("peaks.bed"), &bed);
    for (ti, t) in LABELLED_TRACKS.iter().enumerate() {
        let (mut recs, mut calls) = (Vec::new(), String::new());
        for (ci, c, s, e, l) in &peaks {
            let gc = seqs[*ci][*s as usize..*e as usize].iter().filter(|&&b| b == b'G' || b == b'C').count() as f32;
            let own = *l == "Ubiq" || (ti == 0 && *l == "A_spec") || (ti == 1 && *l == "B_spec");
            let h = if own { spec.open.0 + gc / spec.open.1 } else { spec.closed } * (spec.jitter + rng.unit() as f32);
            recs.push((c.clone(), bigtools::Value { start: *s, end: *e, value: h }));
            if own || rng.below(spec.call_one_in) == 0 {
                calls.push_str(&format!("{c}\t{s}\t{e}\n"));
            }
        }
        let sizes: Vec<(String, u32)> = spec.chroms.iter().map(|(c, l)| (c.to_string(), *l)).collect();
        peakscope::genome::bigwig::write_bigwig(&d.join(format!("{t}.bw")), &sizes, recs).unwrap();
        write(&d.join(format!("{t}.calls.bed")), &calls);
    }
    let (ok, _, err) = peakscope(&["make-model", "count", "--input-length", "200", "-o", d.join("count.pt").to_str().unwrap()]);
    assert!(ok, "{err}");
    let w: Vec<f32> = (0..4 * 4 * 200).map(|_| rng.unit() as f32 * spec.lin_scale as f32).collect();
    peakscope::model::zoo::save(&peakscope::model::zoo::positional_linear(&w, 4, 200).unwrap(), &d.join("lin.pt")).unwrap();
    let mut cfg = String::from("[genome]\nfasta = \"genome.fa\"\n");
    for t in LABELLED_TRACKS {
        cfg.push_str(&format!("[[tracks]]\nname = \"{t}\"\nbigwig = \"{t}.bw\"\npeaks = \"{t}.calls.bed\"\n"));
    }
    cfg.push_str("[peaks]\nfile = \"peaks.bed\"\nlabel_column = 5\nubiquitous = [\"Ubiq\"]\n");
    cfg.push_str(spec.eval_toml);
    cfg.push_str(&format!(
        "[[models]]\nname = \"counts\"\npath = \"count.pt\"\ntargets = [\"A\", \"B\", \"C\", \"t3\"]\ninput_length = 200\nreplicate_group = \"rep\"\n{}\n",
        spec.model_extra[0]
    ));
    cfg.push_str(&format!(
        "[[models]]\nname = \"linear\"\npath = \"lin.pt\"\ntargets = [\"A\", \"B\", \"C\"]\ninput_length = 200\nreplicate_group = \"rep\"\n{}\n",
        spec.model_extra[1]
    ));
    let p = d.join("project.toml");
    write(&p, &cfg);
    p
}
