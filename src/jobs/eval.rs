//! The evaluation job: peaks in a seeded random order, in batches; measured heights from
//! the bigWigs and predicted heights from the model worker feed the streaming metrics of
//! `eval::stream`. Progress and snapshots go to a callback; a cancel flag stops it between
//! batches and the partial state is returned.
use crate::config::ProjectConfig;
use crate::eval::report::Snapshot;
use crate::eval::strata::Strata;
use crate::eval::stream::{EvalLayout, EvalState, ModelLayout, PeakRow};
use crate::genome::peaks::{Peak, PeakReadOptions, PeakSet};
use crate::genome::{BigWig, Fasta};
use crate::jobs::eval_input::{check_limit, check_tracks, mostly_n, select_peaks, InputReport};
use crate::jobs::ModelWorker;
use crate::model::engine::{ModelSpec, Precision};
use anyhow::{anyhow, bail, Result};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tch::Device;

#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// model names from the config; empty = all
    pub models: Vec<String>,
    /// keep only peaks on these chromosomes (alias-aware), e.g. held-out chr4,chr5
    pub chroms: Option<Vec<String>>,
    /// evaluate at most this many peaks (after shuffling)
    pub limit: Option<usize>,
    pub device: Device,
    pub precision: Precision,
    /// model batch size override
    pub batch_size: Option<usize>,
    /// emit a cheap snapshot at most this often (None: only the final one)
    pub snapshot_every: Option<Duration>,
}

pub enum EvalEvent {
    Progress { done: usize, total: usize, elapsed: Duration },
    Snapshot(Box<Snapshot>),
}

/// Where the time went.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Timing {
    pub total_s: f64,
    /// waiting for the model worker
    pub model_s: f64,
    /// FASTA windows and bigWig sums
    pub read_s: f64,
    /// accumulator updates and snapshots
    pub metrics_s: f64,
}

pub struct EvalOutcome {
    pub state: EvalState,
    /// the evaluated peaks, in evaluation order (rows of `state` refer to them by index)
    pub peaks: Vec<Peak>,
    pub specificity: Vec<Option<u32>>,
    pub snapshot: Snapshot,
    pub timing: Timing,
    pub cancelled: bool,
    /// what the input checks skipped or found missing (see `jobs::eval_input`)
    pub input: InputReport,
}

/// Deterministic Fisher–Yates shuffle (xorshift64*), so a seed gives one order everywhere.
pub fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in (1..v.len()).rev() {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        v.swap(i, (r % (i as u64 + 1)) as usize);
    }
}

