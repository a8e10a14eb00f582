//! Variant scoring as a streaming job: variants are read (and checked against the FASTA) a
//! chunk at a time, annotated with the peak they fall in, and sent through the model worker
//! (REF and ALT windows in one request per model); each scored chunk goes to a callback, so
//! memory stays bounded by the chunk size whatever the size of the VCF.
use crate::config::ProjectConfig;
use crate::eval::strata::Strata;
use crate::genome::peaks::{PeakReadOptions, PeakSet};
use crate::genome::variants::{SkipCounts, Variant, VariantOptions, VariantReader};
use crate::genome::Fasta;
use crate::jobs::{ModelInfo, ModelWorker};
use crate::model::engine::{ModelSpec, Precision};
use crate::model::variant_effect::variant_heights;
use anyhow::{anyhow, bail, Result};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tch::Device;

/// Where a variant sits among the project's peaks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Annotation {
    /// the peak it falls in (display name), if any
    pub peak: Option<String>,
    pub cluster: Option<String>,
    /// "ubiquitous" or "specific" (when the config names ubiquitous clusters)
    pub stratum: Option<String>,
    /// how many tracks call a peak over the variant's peak
    pub specificity: Option<u32>,
    /// the eval strata it belongs to (indices into [`Annotator::strata`])
    pub strata: Vec<usize>,
}

/// Annotates variants with the project's peak set, cluster labels and per-track calls, with
/// the strata of reference accuracy (`eval`).
pub struct Annotator {
    peaks: Option<PeakSet>,
    calls: Vec<PeakSet>,
    ubiquitous: Vec<String>,
    pub strata: Strata,
    /// index of the extra stratum "outside_peaks" (variants in no peak)
    pub outside: usize,
}

impl Annotator {
    pub fn new(cfg: &ProjectConfig) -> Result<Self> {
        let (peaks, ubiquitous) = match &cfg.peaks {
            Some(p) => (Some(PeakSet::read(&p.file, &PeakReadOptions { label_column: Some(p.label_column) })?), p.ubiquitous.clone()),
            None => (None, Vec::new()),
        };
        let calls: Vec<PeakSet> =
            cfg.tracks.iter().filter_map(|t| t.peaks.as_ref()).map(|p| PeakSet::read(p, &PeakReadOptions::default())).collect::<Result<_>>()?;
        let has_calls = !cfg.tracks.is_empty() && calls.len() == cfg.tracks.len();
        let labels: Vec<String> = peaks.as_ref().map(|s| s.label_counts().into_iter().map(|(l, _)| l).collect()).unwrap_or_default();
        let strata = Strata::new(&labels, &ubiquitous, &cfg.eval.specificity_bins, has_calls);
        let outside = strata.len();
        Ok(Annotator { peaks, calls: if has_calls { calls } else { Vec::new() }, ubiquitous, strata, outside })
    }

    /// Stratum names: the reference strata, then `outside_peaks`.
    pub fn strata_names(&self) -> Vec<String> {
        let mut v = self.strata.names().to_vec();
        v.push("outside_peaks".into());
        v
    }

    pub fn annotate(&self, v: &Variant) -> Annotation {
        let l = v.locus();
        let hit = self.peaks.as_ref().and_then(|s| {
            // the peak whose centre is nearest the variant
            s.overlapping(&l.chrom, l.start, l.end.max(l.start + 1))
                .into_iter()
                .min_by_key(|&i| (s.peaks()[i].locus().center() as i64 - l.start as i64).abs())
                .map(|i| &s.peaks()[i])
        });
        let Some(p) = hit else {
            return Annotation { strata: vec![0, self.outside], ..Default::default() };
        };
        let spec = (!self.calls.is_empty()).then(|| self.calls.iter().filter(|c| c.any_overlap(&p.chrom, p.start, p.end)).count() as u32);
        let stratum = match (&p.label, self.ubiquitous.is_empty()) {
            (Some(lab), false) => Some(if self.ubiquitous.contains(lab) { "ubiquitous" } else { "specific" }.to_string()),
            _ => None,
        };
        Annotation { peak: Some(p.display_name()), cluster: p.label.clone(), stratum, specificity: spec, strata: self.strata.assign(p.label.as_deref(), spec) }
    }
}

/// A scored variant: per model, per reported output, REF and ALT heights.
#[derive(Debug, Clone)]
pub struct Scored {
    pub variant: Variant,
    pub annotation: Annotation,
    /// [model][output]
    pub ref_pred: Vec<Vec<f64>>,
    pub alt_pred: Vec<Vec<f64>>,
}

