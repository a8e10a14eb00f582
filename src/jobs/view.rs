//! The environments behind the terminal UI's background work. The UI thread never reads
//! files or runs models: a [`Reader`] (bigWig summaries and sums) and a [`Predictor`]
//! (FASTA, the model worker, the output → track maps, motifs) each live on a
//! [`Worker`](super::worker::Worker) thread as a [`TaskService`](super::worker::TaskService),
//! and the UI's components send them tasks. This module holds the synchronous operations
//! those tasks call; it knows nothing about the UI.
use crate::config::ProjectConfig;
use crate::genome::bigwig::BinSummary;
use crate::genome::motifs::Motif;
use crate::genome::{BigWig, Fasta, Locus};
use crate::jobs::{ModelEvent, ModelWorker};
use crate::model::desc::BinSelect;
use crate::model::device::device_label;
use crate::model::engine::{ModelSpec, Precision};
use crate::model::ism::{attributions, IsmPlan, IsmResult};
use crate::model::service;
use anyhow::{anyhow, bail, Result};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tch::Device;

/// The track loader's state: one open bigWig per track (None where it failed to open).
pub struct Reader {
    pub bigwigs: Vec<Option<BigWig>>,
}

impl Reader {
    /// Open every bigWig; the errors (one per file that failed) come back for the caller to
    /// show, and that track stays empty.
    /// [`Reader::open`] with `budget` bytes for the tile caches of all files together.
    pub fn open_with_budget(paths: &[PathBuf], budget: usize) -> (Reader, Vec<String>) {
        let (mut r, errors) = Self::open(paths);
        let each = budget / paths.len().max(1);
        for bw in r.bigwigs.iter_mut().flatten() {
            bw.set_cache_budget(each);
        }
        (r, errors)
    }

    pub fn open(paths: &[PathBuf]) -> (Reader, Vec<String>) {
        let mut errors = Vec::new();
        let bigwigs = paths
            .iter()
            .map(|p| match BigWig::open(p) {
                Ok(b) => Some(b),
                Err(e) => {
                    errors.push(format!("{e:#}"));
                    None
                }
            })
            .collect();
        (Reader { bigwigs }, errors)
    }

    /// Column summaries of `locus` in `cols` bins per track (None: no data for that
    /// chromosome, or the file failed), with the read errors.
    pub fn binned(&mut self, locus: &Locus, cols: usize) -> (Vec<Option<Vec<BinSummary>>>, Vec<String>) {
        let mut errors = Vec::new();
        let data = self
            .bigwigs
            .iter_mut()
            .map(|f| match f {
                Some(bw) => bw.binned(&locus.chrom, locus.start, locus.end, cols).unwrap_or_else(|e| {
                    errors.push(format!("{e:#}"));
                    None
                }),
                None => None,
            })
            .collect();
        (data, errors)
    }

    /// Sum over the central `width` bp of each locus, per locus, per track (NaN: no data);
    /// see [`peak_index::heights`](crate::genome::peak_index::heights).
    pub fn heights(&mut self, loci: &[Locus], width: u64) -> Vec<Vec<f64>> {
        let t = self.bigwigs.len().max(1);
        crate::genome::peak_index::heights(&mut self.bigwigs, loci, width).chunks(t).map(<[f64]>::to_vec).collect()
    }
}

/// What ISM reports as it runs (values per track; NaN where the model has no output).
pub enum IsmUpdate {
    /// the region: genomic 0-based start, reference bases, (offset in region, alt base)
    Plan { region_start: i64, seq: Vec<u8>, mutants: Vec<(u32, u8)> },
    /// the reference prediction
    Reference(Vec<f32>),
    /// predictions and f64 deltas (alt − ref height) for mutants `first..first + preds.len()`
    Chunk { first: usize, preds: Vec<Vec<f32>>, deltas: Vec<Vec<f64>> },
}

/// How an ISM run ended.
pub struct IsmSummary {
    /// best-matching motif at the strongest hot spot, per track
    pub motifs: Vec<Option<String>>,
    pub done: usize,
    pub cancelled: bool,
}