pub fn run_eval(cfg: &ProjectConfig, opts: &EvalOptions, cancel: &AtomicBool, mut on_event: impl FnMut(EvalEvent)) -> Result<EvalOutcome> {
    let t_start = Instant::now();
    let mut timing = Timing::default();
    check_limit(opts.limit)?;
    let pcfg = cfg.peaks.as_ref().ok_or_else(|| anyhow!("config {} has no [peaks] section: eval needs a peak set", cfg.source.display()))?;
    if cfg.tracks.is_empty() {
        bail!("config {} has no [[tracks]]: eval needs measured signal", cfg.source.display());
    }
    let set = PeakSet::read(&pcfg.file, &PeakReadOptions { label_column: Some(pcfg.label_column) })?;
    // per-track calls: specificity and AUROC labels, when every track has them
    let calls: Vec<PeakSet> =
        cfg.tracks.iter().filter_map(|t| t.peaks.as_ref()).map(|p| PeakSet::read(p, &PeakReadOptions::default())).collect::<Result<_>>()?;
    let has_calls = calls.len() == cfg.tracks.len();
    // input checks before any model is loaded
    let fasta = Fasta::open(&cfg.genome.fasta)?;
    let mut input = InputReport::default();
    let mut order = select_peaks(&set, &pcfg.file, &fasta, opts.chroms.as_deref(), &mut input)?;
    let mut bigwigs: Vec<BigWig> = cfg.tracks.iter().map(|t| BigWig::open(&t.bigwig)).collect::<Result<_>>()?;
    let track_names: Vec<String> = cfg.tracks.iter().map(|t| t.name.clone()).collect();
    check_tracks(&track_names, &bigwigs, &set, &order, &mut input)?;
    shuffle(&mut order, cfg.eval.seed);
    if let Some(n) = opts.limit {
        order.truncate(n);
    }
    let labels: Vec<String> = set.label_counts().into_iter().map(|(l, _)| l).collect();
    let strata = Strata::new(&labels, &pcfg.ubiquitous, &cfg.eval.specificity_bins, has_calls);

    // models
    let chosen: Vec<&crate::config::ModelConfig> =
        if opts.models.is_empty() { cfg.models.iter().collect() } else { opts.models.iter().map(|n| cfg.model(n)).collect::<Result<_>>()? };
    if chosen.is_empty() {
        bail!("config {} has no [[models]] to evaluate", cfg.source.display());
    }
    let specs: Vec<ModelSpec> = chosen
        .iter()
        .map(|m| {
            let mut s = ModelSpec::from_config(m);
            if let Some(b) = opts.batch_size {
                s.batch_size = b;
            }
            s
        })
        .collect();
    let worker = ModelWorker::spawn(specs, opts.device, opts.precision)?;
    let tracks: Vec<String> = cfg.tracks.iter().map(|t| t.name.clone()).collect();
    let models: Vec<ModelLayout> = worker
        .models
        .iter()
        .map(|info| ModelLayout {
            name: info.spec.name.clone(),
            group: info.spec.replicate_group.clone(),
            outputs: info.target_names.iter().map(|n| tracks.iter().position(|t| t == n)).collect(),
            output_names: info.target_names.clone(),
        })
        .collect();
    let layout = EvalLayout { tracks: tracks.clone(), models, strata, has_calls };
    let mut state = EvalState::new(layout, order.len());

    let width = cfg.eval.center_width;
    let mut ctxs: Vec<usize> = worker.models.iter().map(|m| m.spec.context_length()).collect();
    ctxs.sort_unstable();
    ctxs.dedup();

    let mut peaks_out = Vec::with_capacity(order.len());
    let mut spec_out = Vec::with_capacity(order.len());
    let mut last_snapshot = Instant::now();
    let mut cancelled = false;
    for batch in order.chunks(cfg.eval.batch_peaks) {
        if cancel.load(Ordering::Relaxed) {
            cancelled = true;
            break;
        }
        // read: model windows and measured heights
        let t = Instant::now();
        let peaks: Vec<&Peak> = batch.iter().map(|&i| &set.peaks()[i]).collect();
        let mut windows = Vec::new();
        for &ctx in &ctxs {
            let seqs = peaks
                .iter()
                .map(|p| {
                    let (s, e) = p.locus().centered_window(ctx as u64);
                    fasta.fetch(&p.chrom, s, e)
                })
                .collect::<Result<Vec<_>>>()?;
            windows.push((ctx, seqs));
        }
        input.mostly_n_windows += windows.first().map_or(0, |(_, s)| mostly_n(s));
        let regions: Vec<(&str, u64, u64)> = peaks
            .iter()
            .map(|p| {
                let (s, e) = p.locus().centered_window(width);
                (p.chrom.as_str(), s.max(0) as u64, e.max(0) as u64)
            })
            .collect();
        let measured: Vec<Vec<f64>> = bigwigs
            .par_iter_mut()
            .map(|bw| -> Result<Vec<f64>> { Ok(bw.stats_many(&regions)?.into_iter().map(|s| s.map(|s| s.sum).unwrap_or(f64::NAN)).collect()) })
            .collect::<Result<_>>()?;
        timing.read_s += t.elapsed().as_secs_f64();
        // model
        let t = Instant::now();
        let mut preds: Vec<Vec<Vec<f64>>> = Vec::new(); // [model][peak][output]
        for (mi, info) in worker.models.iter().enumerate() {
            let seqs = windows.iter().find(|(c, _)| *c == info.spec.context_length()).map(|(_, s)| s.clone()).unwrap_or_default();
            let out = worker.predict(mi, seqs)?;
            let (n, b, tt) = out.dim();
            preds.push((0..n).map(|k| (0..tt).map(|o| (0..b).map(|bi| out[[k, bi, o]] as f64).sum()).collect()).collect());
        }
        timing.model_s += t.elapsed().as_secs_f64();
        // metrics
        let t = Instant::now();
        for (k, p) in peaks.iter().enumerate() {
            // which cell types called this peak; their count is its specificity
            let called: Vec<bool> = if has_calls { calls.iter().map(|c| c.any_overlap(&p.chrom, p.start, p.end)).collect() } else { vec![false; tracks.len()] };
            let spec = has_calls.then(|| called.iter().filter(|&&c| c).count() as u32);
            let row = PeakRow {
                peak: peaks_out.len(),
                strata: state.layout.strata.assign(p.label.as_deref(), spec),
                measured: measured.iter().map(|m| m[k]).collect(),
                predicted: preds.iter().map(|m| m[k].clone()).collect(),
                called,
            };
            state.push(row);
            peaks_out.push((*p).clone());
            spec_out.push(spec);
        }
        let done = state.rows.len();
        on_event(EvalEvent::Progress { done, total: state.total, elapsed: t_start.elapsed() });
        if let Some(every) = opts.snapshot_every {
            if last_snapshot.elapsed() >= every {
                on_event(EvalEvent::Snapshot(Box::new(state.snapshot(false))));
                last_snapshot = Instant::now();
            }
        }
        timing.metrics_s += t.elapsed().as_secs_f64();
    }
    let t = Instant::now();
    let snapshot = state.snapshot(true);
    timing.metrics_s += t.elapsed().as_secs_f64();
    timing.total_s = t_start.elapsed().as_secs_f64();
    Ok(EvalOutcome { state, peaks: peaks_out, specificity: spec_out, snapshot, timing, cancelled, input })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let mut a: Vec<usize> = (0..100).collect();
        let mut b = a.clone();
        shuffle(&mut a, 7);
        shuffle(&mut b, 7);
        assert_eq!(a, b);
        assert_ne!(a, (0..100).collect::<Vec<_>>());
        let mut s = a.clone();
        s.sort();
        assert_eq!(s, (0..100).collect::<Vec<_>>());
    }
}
