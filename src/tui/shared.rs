//! What every component may read and the few things they change together: the project
//! (tracks, peaks, genes, chromosomes), the view (locus, size), the selection, the focused
//! track, the models with their prediction cache, the open panel and the status line.
use super::component::Job;
use crate::config::ProjectConfig;
use crate::genome::genes::Genes;
use crate::genome::locus::{parse_locus, LocusQuery};
use crate::genome::{ChromNames, Locus, PeakSet};
use crate::jobs::remote::ModelClient;
use crate::jobs::worker::{Ctx, Task};
use std::collections::HashMap;
use std::sync::Arc;

/// The models: names, which is active and compared, and their predictions so far.
pub struct Models {
    pub names: Vec<String>,
    pub active: usize,
    /// a second model whose predictions are drawn under the active one's
    pub compare: Option<usize>,
    /// loaded by the predictor
    pub ready: bool,
    /// where the models run: `--device` as given (auto, cpu, cuda:N)
    pub device: String,
    /// where the predictor runs, as it reported it
    pub device_label: String,
    /// predictions per (model, peak index): one value per track (NaN: output not mapped)
    pub preds: HashMap<(usize, usize), Vec<f32>>,
    /// increases whenever `preds` changes
    pub preds_version: u64,
}

pub struct Shared {
    /// the project, when opened from one (evaluation and peak heights need it)
    pub config: Option<Arc<ProjectConfig>>,
    pub tracks: Vec<String>,
    pub chroms: ChromNames,
    /// shared with the peak index job
    pub peaks: Arc<PeakSet>,
    pub ubiquitous: Vec<String>,
    pub genes: Option<Genes>,
    /// per peak: number of tracks whose own calls overlap it (when known; the peak index
    /// fills it in the background)
    pub specificity: Vec<Option<u32>>,
    /// increases whenever `specificity` changes
    pub specificity_version: u64,
    /// which peaks `e` evaluates, when chosen with `:eval` (else `[eval]` in the config)
    pub eval_choice: Option<crate::tui::components::metrics::EvalChoice>,
    pub models: Models,
    pub locus: Locus,
    pub selected: Option<usize>,
    /// the cell type the ISM panel, peak list and hide/show act on
    pub focused_track: usize,
    /// name of the open panel
    pub panel: Option<&'static str>,
    pub status: String,
    /// columns of the track panel (terminal width − labels)
    pub cols: usize,
    pub rows: u16,
    /// increases with every change of the view; replies for an older one are stale
    pub generation: u64,
    /// the track panel's variants row (None: the project has no `[variants]`)
    pub variant_row: Option<crate::tui::components::variants::VariantRow>,
}

/// Predictions for some peaks (one value per track).
#[derive(Debug, Clone, PartialEq)]
pub struct Preds {
    pub model: usize,
    pub peaks: Vec<usize>,
    pub values: Vec<Vec<f32>>,
}

/// Peaks per model call of a [`PredictTask`].
const PREDICT_CHUNK: usize = 64;

/// Predict peaks with a model, for the shared cache; the reply is wrapped into the asking
/// component's event type. Newest wins per model.
pub struct PredictTask<E> {
    pub model: usize,
    pub peaks: Vec<usize>,
    loci: Vec<Locus>,
    wrap: fn(Preds) -> E,
    /// added to the lane key (a long job apart from the view's requests)
    lane: u64,
}

