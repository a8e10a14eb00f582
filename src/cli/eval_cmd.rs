//! `peakscope eval`: metrics stratified by cell-type specificity, as JSON, a per-peak TSV
//! and a table on stdout.
use crate::config::ProjectConfig;
use crate::genome::textio::{check_optional_outputs, write_atomic, Output};
use crate::jobs::eval::{run_eval, EvalEvent, EvalOptions, EvalOutcome};
use crate::jobs::eval_input::check_limit;
use crate::model::device::device_label;
use anyhow::{bail, Result};
use clap::Args;
use sha2::Digest;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// project config (TOML)
    #[arg(long)]
    pub config: PathBuf,
    /// models to evaluate (repeatable; default: all in the config)
    #[arg(long = "model")]
    pub models: Vec<String>,
    /// only peaks on these chromosomes, e.g. the held-out chr4,chr5 (aliases match: 4 finds
    /// chr4). A name in neither the FASTA nor the peaks is an error; one the FASTA has but
    /// without peaks is a warning. Peaks per requested chromosome are logged.
    #[arg(long, value_delimiter = ',')]
    pub chroms: Option<Vec<String>>,
    /// at most N peaks (a seeded random sample; N >= 1)
    #[arg(long)]
    pub limit: Option<usize>,
    /// metrics JSON (atomic)
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// one row per peak: chrom start end name cluster specificity measured:<track>… pred:<model>:<track>… called:<track>…
    #[arg(long)]
    pub per_peak: Option<PathBuf>,
    #[command(flatten)]
    pub run: super::model_cmds::RunArgs,
    /// override [eval] center_width (bp, > 0)
    #[arg(long)]
    pub center_width: Option<u64>,
    /// override [eval] seed
    #[arg(long)]
    pub seed: Option<u64>,
}

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "nan".into()
    }
}

pub fn write_per_peak(path: &std::path::Path, out: &EvalOutcome) -> Result<()> {
    let lay = &out.state.layout;
    write_atomic(path, |w| {
        write!(w, "chrom\tstart\tend\tname\tcluster\tspecificity")?;
        for t in &lay.tracks {
            write!(w, "\tmeasured:{t}")?;
        }
        for m in &lay.models {
            for o in &m.output_names {
                write!(w, "\tpred:{}:{o}", m.name)?;
            }
        }
        if lay.has_calls {
            for t in &lay.tracks {
                write!(w, "\tcalled:{t}")?;
            }
        }
        writeln!(w)?;
        for r in &out.state.rows {
            let p = &out.peaks[r.peak];
            let spec = out.specificity[r.peak].map(|s| s.to_string()).unwrap_or_else(|| "NA".into());
            write!(w, "{}\t{}\t{}\t{}\t{}\t{spec}", p.chrom, p.start, p.end, p.display_name(), p.label.as_deref().unwrap_or("NA"))?;
            for v in &r.measured {
                write!(w, "\t{}", num(*v))?;
            }
            for m in &r.predicted {
                for v in m {
                    write!(w, "\t{}", num(*v))?;
                }
            }
            if lay.has_calls {
                for c in &r.called {
                    write!(w, "\t{}", *c as u8)?;
                }
            }
            writeln!(w)?;
        }
        Ok(())
    })
}

/// Ctrl-C: the first press finishes the current batch, then the partial results are written
/// and the process exits with 130; a second press aborts at once with 130.
fn interrupt_handler() -> Arc<AtomicBool> {
    let cancel = Arc::new(AtomicBool::new(false));
    let c = cancel.clone();
    let _ = ctrlc::set_handler(move || {
        use std::io::Write;
        if c.swap(true, Ordering::SeqCst) {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "\naborted");
            let _ = err.flush();
            // SAFETY: _exit(2) ends the process at once, without atexit handlers or C++
            // static destructors. That is the point: the model worker may be inside libtorch
            // on another thread, and running libtorch's static destructors under it is what
            // crashed (SIGSEGV, "corrupted double-linked list"). Outputs are only ever
            // written atomically, so aborting leaves no partial file.
            unsafe { libc::_exit(130) };
        }
        eprintln!("\ninterrupted: finishing the current batch and writing partial results (Ctrl-C again to abort)");
    });
    cancel
}

