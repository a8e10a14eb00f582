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
use crate::model::service::{plan_heights, HeightPlan, Query};
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

/// How one model's windows served the evaluated peaks: long-context models with
/// `bins = "center"` run one window for every peak inside its output.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct WindowStats {
    pub model: String,
    pub peaks: usize,
    /// windows run
    pub windows: usize,
    /// views per window (shifts × strands)
    pub views: usize,
    pub forward_passes: usize,
    /// against one window per peak
    pub forward_passes_avoided: usize,
    /// whether peaks shared windows
    pub grouped: bool,
    /// predicted values that were NaN or infinite
    pub non_finite: u64,
}

pub struct EvalOutcome {
    /// per model: windows run and forward passes saved
    pub windows: Vec<WindowStats>,
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
    // per model: the windows for every selected peak, planned once, so that a long window
    // runs once for all the peaks it serves (whatever batch they fall in)
    let loci: Vec<crate::genome::Locus> = order.iter().map(|&i| set.peaks()[i].locus()).collect();
    let mut runs: Vec<ModelRun> = worker.models.iter().map(|info| ModelRun::new(info, &loci, width)).collect::<Result<_>>()?;

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
        let first = peaks_out.len();
        let positions = first..first + peaks.len();
        let mut requests = Vec::with_capacity(runs.len());
        for run in &mut runs {
            requests.push(run.request(&fasta, positions.clone())?);
        }
        // peaks whose (first model's) window is mostly N, counted when that window is read
        if let Some(Some((seqs, queries, _))) = requests.first() {
            let n_rich: Vec<bool> = seqs.iter().map(|s| mostly_n(std::slice::from_ref(s)) == 1).collect();
            input.mostly_n_windows += queries.iter().filter(|q| n_rich[q.0]).count();
        }
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
        for (mi, (run, req)) in runs.iter_mut().zip(requests).enumerate() {
            if let Some((seqs, queries, owners)) = req {
                let out = worker.heights(mi, seqs, queries)?;
                run.stats.non_finite += out.non_finite;
                for (v, pos) in out.values.into_iter().zip(owners) {
                    run.cache[pos] = Some(v);
                }
            }
            preds.push(positions.clone().map(|pos| run.cache[pos].take().unwrap_or_else(|| vec![f64::NAN; run.n_outputs])).collect());
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
    let windows = runs.into_iter().map(|r| r.stats).collect();
    Ok(EvalOutcome { windows, state, peaks: peaks_out, specificity: spec_out, snapshot, timing, cancelled, input })
}

/// One model's planned windows and the heights computed ahead for peaks of later batches.
struct ModelRun {
    plan: HeightPlan,
    /// per window: the evaluation positions it serves
    served: Vec<Vec<usize>>,
    ran: Vec<bool>,
    cache: Vec<Option<Vec<f64>>>,
    context: usize,
    n_outputs: usize,
    stats: WindowStats,
}

impl ModelRun {
    fn new(info: &crate::jobs::ModelInfo, loci: &[crate::genome::Locus], width: u64) -> Result<ModelRun> {
        let plan = plan_heights(&info.geometry, loci, width).map_err(|e| anyhow!("model {}: {e:#}", info.spec.name))?;
        let mut served = vec![Vec::new(); plan.windows.len()];
        for (pos, q) in plan.queries.iter().enumerate() {
            served[q.0].push(pos);
        }
        let stats = WindowStats { model: info.spec.name.clone(), views: info.geometry.views(), grouped: plan.grouped, ..Default::default() };
        Ok(ModelRun {
            ran: vec![false; plan.windows.len()],
            cache: vec![None; loci.len()],
            served,
            plan,
            context: info.geometry.context_length(),
            n_outputs: info.n_targets,
            stats,
        })
    }

    /// The windows the peaks at `positions` need that have not run yet: their sequences, the
    /// queries of every peak they serve, and those peaks' positions. None when all are cached.
    #[allow(clippy::type_complexity)]
    fn request(&mut self, fasta: &Fasta, positions: std::ops::Range<usize>) -> Result<Option<(Vec<Vec<u8>>, Vec<Query>, Vec<usize>)>> {
        self.stats.peaks += positions.len();
        let mut wins: Vec<usize> = positions.map(|p| self.plan.queries[p].0).filter(|&w| !self.ran[w]).collect();
        wins.sort_unstable();
        wins.dedup();
        if wins.is_empty() {
            return Ok(None);
        }
        let mut seqs = Vec::with_capacity(wins.len());
        let (mut queries, mut owners) = (Vec::new(), Vec::new());
        for (k, &w) in wins.iter().enumerate() {
            let (chrom, start) = &self.plan.windows[w];
            seqs.push(fasta.fetch(chrom, *start, *start + self.context as i64)?);
            for &pos in &self.served[w] {
                queries.push((k, self.plan.queries[pos].1));
                owners.push(pos);
            }
            self.ran[w] = true;
        }
        self.stats.windows += wins.len();
        self.stats.forward_passes = self.stats.windows * self.stats.views;
        self.stats.forward_passes_avoided = self.stats.peaks.saturating_sub(self.stats.windows) * self.stats.views;
        Ok(Some((seqs, queries, owners)))
    }
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
