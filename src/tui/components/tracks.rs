//! The main view: chromosome position bar, per cell type a measured row (column means from
//! the bigWig) and predicted rows (active model and the compared one), the peak row and the
//! gene row.
//!
//! * **Frames.** Everything drawn for a locus is a [`Frame`] computed when the view changes
//!   (peaks and genes per column, predictions per column), so that drawing never walks
//!   every feature. The frame on screen changes only when the measured data of the new
//!   locus arrive, and the header names the locus on screen (with "loading" and the new
//!   one until then): data of one locus never appear under another's label.
//! * **Wide views.** With more peaks (genes) than columns the rows show counts per column;
//!   a predicted row shows, per column, the maximum over the peaks predicted there
//!   (labelled "max"), from one representative peak per column. A predicted row is a
//!   per-column signal ([`Frame::preds`]).
//! * **Predicted signal.** Binned and profile models (Borzoi, Enformer, ChromBPNet) draw
//!   their predicted signal along the view instead (`pred ~`): the model server tiles the
//!   view with windows on a grid of the output span, caches them, and returns the mean per
//!   bp in each column, like the measured row ([`AlongTask`], `Predictor::along_view`);
//!   views wider than 64 windows show the per-peak predictions.
//! * **Scrolling and groups.** The rows between the fixed position bar and the fixed peak
//!   and gene rows scroll (`J`/`K`, and to follow the focused cell type); tracks with a
//!   `group` in the config collapse into one row per group (`G`).
use crate::genome::bigwig::BinSummary;
use crate::genome::Locus;
use crate::jobs::remote::ModelClient;
use crate::jobs::view::{Along, Reader};
use crate::jobs::worker::{Ctx, ReplyKind, Task};
use crate::tui::commands::Action;
use crate::tui::component::{Component, Event, Job, Outcome};
use crate::tui::shared::{Preds, Shared};
use crate::tui::summary::{self, GeneCell, GeneIndex, GeneRow, PeakRow, PeakStarts};
use crate::tui::view::{level, track_color, truncate, LABEL_W};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// one y-scale for all measured rows (and one for predicted)
    Group,
    /// each row scaled to its own maximum
    #[serde(alias = "pertrack")]
    PerTrack,
    /// log2(x + 1), grouped
    Log,
}

impl Scale {
    pub fn label(self) -> &'static str {
        match self {
            Scale::Group => "group",
            Scale::PerTrack => "per track",
            Scale::Log => "log",
        }
    }
}

/// Peaks predicted per view at most at narrow views (at wide ones: one per column).
const PREDICT_IN_VIEW: usize = 200;

/// What the view draws for one locus, besides the measured data.
#[derive(Debug, Clone)]
pub struct Frame {
    pub locus: Locus,
    pub cols: usize,
    pub peaks: PeakRow,
    pub genes: Option<GeneRow>,
    /// per shown model (active, then compared), per track: the value per column (the
    /// maximum of the predicted peaks there; NaN: none)
    pub preds: Vec<Vec<Vec<f32>>>,
    /// peaks in view with a prediction of the active model
    pub predicted: usize,
    /// per shown model: whether its row is the predicted signal along the view (binned and
    /// profile models, see [`AlongTask`]) rather than per-peak predictions
    pub along: Vec<bool>,
}

/// One row of the scrolling area.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    Measured(usize),
    /// track, shown model (0: active, 1: compared)
    Pred(usize, usize),
    /// a collapsed group: its name and tracks
    Group(String, Vec<usize>),
}

pub struct Tracks {
    /// measured column summaries of the locus on screen, per track (None: chromosome absent)
    pub data: Option<(Locus, Vec<Option<Vec<BinSummary>>>)>,
    /// the frame on screen (for `data`'s locus) and the one waiting for its data
    pub frame: Option<Frame>,
    pub pending: Option<Frame>,
    pub scale: Scale,
    /// cell types hidden from the panel
    pub hidden: Vec<bool>,
    /// first row of the scrolling area on screen
    pub scroll: usize,
    /// groups shown as one row
    pub collapsed: HashSet<String>,
    starts: Option<PeakStarts>,
    genes: Option<GeneIndex>,
    /// per model: the predicted signal along the last view it was asked for
    pub along: HashMap<usize, (Locus, usize, Along)>,
    /// models that predict one value per window (no signal along the view)
    per_peak: HashSet<usize>,
}

