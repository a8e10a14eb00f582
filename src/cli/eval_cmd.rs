//! `peakscope eval`: metrics stratified by cell-type specificity, as JSON, a per-peak TSV
//! and a table on stdout.
use crate::config::ProjectConfig;
use crate::genome::textio::write_atomic;
use crate::jobs::eval::{run_eval, EvalEvent, EvalOptions, EvalOutcome};
use crate::model::device::device_label;
use anyhow::Result;
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
    /// only peaks on these chromosomes, e.g. the held-out chr4,chr5
    #[arg(long, value_delimiter = ',')]
    pub chroms: Option<Vec<String>>,
    /// at most N peaks (a seeded random sample)
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
    /// override [eval] center_width
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

pub fn run(a: EvalArgs) -> Result<()> {
    let mut cfg = ProjectConfig::load(&a.config)?;
    if let Some(w) = a.center_width {
        cfg.eval.center_width = w.max(1);
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
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let c = cancel.clone();
        // Ctrl-C: finish the current batch, then write what we have
        let _ = ctrlc::set_handler(move || {
            if c.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\ninterrupted: finishing the current batch and writing partial results (Ctrl-C again to abort)");
        });
    }
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
    if let Some(p) = &a.per_peak {
        write_per_peak(p, &out)?;
    }
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
            "metric_definitions": {
                "pearson": "scipy.stats.pearsonr of log2(measured+1) vs log2(predicted+1); measured = bigWig sum over the central center_width bp, predicted = the model's height (transformed, summed over its bins: all, or those over the central center_width bp with bins = center, averaged over rc/shift views)",
                "spearman": "scipy.stats.spearmanr of the same values",
                "auroc": "sklearn roc_auc_score of predicted height for called:<track>",
                "auprc": "sklearn average_precision_score of predicted height for called:<track>",
                "overcorrelation": "per track pair, pearson(log2 pred_a+1, log2 pred_b+1) - pearson(log2 meas_a+1, log2 meas_b+1); summary = mean over pairs",
                "median_cv": "median over (peak, track) of scipy.stats.variation of predictions across a replicate group's models",
                "null": "undefined (n/a): fewer than 2 values, a constant side, or a single class"
            }
        });
        let doc = serde_json::json!({ "run": run, "metrics": out.snapshot });
        write_atomic(p, |w| {
            serde_json::to_writer_pretty(&mut *w, &doc)?;
            writeln!(w)?;
            Ok(())
        })?;
    }
    Ok(())
}
