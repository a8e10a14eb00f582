//! `peakscope tf-activity`: motif-insertion TF activity per model and track, and
//! `peakscope attr`: ISM or gradient × input attributions of a region.
use super::emit;
use super::model_cmds::{resolve_locus, ModelArgs, RunArgs};
use crate::config::ProjectConfig;
use crate::genome::locus::parse_locus;
use crate::genome::motifs::{jaspar, read_meme, Motif};
use crate::genome::peaks::{PeakReadOptions, PeakSet};
use crate::genome::shuffle::centre_start;
use crate::genome::textio::{check_optional_outputs, write_atomic, Output};
use crate::genome::{Fasta, Locus};
use crate::jobs::{ModelEvent, ModelWorker};
use crate::model::desc::BinSelect;
use crate::model::device::device_label;
use crate::model::engine::ModelSpec;
use crate::model::ism::{attributions, IsmPlan};
use crate::model::tf_activity::{
    backgrounds, centre_interval, check_motif_widths, motif_sites, pick_backgrounds, run_activity, ActivityInput, ModelActivity, DEFAULT_BACKGROUNDS,
};
use anyhow::{anyhow, bail, Result};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct TfActivityArgs {
    /// project config: its models, FASTA and peaks (the backgrounds are drawn from the peaks)
    #[arg(long)]
    pub config: PathBuf,
    /// models to run (repeatable; default: every model of the config)
    #[arg(long = "model")]
    pub models: Vec<String>,
    /// motifs in MEME format (default: the shipped JASPAR 2024 CORE vertebrates, 879 profiles)
    #[arg(long)]
    pub motifs: Option<PathBuf>,
    /// only motifs whose TF name or id is one of these (comma-separated, case-insensitive)
    #[arg(long, value_delimiter = ',')]
    pub tf: Vec<String>,
    /// background sequences (peaks drawn without replacement when there are enough)
    #[arg(long, default_value_t = DEFAULT_BACKGROUNDS)]
    pub backgrounds: usize,
    /// random seed (peak draws, shuffles, PWM samples)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// insert each motif's consensus instead of a site sampled from its PWM per background
    #[arg(long)]
    pub consensus: bool,
    /// output TSV: motif tf model track activity se n (atomic); stdout when absent
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// also write every background's delta: motif tf model background peak site track delta
    #[arg(long)]
    pub per_background: Option<PathBuf>,
    /// also write the shuffled backgrounds as FASTA (>model|bN|peak)
    #[arg(long)]
    pub backgrounds_fasta: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Ctrl-C: stop after the current chunk (nothing is written); a second press aborts at once.
fn interrupt_flag() -> Arc<AtomicBool> {
    let cancel = Arc::new(AtomicBool::new(false));
    let c = cancel.clone();
    let _ = ctrlc::set_handler(move || {
        if c.swap(true, Ordering::SeqCst) {
            // SAFETY: _exit(2) ends the process without running atexit handlers or libtorch's
            // static destructors while the model worker may be inside libtorch; outputs are
            // written atomically, so no partial file is left.
            unsafe { libc::_exit(130) };
        }
        eprintln!("\ninterrupted: stopping after the current batch (Ctrl-C again to abort)");
    });
    cancel
}

/// The project's peak set: `[peaks] file`, else every track's peaks together.
pub fn project_peaks(cfg: &ProjectConfig) -> Result<Vec<Locus>> {
    let mut out = Vec::new();
    if let Some(p) = &cfg.peaks {
        out.extend(PeakSet::read(&p.file, &PeakReadOptions::default())?.peaks().iter().map(|p| p.locus()));
    } else {
        for t in &cfg.tracks {
            if let Some(f) = &t.peaks {
                out.extend(PeakSet::read(f, &PeakReadOptions::default())?.peaks().iter().map(|p| p.locus()));
            }
        }
    }
    Ok(out)
}

/// Keep motifs named in `filter` (TF name or id, case-insensitive); every name must match.
pub fn select_motifs(motifs: Vec<Motif>, filter: &[String]) -> Result<Vec<Motif>> {
    if filter.is_empty() {
        return Ok(motifs);
    }
    let hit = |m: &Motif, f: &str| m.name.eq_ignore_ascii_case(f) || m.id.eq_ignore_ascii_case(f);
    let missing: Vec<&String> = filter.iter().filter(|f| !motifs.iter().any(|m| hit(m, f))).collect();
    if !missing.is_empty() {
        bail!("--tf: no motif named {} in the motif file", missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "));
    }
    Ok(motifs.into_iter().filter(|m| filter.iter().any(|f| hit(m, f))).collect())
}

pub fn tf_activity(a: TfActivityArgs) -> Result<()> {
    let cancel = interrupt_flag();
    let motif_input: Vec<&Path> = a.motifs.iter().map(|p| p.as_path()).collect();
    check_optional_outputs(
        [
            Output::file_opt("-o/--output", a.output.as_deref()),
            Output::file_opt("--per-background", a.per_background.as_deref()),
            Output::file_opt("--backgrounds-fasta", a.backgrounds_fasta.as_deref()),
        ],
        &motif_input,
    )?;
    if a.backgrounds == 0 {
        bail!("--backgrounds 0: the activity is a mean over background sequences, so at least 1 is needed (default {DEFAULT_BACKGROUNDS})");
    }
    let cfg = ProjectConfig::load(&a.config)?;
    let motifs = match &a.motifs {
        Some(p) => read_meme(p)?,
        None => jaspar(),
    };
    let motifs = select_motifs(motifs, &a.tf)?;
    let names: Vec<String> = if a.models.is_empty() { cfg.models.iter().map(|m| m.name.clone()).collect() } else { a.models.clone() };
    if names.is_empty() {
        bail!("config {} has no [[models]]: tf-activity needs a model", a.config.display());
    }
    let specs: Vec<ModelSpec> = names.iter().map(|n| cfg.model(n).map(ModelSpec::from_config)).collect::<Result<_>>()?;
    for s in &specs {
        check_motif_widths(&motifs, s.input_length, &s.name)?;
    }
    let fasta = Fasta::open(&cfg.genome.fasta)?;
    let peaks = project_peaks(&cfg)?;
    if peaks.is_empty() {
        bail!("config {}: no peaks (give a [peaks] file, or peaks for the tracks): tf-activity draws its backgrounds from them", a.config.display());
    }
    let picks = pick_backgrounds(peaks.len(), a.backgrounds, a.seed)?;
    if picks.with_replacement {
        eprintln!(
            "warning: {} background(s) requested but the project has only {} peak(s): peaks drawn with replacement (backgrounds still differ: each is shuffled on its own)",
            a.backgrounds,
            peaks.len()
        );
    }
    let mut specs = specs;
    if let Some(b) = a.run.batch_size {
        if b == 0 {
            bail!("--batch-size must be > 0");
        }
        for s in &mut specs {
            s.batch_size = b;
        }
    }
    let worker = ModelWorker::spawn(specs, a.run.device()?, a.run.precision()?)?;
    let nb = picks.peaks.len();
    let sites: Vec<Vec<Vec<u8>>> = motifs.iter().map(|m| motif_sites(m, nb, a.seed, a.consensus)).collect();
    let total: usize = worker.models.len() * nb * (1 + motifs.len());
    eprintln!(
        "tf-activity: {} motif(s) × {nb} background(s) × {} model(s) = {total} sequences on {}",
        motifs.len(),
        worker.models.len(),
        device_label(worker.device)
    );
    let pb = indicatif::ProgressBar::new(total as u64)
        .with_style(indicatif::ProgressStyle::with_template("tf-activity {bar:30} {pos}/{len} seqs {per_sec} eta {eta} {msg}").unwrap());
    let t0 = std::time::Instant::now();
    let mut results: Vec<(usize, Vec<Vec<u8>>, ModelActivity)> = Vec::new();
    let mut done_before = 0;
    for (mi, info) in worker.models.iter().enumerate() {
        pb.set_message(info.spec.name.clone());
        let ctx = info.geometry.context_length();
        let bgs = backgrounds(&fasta, &peaks, &picks, ctx, a.seed)?;
        let interval = centre_interval(&info.geometry, cfg.eval.center_width);
        // about 4 M bases per request: progress and cancellation stay responsive
        let chunk = (4_000_000 / ctx).clamp(64, 8192);
        let input = ActivityInput { backgrounds: &bgs, sites: &sites, interval, chunk, keep_deltas: a.per_background.is_some() };
        let res = run_activity(&input, &cancel, |d, _| pb.set_position((done_before + d) as u64), |seqs, q| worker.heights(mi, seqs, q));
        let res = match res {
            Err(e) if cancel.load(Ordering::Relaxed) && e.to_string() == "cancelled" => {
                pb.abandon();
                eprintln!("interrupted after {} of {total} sequences: nothing written", pb.position());
                std::process::exit(130);
            }
            r => r?,
        };
        if res.non_finite > 0 {
            eprintln!("warning: model {}: {} predicted value(s) were NaN or infinite", info.spec.name, res.non_finite);
        }
        done_before += input.total();
        results.push((mi, bgs, res));
    }
    pb.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    eprintln!("tf-activity: {total} sequences in {secs:.1} s ({:.0} seqs/s)", total as f64 / secs);
    let peak_name = |b: usize| peaks[picks.peaks[b]].display();
    if let Some(p) = &a.backgrounds_fasta {
        write_atomic(p, |w| {
            for (mi, bgs, _) in &results {
                for (b, s) in bgs.iter().enumerate() {
                    writeln!(w, ">{}|b{b}|{}", worker.models[*mi].spec.name, peak_name(b))?;
                    w.write_all(s)?;
                    writeln!(w)?;
                }
            }
            Ok(())
        })?;
    }
    if let Some(p) = &a.per_background {
        write_atomic(p, |w| {
            writeln!(w, "motif\ttf\tmodel\tbackground\tpeak\tsite\tstart\ttrack\tdelta")?;
            for (mi, bgs, res) in &results {
                let info = &worker.models[*mi];
                let deltas = res.deltas.as_ref().expect("kept");
                let t = res.n_tracks;
                for (m, motif) in motifs.iter().enumerate() {
                    for b in 0..nb {
                        let site = std::str::from_utf8(&sites[m][b]).unwrap_or("");
                        let start = centre_start(bgs[b].len(), sites[m][b].len());
                        for (o, track) in info.target_names.iter().enumerate().take(t) {
                            writeln!(
                                w,
                                "{}\t{}\t{}\tb{b}\t{}\t{site}\t{start}\t{track}\t{}",
                                motif.id,
                                motif.name,
                                info.spec.name,
                                peak_name(b),
                                deltas[(m * nb + b) * t + o]
                            )?;
                        }
                    }
                }
            }
            Ok(())
        })?;
    }
    emit(a.output.as_deref(), |w| {
        writeln!(w, "motif\ttf\tmodel\ttrack\tactivity\tse\tn")?;
        for (mi, _, res) in &results {
            let info = &worker.models[*mi];
            for (m, motif) in motifs.iter().enumerate() {
                for (o, track) in info.target_names.iter().enumerate().take(res.n_tracks) {
                    writeln!(w, "{}\t{}\t{}\t{track}\t{}\t{}\t{}", motif.id, motif.name, info.spec.name, res.mean(m, o), res.se(m, o), res.n_backgrounds)?;
                }
            }
        }
        Ok(())
    })
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum AttrMethod {
    /// in-silico saturation mutagenesis: the reference base's delta, mean-centred over bases
    Ism,
    /// gradient × input through libtorch autograd (one forward + one backward per target)
    Grad,
}

#[derive(Args, Debug)]
pub struct AttrArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// region to attribute (chr:start-end, 1-based inclusive), inside the model window
    #[arg(long)]
    pub region: String,
    #[arg(long, value_enum, default_value = "grad")]
    pub method: AttrMethod,
    /// output TSV: pos ref target attr (as `ism --format attr`), atomic; stdout when absent
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// Attributions of every position of `plan`'s region: (context offset, target, value).
pub fn grad_attributions(worker: &ModelWorker, plan: &IsmPlan) -> Result<Vec<(u32, usize, f32)>> {
    let select = plan.select.or(Some((plan.offset.0 as i64, plan.offset.1 as i64)));
    let g = worker.grad(0, plan.seq.clone(), select)?;
    let mut out = Vec::with_capacity((plan.offset.1 - plan.offset.0) * g.n_targets);
    for p in plan.offset.0..plan.offset.1 {
        for t in 0..g.n_targets {
            out.push((p as u32, t, g.grad_x_input(&plan.seq, t, p)));
        }
    }
    Ok(out)
}

pub fn attr(a: AttrArgs) -> Result<()> {
    check_optional_outputs([Output::file_opt("-o/--output", a.output.as_deref())], &[])?;
    parse_locus(&a.region)?;
    let mut r = a.model.resolve()?;
    // autograd needs the module as loaded (not frozen and optimised for inference on CUDA)
    if a.method == AttrMethod::Grad {
        r.spec.optimize = false;
    }
    let fasta = Fasta::open(&r.fasta)?;
    let region = resolve_locus(&fasta, &a.region)?;
    let mut plan = IsmPlan::new(&fasta, &region, r.spec.context_length())?;
    if r.spec.height.bins == BinSelect::Center {
        plan = plan.with_center_width(r.center_width);
    }
    let plan = Arc::new(plan);
    let worker = a.model.start(r.spec)?;
    let names = worker.models[0].target_names.clone();
    let t0 = std::time::Instant::now();
    let rows = match a.method {
        AttrMethod::Grad => grad_attributions(&worker, &plan)?,
        AttrMethod::Ism => {
            let (_, events) = worker.ism(0, plan.clone(), Arc::new(AtomicBool::new(false)))?;
            let mut res = None;
            for ev in events {
                if let ModelEvent::IsmDone { result, .. } = ev {
                    res = Some(result.map_err(|e| anyhow!(e))?);
                    break;
                }
            }
            attributions(&plan, &res.ok_or_else(|| anyhow!("the model worker stopped before ISM finished"))?)
        }
    };
    eprintln!(
        "attr {} ({:?}): {} bp × {} output(s) in {:.3} s on {}",
        region.display(),
        a.method,
        plan.offset.1 - plan.offset.0,
        names.len(),
        t0.elapsed().as_secs_f64(),
        device_label(worker.device)
    );
    emit(a.output.as_deref(), |w| {
        writeln!(w, "pos\tref\ttarget\tattr")?;
        for (p, t, v) in rows {
            writeln!(w, "{}\t{}\t{}\t{v}", plan.genomic_pos(p), plan.ref_base(p) as char, names[t])?;
        }
        Ok(())
    })
}