/// The predictor's state: the FASTA, the model worker (which owns the models on their
/// device), each model's output index per track, and the motif library.
pub struct Predictor {
    fasta: Fasta,
    worker: ModelWorker,
    /// per model: output index of each track
    maps: Vec<Vec<Option<usize>>>,
    motifs: Vec<Motif>,
    /// bp summed around each peak with `bins = "center"` (the config's [eval] center_width)
    center_width: u64,
    /// windows of predicted signal along views, kept for panning back and forth
    tiles: Mutex<TileCache>,
}

/// Windows of predicted signal (see [`Predictor::along_view`]): per (model, chromosome,
/// first output bp), the values per bin and track; the oldest go first beyond
/// [`TILE_CACHE_BYTES`].
#[derive(Default)]
struct TileCache {
    map: HashMap<TileKey, Tile>,
    order: VecDeque<TileKey>,
    bytes: usize,
}

/// (model, chromosome, first output bp) of a window of predicted signal.
type TileKey = (usize, String, u64);
/// Its values per bin and track.
type Tile = Arc<Vec<Vec<f32>>>;

/// Memory for [`TileCache`].
pub const TILE_CACHE_BYTES: usize = 64 << 20;
/// Model windows per view at most for the predicted signal along it (wider views show the
/// per-peak predictions).
pub const MAX_TRACK_WINDOWS: u64 = 64;
/// Windows per model call of [`Predictor::along_view`] (the granularity of cancelling it).
const TRACK_BATCH: usize = 16;

impl TileCache {
    fn insert(&mut self, key: TileKey, tile: Tile) {
        let size = tile.iter().map(|b| b.len() * 4).sum::<usize>() + 64;
        if let Some(old) = self.map.insert(key.clone(), tile) {
            self.bytes -= old.iter().map(|b| b.len() * 4).sum::<usize>() + 64;
            self.order.retain(|k| *k != key);
        }
        self.order.push_back(key);
        self.bytes += size;
        while self.bytes > TILE_CACHE_BYTES {
            let Some(k) = self.order.pop_front() else { break };
            if let Some(t) = self.map.remove(&k) {
                self.bytes -= t.iter().map(|b| b.len() * 4).sum::<usize>() + 64;
            }
        }
    }
}

/// The predicted signal along a view, or why a model has none there.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Along {
    /// per track, per column: the mean predicted value per bp (NaN: no output for the track)
    Signal { values: Vec<Vec<f32>>, bin_size: u32, windows: usize, computed: usize },
    /// the model predicts one value per window: its row shows the per-peak predictions
    PerPeak,
    /// the view needs more than [`MAX_TRACK_WINDOWS`] windows (the reason, with the width to zoom to)
    TooWide(String),
}

impl Predictor {
    /// Open the FASTA and load every model of the config on `device` (blocking).
    pub fn open(cfg: &ProjectConfig, device: Device) -> Result<Predictor> {
        let fasta = Fasta::open(&cfg.genome.fasta)?;
        let specs: Vec<ModelSpec> = cfg.models.iter().map(ModelSpec::from_config).collect();
        let worker = ModelWorker::spawn(specs, device, Precision::F32).map_err(|e| anyhow!("models: {e:#}"))?;
        let tracks: Vec<String> = cfg.tracks.iter().map(|t| t.name.clone()).collect();
        let maps = worker.models.iter().map(|i| tracks.iter().map(|t| i.target_names.iter().position(|x| x == t)).collect()).collect();
        let motifs = crate::genome::motifs::parse_meme(include_str!("../../assets/motifs/JASPAR2024_CORE_vertebrates_latest.meme")).unwrap_or_default();
        Ok(Predictor { fasta, worker, maps, motifs, center_width: cfg.eval.center_width, tiles: Mutex::new(TileCache::default()) })
    }

    pub fn device_label(&self) -> String {
        device_label(self.worker.device)
    }

    fn to_tracks(&self, model: usize, v: &[f32]) -> Vec<f32> {
        self.maps[model].iter().map(|o| o.and_then(|o| v.get(o).copied()).unwrap_or(f32::NAN)).collect()
    }

