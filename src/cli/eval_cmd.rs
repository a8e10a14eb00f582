//! `peakscope eval`: metrics stratified by cell-type specificity, as JSON, a per-peak TSV
//! and a table on stdout.
use crate::config::ProjectConfig;
use crate::eval::stream::EvalState;
use crate::genome::peaks::Peak;
use crate::genome::textio::{check_optional_outputs, write_atomic, Output};
use crate::jobs::eval::{run_eval, EvalEvent, EvalOptions, EvalOutcome};
use crate::jobs::eval_input::check_limit;
use crate::model::device::device_label;
use crate::shard::ShardSpec;
use anyhow::{bail, Result};
use clap::Args;
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
    /// with [variants]: one row per variant × model × track (predictions, allelic counts,
    /// label, strata) from which every variant metric can be recomputed
    #[arg(long)]
    pub per_variant: Option<PathBuf>,
    #[command(flatten)]
    pub run: super::model_cmds::RunArgs,
    /// override [eval] center_width (bp, > 0)
    #[arg(long)]
    pub center_width: Option<u64>,
    /// override [eval] seed
    #[arg(long)]
    pub seed: Option<u64>,
    /// evaluate shard K of N (1-based, e.g. 3/8): every N-th peak of the seeded order,
    /// starting at the K-th. -o then writes a shard file (co-moment accumulators and
    /// per-peak rows) for `peakscope merge -o metrics.json SHARD…`
    #[arg(long, value_name = "K/N")]
    pub shard: Option<ShardSpec>,
}

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "nan".into()
    }
}