impl<E: Send + 'static> Task<ModelClient, E> for PredictTask<E> {
    fn key(&self) -> u64 {
        self.model as u64 | self.lane
    }
    fn run(self: Box<Self>, env: &mut ModelClient, ctx: &Ctx<E>) -> Result<(), String> {
        // in chunks, so that they show as they come and a shutdown waits for one chunk at most
        let total = self.peaks.len();
        for (k, (peaks, loci)) in self.peaks.chunks(PREDICT_CHUNK).zip(self.loci.chunks(PREDICT_CHUNK)).enumerate() {
            if ctx.cancelled() {
                break;
            }
            let values = env.predict_tracks(self.model, loci).map_err(|e| format!("predict: {e:#}"))?;
            // predictions stay valid for their peaks after the view moved on
            ctx.emit_even_if_stale((self.wrap)(Preds { model: self.model, peaks: peaks.to_vec(), values }));
            ctx.progress((k * PREDICT_CHUNK + peaks.len()).min(total), total);
        }
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

use std::any::Any;

/// The status line when there is nothing else to say.
pub const HINT: &str = "? help · : goto · n/N peaks · q quit";

impl Shared {
    pub fn chrom_len(&self) -> u64 {
        self.chroms.len_of(&self.locus.chrom).unwrap_or(self.locus.end)
    }

    /// What, when it changes, makes every component refresh.
    pub fn view_key(&self) -> (Locus, usize, Option<usize>, usize, Option<usize>, bool) {
        (self.locus.clone(), self.cols, self.selected, self.models.active, self.models.compare, self.models.ready)
    }

    /// Move the view, clamped to the chromosome; width at least 100 bp.
    pub fn set_view(&mut self, chrom: &str, start: i64, width: u64) {
        let chrom = self.chroms.resolve(chrom).unwrap_or(chrom).to_string();
        let len = self.chroms.len_of(&chrom).unwrap_or(u64::MAX / 4);
        let width = width.clamp(100, len.max(100));
        let start = start.clamp(0, (len.saturating_sub(width)) as i64) as u64;
        self.locus = Locus::new(chrom, start, (start + width).min(len));
    }

    /// Peaks overlapping the view.
    pub fn in_view(&self) -> Vec<usize> {
        self.peaks.overlapping(&self.locus.chrom, self.locus.start, self.locus.end)
    }

    /// Label of the selected peak's cluster (peak navigation and the list stay in it).
    pub fn peak_filter(&self) -> Option<String> {
        self.selected.and_then(|i| self.peaks.get(i)).and_then(|p| p.label.clone())
    }

    pub fn is_ubiquitous(&self, label: Option<&str>) -> bool {
        label.is_some_and(|l| self.ubiquitous.iter().any(|u| u == l))
    }

    /// Select peak `i` and centre the view on it.
    pub fn jump_to_peak(&mut self, i: usize) {
        let Some(p) = self.peaks.get(i).cloned() else { return };
        self.selected = Some(i);
        let width = self.locus.len().max(2 * (p.end - p.start));
        let c = (p.start + (p.end - p.start) / 2) as i64;
        self.set_view(&p.chrom, c - (width / 2) as i64, width);
        self.status = format!("{} {} {}", p.display_name(), p.locus().display(), p.label.as_deref().unwrap_or(""));
    }

    /// Resolve what was typed in the goto box: locus, chromosome, gene or peak name. On
    /// success the status line shows the gene or peak, or the key hint (an old error does
    /// not stay).
    pub fn goto(&mut self, text: &str) -> Result<(), String> {
        match parse_locus(text).map_err(|e| e.to_string())? {
            LocusQuery::Range(l) => {
                if self.chroms.resolve(&l.chrom).is_none() {
                    return Err(format!("no chromosome '{}' (have {})", l.chrom, self.chroms.preview()));
                }
                self.set_view(&l.chrom, l.start as i64, l.len());
                self.status = HINT.into();
            }
            LocusQuery::Point { chrom, pos } => {
                if self.chroms.resolve(&chrom).is_none() {
                    return Err(format!("no chromosome '{chrom}'"));
                }
                let w = self.locus.len();
                self.set_view(&chrom, pos as i64 - (w / 2) as i64, w);
                self.status = HINT.into();
            }
            LocusQuery::Word(w) => {
                if let Some(name) = self.chroms.resolve(&w).map(str::to_string) {
                    let len = self.chroms.len_of(&name).unwrap_or(0);
                    self.set_view(&name, 0, len);
                    self.status = HINT.into();
                } else if let Some(g) = self.genes.as_ref().and_then(|g| g.find(&w)).cloned() {
                    let pad = (g.locus.len() / 10).max(500);
                    self.set_view(&g.locus.chrom, g.locus.start as i64 - pad as i64, g.locus.len() + 2 * pad);
                    self.status = format!("gene {} {}", g.name, g.locus.display());
                } else if let Some(i) = self.peaks.find_name(&w) {
                    self.jump_to_peak(i);
                } else {
                    return Err(format!("'{w}' is not a locus, chromosome, gene or peak name"));
                }
            }
        }
        Ok(())
    }

    /// Terminal column of a genomic position in the track panel.
    pub fn col_of(&self, pos: u64) -> usize {
        let w = self.locus.len().max(1);
        (((pos.saturating_sub(self.locus.start)) as u128 * self.cols as u128) / w as u128) as usize
    }

    /// A model's prediction for a peak and track, when known and finite.
    pub fn pred(&self, model: usize, peak: usize, track: usize) -> Option<f32> {
        self.models.preds.get(&(model, peak)).and_then(|v| v.get(track)).copied().filter(|x| x.is_finite())
    }

    /// `model`'s predictions for `track`, one per peak (NaN where there is none), in one pass
    /// over what is known: for work over every peak, where a lookup per peak costs more.
    pub fn pred_column(&self, model: usize, track: usize) -> Vec<f32> {
        let mut col = vec![f32::NAN; self.peaks.len()];
        for (&(m, i), v) in &self.models.preds {
            if let (true, Some(c), Some(&x)) = (m == model, col.get_mut(i), v.get(track)) {
                *c = x;
            }
        }
        col
    }

    /// A prediction job for those of `peaks` that `model` has no prediction for yet (at most
    /// `at_most` of them), once the models are loaded.
    pub fn predict_missing<E: Send + 'static>(&self, model: usize, peaks: &[usize], at_most: usize, wrap: fn(Preds) -> E) -> Option<Job<E>> {
        self.predict_missing_in_lane(model, peaks, at_most, wrap, 0)
    }

    /// [`Shared::predict_missing`] in a lane of its own (`lane` is or-ed into the key).
    pub fn predict_missing_in_lane<E: Send + 'static>(&self, model: usize, peaks: &[usize], at_most: usize, wrap: fn(Preds) -> E, lane: u64) -> Option<Job<E>> {
        if !self.models.ready || self.models.names.is_empty() {
            return None;
        }
        let missing: Vec<usize> = peaks.iter().copied().filter(|&i| !self.models.preds.contains_key(&(model, i))).take(at_most).collect();
        let loci = missing.iter().filter_map(|&i| self.peaks.get(i).map(|p| p.locus())).collect();
        (!missing.is_empty()).then(|| Job::Model(Box::new(PredictTask { model, peaks: missing, loci, wrap, lane })))
    }

    /// Predictions arrived: kept whatever the view (they stay valid for their peaks).
    pub fn store_preds(&mut self, p: Preds) {
        for (i, v) in p.peaks.into_iter().zip(p.values) {
            self.models.preds.insert((p.model, i), v);
        }
        self.models.preds_version += 1;
    }

    pub fn is_open(&self, panel: &str) -> bool {
        self.panel == Some(panel)
    }

    /// Name of the focused track.
    pub fn focused_name(&self) -> Option<&str> {
        self.tracks.get(self.focused_track).map(String::as_str)
    }
}