    /// One value per track for each locus: the model's height exactly as `peakscope eval` and
    /// `predict` compute it (one prediction service: windows, views, bins, f64 sums).
    pub fn predict_tracks(&self, model: usize, loci: &[Locus]) -> Result<Vec<Vec<f32>>> {
        let info = self.worker.models.get(model).ok_or_else(|| anyhow!("no model #{model}"))?;
        let h = service::peak_heights(&self.fasta, &info.geometry, loci, self.center_width, |seqs, queries| self.worker.heights(model, seqs, queries))?;
        Ok(h.values.iter().map(|v| self.to_tracks(model, &v.iter().map(|&x| x as f32).collect::<Vec<f32>>())).collect())
    }

    /// The predicted signal of a binned or profile model along `locus`, in `cols` columns
    /// (the measured rows' column edges): the model's windows tiled on a grid of its output
    /// span (so panning reuses them; they are cached), every base in exactly one output bin,
    /// each window predicted as `peakscope predict --region` does (the profile head when the
    /// model has one, else the binned height head), mapped to the project's tracks; per
    /// column the mean value per bp, like the measured rows. `cancel` stops it between
    /// batches of windows.
    pub fn along_view(&self, model: usize, locus: &Locus, cols: usize, cancel: &AtomicBool) -> Result<Along> {
        use crate::model::service::TrackSource;
        let info = self.worker.models.get(model).ok_or_else(|| anyhow!("no model #{model}"))?;
        let g = &info.geometry;
        let source = g.track_source();
        let (bins, bin) = match source {
            TrackSource::Profile => {
                let p = g.profile.ok_or_else(|| anyhow!("no profile head"))?;
                (p.bins, p.bin_size.max(1) as u64)
            }
            TrackSource::HeightBins => (g.height.bins, g.height.bin_size.max(1) as u64),
            TrackSource::Windows => return Ok(Along::PerPeak),
        };
        let span = bins as u64 * bin;
        let (_, chrom_len) = self.fasta.resolve(&locus.chrom)?;
        let end = locus.end.min(chrom_len);
        if locus.start >= end || cols == 0 {
            bail!("{} is outside {} (length {chrom_len})", locus.display(), locus.chrom);
        }
        let first = locus.start / span * span;
        let n = (end - first).div_ceil(span);
        if n > MAX_TRACK_WINDOWS {
            return Ok(Along::TooWide(format!(
                "{n} model windows of {} bp here; the predicted signal is drawn at {} bp or less",
                crate::genome::locus::group_thousands(span),
                crate::genome::locus::group_thousands(span * MAX_TRACK_WINDOWS)
            )));
        }
        let starts: Vec<u64> = (0..n).map(|k| first + k * span).collect();
        let key = |s: u64| (model, locus.chrom.clone(), s);
        let mut have: HashMap<u64, Tile> = {
            let cache = self.tiles.lock().unwrap_or_else(|p| p.into_inner());
            starts.iter().filter_map(|&s| cache.map.get(&key(s)).map(|t| (s, t.clone()))).collect()
        };
        let missing: Vec<u64> = starts.iter().copied().filter(|s| !have.contains_key(s)).collect();
        let ctx = g.context_length();
        for chunk in missing.chunks(TRACK_BATCH) {
            if cancel.load(Ordering::Relaxed) {
                bail!("cancelled");
            }
            let seqs = chunk
                .iter()
                .map(|&s| crate::model::predict::window_around(&self.fasta, &locus.chrom, (s + span / 2) as i64, ctx))
                .collect::<Result<Vec<_>>>()?;
            let pred = if source == TrackSource::Profile { self.worker.profiles(model, seqs)? } else { self.worker.predict(model, seqs)? };
            if pred.shape()[0] != chunk.len() || pred.shape()[1] != bins {
                bail!("the model returned {:?} for {} windows of {bins} bins", pred.shape(), chunk.len());
            }
            let mut cache = self.tiles.lock().unwrap_or_else(|p| p.into_inner());
            for (k, &s) in chunk.iter().enumerate() {
                let tile: Tile = Arc::new((0..bins).map(|b| self.to_tracks(model, &pred.slice(ndarray::s![k, b, ..]).to_vec())).collect());
                cache.insert(key(s), tile.clone());
                have.insert(s, tile);
            }
        }
        let rows: Vec<(u64, u64, Vec<f32>)> = starts
            .iter()
            .flat_map(|&s| {
                let tile = have[&s].clone();
                (0..bins).map(move |b| (s + b as u64 * bin, s + (b as u64 + 1) * bin, tile[b].clone()))
            })
            .collect();
        let values = service::columns_of_rows(&rows, locus, cols, self.maps[model].len());
        Ok(Along::Signal { values, bin_size: bin as u32, windows: n as usize, computed: missing.len() })
    }

