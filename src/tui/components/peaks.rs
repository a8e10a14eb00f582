//! The peak list: peaks in view (or in the selected peak's cluster), with measured and
//! predicted heights for the focused cell type, sortable; `enter` jumps to a row.
//!
//! It also owns the **peak index** (specificity and measured heights of every peak, built
//! in the background at launch and cached beside the project; see
//! [`genome::peak_index`](crate::genome::peak_index)), so that a ranking by measured height
//! covers every listed peak. Until the index is complete the list says how many of its
//! peaks are ranked and marks the order partial; ranking by prediction says how many have
//! predictions and `P` predicts the rest. The order is computed once per change (source,
//! sort, cell type, new values) and kept; drawing shows only the visible rows.
use crate::genome::peak_index::{IndexInputs, PeakIndex};
use crate::genome::{Locus, PeakSet};
use crate::jobs::view::Reader;
use crate::jobs::worker::{Ctx, ReplyKind, Task};
use crate::tui::commands::Action;
use crate::tui::component::{Component, Event, Job, Outcome, Thread};
use crate::tui::shared::{Preds, Shared};
use crate::tui::view::truncate;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use std::any::Any;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeakSort {
    Measured,
    Predicted,
    Error,
    Specificity,
    Position,
}

impl PeakSort {
    pub fn label(self) -> &'static str {
        match self {
            PeakSort::Measured => "measured",
            PeakSort::Predicted => "predicted",
            PeakSort::Error => "error",
            PeakSort::Specificity => "specificity",
            PeakSort::Position => "position",
        }
    }

    fn next(self) -> PeakSort {
        match self {
            PeakSort::Measured => PeakSort::Predicted,
            PeakSort::Predicted => PeakSort::Error,
            PeakSort::Error => PeakSort::Specificity,
            PeakSort::Specificity => PeakSort::Position,
            PeakSort::Position => PeakSort::Measured,
        }
    }
}

/// Measured heights per peak and track, dense (`known` says which peaks have them). Stored
/// track-major, so that ranking every peak by one track reads one contiguous column.
#[derive(Debug, Clone, Default)]
pub struct Heights {
    tracks: usize,
    /// `values[t * peaks + i]`
    values: Vec<f64>,
    known: Vec<bool>,
    n_known: usize,
    /// increases with every change
    pub version: u64,
}

impl Heights {
    fn ensure(&mut self, peaks: usize, tracks: usize) {
        if self.tracks != tracks || self.known.len() != peaks {
            *self = Heights { tracks, values: vec![f64::NAN; peaks * tracks], known: vec![false; peaks], n_known: 0, version: self.version + 1 };
        }
    }

    /// Height of peak `i` in track `t`, when known (NaN: the bigWig has no data there).
    pub fn get(&self, i: usize, t: usize) -> Option<f64> {
        (self.known.get(i).copied().unwrap_or(false) && t < self.tracks).then(|| self.values[t * self.known.len() + i])
    }

    pub fn is_known(&self, i: usize) -> bool {
        self.known.get(i).copied().unwrap_or(false)
    }

    /// Peaks with heights.
    pub fn known(&self) -> usize {
        self.n_known
    }

    fn set(&mut self, i: usize, v: &[f64]) {
        if i >= self.known.len() || v.len() != self.tracks {
            return;
        }
        let n = self.known.len();
        for (t, &x) in v.iter().enumerate() {
            self.values[t * n + i] = x;
        }
        if !self.known[i] {
            self.known[i] = true;
            self.n_known += 1;
        }
    }
}

/// Where the peak index stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum IndexState {
    #[default]
    NotStarted,
    /// looking for a cached index
    Opening,
    /// reading call set `done` of `total`
    Calls {
        done: usize,
        total: usize,
    },
    /// heights of `done` of `total` peaks
    Heights {
        done: usize,
        total: usize,
    },
    Complete,
    Failed(String),
}