pub fn run(a: EvalArgs) -> Result<()> {
    let cancel = interrupt_handler();
    check_limit(a.limit)?;
    if a.center_width == Some(0) {
        bail!("--center-width must be > 0 (bp centred on each peak whose signal is summed; the config's [eval] center_width is used when it is left out)");
    }
    let mut cfg = ProjectConfig::load(&a.config)?;
    check_optional_outputs([Output::file_opt("-o/--output", a.output.as_deref()), Output::file_opt("--per-peak", a.per_peak.as_deref())], &cfg.input_paths())?;
    if let Some(w) = a.center_width {
        cfg.eval.center_width = w;
    }
    if let Some(s) = a.seed {
        cfg.eval.seed = s;
    }
    let device = a.run.device()?;
    let opts = EvalOptions {
        models: a.models.clone(),
        chroms: a.chroms.clone(),
        limit: a.limit,
        device,
        precision: a.run.precision()?,
        batch_size: a.run.batch_size,
        snapshot_every: None,
    };
    let pb = indicatif::ProgressBar::new(0)
        .with_style(indicatif::ProgressStyle::with_template("eval {bar:30} {pos}/{len} peaks {per_sec} eta {eta} {msg}").unwrap());
    let out = run_eval(&cfg, &opts, &cancel, |ev| {
        if let EvalEvent::Progress { done, total, .. } = ev {
            pb.set_length(total as u64);
            pb.set_position(done as u64);
        }
    })?;
    pb.finish_and_clear();
    let t = out.timing;
    let done = out.state.rows.len();
    eprintln!(
        "evaluated {done} of {} peaks in {:.1} s ({:.0} peaks/s) on {}{}: model {:.1}%, reading {:.1}%, metrics {:.1}%",
        out.state.total,
        t.total_s,
        done as f64 / t.total_s.max(1e-9),
        device_label(device),
        if out.cancelled { " (interrupted: partial results)" } else { "" },
        100.0 * t.model_s / t.total_s.max(1e-9),
        100.0 * t.read_s / t.total_s.max(1e-9),
        100.0 * t.metrics_s / t.total_s.max(1e-9)
    );
    if out.cancelled && done == 0 {
        eprintln!("interrupted before any peak was evaluated: nothing written");
        std::process::exit(130);
    }
    let nan = report_missing_measurements(&out);
    if out.input.mostly_n_windows > 0 {
        eprintln!(
            "warning: {} of {done} evaluated peaks have a model window that is more than half N (assembly gaps or past a chromosome end): their predictions see mostly zeros",
            out.input.mostly_n_windows
        );
    }
    for w in out.windows.iter().filter(|w| w.grouped) {
        eprintln!(
            "model {}: {} peaks served by {} long window(s) ({} forward passes, {} avoided)",
            w.model, w.peaks, w.windows, w.forward_passes, w.forward_passes_avoided
        );
    }
    for w in out.windows.iter().filter(|w| w.non_finite > 0) {
        eprintln!("warning: model {}: {} predicted value(s) were NaN or infinite", w.model, w.non_finite);
    }
    let strata = out.state.layout.strata.names().to_vec();
    print!("{}", out.snapshot.table(&strata));
    // metrics.json first, then the per-peak table; a failure of one does not stop the other
    let mut failed: Vec<String> = Vec::new();
    if let Some(p) = &a.output {
        let text = std::fs::read(&a.config).unwrap_or_default();
        let hash = sha2::Sha256::digest(&text);
        let run = serde_json::json!({
            "config": a.config.display().to_string(),
            "config_sha256": hash.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "n_peaks": done,
            "n_selected": out.state.total,
            "complete": !out.cancelled && done == out.state.total,
            "seconds": t.total_s,
            "timing": t,
            "windows": out.windows,
            "device": device_label(device),
            "precision": a.run.precision,
            "center_width": cfg.eval.center_width,
            "seed": cfg.eval.seed,
            "chroms": a.chroms,
            "limit": a.limit,
            "strata": strata,
            "tracks": out.state.layout.tracks,
            "input": out.input,
            "measured_nan": nan,
            "metric_definitions": {
                "pearson": "scipy.stats.pearsonr of log2(measured+1) vs log2(predicted+1); measured = bigWig sum over the central center_width bp, predicted = the model's height (transformed, summed over its bins: all, or those over the central center_width bp with bins = center, averaged over rc/shift views)",
                "spearman": "scipy.stats.spearmanr of the same values",
                "auroc": "sklearn roc_auc_score of predicted height for called:<track>",
                "auprc": "sklearn average_precision_score of predicted height for called:<track>",
                "overcorrelation": "per track pair, pearson(log2 pred_a+1, log2 pred_b+1) - pearson(log2 meas_a+1, log2 meas_b+1); summary = mean over pairs",
                "median_cv": "median over (peak, track) of scipy.stats.variation of predictions across a replicate group's models",
                "null": "undefined (n/a): fewer than 2 values, a constant side, or a single class",
                "measured_nan": "per track: evaluated peaks without a measured value (their chromosome is not in the bigWig); they are left out of that track's metrics"
            }
        });
        let doc = serde_json::json!({ "run": run, "metrics": out.snapshot });
        let r = write_atomic(p, |w| {
            serde_json::to_writer_pretty(&mut *w, &doc)?;
            writeln!(w)?;
            Ok(())
        });
        match r {
            Ok(()) => eprintln!("wrote {}", p.display()),
            Err(e) => failed.push(format!("{e:#}")),
        }
    }
    if let Some(p) = &a.per_peak {
        match write_per_peak(p, &out) {
            Ok(()) => eprintln!("wrote {}", p.display()),
            Err(e) => failed.push(format!("{e:#}")),
        }
    }
    if !failed.is_empty() {
        bail!("{}", failed.join("\n"));
    }
    if out.cancelled {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        eprintln!("interrupted: partial results for {done} of {} peaks (\"complete\": false)", out.state.total);
        // every worker thread has been joined (the model worker when run_eval returned)
        std::process::exit(130);
    }
    Ok(())
}

/// Per track, the evaluated peaks without a measured value, warned about on stderr.
fn report_missing_measurements(out: &EvalOutcome) -> std::collections::BTreeMap<String, usize> {
    let rows = &out.state.rows;
    let mut nan = std::collections::BTreeMap::new();
    for (t, name) in out.state.layout.tracks.iter().enumerate() {
        let n = rows.iter().filter(|r| !r.measured[t].is_finite()).count();
        if n > 0 {
            eprintln!("warning: track {name}: {n} of {} evaluated peaks have no measured value (NaN): they are left out of {name}'s metrics", rows.len());
        }
        if !rows.is_empty() && n < rows.len() && rows.iter().all(|r| !r.measured[t].is_finite() || r.measured[t] == 0.0) {
            eprintln!("warning: track {name}: its bigWig has no signal under any evaluated peak (all sums are 0): its correlations are undefined");
        }
        nan.insert(name.clone(), n);
    }
    nan
}