    /// REF and ALT heights of `variants` with `model`, per variant and track (NaN: output not
    /// mapped), exactly as `peakscope variants` computes them: the one variant path
    /// ([`variant_heights`](crate::model::variant_effect::variant_heights): the `predict`
    /// window of the REF allele, the ALT allele in the same batch).
    pub fn variant_effects(&self, model: usize, variants: &[crate::genome::variants::Variant]) -> Result<super::remote::VariantEffects> {
        let info = self.worker.models.get(model).ok_or_else(|| anyhow!("no model #{model}"))?;
        // as `peakscope variants` skips them: a window off the chromosome is not scored
        let width = info.geometry.context_length() as u64;
        for v in variants {
            let len = self.fasta.chroms().len_of(&v.chrom).ok_or_else(|| anyhow!("{}: chromosome not in the FASTA", v.key()))?;
            if let Some(why) = crate::genome::variants::window_off_chrom(v, width, len) {
                return Err(anyhow!("{}: {why}, not scored", v.key()));
            }
        }
        let h = crate::model::variant_effect::variant_heights(&self.fasta, &info.geometry, variants, self.center_width, |seqs, queries, subs| {
            self.worker.heights_with(model, seqs, queries, subs)
        })?;
        let map = |v: &Vec<f64>| self.maps[model].iter().map(|o| o.and_then(|o| v.get(o).copied()).unwrap_or(f64::NAN)).collect();
        Ok(super::remote::VariantEffects { ref_pred: h.ref_pred.iter().map(map).collect(), alt_pred: h.alt_pred.iter().map(map).collect(), errors: vec![] })
    }

    /// ISM of the region around `locus`'s centre (at most 1000 bp, and at most the model's
    /// window) with `model`, exactly as `peakscope ism --region` computes it: the model's own
    /// reverse-complement and shift averaging, its height head (bins over the central
    /// center_width bp with `bins = "center"`). Updates stream to `on`; `cancel` stops it
    /// between batches. This is the UI's one use of the model ISM API.
    pub fn ism(&self, model: usize, locus: &Locus, cancel: Arc<AtomicBool>, mut on: impl FnMut(IsmUpdate)) -> Result<IsmSummary> {
        let info = self.worker.models.get(model).ok_or_else(|| anyhow!("no model #{model}"))?;
        let span = locus.len().min(info.spec.input_length as u64).min(1000);
        let c = locus.center();
        let region = Locus::new(locus.chrom.clone(), c.saturating_sub(span / 2), c.saturating_sub(span / 2) + span);
        let mut plan = IsmPlan::new(&self.fasta, &region, info.spec.context_length())?;
        if info.spec.height.bins == BinSelect::Center {
            plan = plan.with_center_width(self.center_width);
        }
        let plan = Arc::new(plan);
        let (a, b) = plan.offset;
        on(IsmUpdate::Plan {
            region_start: plan.genomic_pos(a as u32),
            seq: plan.seq[a..b].to_vec(),
            mutants: plan.mutants.iter().map(|&(p, alt)| (p - a as u32, alt)).collect(),
        });
        let (_, events) = self.worker.ism(model, plan.clone(), cancel)?;
        let t = info.n_targets.max(1);
        for ev in events {
            match ev {
                ModelEvent::IsmChunk { first, preds, deltas, .. } => {
                    on(IsmUpdate::Chunk {
                        first,
                        preds: preds.chunks(t).map(|v| self.to_tracks(model, v)).collect(),
                        deltas: deltas
                            .chunks(t)
                            .map(|v| self.maps[model].iter().map(|o| o.and_then(|o| v.get(o).copied()).unwrap_or(f64::NAN)).collect())
                            .collect(),
                    });
                }
                ModelEvent::IsmDone { result, .. } => {
                    let res = result.map_err(|e| anyhow!("ISM: {e}"))?;
                    on(IsmUpdate::Reference(self.to_tracks(model, &res.ref_pred)));
                    let motifs = self.maps[model].iter().map(|o| o.and_then(|o| hot_spot_motif(&plan, &res, o, &self.motifs))).collect();
                    return Ok(IsmSummary { motifs, done: res.done, cancelled: res.cancelled });
                }
                _ => {}
            }
        }
        Err(anyhow!("the model worker stopped before ISM finished"))
    }
}