pub struct PeakList {
    pub in_cluster: bool,
    pub sort: PeakSort,
    pub cursor: usize,
    /// measured height of every peak (per track), as the index and view requests fill it
    pub heights: Heights,
    pub index: IndexState,
    /// where the index was saved or read (shown in the log)
    pub index_file: Option<PathBuf>,
    /// `P`: predictions of the rest of the list, (done, total) while it runs
    pub predicting: Option<(usize, usize)>,
    order: Order,
}

impl Default for PeakList {
    fn default() -> Self {
        PeakList {
            in_cluster: false,
            sort: PeakSort::Measured,
            cursor: 0,
            heights: Heights::default(),
            index: IndexState::NotStarted,
            index_file: None,
            predicting: None,
            order: Order::default(),
        }
    }
}

/// What the list's peaks are.
#[derive(Debug, Clone, PartialEq)]
enum SourceKey {
    View(Locus),
    Cluster(String),
}

/// Everything the order depends on.
#[derive(Debug, Clone, PartialEq)]
struct OrderKey {
    source: SourceKey,
    sort: PeakSort,
    track: usize,
    model: usize,
    heights: u64,
    preds: u64,
    specificity: u64,
}

/// The list in order, for `key`.
#[derive(Debug, Clone, Default)]
struct Order {
    key: Option<OrderKey>,
    rows: Vec<u32>,
    /// rows with a measured height / a prediction of the active model
    measured: usize,
    predicted: usize,
}

pub enum PeaksEvent {
    /// measured heights (central-window sums per track) of these peaks
    Heights {
        peaks: Vec<usize>,
        values: Vec<Vec<f64>>,
    },
    Preds(Preds),
    /// the index: where it stands
    Index(IndexState),
    /// the index: specificity of every peak (None: not every track has calls)
    Specificity(Option<Vec<u32>>),
    /// the index: heights of peaks `first..` (peak-major, every track)
    IndexHeights {
        first: usize,
        values: Vec<f64>,
    },
    /// the index was read from or written to this file (or could not be written: why)
    IndexFile(Result<PathBuf, String>),
}

/// Measured heights of peaks (sums over the central `width` bp). Newest wins.
pub struct HeightsTask {
    pub peaks: Vec<usize>,
    pub loci: Vec<Locus>,
    pub width: u64,
}