#[derive(Debug, Clone)]
pub struct ScoreOptions {
    /// model names of the config (empty: all)
    pub models: Vec<String>,
    pub chroms: Option<Vec<String>>,
    /// at most this many variants (the first that pass the checks)
    pub limit: Option<usize>,
    pub device: Device,
    pub precision: Precision,
    pub batch_size: Option<usize>,
    /// variants per model request
    pub chunk: usize,
}

/// What a scoring run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ScoreSummary {
    pub scored: usize,
    pub alleles_read: usize,
    pub skipped: SkipCounts,
    pub non_finite: u64,
    pub seconds: f64,
    pub model_seconds: f64,
    pub cancelled: bool,
}

/// The models of `opts` from the config, loaded on one worker.
pub fn start_models(cfg: &ProjectConfig, models: &[String], device: Device, precision: Precision, batch_size: Option<usize>) -> Result<ModelWorker> {
    let chosen: Vec<&crate::config::ModelConfig> =
        if models.is_empty() { cfg.models.iter().collect() } else { models.iter().map(|n| cfg.model(n)).collect::<Result<_>>()? };
    if chosen.is_empty() {
        bail!("config {} has no [[models]] to score variants with", cfg.source.display());
    }
    let specs: Vec<ModelSpec> = chosen
        .iter()
        .map(|m| {
            let mut s = ModelSpec::from_config(m);
            if let Some(b) = batch_size {
                s.batch_size = b;
            }
            s
        })
        .collect();
    ModelWorker::spawn(specs, device, precision)
}

/// Reader options for `path` in this project: the [variants] settings (or defaults), the
/// chromosomes asked for, and the widest model window (records whose window runs off a
/// chromosome are skipped and counted).
pub fn reader_options(cfg: &ProjectConfig, models: &[ModelInfo], chroms: Option<&[String]>) -> VariantOptions {
    let mut o = match &cfg.variants {
        Some(v) => v.options(&cfg.tracks),
        None => VariantOptions { tracks: cfg.tracks.iter().map(|t| t.name.clone()).collect(), ..Default::default() },
    };
    o.chroms = chroms.map(|c| c.to_vec());
    o.window = models.iter().map(|m| m.geometry.context_length() as u64).max();
    o
}

/// Check `--chroms` names against the FASTA (a name it lacks is an error: a typo).
pub fn check_chroms(fasta: &Fasta, chroms: Option<&[String]>) -> Result<()> {
    for c in chroms.unwrap_or_default() {
        if fasta.chroms().index(c).is_none() {
            bail!("--chroms: chromosome '{c}' is not in the FASTA {} ({}): a typo?", fasta.path().display(), fasta.chroms().preview());
        }
    }
    Ok(())
}

/// Score the variants of `path` with every model of `worker`, calling `sink` with each scored
/// chunk and `progress(scored)` after it. Stops between chunks when `cancel` is set.
#[allow(clippy::too_many_arguments)]
pub fn score_file(
    cfg: &ProjectConfig,
    path: &Path,
    worker: &ModelWorker,
    fasta: &Fasta,
    annotator: &Annotator,
    opts: &ScoreOptions,
    cancel: &AtomicBool,
    mut sink: impl FnMut(&[Scored]) -> Result<()>,
    mut progress: impl FnMut(usize),
) -> Result<ScoreSummary> {
    let t0 = Instant::now();
    let ropts = reader_options(cfg, &worker.models, opts.chroms.as_deref());
    let mut reader = VariantReader::open(path, fasta, ropts)?;
    let center_width = cfg.eval.center_width;
    let mut summary = ScoreSummary::default();
    let limit = opts.limit.unwrap_or(usize::MAX);
    loop {
        if cancel.load(Ordering::Relaxed) {
            summary.cancelled = true;
            break;
        }
        let mut chunk = Vec::with_capacity(opts.chunk);
        while chunk.len() < opts.chunk.max(1) && summary.scored + chunk.len() < limit {
            match reader.next_variant()? {
                Some(v) => chunk.push(v),
                None => break,
            }
        }
        if chunk.is_empty() {
            break;
        }
        let tm = Instant::now();
        let mut per_model = Vec::with_capacity(worker.models.len());
        for (mi, info) in worker.models.iter().enumerate() {
            let h = variant_heights(fasta, &info.geometry, &chunk, center_width, |seqs, queries, subs| worker.heights_with(mi, seqs, queries, subs))
                .map_err(|e| anyhow!("model {}: {e:#}", info.spec.name))?;
            summary.non_finite += h.non_finite;
            per_model.push(h);
        }
        summary.model_seconds += tm.elapsed().as_secs_f64();
        let scored: Vec<Scored> = chunk
            .into_iter()
            .enumerate()
            .map(|(k, v)| Scored {
                annotation: annotator.annotate(&v),
                variant: v,
                ref_pred: per_model.iter().map(|h| h.ref_pred[k].clone()).collect(),
                alt_pred: per_model.iter().map(|h| h.alt_pred[k].clone()).collect(),
            })
            .collect();
        summary.scored += scored.len();
        sink(&scored)?;
        progress(summary.scored);
        if summary.scored >= limit {
            break;
        }
    }
    summary.skipped = reader.skipped.clone();
    summary.alleles_read = reader.alleles_read;
    summary.seconds = t0.elapsed().as_secs_f64();
    Ok(summary)
}