/// The per-peak TSV of an evaluation's rows (`peaks`/`specificity` indexed by `row.peak`).
pub fn write_per_peak(path: &std::path::Path, state: &EvalState, peaks: &[Peak], specificity: &[Option<u32>]) -> Result<()> {
    let lay = &state.layout;
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
        for r in &state.rows {
            let p = &peaks[r.peak];
            let spec = specificity[r.peak].map(|s| s.to_string()).unwrap_or_else(|| "NA".into());
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

/// One row per variant × model × output: what every variant metric is computed from.
pub fn write_per_variant(path: &std::path::Path, v: &crate::jobs::variants::VariantEval) -> Result<()> {
    use crate::eval::variants::{measured_log2, predicted_log2fc};
    write_atomic(path, |w| {
        writeln!(w, "chrom\tpos\tref\talt\tmodel\ttrack\tref_pred\talt_pred\tsad\tlog2fc\tref_count\talt_count\tmeasured_log2\tlabel\tpeak\tcluster\tstratum\tspecificity\tstrata")?;
        for s in &v.rows {
            let x = &s.variant;
            let an = &s.annotation;
            let na = |o: &Option<String>| o.clone().unwrap_or_else(|| "NA".into());
            let strata: Vec<&str> = an.strata.iter().map(|&i| v.strata[i].as_str()).collect();
            let label = match x.label {
                Some(true) => "1",
                Some(false) => "0",
                None => "NA",
            };
            for (mi, m) in v.models.iter().enumerate() {
                for (o, name) in m.target_names.iter().enumerate() {
                    let (rp, ap) = (s.ref_pred[mi][o], s.alt_pred[mi][o]);
                    let counts = v.tracks.iter().position(|t| t == name).and_then(|t| x.counts[t]);
                    let (rc, ac, meas) = match counts {
                        Some((r, a)) => (r.to_string(), a.to_string(), num(measured_log2(r, a))),
                        None => ("NA".into(), "NA".into(), "NA".into()),
                    };
                    writeln!(
                        w,
                        "{}\t{}\t{}\t{}\t{}\t{name}\t{}\t{}\t{}\t{}\t{rc}\t{ac}\t{meas}\t{label}\t{}\t{}\t{}\t{}\t{}",
                        x.chrom,
                        x.pos,
                        String::from_utf8_lossy(&x.ref_allele),
                        String::from_utf8_lossy(&x.alt),
                        m.spec.name,
                        num(rp),
                        num(ap),
                        num(ap - rp),
                        num(predicted_log2fc(rp, ap)),
                        na(&an.peak),
                        na(&an.cluster),
                        na(&an.stratum),
                        an.specificity.map(|s| s.to_string()).unwrap_or_else(|| "NA".into()),
                        strata.join(",")
                    )?;
                }
            }
        }
        Ok(())
    })
}

/// Ctrl-C: the first press finishes the current batch, then the partial results are written
/// and the process exits with 130; a second press aborts at once with 130.
pub(crate) fn interrupt_handler() -> Arc<AtomicBool> {
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
    if a.shard.is_some() && a.output.is_none() {
        bail!("--shard needs -o/--output: the shard file that `peakscope merge -o metrics.json SHARD…` combines");
    }
    let mut cfg = ProjectConfig::load(&a.config)?;
    check_optional_outputs(
        [
            Output::file_opt("-o/--output", a.output.as_deref()),
            Output::file_opt("--per-peak", a.per_peak.as_deref()),
            Output::file_opt("--per-variant", a.per_variant.as_deref()),
        ],
        &cfg.input_paths(),
    )?;
    if a.per_variant.is_some() && cfg.variants.is_none() {
        bail!("--per-variant needs a [variants] section in {} (vcf = \"...\" and/or allelic = \"...\")", a.config.display());
    }
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
        shard: a.shard,
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
    if cfg.variants.is_some() && a.shard.is_some() {
        eprintln!("note: variant metrics are not computed in a shard run ([variants] is ignored with --shard): run `peakscope eval` without --shard, or `peakscope variants`, for them");
    }
    let variants = match &cfg.variants {
        Some(_) if !out.cancelled && a.shard.is_none() => {
            let pb = indicatif::ProgressBar::new_spinner()
                .with_style(indicatif::ProgressStyle::with_template("variants {spinner} {pos} scored {per_sec} {elapsed}").unwrap());
            let v = crate::jobs::variants::run_variant_eval(&cfg, &opts, &cancel, Some(&out.snapshot), |n| pb.set_position(n as u64))?;
            pb.finish_and_clear();
            super::variants_cmd::report_summary(&v.summary, v.models.len(), &device_label(device));
            print!("{}", crate::eval::variants::table(&v.report));
            Some(v)
        }
        _ => None,
    };
    // metrics.json first, then the per-peak table; a failure of one does not stop the other
    let mut failed: Vec<String> = Vec::new();
    if let Some(p) = &a.output {
        let run = run_json(&a, &cfg, &out, device, &nan, &strata)?;
        let r = match a.shard {
            Some(shard) => super::merge::write_eval_shard(p, shard, &a, &cfg, run, &out),
            None => {
                let mut doc = serde_json::json!({ "run": run, "metrics": out.snapshot });
                if let Some(v) = &variants {
                    doc["variants"] = serde_json::json!({
                        "source": v.source.display().to_string(),
                        "min_depth": v.min_depth,
                        "scoring": v.summary,
                        "strata": v.strata,
                        "metrics": v.report,
                        "metric_definitions": {
                            "allelic": "sites with ref_count + alt_count >= min_depth in the track; pearson: scipy.stats.pearsonr of predicted log2fc = log2((alt_pred+1)/(ref_pred+1)) vs measured log2((alt_count+0.5)/(ref_count+0.5)) over all n sites; auroc: sklearn roc_auc_score of predicted log2fc for alt_count > ref_count over the n_imbalanced sites with alt_count != ref_count; sign_accuracy: fraction of those whose predicted log2fc has the sign of alt_count - ref_count (0 is wrong)",
                            "labelled": "variants with a label; auroc/auprc: sklearn roc_auc_score/average_precision_score of |sad| = |alt_pred - ref_pred| per track, and of the mean |sad| over the model's tracks (mean_abs_sad)",
                            "summary": "per stratum: reference_pearson = the peak evaluation's mean Pearson over tracks; allelic_* = means over tracks; labelled_auroc = mean_abs_sad AUROC",
                            "strata": "a variant in a peak belongs to the peak's strata (as reference accuracy); one in no peak to all and outside_peaks"
                        }
                    });
                }
                write_atomic(p, |w| {
                    serde_json::to_writer_pretty(&mut *w, &doc)?;
                    writeln!(w)?;
                    Ok(())
                })
            }
        };
        match r {
            Ok(()) => eprintln!("wrote {}", p.display()),
            Err(e) => failed.push(format!("{e:#}")),
        }
    }
    if let Some(p) = &a.per_peak {
        match write_per_peak(p, &out.state, &out.peaks, &out.specificity) {
            Ok(()) => eprintln!("wrote {}", p.display()),
            Err(e) => failed.push(format!("{e:#}")),
        }
    }
    if let (Some(p), Some(v)) = (&a.per_variant, &variants) {
        match write_per_variant(p, v) {
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

/// The `run` section of metrics.json.
fn run_json(
    a: &EvalArgs,
    cfg: &ProjectConfig,
    out: &EvalOutcome,
    device: tch::Device,
    nan: &std::collections::BTreeMap<String, usize>,
    strata: &[String],
) -> Result<serde_json::Value> {
    let done = out.state.rows.len();
    let t = out.timing;
    Ok(serde_json::json!({
        "config": a.config.display().to_string(),
        "config_sha256": crate::shard::file_sha256(&a.config)?,
        "n_peaks": done,
        "n_selected": out.selected,
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
        "metric_definitions": METRIC_DEFINITIONS.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect::<serde_json::Map<_, _>>(),
    }))
}

pub(crate) const METRIC_DEFINITIONS: [(&str, &str); 8] = [
    ("pearson", "scipy.stats.pearsonr of log2(measured+1) vs log2(predicted+1); measured = bigWig sum over the central center_width bp, predicted = the model's height (transformed, summed over its bins: all, or those over the central center_width bp with bins = center, averaged over rc/shift views)"),
    ("spearman", "scipy.stats.spearmanr of the same values"),
    ("auroc", "sklearn roc_auc_score of predicted height for called:<track>"),
    ("auprc", "sklearn average_precision_score of predicted height for called:<track>"),
    ("overcorrelation", "per track pair, pearson(log2 pred_a+1, log2 pred_b+1) - pearson(log2 meas_a+1, log2 meas_b+1); summary = mean over pairs"),
    ("median_cv", "median over (peak, track) of scipy.stats.variation of predictions across a replicate group's models"),
    ("null", "undefined (n/a): fewer than 2 values, a constant side, or a single class"),
    ("measured_nan", "per track: evaluated peaks without a measured value (their chromosome is not in the bigWig); they are left out of that track's metrics"),
];

/// Per track, the evaluated peaks without a measured value, warned about on stderr.
pub(crate) fn report_missing_measurements(out: &EvalOutcome) -> std::collections::BTreeMap<String, usize> {
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
