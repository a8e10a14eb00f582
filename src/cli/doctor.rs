//! `peakscope doctor`: versions, devices, and a line-per-file check of a project config.
use crate::config::ProjectConfig;
use crate::genome::genes::Genes;
use crate::genome::peaks::{PeakReadOptions, PeakSet};
use crate::genome::{BigWig, Fasta};
use crate::model::device;
use anyhow::Result;
use std::path::Path;

/// One line of the report.
pub struct Check {
    pub what: String,
    pub result: std::result::Result<String, String>,
}

fn line(what: impl Into<String>, r: Result<String>) -> Check {
    Check { what: what.into(), result: r.map_err(|e| format!("{e:#}")) }
}

/// Check every file of a config; never stops at the first problem. `load_models` also loads
/// each model (libtorch).
pub fn check_config(cfg: &ProjectConfig, load_models: bool) -> Vec<Check> {
    check_config_with(cfg, &|m| crate::model::check_model_file(m, load_models))
}

/// Check every file of a config, models with `check_model`.
pub fn check_config_with(cfg: &ProjectConfig, check_model: &dyn Fn(&crate::config::ModelConfig) -> Result<String>) -> Vec<Check> {
    let mut out = Vec::new();
    let fasta = Fasta::open(&cfg.genome.fasta);
    let fasta_chroms = fasta.as_ref().ok().map(|f| f.chroms().clone());
    out.push(line(
        format!("genome.fasta {}", cfg.genome.fasta.display()),
        fasta.map(|f| {
            let total: u64 = f.chroms().lengths().iter().sum();
            format!("{} sequences, {:.2} Mb", f.chroms().len(), total as f64 / 1e6)
        }),
    ));
    if let Some(g) = &cfg.genome.genes {
        out.push(line(format!("genome.genes {}", g.display()), Genes::read(g).map(|g| format!("{} genes", g.all().len()))));
    }
    // the peak set's chromosome names (with peak counts), to check each track against
    let peak_chroms: Option<Vec<(String, usize)>> = cfg.peaks.as_ref().and_then(|p| PeakSet::read(&p.file, &PeakReadOptions::default()).ok()).map(|s| {
        let mut v: Vec<(String, usize)> = s.chroms().iter().map(|c| (c.clone(), 0)).collect();
        for pk in s.peaks() {
            if let Some(e) = v.iter_mut().find(|(c, _)| *c == pk.chrom) {
                e.1 += 1;
            }
        }
        v
    });
    for t in &cfg.tracks {
        let r = BigWig::open(&t.bigwig).and_then(|bw| {
            let mut msg = format!("{} chromosomes, {} zoom levels", bw.chroms().len(), bw.zoom_levels().len());
            if let Some(fc) = &fasta_chroms {
                let shared = bw.chroms().names().iter().filter(|n| fc.resolve(n).is_some()).count();
                if shared == 0 {
                    anyhow::bail!("no chromosome matches the FASTA (bigWig has {}; FASTA has {})", bw.chroms().preview(), fc.preview());
                }
                let mismatched: Vec<String> =
                    bw.chroms().iter().filter_map(|(n, len)| fc.len_of(n).filter(|&fl| fl != len).map(|fl| format!("{n} {len} vs {fl}"))).take(3).collect();
                if !mismatched.is_empty() {
                    anyhow::bail!("chromosome lengths differ from the FASTA (another assembly?): {}", mismatched.join(", "));
                }
                msg += &format!(", {shared} shared with the FASTA");
            }
            if let Some(pc) = &peak_chroms {
                let total: usize = pc.iter().map(|(_, n)| n).sum();
                let lacking: Vec<&(String, usize)> = pc.iter().filter(|(c, _)| bw.chroms().index(c).is_none()).collect();
                let missing: usize = lacking.iter().map(|(_, n)| n).sum();
                let names: Vec<&str> = lacking.iter().take(4).map(|(c, _)| c.as_str()).collect();
                if missing == total {
                    anyhow::bail!(
                        "none of the peak set's chromosomes is in this bigWig (peaks are on {}; the bigWig has {}): eval would have no measured value for this track",
                        names.join(", "),
                        bw.chroms().preview()
                    );
                }
                if missing > 0 {
                    msg += &format!("; warning: {missing} of {total} peaks lie on chromosomes it lacks ({}): eval leaves them out of this track's metrics", names.join(", "));
                }
            }
            Ok(msg)
        });
        out.push(line(format!("track {} bigwig {}", t.name, t.bigwig.display()), r));
        if let Some(p) = &t.peaks {
            out.push(line(
                format!("track {} peaks {}", t.name, p.display()),
                PeakSet::read(p, &PeakReadOptions::default()).map(|s| format!("{} peaks", s.len())),
            ));
        }
    }
    if let Some(p) = &cfg.peaks {
        let r = PeakSet::read(&p.file, &PeakReadOptions { label_column: Some(p.label_column) }).and_then(|s| {
            let labels = s.label_counts();
            for u in &p.ubiquitous {
                if !labels.iter().any(|(l, _)| l == u) {
                    let have: Vec<&str> = labels.iter().take(8).map(|(l, _)| l.as_str()).collect();
                    anyhow::bail!("ubiquitous label '{u}' never occurs in column {} (labels: {})", p.label_column, have.join(", "));
                }
            }
            let mut msg = format!("{} peaks, {} labels", s.len(), labels.len());
            if let Some(fc) = &fasta_chroms {
                let off: Vec<&crate::genome::Peak> = s.peaks().iter().filter(|pk| fc.index(&pk.chrom).is_none()).collect();
                if off.len() == s.len() {
                    anyhow::bail!(
                        "no peak lies on a chromosome of the FASTA (peaks are on {}; the FASTA has {})",
                        s.chroms().iter().take(4).cloned().collect::<Vec<_>>().join(", "),
                        fc.preview()
                    );
                }
                if !off.is_empty() {
                    msg += &format!("; warning: {} peaks lie on chromosomes the FASTA lacks (e.g. {}): eval skips them", off.len(), off[0].chrom);
                }
                let past = s.peaks().iter().filter(|pk| fc.len_of(&pk.chrom).is_some_and(|l| pk.end > l)).count();
                if past > 0 {
                    msg += &format!("; warning: {past} peaks run past their chromosome's end in the FASTA (another assembly?)");
                }
            }
            Ok(msg)
        });
        out.push(line(format!("peaks {}", p.file.display()), r));
    }
    for m in &cfg.models {
        let unknown = m.names_without_track(&cfg.tracks);
        let r = check_model(m).map(|mut s| {
            if !unknown.is_empty() && !cfg.tracks.is_empty() {
                s += &format!(
                    "; WARNING: {} name no [[tracks]] entry ({}): their predictions are compared with nothing",
                    if unknown.len() == 1 { "1 target" } else { "targets" },
                    unknown.iter().take(6).cloned().collect::<Vec<_>>().join(", ")
                );
            }
            s
        });
        let files: Vec<String> = m.files().iter().map(|f| f.display().to_string()).collect();
        out.push(line(format!("model {} {}", m.name, files.join(", ")), r));
    }
    out
}