/// Best-matching motif at the strongest 15-bp hot spot of ISM attribution (deltas
/// mean-centred over the four bases, read at the reference base) for output `o`.
fn hot_spot_motif(plan: &IsmPlan, res: &IsmResult, o: usize, motifs: &[Motif]) -> Option<String> {
    let n = plan.offset.1 - plan.offset.0;
    let mut attr = vec![0f32; n];
    for (p, t, v) in attributions(plan, res) {
        if t == o {
            attr[p as usize - plan.offset.0] = v.abs();
        }
    }
    let w = 15.min(n);
    let (best, _) = (0..=n - w).map(|s| (s, attr[s..s + w].iter().sum::<f32>())).max_by(|a, b| a.1.total_cmp(&b.1))?;
    let a = (plan.offset.0 + best).saturating_sub(8);
    let b = (plan.offset.0 + best + w + 8).min(plan.seq.len());
    let window = &plan.seq[a..b];
    let (m, hit) = motifs.iter().filter_map(|m| m.scan(window).map(|h| (m, h))).max_by(|x, y| x.1.relative.total_cmp(&y.1.relative))?;
    (hit.relative >= 0.75)
        .then(|| format!("{} {:.2} @ {}", m.name, hit.relative, crate::genome::locus::group_thousands((plan.genomic_pos((a + hit.pos) as u32) + 1) as u64)))
}

/// The threshold of motif hits the UI labels and highlights: a log-odds score of at least
/// this fraction of the motif's best possible score (log2 odds against a uniform background,
/// pseudocount 0.01).
pub const HIT_THRESHOLD: f64 = 0.85;

/// A motif hit in genomic coordinates.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GenomicHit {
    pub name: String,
    /// 0-based start, end
    pub start: i64,
    pub end: i64,
    pub reverse: bool,
    pub relative: f64,
}

/// Base-resolution attributions of a region for one model (gradient × input).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RegionAttr {
    /// genomic 0-based start of the region
    pub region_start: i64,
    /// reference bases
    pub seq: Vec<u8>,
    /// per track (NaN rows where the model has no output for it), per base
    pub attr: Vec<Vec<f32>>,
}

impl Predictor {
    /// Names (id, TF) of the motif library.
    pub fn motif_names(&self) -> Vec<(String, String)> {
        self.motifs.iter().map(|m| (m.id.clone(), m.name.clone())).collect()
    }

    /// TF activity of motifs `motifs` with `model`: backgrounds are windows of the model's
    /// context centred on `peaks`, dinucleotide-shuffled (seeded); one PWM sample per
    /// background; per motif, the mean delta per track (NaN where the model has no output).
    /// The same computation as `peakscope tf-activity` (`model::tf_activity`).
    pub fn tf_activity(&self, model: usize, motifs: std::ops::Range<usize>, peaks: &[Locus], seed: u64, cancel: &AtomicBool) -> Result<Vec<Vec<f32>>> {
        use crate::model::tf_activity as tfa;
        let info = self.worker.models.get(model).ok_or_else(|| anyhow!("no model #{model}"))?;
        let ms = &self.motifs[motifs.start.min(self.motifs.len())..motifs.end.min(self.motifs.len())];
        let picks = tfa::BackgroundPicks { peaks: (0..peaks.len()).collect(), with_replacement: false };
        let bgs = tfa::backgrounds(&self.fasta, peaks, &picks, info.geometry.context_length(), seed)?;
        let fits: Vec<bool> = ms.iter().map(|m| m.width() <= info.spec.input_length).collect();
        let sites: Vec<Vec<Vec<u8>>> = ms.iter().zip(&fits).filter(|(_, f)| **f).map(|(m, _)| tfa::motif_sites(m, bgs.len(), seed, false)).collect();
        let input = tfa::ActivityInput {
            backgrounds: &bgs,
            sites: &sites,
            interval: tfa::centre_interval(&info.geometry, self.center_width),
            chunk: (4_000_000 / info.geometry.context_length()).clamp(64, 4096),
            keep_deltas: false,
        };
        let res = tfa::run_activity(&input, cancel, |_, _| {}, |seqs, q| self.worker.heights(model, seqs, q))?;
        let mut k = 0;
        Ok(fits
            .iter()
            .map(|&f| {
                if !f {
                    return vec![f32::NAN; self.maps[model].len()];
                }
                let row: Vec<f32> = (0..res.n_tracks).map(|o| res.mean(k, o) as f32).collect();
                k += 1;
                self.to_tracks(model, &row)
            })
            .collect())
    }