/// Variant metrics of an evaluation: every scored variant kept (the metrics need them all),
/// with the report.
pub struct VariantEval {
    pub source: std::path::PathBuf,
    pub rows: Vec<Scored>,
    pub models: Vec<ModelInfo>,
    /// project track names (count columns)
    pub tracks: Vec<String>,
    pub strata: Vec<String>,
    pub min_depth: u32,
    pub report: std::collections::BTreeMap<String, crate::eval::variants::VariantModelReport>,
    pub summary: ScoreSummary,
}

/// Score the config's variant set ([variants] allelic table, else VCF) with the eval's models
/// and compute allelic-imbalance and labelled-variant metrics per model × track × stratum.
pub fn run_variant_eval(
    cfg: &ProjectConfig,
    eval: &crate::jobs::eval::EvalOptions,
    cancel: &AtomicBool,
    reference: Option<&crate::eval::report::Snapshot>,
    progress: impl FnMut(usize),
) -> Result<VariantEval> {
    run_variant_eval_streaming(cfg, eval, cancel, reference, progress, None, |_, _, _| {})
}

/// Variant metrics so far: (variants scored, stratum names, report).
pub type VariantReports = std::collections::BTreeMap<String, crate::eval::variants::VariantModelReport>;

/// [`run_variant_eval`], calling `snapshot(scored, strata, report)` with the metrics of the
/// variants scored so far at most every `every` (the UI's metrics panel fills in from them).
pub fn run_variant_eval_streaming(
    cfg: &ProjectConfig,
    eval: &crate::jobs::eval::EvalOptions,
    cancel: &AtomicBool,
    reference: Option<&crate::eval::report::Snapshot>,
    mut progress: impl FnMut(usize),
    every: Option<std::time::Duration>,
    mut snapshot: impl FnMut(usize, &[String], &VariantReports),
) -> Result<VariantEval> {
    use crate::eval::variants::{report, VariantModel, VariantRow};
    let vc = cfg.variants.as_ref().ok_or_else(|| anyhow!("config {} has no [variants] section", cfg.source.display()))?;
    let source = vc.eval_source().ok_or_else(|| anyhow!("[variants] names no file"))?.to_path_buf();
    let fasta = Fasta::open(&cfg.genome.fasta)?;
    let annotator = Annotator::new(cfg)?;
    let worker = start_models(cfg, &eval.models, eval.device, eval.precision, eval.batch_size)?;
    let opts = ScoreOptions {
        models: eval.models.clone(),
        chroms: eval.chroms.clone(),
        limit: None,
        device: eval.device,
        precision: eval.precision,
        batch_size: eval.batch_size,
        chunk: 512,
    };
    let tracks: Vec<String> = cfg.tracks.iter().map(|t| t.name.clone()).collect();
    let models: Vec<VariantModel> = worker
        .models
        .iter()
        .map(|m| VariantModel {
            name: m.spec.name.clone(),
            outputs: m.target_names.clone(),
            tracks: m.target_names.iter().map(|n| tracks.iter().position(|t| t == n)).collect(),
        })
        .collect();
    let strata = annotator.strata_names();
    let to_row = |s: &Scored| VariantRow {
        strata: s.annotation.strata.clone(),
        label: s.variant.label,
        counts: s.variant.counts.clone(),
        pred: s.ref_pred.iter().zip(&s.alt_pred).map(|(r, a)| r.iter().copied().zip(a.iter().copied()).collect()).collect(),
    };
    let mut rows = Vec::new();
    let mut vrows: Vec<VariantRow> = Vec::new();
    let mut last = Instant::now();
    let summary = score_file(
        cfg,
        &source,
        &worker,
        &fasta,
        &annotator,
        &opts,
        cancel,
        |c| {
            rows.extend_from_slice(c);
            vrows.extend(c.iter().map(to_row));
            if every.is_some_and(|e| last.elapsed() >= e) {
                snapshot(vrows.len(), &strata, &report(&vrows, &models, &strata, vc.min_depth, reference));
                last = Instant::now();
            }
            Ok(())
        },
        &mut progress,
    )?;
    let report = report(&vrows, &models, &strata, vc.min_depth, reference);
    Ok(VariantEval { source, rows, models: worker.models.clone(), tracks, strata, min_depth: vc.min_depth, report, summary })
}