pub fn run(config: Option<&Path>, load_models: bool) -> Result<()> {
    println!("peakscope {}", env!("CARGO_PKG_VERSION"));
    println!("libtorch  {} ({})", device::libtorch_version(), device::libtorch_lib_dir());
    println!(
        "cpu       {} threads available, torch uses {} intra-op threads",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        tch::get_num_threads()
    );
    if tch::Cuda::is_available() {
        let n = tch::Cuda::device_count();
        println!("cuda      available: {n} device(s)");
        for i in 0..n as usize {
            println!("          cuda:{i} {}", device::cuda_device_name(i).unwrap_or_else(|| "(name unavailable)".into()));
        }
        println!(
            "cudnn     {}",
            if tch::Cuda::cudnn_is_available() { format!("available (version {})", tch::utils::version_cudnn()) } else { "not available".into() }
        );
    } else {
        println!(
            "cuda      not available ({})",
            if device::cuda_linked() { "libtorch_cuda is linked; no GPU or driver found" } else { "this libtorch build has no CUDA" }
        );
    }
    check_files(config, &|m| crate::model::check_model_file(m, load_models))
}

/// `doctor` without `--models`: the same report without loading libtorch (so it starts at
/// once). The GPUs are those the NVIDIA driver lists; `--models` asks libtorch itself.
pub fn run_light(config: Option<&Path>) -> Result<()> {
    println!("peakscope {}", env!("CARGO_PKG_VERSION"));
    println!("libtorch  {} ({}; loaded only for models: doctor --models checks it)", device::libtorch_version(), device::libtorch_lib_dir());
    println!("cpu       {} threads available", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    match nvidia_gpus() {
        Some((driver, gpus)) if !gpus.is_empty() => {
            println!("cuda      NVIDIA driver {driver}: {} GPU(s)", gpus.len());
            for (i, g) in gpus.iter().enumerate() {
                println!("          gpu {i} {g}");
            }
            if !device::cuda_linked() {
                println!("          but this libtorch build has no CUDA");
            }
        }
        _ => println!("cuda      no NVIDIA driver or GPU found (models run on the CPU)"),
    }
    check_files(config, &crate::model::check_model_archives)
}

/// The NVIDIA driver's version and GPU names, from /proc (no CUDA library loaded).
fn nvidia_gpus() -> Option<(String, Vec<String>)> {
    let version = std::fs::read_to_string("/proc/driver/nvidia/version").ok()?;
    let driver = version.split_whitespace().skip_while(|w| !w.eq_ignore_ascii_case("Kernel")).nth(2).unwrap_or("?").to_string();
    let mut gpus: Vec<(String, String)> = std::fs::read_dir("/proc/driver/nvidia/gpus")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let info = std::fs::read_to_string(e.path().join("information")).ok()?;
                    let model = info.lines().find_map(|l| l.strip_prefix("Model:")).map(|m| m.trim().to_string())?;
                    Some((e.file_name().to_string_lossy().into_owned(), model))
                })
                .collect()
        })
        .unwrap_or_default();
    gpus.sort();
    Some((driver, gpus.into_iter().map(|(_, m)| m).collect()))
}

fn check_files(config: Option<&Path>, check_model: &dyn Fn(&crate::config::ModelConfig) -> Result<String>) -> Result<()> {
    let Some(path) = config else {
        println!("config    none given (peakscope doctor CONFIG checks a project's files)");
        return Ok(());
    };
    let cfg = ProjectConfig::load(path)?;
    println!("config    {}", path.display());
    let checks = check_config_with(&cfg, check_model);
    let mut bad = 0;
    for c in &checks {
        match &c.result {
            Ok(msg) => println!("  OK    {}: {msg}", c.what),
            Err(e) => {
                bad += 1;
                println!("  FAIL  {}: {e}", c.what)
            }
        }
    }
    if bad > 0 {
        anyhow::bail!("{bad} of {} config checks failed", checks.len());
    }
    println!("all {} checks passed", checks.len());
    Ok(())
}