impl Default for Tracks {
    fn default() -> Self {
        Tracks {
            data: None,
            frame: None,
            pending: None,
            scale: Scale::Group,
            hidden: Vec::new(),
            scroll: 0,
            collapsed: HashSet::new(),
            starts: None,
            genes: None,
            along: HashMap::new(),
            per_peak: HashSet::new(),
        }
    }
}

pub enum TracksEvent {
    Columns {
        generation: u64,
        locus: Locus,
        data: Vec<Option<Vec<BinSummary>>>,
    },
    Preds(Preds),
    /// the predicted signal of a model along a view
    Along {
        model: usize,
        locus: Locus,
        cols: usize,
        along: Along,
    },
    /// a bigWig could not be read (the row stays empty)
    ReadError(String),
}

/// Column summaries of the view for every track. Newest wins.
pub struct ColumnsTask {
    pub generation: u64,
    pub locus: Locus,
    pub cols: usize,
}

impl Task<Reader, TracksEvent> for ColumnsTask {
    fn run(self: Box<Self>, env: &mut Reader, ctx: &Ctx<TracksEvent>) -> Result<(), String> {
        let (data, errors) = env.binned(&self.locus, self.cols);
        for e in errors {
            ctx.emit(TracksEvent::ReadError(e));
        }
        ctx.emit(TracksEvent::Columns { generation: self.generation, locus: self.locus, data });
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The predicted signal of a binned or profile model along the view (tiled model windows,
/// cached by the model server). Newest wins per model.
pub struct AlongTask {
    pub model: usize,
    pub locus: Locus,
    pub cols: usize,
}

/// Lane of [`AlongTask`]s (or-ed with the model; apart from the per-peak predictions).
const ALONG_LANE: u64 = 1 << 40;

impl Task<ModelClient, TracksEvent> for AlongTask {
    fn key(&self) -> u64 {
        ALONG_LANE | self.model as u64
    }
    fn run(self: Box<Self>, env: &mut ModelClient, ctx: &Ctx<TracksEvent>) -> Result<(), String> {
        match env.along_view(self.model, &self.locus, self.cols, &ctx.cancel_flag()) {
            Ok(along) => {
                ctx.emit(TracksEvent::Along { model: self.model, locus: self.locus, cols: self.cols, along });
                Ok(())
            }
            // a newer view asked for it: not an error
            Err(_) if ctx.cancelled() => Ok(()),
            Err(e) => Err(format!("{e:#}")),
        }
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Rows of the track area of `s`: one fewer with a variants row.
fn area_rows(s: &Shared) -> usize {
    track_area_rows(s.rows, s.panel.is_some()).saturating_sub(s.variant_row.is_some() as usize)
}

/// Rows of the track area (between the position bar and the peak and gene rows) for a
/// terminal of `rows` lines with or without a panel open; the App's layout is the same.
pub fn track_area_rows(rows: u16, panel_open: bool) -> usize {
    let panel_h = if panel_open && rows >= 18 { (rows * 2 / 5).max(9) } else { 0 };
    // header, status, position bar, peaks, genes
    (rows.saturating_sub(panel_h) as usize).saturating_sub(5)
}

impl Tracks {
    pub fn is_hidden(&self, t: usize) -> bool {
        self.hidden.get(t).copied().unwrap_or(false)
    }

    /// The locus on screen (None before the first data arrive).
    pub fn shown_locus(&self) -> Option<&Locus> {
        self.data.as_ref().map(|(l, _)| l)
    }

    fn transform(&self, v: f64) -> f64 {
        if self.scale == Scale::Log {
            (v.max(0.0) + 1.0).log2()
        } else {
            v
        }
    }

    fn group_of<'a>(&self, s: &'a Shared, t: usize) -> Option<&'a str> {
        s.config.as_ref().and_then(|c| c.tracks.get(t)).and_then(|t| t.group.as_deref())
    }

    /// The rows of the scrolling area, in order.
    pub fn rows(&self, s: &Shared) -> Vec<Row> {
        let models = if s.models.names.is_empty() { 0 } else { 1 + s.models.compare.is_some() as usize };
        let mut out = Vec::new();
        let mut groups_done = HashSet::new();
        for t in 0..s.tracks.len() {
            if self.is_hidden(t) {
                continue;
            }
            if let Some(g) = self.group_of(s, t).filter(|g| self.collapsed.contains(*g)) {
                if groups_done.insert(g) {
                    let members = (0..s.tracks.len()).filter(|&u| self.group_of(s, u) == Some(g) && !self.is_hidden(u)).collect();
                    out.push(Row::Group(g.to_string(), members));
                }
                continue;
            }
            out.push(Row::Measured(t));
            out.extend((0..models).map(|k| Row::Pred(t, k)));
        }
        out
    }

    /// Scroll so that the focused cell type's rows are on screen.
    fn follow_focus(&mut self, s: &Shared) {
        let rows = self.rows(s);
        let visible = area_rows(s).max(1);
        let t = s.focused_track;
        let Some(first) =
            rows.iter().position(|r| matches!(r, Row::Measured(u) | Row::Pred(u, _) if *u == t) || matches!(r, Row::Group(_, m) if m.contains(&t)))
        else {
            return;
        };
        let last = rows.iter().rposition(|r| matches!(r, Row::Measured(u) | Row::Pred(u, _) if *u == t)).unwrap_or(first);
        if first < self.scroll {
            self.scroll = first;
        } else if last >= self.scroll + visible {
            self.scroll = (last + 1).saturating_sub(visible).min(first);
        }
    }

    fn clamp_scroll(&mut self, s: &Shared) {
        let visible = area_rows(s).max(1);
        self.scroll = self.scroll.min(self.rows(s).len().saturating_sub(visible));
    }

    /// Peaks of the view to predict: all at narrow views, one per column at wide ones.
    fn to_predict(&self, s: &Shared, starts: &PeakStarts) -> Vec<usize> {
        let l = &s.locus;
        let range = starts.range(&l.chrom, l.start, l.end);
        if range.len() <= PREDICT_IN_VIEW {
            return range.filter(|&i| s.peaks.get(i).is_some_and(|p| p.end > l.start && p.start < l.end)).collect();
        }
        (0..s.cols)
            .filter_map(|c| {
                let r = starts.range(&l.chrom, summary::edge(l, s.cols, c), summary::edge(l, s.cols, c + 1));
                // the range also holds earlier peaks that may reach in: take one starting here
                let here: Vec<usize> = r.filter(|&i| s.peaks.get(i).is_some_and(|p| p.start >= summary::edge(l, s.cols, c))).collect();
                here.get(here.len() / 2).copied()
            })
            .collect()
    }

    /// Per shown model and track, the maximum prediction per column of `locus`.
    fn pred_columns(&self, s: &Shared, locus: &Locus, cols: usize) -> (Vec<Vec<Vec<f32>>>, usize) {
        let Some(starts) = &self.starts else { return (vec![], 0) };
        let range = starts.range(&locus.chrom, locus.start, locus.end);
        let shown: Vec<usize> = std::iter::once(s.models.active).chain(s.models.compare).filter(|_| !s.models.names.is_empty()).collect();
        let mut out = vec![vec![vec![f32::NAN; cols]; s.tracks.len()]; shown.len()];
        let mut predicted = 0;
        for (k, &m) in shown.iter().enumerate() {
            if let Some((_, _, Along::Signal { values, .. })) = self.along.get(&m).filter(|(l, c, _)| l == locus && *c == cols) {
                for (t, row) in values.iter().enumerate().take(s.tracks.len()) {
                    out[k][t] = row.clone();
                }
                if k == 0 {
                    predicted = range.clone().filter(|&i| s.models.preds.contains_key(&(m, i))).count();
                }
                continue;
            }
            // whichever is smaller: the peaks in view, or the predictions made so far
            let peaks: Vec<usize> = if range.len() <= s.models.preds.len() {
                range.clone().filter(|&i| s.models.preds.contains_key(&(m, i))).collect()
            } else {
                s.models.preds.keys().filter(|(mm, i)| *mm == m && range.contains(i)).map(|&(_, i)| i).collect()
            };
            for i in peaks {
                let (Some(p), Some(v)) = (s.peaks.get(i), s.models.preds.get(&(m, i))) else { continue };
                if p.end <= locus.start || p.start >= locus.end {
                    continue;
                }
                if k == 0 {
                    predicted += 1;
                }
                let (c1, c2) = summary::span(locus, cols, p.start, p.end);
                for (t, &x) in v.iter().enumerate().take(s.tracks.len()) {
                    if !x.is_finite() {
                        continue;
                    }
                    for cell in &mut out[k][t][c1.min(cols)..c2] {
                        if cell.is_nan() || x > *cell {
                            *cell = x;
                        }
                    }
                }
            }
        }
        (out, predicted)
    }

    fn build_frame(&mut self, s: &Shared) -> Frame {
        if self.starts.is_none() {
            self.starts = Some(PeakStarts::new(&s.peaks));
        }
        if self.genes.is_none() {
            self.genes = s.genes.as_ref().map(GeneIndex::new);
        }
        let (locus, cols) = (s.locus.clone(), s.cols);
        let ubi = |l: Option<&str>| s.is_ubiquitous(l);
        let peaks = summary::peak_row(&s.peaks, self.starts.as_ref().expect("built above"), &locus, cols, s.selected, &ubi);
        let genes = self.genes.as_ref().map(|g| summary::gene_row(g, &locus, cols));
        let (preds, predicted) = self.pred_columns(s, &locus, cols);
        let along = self.along_shown(s, &locus, cols);
        Frame { locus, cols, peaks, genes, preds, predicted, along }
    }

    /// Per shown model: whether the signal along `locus` is there to draw.
    fn along_shown(&self, s: &Shared, locus: &Locus, cols: usize) -> Vec<bool> {
        let shown = std::iter::once(s.models.active).chain(s.models.compare).filter(|_| !s.models.names.is_empty());
        shown.map(|m| self.along.get(&m).is_some_and(|(l, c, a)| l == locus && *c == cols && matches!(a, Along::Signal { .. }))).collect()
    }

    fn update_preds(&mut self, s: &Shared) {
        if let Some((locus, cols)) = self.frame.as_ref().map(|f| (f.locus.clone(), f.cols)) {
            let (p, n) = self.pred_columns(s, &locus, cols);
            let a = self.along_shown(s, &locus, cols);
            if let Some(f) = self.frame.as_mut() {
                (f.preds, f.predicted, f.along) = (p, n, a);
            }
        }
        if let Some((locus, cols)) = self.pending.as_ref().map(|f| (f.locus.clone(), f.cols)) {
            let (p, n) = self.pred_columns(s, &locus, cols);
            let a = self.along_shown(s, &locus, cols);
            if let Some(f) = self.pending.as_mut() {
                (f.preds, f.predicted, f.along) = (p, n, a);
            }
        }
    }
}

impl Component for Tracks {
    type Event = TracksEvent;
    const NAME: &'static str = "tracks";
    const PANEL: bool = false;

    fn update(&mut self, ev: Event<TracksEvent>, s: &mut Shared) -> Outcome<TracksEvent> {
        match ev {
            Event::Command(Action::ToggleScale, _) => {
                self.scale = match self.scale {
                    Scale::Group => Scale::PerTrack,
                    Scale::PerTrack => Scale::Log,
                    Scale::Log => Scale::Group,
                };
                Outcome::none()
            }
            Event::Command(Action::ToggleTrack, _) => {
                if self.hidden.len() != s.tracks.len() {
                    self.hidden = vec![false; s.tracks.len()];
                }
                if let Some(h) = self.hidden.get_mut(s.focused_track) {
                    *h = !*h;
                    s.status = format!("{} {}", s.tracks[s.focused_track], if *h { "hidden" } else { "shown" });
                }
                self.clamp_scroll(s);
                Outcome::none()
            }
            Event::Command(Action::CycleTrack, n) => {
                if !s.tracks.is_empty() {
                    s.focused_track = (s.focused_track + n) % s.tracks.len();
                    s.status = format!("focus on {} (ISM panel, peak list, x, G)", s.tracks[s.focused_track]);
                    self.follow_focus(s);
                }
                Outcome::none()
            }
            Event::Command(a @ (Action::ScrollTracksDown | Action::ScrollTracksUp), n) => {
                self.scroll = if a == Action::ScrollTracksDown { self.scroll.saturating_add(n) } else { self.scroll.saturating_sub(n) };
                self.clamp_scroll(s);
                let (rows, visible) = (self.rows(s).len(), area_rows(s));
                s.status =
                    format!("track rows {}–{} of {rows} (J/K scroll, c focuses, G collapses a group)", self.scroll + 1, (self.scroll + visible).min(rows));
                Outcome::none()
            }
            Event::Command(Action::ToggleGroup, _) => {
                match self.group_of(s, s.focused_track).map(str::to_string) {
                    Some(g) => {
                        let now = if self.collapsed.remove(&g) {
                            "expanded"
                        } else {
                            self.collapsed.insert(g.clone());
                            "collapsed"
                        };
                        s.status = format!("group {g} {now}");
                    }
                    None => s.status = format!("{} has no group (give [[tracks]] a group = \"…\" in the config)", s.focused_name().unwrap_or("this track")),
                }
                self.clamp_scroll(s);
                Outcome::none()
            }
            Event::Command(..) => Outcome::Ignored,
            Event::Refresh => {
                self.clamp_scroll(s);
                let frame = self.build_frame(s);
                let mut jobs = vec![Job::Read(Box::new(ColumnsTask { generation: s.generation, locus: s.locus.clone(), cols: s.cols }) as Box<dyn Task<_, _>>)];
                let want = self.to_predict(s, self.starts.as_ref().expect("built by build_frame"));
                for m in std::iter::once(s.models.active).chain(s.models.compare) {
                    jobs.extend(s.predict_missing(m, &want, want.len(), TracksEvent::Preds));
                    let known = self.along.get(&m).is_some_and(|(l, c, _)| *l == s.locus && *c == s.cols);
                    if s.models.ready && m < s.models.names.len() && !self.per_peak.contains(&m) && !known {
                        jobs.push(Job::Model(Box::new(AlongTask { model: m, locus: s.locus.clone(), cols: s.cols })));
                    }
                }
                if self.data.as_ref().is_some_and(|(l, _)| *l == frame.locus) && self.frame.as_ref().is_some_and(|f| f.cols == frame.cols) {
                    // the same locus (a new selection or model): redraw at once
                    self.frame = Some(frame);
                    self.pending = None;
                } else {
                    self.pending = Some(frame);
                }
                Outcome::Done(jobs)
            }
            Event::Reply(ReplyKind::Event(TracksEvent::Columns { generation, locus, data })) => {
                // a reply for a view the user left is dropped
                if generation == s.generation && locus == s.locus {
                    let frame = match self.pending.take() {
                        Some(f) if f.locus == locus => f,
                        other => {
                            self.pending = other;
                            self.build_frame(s)
                        }
                    };
                    self.frame = Some(frame);
                    self.data = Some((locus, data));
                }
                Outcome::none()
            }
            Event::Reply(ReplyKind::Event(TracksEvent::Along { model, locus, cols, along })) => {
                if along == Along::PerPeak {
                    self.per_peak.insert(model);
                }
                self.along.insert(model, (locus, cols, along));
                self.update_preds(s);
                Outcome::none()
            }
            Event::Reply(ReplyKind::Event(TracksEvent::Preds(p))) => {
                s.store_preds(p);
                self.update_preds(s);
                Outcome::none()
            }
            Event::Reply(ReplyKind::Event(TracksEvent::ReadError(e)) | ReplyKind::Failed(e)) => {
                tracing::warn!("{e}");
                s.status = e;
                Outcome::none()
            }
            Event::Reply(ReplyKind::Progress { .. } | ReplyKind::Finished { .. }) => Outcome::none(),
        }
    }

    fn draw(&self, area: Rect, buf: &mut Buffer, s: &Shared) {
        let dim = Style::default().fg(Color::Indexed(244));
        let w = area.width;
        if area.height < 3 || w <= LABEL_W {
            return;
        }
        let x0 = area.x + LABEL_W;
        let cols_room = w.saturating_sub(LABEL_W) as usize;
        // what is on screen: the frame of the data that arrived (else the one on its way)
        let frame = self.frame.as_ref().filter(|f| self.data.as_ref().is_some_and(|(l, _)| *l == f.locus)).or(self.pending.as_ref());
        let locus = frame.map(|f| &f.locus).unwrap_or(&s.locus);
        let cols = frame.map(|f| f.cols).unwrap_or(s.cols).min(cols_room);
        let measured = self.data.as_ref().filter(|(l, _)| l == locus).map(|(_, d)| d);
        // chromosome position bar
        let mut y = area.y;
        let len = s.chroms.len_of(&locus.chrom).unwrap_or(locus.end).max(1);
        buf.set_stringn(area.x, y, format!("{:<width$}", truncate(&locus.chrom, LABEL_W as usize - 1), width = LABEL_W as usize), w as usize, dim);
        let (a, b) = ((locus.start as u128 * cols as u128 / len as u128) as usize, (locus.end as u128 * cols as u128 / len as u128) as usize);
        for c in 0..cols {
            let ch = if c >= a && c <= b.max(a) { "█" } else { "─" };
            buf.set_string(x0 + c as u16, y, ch, if ch == "█" { Style::default().fg(Color::Indexed(250)) } else { dim });
        }
        y += 1;
        let vrow = (s.variant_row.is_some() && area.height >= 4) as u16;
        let bottom = area.y + area.height - 2 - vrow; // peaks, genes, variants
        if vrow == 1 {
            crate::tui::components::variants::draw_row(buf, area.x, bottom + 2, cols, locus, s);
        }
        let visible = bottom.saturating_sub(y) as usize;
        // measured column means (transformed), per track
        let meas: Vec<Option<Vec<f64>>> = (0..s.tracks.len())
            .map(|t| {
                measured
                    .and_then(|d| d.get(t))
                    .map(|d| d.as_ref().map(|bins| bins.iter().map(|b| self.transform(b.mean().unwrap_or(0.0))).collect()).unwrap_or_default())
            })
            .collect();
        let group_max = meas.iter().flatten().flatten().cloned().fold(0.0, f64::max);
        let preds = frame.map(|f| &f.preds);
        let pred_of = |k: usize, t: usize| preds.and_then(|p| p.get(k)).and_then(|p| p.get(t));
        let pred_max =
            preds.map(|p| p.iter().flatten().flatten().filter(|x| x.is_finite()).map(|&x| self.transform(x as f64)).fold(0.0, f64::max)).unwrap_or(0.0);
        let wide = frame.is_some_and(|f| f.peaks.density);
        let rows = self.rows(s);
        let scroll = self.scroll.min(rows.len().saturating_sub(visible.max(1)));
        for row in rows.iter().skip(scroll).take(visible) {
            match row {
                Row::Measured(t) => {
                    let style = Style::default().fg(track_color(*t));
                    let label_style = if *t == s.focused_track { style.add_modifier(Modifier::BOLD | Modifier::UNDERLINED) } else { style };
                    buf.set_stringn(area.x, y, format!("{:<width$}", s.tracks[*t], width = LABEL_W as usize - 1), LABEL_W as usize - 1, label_style);
                    match &meas[*t] {
                        Some(row) => {
                            let max = if self.scale == Scale::PerTrack { row.iter().cloned().fold(0.0, f64::max) } else { group_max };
                            for (c, v) in row.iter().take(cols).enumerate() {
                                buf.set_string(x0 + c as u16, y, level(*v, max).to_string(), style);
                            }
                        }
                        None => buf.set_string(x0, y, "… loading", dim),
                    }
                }
                Row::Pred(t, k) => {
                    let name = if *k == 0 { "pred" } else { "vs" };
                    let signal = frame.is_some_and(|f| f.along.get(*k).copied().unwrap_or(false));
                    let label = match (*k, wide) {
                        // the predicted signal along the view (mean per bp per column)
                        (0, _) if signal => "  pred ~".to_string(),
                        (_, _) if signal => format!("  ~{}", s.models.compare.and_then(|m| s.models.names.get(m)).map(String::as_str).unwrap_or(name)),
                        (0, false) => "  pred".to_string(),
                        (0, true) => "  pred max".to_string(),
                        (_, false) => format!("  vs {}", s.models.compare.and_then(|m| s.models.names.get(m)).map(String::as_str).unwrap_or(name)),
                        (_, true) => "  vs max".to_string(),
                    };
                    buf.set_stringn(area.x, y, &label, LABEL_W as usize - 1, dim);
                    let st = if *k == 0 { Style::default().fg(track_color(*t)).add_modifier(Modifier::DIM) } else { Style::default().fg(Color::Indexed(250)) };
                    if let Some(v) = pred_of(*k, *t) {
                        let vals: Vec<f64> = v.iter().map(|&x| if x.is_finite() { self.transform(x as f64) } else { f64::NAN }).collect();
                        let max = if self.scale == Scale::PerTrack { vals.iter().cloned().filter(|x| !x.is_nan()).fold(0.0, f64::max) } else { pred_max };
                        for (c, x) in vals.iter().take(cols).enumerate() {
                            if !x.is_nan() {
                                buf.set_string(x0 + c as u16, y, level(*x, max).to_string(), st);
                            }
                        }
                    }
                }
                Row::Group(g, members) => {
                    let style = Style::default().fg(Color::Indexed(252)).add_modifier(Modifier::BOLD);
                    let full = format!("▸{g} {}", members.len());
                    let label = if full.chars().count() < LABEL_W as usize { full } else { truncate(&format!("▸{g}"), LABEL_W as usize - 1) };
                    buf.set_stringn(area.x, y, label, LABEL_W as usize - 1, style);
                    let vals: Vec<f64> =
                        (0..cols).map(|c| members.iter().filter_map(|&t| meas[t].as_ref().and_then(|r| r.get(c))).cloned().fold(0.0, f64::max)).collect();
                    let max = if self.scale == Scale::PerTrack { vals.iter().cloned().fold(0.0, f64::max) } else { group_max };
                    for (c, v) in vals.iter().enumerate() {
                        buf.set_string(x0 + c as u16, y, level(*v, max).to_string(), style);
                    }
                }
            }
            y += 1;
        }
        // a scroll bar in the spacer column after the labels
        if rows.len() > visible && visible > 0 {
            let bar_x = area.x + LABEL_W - 1;
            let (top, size) = (scroll * visible / rows.len(), (visible * visible).div_ceil(rows.len()).max(1));
            for k in 0..visible {
                let on = k >= top && k < top + size;
                buf.set_string(bar_x, area.y + 1 + k as u16, if on { "┃" } else { "│" }, if on { Style::default().fg(Color::Indexed(250)) } else { dim });
            }
        }
        // peaks
        let py = bottom;
        let Some(f) = frame else {
            buf.set_stringn(area.x, py, "peaks", LABEL_W as usize, dim);
            buf.set_stringn(area.x, py + 1, "genes", LABEL_W as usize, dim);
            return;
        };
        buf.set_stringn(area.x, py, if f.peaks.density { "peaks/col" } else { "peaks" }, LABEL_W as usize, dim);
        let max_count = f.peaks.cells.iter().map(|c| c.count).max().unwrap_or(0) as f64;
        for (c, cell) in f.peaks.cells.iter().enumerate().take(cols) {
            if cell.count == 0 && !cell.selected {
                continue;
            }
            let color = if cell.ubiquitous { Color::Indexed(41) } else { Color::Indexed(170) };
            let mut st = Style::default().fg(color);
            if cell.selected {
                st = st.fg(Color::Indexed(226)).add_modifier(Modifier::BOLD | Modifier::REVERSED);
            }
            let ch = if f.peaks.density { level(cell.count as f64, max_count).to_string() } else { "▬".to_string() };
            buf.set_string(x0 + c as u16, py, if ch == " " { "▁" } else { &ch }, st);
        }
        // genes
        let gy = py + 1;
        let Some(g) = &f.genes else {
            buf.set_stringn(area.x, gy, "genes", LABEL_W as usize, dim);
            return;
        };
        buf.set_stringn(area.x, gy, if g.density { "genes/col" } else { "genes" }, LABEL_W as usize, dim);
        let gene_style = Style::default().fg(Color::Indexed(110));
        for (c, cell) in g.cells.iter().enumerate().take(cols) {
            let (text, st) = match cell {
                GeneCell::Empty => continue,
                GeneCell::Body(ch) => (ch.to_string(), gene_style),
                GeneCell::Name(ch) => (ch.to_string(), gene_style.add_modifier(Modifier::BOLD)),
                GeneCell::Density(l) => (crate::tui::view::LEVEL_CHARS[*l as usize].to_string(), gene_style.add_modifier(Modifier::DIM)),
            };
            buf.set_string(x0 + c as u16, gy, text, st);
        }
    }
}