impl Task<Reader, PeaksEvent> for HeightsTask {
    fn run(self: Box<Self>, env: &mut Reader, ctx: &Ctx<PeaksEvent>) -> Result<(), String> {
        let values = env.heights(&self.loci, self.width);
        // heights stay valid for their peaks
        ctx.emit_even_if_stale(PeaksEvent::Heights { peaks: self.peaks, values });
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Peaks per chunk of index heights (every track is read for a chunk).
const INDEX_CHUNK: usize = 8192;

/// Build (or read from its cache) the peak index. The cache lives in the first of `dirs`
/// that can be written; it is looked for in all of them.
pub struct IndexTask {
    pub inputs: IndexInputs,
    pub peaks: Arc<PeakSet>,
    pub dirs: Vec<PathBuf>,
}

impl IndexTask {
    fn save(&self, index: &PeakIndex, key: &[u8; 32]) -> Result<PathBuf, String> {
        let name = IndexInputs::file_name(key);
        let mut why = Vec::new();
        for d in &self.dirs {
            let p = d.join(&name);
            match index.save(&p, key) {
                Ok(()) => return Ok(p),
                Err(e) => why.push(format!("{e:#}")),
            }
        }
        Err(format!("the peak index could not be saved ({}); it is rebuilt next time", why.join("; ")))
    }
}

impl Task<(), PeaksEvent> for IndexTask {
    fn run(self: Box<Self>, _: &mut (), ctx: &Ctx<PeaksEvent>) -> Result<(), String> {
        ctx.emit(PeaksEvent::Index(IndexState::Opening));
        let key = self.inputs.key().map_err(|e| format!("peak index: {e:#}"))?;
        let (n, t) = (self.peaks.len(), self.inputs.bigwigs.len());
        let name = IndexInputs::file_name(&key);
        for d in &self.dirs {
            let p = d.join(&name);
            match PeakIndex::load(&p, &key, n, t) {
                Ok(Some(idx)) => {
                    ctx.emit(PeaksEvent::Specificity(idx.specificity));
                    ctx.emit(PeaksEvent::IndexHeights { first: 0, values: idx.heights });
                    ctx.emit(PeaksEvent::IndexFile(Ok(p)));
                    ctx.emit(PeaksEvent::Index(IndexState::Complete));
                    return Ok(());
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("{e:#}"),
            }
        }
        let calls = self.inputs.calls.len();
        let specificity = crate::genome::peak_index::specificity(&self.peaks, &self.inputs.calls, |k| {
            ctx.emit(PeaksEvent::Index(IndexState::Calls { done: k, total: calls }));
            !ctx.cancelled()
        })
        .map_err(|e| format!("peak index: {e:#}"))?;
        ctx.emit(PeaksEvent::Specificity(specificity.clone()));
        let mut bigwigs: Vec<Option<crate::genome::BigWig>> = self
            .inputs
            .bigwigs
            .iter()
            .map(|p| {
                crate::genome::BigWig::open(p)
                    .map(|mut b| {
                        // one pass in genome order: nothing to cache
                        b.set_cache_budget(0);
                        b
                    })
                    .map_err(|e| tracing::warn!("{e:#}"))
                    .ok()
            })
            .collect();
        let mut all = Vec::with_capacity(n * t);
        for first in (0..n).step_by(INDEX_CHUNK) {
            if ctx.cancelled() {
                return Ok(());
            }
            let peaks = &self.peaks.peaks()[first..(first + INDEX_CHUNK).min(n)];
            let loci: Vec<Locus> = peaks.iter().map(|p| p.locus()).collect();
            let values = crate::genome::peak_index::heights(&mut bigwigs, &loci, self.inputs.width);
            all.extend_from_slice(&values);
            ctx.emit(PeaksEvent::IndexHeights { first, values });
            ctx.emit(PeaksEvent::Index(IndexState::Heights { done: first + peaks.len(), total: n }));
        }
        drop(bigwigs);
        let index = PeakIndex { tracks: t, specificity, heights: all };
        ctx.emit(PeaksEvent::IndexFile(self.save(&index, &key)));
        ctx.emit(PeaksEvent::Index(IndexState::Complete));
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Folders for a project's peak index: `$PEAKSCOPE_INDEX_DIR`, `[ui] index_dir`, or
/// `.peakscope-index` beside the config; then the user cache folder (for a project folder
/// that cannot be written).
pub fn index_dirs(cfg: &crate::config::ProjectConfig) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    match (std::env::var_os("PEAKSCOPE_INDEX_DIR"), &cfg.ui.index_dir) {
        (Some(d), _) => dirs.push(PathBuf::from(d)),
        (None, Some(d)) => dirs.push(d.clone()),
        (None, None) => dirs.push(cfg.source.parent().map(|p| p.join(".peakscope-index")).unwrap_or_else(|| ".peakscope-index".into())),
    }
    if let Some(cache) = crate::demo::default_dir().parent() {
        dirs.push(cache.join("index"));
    }
    dirs
}

/// A u64 whose unsigned order is `f64::total_cmp`'s order of `x` (for sorting integers).
fn order_bits(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// Lane of the "predict the rest of the list" job (apart from the view's predictions).
const PREDICT_REST_LANE: u64 = 1 << 32;

impl PeakList {
    fn source_key(&self, s: &Shared) -> SourceKey {
        match (self.in_cluster, s.peak_filter()) {
            (true, Some(label)) => SourceKey::Cluster(label),
            _ => SourceKey::View(s.locus.clone()),
        }
    }

    /// Peaks the list draws from: those in view, or all of the selected peak's cluster.
    pub fn source(&self, s: &Shared) -> Vec<usize> {
        match self.source_key(s) {
            SourceKey::Cluster(label) => (0..s.peaks.len()).filter(|&i| s.peaks.get(i).unwrap().label.as_deref() == Some(label.as_str())).collect(),
            SourceKey::View(_) => s.in_view(),
        }
    }

    /// (measured, predicted) height of a peak for the focused track, when known.
    pub fn values(&self, s: &Shared, i: usize) -> (Option<f64>, Option<f64>) {
        let t = s.focused_track;
        (self.heights.get(i, t), s.pred(s.models.active, i, t).map(|x| x as f64))
    }

    fn key(&self, s: &Shared) -> OrderKey {
        OrderKey {
            source: self.source_key(s),
            sort: self.sort,
            track: s.focused_track,
            model: s.models.active,
            heights: self.heights.version,
            preds: s.models.preds_version,
            specificity: s.specificity_version,
        }
    }

    fn compute(&self, s: &Shared) -> Order {
        let source = self.source(s);
        let (t, model) = (s.focused_track, s.models.active);
        // only the values this sort (and its header note) needs are looked up
        let (need_m, need_p) = match self.sort {
            PeakSort::Measured => (true, false),
            PeakSort::Predicted => (false, true),
            PeakSort::Error => (true, true),
            PeakSort::Specificity | PeakSort::Position => (false, false),
        };
        let mut measured = 0;
        let mut predicted = 0;
        // the focused track's predictions as one dense column (a map lookup per row costs more
        // than the sort at 300k rows)
        let preds = if need_p { s.pred_column(model, t) } else { Vec::new() };
        let mut keyed: Vec<(u64, u32)> = source
            .iter()
            .map(|&i| {
                let m = if need_m { self.heights.get(i, t) } else { None };
                let p = preds.get(i).copied().filter(|x| x.is_finite()).map(|x| x as f64);
                measured += m.is_some() as usize;
                predicted += p.is_some() as usize;
                let k = match self.sort {
                    // unknown and no-data heights go last
                    PeakSort::Measured => -m.filter(|x| !x.is_nan()).unwrap_or(f64::NEG_INFINITY),
                    PeakSort::Predicted => -p.filter(|x| !x.is_nan()).unwrap_or(f64::NEG_INFINITY),
                    PeakSort::Error => match (m, p) {
                        (Some(m), Some(p)) if !m.is_nan() && !p.is_nan() => -((p + 1.0).log2() - (m + 1.0).log2()).abs(),
                        _ => f64::INFINITY,
                    },
                    PeakSort::Specificity => s.specificity.get(i).copied().flatten().map(|s| s as f64).unwrap_or(f64::INFINITY),
                    PeakSort::Position => i as f64,
                };
                (order_bits(k), i as u32)
            })
            .collect();
        if self.sort != PeakSort::Position {
            // ascending value, ties in file order: the source is in file order and the radix
            // sort is stable (a few ms for 300k rows, where a comparison sort takes tens)
            debug_assert!(keyed.windows(2).all(|w| w[0].1 < w[1].1));
            radsort::sort_by_key(&mut keyed, |&(k, _)| k);
        }
        Order { key: Some(self.key(s)), rows: keyed.into_iter().map(|(_, i)| i).collect(), measured, predicted }
    }

    /// Bring the kept order up to date: once per change of what it depends on (keys that
    /// only move the cursor keep it), and only while the list is open.
    fn update_order(&mut self, s: &Shared) {
        if !s.is_open(Self::NAME) || self.order.key.as_ref() == Some(&self.key(s)) {
            return;
        }
        let t = std::time::Instant::now();
        self.order = self.compute(s);
        tracing::debug!("peak list: {} rows ordered by {} in {:.1} ms", self.order.rows.len(), self.sort.label(), t.elapsed().as_secs_f64() * 1e3);
        self.cursor = self.cursor.min(self.order.rows.len().saturating_sub(1));
    }

    /// The list in its current order.
    pub fn rows(&self, s: &Shared) -> Vec<usize> {
        let order = if self.order.key.as_ref() == Some(&self.key(s)) { self.order.clone() } else { self.compute(s) };
        order.rows.into_iter().map(|i| i as usize).collect()
    }

    /// Heights and predictions the open list lacks (the first of them).
    fn missing(&self, s: &Shared) -> Vec<Job<PeaksEvent>> {
        if !s.is_open(Self::NAME) {
            return vec![];
        }
        let source = self.source(s);
        let mut jobs = Vec::new();
        if self.index != IndexState::Complete {
            let need: Vec<usize> = source.iter().copied().filter(|&i| !self.heights.is_known(i)).take(2000).collect();
            if !need.is_empty() {
                let width = s.config.as_ref().map(|c| c.eval.center_width).unwrap_or(crate::config::EvalConfig::default().center_width);
                let loci = need.iter().filter_map(|&i| s.peaks.get(i).map(|p| p.locus())).collect();
                jobs.push(Job::Read(Box::new(HeightsTask { peaks: need, loci, width }) as Box<dyn Task<_, _>>));
            }
        }
        jobs.extend(s.predict_missing(s.models.active, &source, 500, PeaksEvent::Preds));
        jobs
    }

    /// The index job, once, at the first refresh of a project opened from a config.
    fn start_index(&mut self, s: &Shared) -> Option<Job<PeaksEvent>> {
        if self.index != IndexState::NotStarted || s.peaks.is_empty() {
            return None;
        }
        let cfg = s.config.as_ref()?;
        self.heights.ensure(s.peaks.len(), s.tracks.len());
        self.index = IndexState::Opening;
        let inputs = IndexInputs {
            peaks: cfg.peaks.as_ref()?.file.clone(),
            bigwigs: cfg.tracks.iter().map(|t| t.bigwig.clone()).collect(),
            calls: cfg.tracks.iter().map(|t| t.peaks.clone()).collect(),
            width: cfg.eval.center_width,
        };
        Some(Job::Index(Box::new(IndexTask { inputs, peaks: s.peaks.clone(), dirs: index_dirs(cfg) })))
    }

    /// "ranking 12,000 / 225,000 (partial)" and the like, for the list's header.
    fn ranking_note(&self) -> String {
        let o = &self.order;
        let n = o.rows.len();
        let g = |x: usize| crate::genome::locus::group_thousands(x as u64);
        match self.sort {
            PeakSort::Measured | PeakSort::Error if o.measured < n => format!(" · ranking {} / {} (partial: heights still loading)", g(o.measured), g(n)),
            PeakSort::Predicted | PeakSort::Error if o.predicted < n => format!(
                " · {} / {} predicted (partial; {})",
                g(o.predicted),
                g(n),
                if self.predicting.is_some() { "predicting, P stops" } else { "P predicts the rest" }
            ),
            PeakSort::Measured => format!(" · ranked {}", g(n)),
            _ => String::new(),
        }
    }
}

impl Component for PeakList {
    type Event = PeaksEvent;
    const NAME: &'static str = "peaks";
    const PANEL: bool = true;

    fn update(&mut self, ev: Event<PeaksEvent>, s: &mut Shared) -> Outcome<PeaksEvent> {
        let out = self.handle(ev, s);
        self.update_order(s);
        out
    }

    fn activity(&self) -> Option<String> {
        let g = |x: usize| crate::genome::locus::group_thousands(x as u64);
        let index = match &self.index {
            IndexState::Opening => Some("index: opening".to_string()),
            IndexState::Calls { done, total } => Some(format!("index: calls {done}/{total}")),
            IndexState::Heights { done, total } => Some(format!("index: heights {} / {}", g(*done), g(*total))),
            _ => None,
        };
        let predicting = self.predicting.map(|(d, t)| format!("predicting {} / {}", g(d), g(t)));
        let v: Vec<String> = index.into_iter().chain(predicting).collect();
        (!v.is_empty()).then(|| v.join(" · "))
    }

    fn draw(&self, area: Rect, buf: &mut Buffer, s: &Shared) {
        let dim = Style::default().fg(Color::Indexed(244));
        let w = area.width as usize;
        let rows = &self.order.rows;
        let track = s.focused_name().unwrap_or_default();
        let scope = if self.in_cluster { "selected peak's cluster" } else { "in view" };
        buf.set_stringn(
            area.x,
            area.y,
            format!(
                "─ peaks {scope} ({}) · sorted by {} (r){} · {track} (c) · ↑↓ move, enter jumps, f scope",
                crate::genome::locus::group_thousands(rows.len() as u64),
                self.sort.label(),
                self.ranking_note()
            ),
            w,
            Style::default().add_modifier(Modifier::BOLD),
        );
        if area.height < 2 {
            return;
        }
        // the locus column fits the longest locus of this genome
        let locus_w =
            s.chroms.iter().map(|(n, len)| n.chars().count() + 2 * crate::genome::locus::group_thousands(len).len() + 2).max().unwrap_or(24).max(8) + 1;
        buf.set_stringn(
            area.x,
            area.y + 1,
            format!("  {:<14}{:<lw$}{:<22}{:>5}{:>11}{:>11}{:>8}", "name", "locus", "cluster", "spec", "measured", "predicted", "error", lw = locus_w),
            w,
            dim,
        );
        let visible = area.height.saturating_sub(2) as usize;
        let first = self.cursor.saturating_sub(visible.saturating_sub(1));
        // only the visible rows are formatted
        for (k, &i) in rows.iter().enumerate().skip(first).take(visible) {
            let i = i as usize;
            let Some(p) = s.peaks.get(i) else { continue };
            let (m, pr) = self.values(s, i);
            let err = match (m, pr) {
                (Some(m), Some(p)) if !m.is_nan() => format!("{:+.2}", (p + 1.0).log2() - (m + 1.0).log2()),
                _ => "…".into(),
            };
            let f = |x: Option<f64>| match x {
                Some(v) if v.is_nan() => "n/a".into(),
                Some(v) => format!("{v:.1}"),
                None => "…".into(),
            };
            let line = format!(
                "{}{:<14}{:<lw$}{:<22}{:>5}{:>11}{:>11}{:>8}",
                if k == self.cursor { "▶ " } else { "  " },
                truncate(&p.display_name(), 13),
                p.locus().display(),
                truncate(p.label.as_deref().unwrap_or("-"), 21),
                s.specificity.get(i).copied().flatten().map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                f(m),
                f(pr),
                err,
                lw = locus_w
            );
            let mut st = Style::default();
            if k == self.cursor {
                st = st.add_modifier(Modifier::REVERSED);
            }
            if s.selected == Some(i) {
                st = st.fg(Color::Indexed(226));
            }
            buf.set_stringn(area.x, area.y + 2 + (k - first) as u16, &line, w, st);
        }
    }
}

impl PeakList {
    fn handle(&mut self, ev: Event<PeaksEvent>, s: &mut Shared) -> Outcome<PeaksEvent> {
        let open = s.is_open(Self::NAME);
        match ev {
            Event::Command(Action::SelectPeak, _) if open && !self.order.rows.is_empty() => {
                let i = self.order.rows[self.cursor.min(self.order.rows.len() - 1)] as usize;
                s.jump_to_peak(i);
                if !self.in_cluster {
                    self.cursor = 0;
                }
                Outcome::none()
            }
            Event::Command(a @ (Action::ListUp | Action::ListDown), n) => {
                let len = self.order.rows.len();
                if open && len > 0 {
                    let c = self.cursor as i64 + if a == Action::ListDown { n as i64 } else { -(n as i64) };
                    self.cursor = c.clamp(0, len as i64 - 1) as usize;
                }
                Outcome::none()
            }
            Event::Command(Action::SortPeaks, _) => {
                self.sort = self.sort.next();
                self.cursor = 0;
                s.status = format!("peak list sorted by {}", self.sort.label());
                Outcome::none()
            }
            Event::Command(Action::ListScope, _) => {
                self.in_cluster = !self.in_cluster;
                self.cursor = 0;
                s.status = match (self.in_cluster, s.peak_filter()) {
                    (true, Some(l)) => format!("peak list: cluster {l}"),
                    (true, None) => "peak list: select a peak to list its cluster".into(),
                    _ => "peak list: peaks in view".into(),
                };
                Outcome::Done(self.missing(s))
            }
            Event::Command(Action::PredictRest, _) => {
                if self.predicting.is_some() {
                    self.predicting = None;
                    s.status = "predictions of the list stopped".into();
                    return Outcome::one(Job::Cancel(Thread::Predictor, s.models.active as u64 | PREDICT_REST_LANE));
                }
                if !open {
                    s.status = "P predicts the peaks of the open peak list (Tab opens it)".into();
                    return Outcome::none();
                }
                let source = self.source(s);
                let job = s.predict_missing_in_lane(s.models.active, &source, usize::MAX, PeaksEvent::Preds, PREDICT_REST_LANE);
                match job {
                    Some(job) => {
                        let n = source.iter().filter(|&&i| s.pred(s.models.active, i, s.focused_track).is_none()).count();
                        self.predicting = Some((0, n));
                        s.status = format!("predicting {} peaks of the list (P stops)", crate::genome::locus::group_thousands(n as u64));
                        Outcome::one(job)
                    }
                    None if !s.models.ready => {
                        s.status = "the models are still loading".into();
                        Outcome::none()
                    }
                    None => {
                        s.status = "every listed peak has a prediction".into();
                        Outcome::none()
                    }
                }
            }
            Event::Command(..) => Outcome::Ignored,
            Event::Refresh => {
                let mut jobs: Vec<Job<PeaksEvent>> = self.start_index(s).into_iter().collect();
                jobs.extend(self.missing(s));
                Outcome::Done(jobs)
            }
            Event::Reply(r) => {
                self.reply(r, s);
                Outcome::none()
            }
        }
    }

    fn reply(&mut self, r: ReplyKind<PeaksEvent>, s: &mut Shared) {
        match r {
            ReplyKind::Event(PeaksEvent::Heights { peaks, values }) => {
                self.heights.ensure(s.peaks.len(), s.tracks.len());
                for (i, v) in peaks.into_iter().zip(values) {
                    self.heights.set(i, &v);
                }
                self.heights.version += 1;
            }
            ReplyKind::Event(PeaksEvent::IndexHeights { first, values }) => {
                self.heights.ensure(s.peaks.len(), s.tracks.len());
                let t = s.tracks.len().max(1);
                for (k, v) in values.chunks_exact(t).enumerate() {
                    self.heights.set(first + k, v);
                }
                self.heights.version += 1;
            }
            ReplyKind::Event(PeaksEvent::Specificity(spec)) => {
                if let Some(spec) = spec {
                    s.specificity = spec.into_iter().map(Some).collect();
                    s.specificity_version += 1;
                }
            }
            ReplyKind::Event(PeaksEvent::Index(state)) => self.index = state,
            ReplyKind::Event(PeaksEvent::IndexFile(Ok(p))) => {
                tracing::info!("peak index {}", p.display());
                self.index_file = Some(p);
            }
            ReplyKind::Event(PeaksEvent::IndexFile(Err(e))) => {
                tracing::warn!("{e}");
                s.status = e;
            }
            ReplyKind::Event(PeaksEvent::Preds(p)) => {
                if let Some((done, _)) = &mut self.predicting {
                    *done += p.peaks.len();
                }
                s.store_preds(p);
            }
            ReplyKind::Progress { .. } => {}
            ReplyKind::Finished { .. } => {
                // the predict-rest job (the others end quietly)
                if let Some((d, t)) = self.predicting.take() {
                    if d < t {
                        self.predicting = Some((d, t));
                    }
                }
            }
            ReplyKind::Failed(e) => {
                if matches!(self.index, IndexState::Opening | IndexState::Calls { .. } | IndexState::Heights { .. }) && e.starts_with("peak index") {
                    self.index = IndexState::Failed(e.clone());
                }
                s.status = e;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::order_bits;

    #[test]
    fn order_bits_keep_the_total_order_of_f64() {
        let xs = [f64::NEG_INFINITY, -1e300, -2.5, -0.0, 0.0, 1e-300, 3.0, 17812.0, f64::INFINITY];
        for w in xs.windows(2) {
            assert!(order_bits(w[0]) < order_bits(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(order_bits(6728.6).cmp(&order_bits(6728.6)), std::cmp::Ordering::Equal);
    }
}
