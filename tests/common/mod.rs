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