    /// Hits of motif `motif` in `locus` (at most 2 Mb), at [`HIT_THRESHOLD`].
    pub fn motif_hits(&self, motif: usize, locus: &Locus) -> Result<Vec<GenomicHit>> {
        let m = self.motifs.get(motif).ok_or_else(|| anyhow!("no motif #{motif}"))?;
        if locus.len() > 2_000_000 {
            return Ok(vec![]);
        }
        let seq = self.fasta.fetch(&locus.chrom, locus.start as i64, locus.end as i64)?;
        Ok(m.hits(&seq, HIT_THRESHOLD)
            .into_iter()
            .map(|h| GenomicHit {
                name: m.name.clone(),
                start: locus.start as i64 + h.pos as i64,
                end: locus.start as i64 + (h.pos + m.width()) as i64,
                reverse: h.reverse,
                relative: h.relative,
            })
            .collect())
    }

    /// The region the ISM panel works on for a peak: centred, at most 1000 bp and at most
    /// the model's input.
    fn panel_region(locus: &Locus, input_length: usize) -> Locus {
        let span = locus.len().min(input_length as u64).min(1000);
        let c = locus.center();
        Locus::new(locus.chrom.clone(), c.saturating_sub(span / 2), c.saturating_sub(span / 2) + span)
    }

    /// Gradient × input of every base of the ISM panel's region around `locus` for `model`
    /// (per track), and the JASPAR hits in it at [`HIT_THRESHOLD`] (strongest first, at most
    /// one per position).
    pub fn region_attr(&self, model: usize, locus: &Locus, region_len: Option<u64>) -> Result<(RegionAttr, Vec<GenomicHit>)> {
        let info = self.worker.models.get(model).ok_or_else(|| anyhow!("no model #{model}"))?;
        let mut region = Self::panel_region(locus, info.spec.input_length);
        if let Some(l) = region_len.filter(|&l| l < region.len()) {
            let c = region.center();
            region = Locus::new(region.chrom.clone(), c - l / 2, c - l / 2 + l);
        }
        let mut plan = IsmPlan::new(&self.fasta, &region, info.spec.context_length())?;
        if info.spec.height.bins == BinSelect::Center {
            plan = plan.with_center_width(self.center_width);
        }
        let (a, b) = plan.offset;
        let select = plan.select.or(Some((a as i64, b as i64)));
        let g = self.worker.grad(model, plan.seq.clone(), select)?;
        let attr = self.maps[model]
            .iter()
            .map(|o| match o {
                Some(o) => (a..b).map(|p| g.grad_x_input(&plan.seq, *o, p)).collect(),
                None => vec![f32::NAN; b - a],
            })
            .collect();
        let seq = plan.seq[a..b].to_vec();
        let mut hits: Vec<GenomicHit> = Vec::new();
        for m in &self.motifs {
            for h in m.hits(&seq, HIT_THRESHOLD) {
                hits.push(GenomicHit {
                    name: m.name.clone(),
                    start: region.start as i64 + h.pos as i64,
                    end: region.start as i64 + (h.pos + m.width()) as i64,
                    reverse: h.reverse,
                    relative: h.relative,
                });
            }
        }
        hits.sort_by(|x, y| y.relative.total_cmp(&x.relative));
        let mut kept: Vec<GenomicHit> = Vec::new();
        for h in hits {
            if kept.iter().all(|k| h.end <= k.start || k.end <= h.start) {
                kept.push(h);
            }
        }
        kept.sort_by_key(|h| h.start);
        Ok((RegionAttr { region_start: region.start as i64, seq, attr }, kept))
    }
}
