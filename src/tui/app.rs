//! App state and its transitions: no IO. Keys and job results go in; requests for data
//! (which the runtime hands to the jobs) come out.
use super::keymap::{Action, Keymap};
use crate::genome::bigwig::BinSummary;
use crate::genome::genes::Genes;
use crate::genome::locus::{parse_locus, LocusQuery};
use crate::genome::{ChromNames, Locus, PeakSet};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::HashMap;

/// Label column width of the track panel.
pub const LABEL_W: u16 = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// one y-scale for all measured rows (and one for predicted)
    Group,
    /// each row scaled to its own maximum
    PerTrack,
    /// log2(x + 1), grouped
    Log,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// typing into the goto / search line
    Prompt {
        search: bool,
        text: String,
    },
    Help,
}

/// The panel under the tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    None,
    Ism,
    Metrics,
    Peaks,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeakSort {
    Measured,
    Predicted,
    Error,
    Specificity,
    Position,
}

/// The peak list: which peaks, in which order, and the cursor.
#[derive(Debug, Clone)]
pub struct PeakList {
    pub in_cluster: bool,
    pub sort: PeakSort,
    pub cursor: usize,
}

/// Work the runtime must start (latest request wins; `generation` tells stale replies apart).
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Tracks {
        generation: u64,
        locus: Locus,
        cols: usize,
    },
    Predict {
        generation: u64,
        model: usize,
        peaks: Vec<usize>,
    },
    Ism {
        model: usize,
        peak: usize,
    },
    EvalStart,
    EvalStop,
    /// `:w FILE`
    SaveSession(std::path::PathBuf),
    /// `:export FILE` (.svg or text)
    Export(std::path::PathBuf),
    /// measured heights (central-window sums per track) of these peaks
    Heights {
        peaks: Vec<usize>,
    },
}

/// ISM of one peak as it streams in.
#[derive(Debug, Clone)]
pub struct IsmView {
    pub peak: usize,
    pub model: usize,
    /// genomic 0-based start of the mutated region
    pub region_start: i64,
    /// reference bases of the region
    pub seq: Vec<u8>,
    /// (offset in region, alt base 0..4)
    pub mutants: Vec<(u32, u8)>,
    /// per region offset and base: index into `mutants` (None for the reference base)
    pub index: Vec<[Option<usize>; 4]>,
    /// reference prediction per track (NaN: model has no output for it)
    pub ref_pred: Vec<f32>,
    /// per mutant, per track; NaN until computed
    pub alt_pred: Vec<Vec<f32>>,
    pub done: usize,
    /// best-matching motif at the strongest hot spot, per track
    pub motifs: Vec<Option<String>>,
    pub finished: bool,
}

impl IsmView {
    /// delta (alt − ref) for a region offset and base, or None for the reference base or
    /// a mutant not computed yet.
    pub fn delta(&self, offset: usize, base: usize, track: usize) -> Option<f32> {
        let k = self.index.get(offset)?[base]?;
        let v = self.alt_pred[k][track] - self.ref_pred[track];
        v.is_finite().then_some(v)
    }
}

/// The evaluation as it runs.
#[derive(Debug, Clone, Default)]
pub struct EvalView {
    pub running: bool,
    pub done: usize,
    pub total: usize,
    pub snapshot: Option<crate::eval::report::Snapshot>,
    pub strata: Vec<String>,
}

pub struct App {
    pub tracks: Vec<String>,
    pub models: Vec<String>,
    pub model: usize,
    pub chroms: ChromNames,
    pub peaks: PeakSet,
    pub ubiquitous: Vec<String>,
    pub genes: Option<Genes>,
    pub locus: Locus,
    pub selected: Option<usize>,
    pub mode: Mode,
    pub count: Option<usize>,
    pub status: String,
    pub scale: Scale,
    pub keymap: Keymap,
    /// columns of the track panel (terminal width − labels)
    pub cols: usize,
    pub rows: u16,
    pub generation: u64,
    /// measured column summaries for `data_locus`, per track (None: chromosome absent)
    pub data: Option<(Locus, Vec<Option<Vec<BinSummary>>>)>,
    /// predictions per (model, peak index): one value per track (NaN: output not mapped)
    pub preds: HashMap<(usize, usize), Vec<f32>>,
    pub device: String,
    pub models_ready: bool,
    pub quit: bool,
    pub panel: Panel,
    pub ism: Option<IsmView>,
    /// track shown in the ISM panel
    pub ism_track: usize,
    pub eval: EvalView,
    /// per peak: number of tracks whose own calls overlap it (when known)
    pub specificity: Vec<Option<u32>>,
    /// measured height per peak (per track), as loaded
    pub heights: HashMap<usize, Vec<f64>>,
    pub list: PeakList,
    /// cell types hidden from the track panel
    pub hidden: Vec<bool>,
    /// a second model whose predictions are drawn under the active one's
    pub compare: Option<usize>,
}

impl App {
    pub fn new(tracks: Vec<String>, models: Vec<String>, chroms: ChromNames, peaks: PeakSet, ubiquitous: Vec<String>, genes: Option<Genes>) -> App {
        let locus = match peaks.get(0) {
            Some(p) => {
                let c = p.start + (p.end - p.start) / 2;
                Locus::new(p.chrom.clone(), c.saturating_sub(5_000), c + 5_000)
            }
            None => Locus::new(chroms.names().first().cloned().unwrap_or_default(), 0, chroms.lengths().first().copied().unwrap_or(10_000).min(10_000)),
        };
        App {
            tracks,
            models,
            model: 0,
            chroms,
            peaks,
            ubiquitous,
            genes,
            locus,
            selected: None,
            mode: Mode::Normal,
            count: None,
            status: "? help · : goto · n/N peaks · q quit".into(),
            scale: Scale::Group,
            keymap: Keymap::default(),
            cols: 80,
            rows: 24,
            generation: 0,
            data: None,
            preds: HashMap::new(),
            device: String::new(),
            models_ready: false,
            quit: false,
            panel: Panel::None,
            ism: None,
            ism_track: 0,
            eval: EvalView::default(),
            specificity: Vec::new(),
            heights: HashMap::new(),
            list: PeakList { in_cluster: false, sort: PeakSort::Measured, cursor: 0 },
            hidden: Vec::new(),
            compare: None,
        }
    }

    pub fn chrom_len(&self) -> u64 {
        self.chroms.len_of(&self.locus.chrom).unwrap_or(self.locus.end)
    }

    /// Move the view, clamped to the chromosome; width at least 100 bp.
    pub fn set_view(&mut self, chrom: &str, start: i64, width: u64) {
        let chrom = self.chroms.resolve(chrom).unwrap_or(chrom).to_string();
        let len = self.chroms.len_of(&chrom).unwrap_or(u64::MAX / 4);
        let width = width.clamp(100, len.max(100));
        let start = start.clamp(0, (len.saturating_sub(width)) as i64) as u64;
        self.locus = Locus::new(chrom, start, (start + width).min(len));
    }

    /// Requests that bring the view's data up to date.
    pub fn refresh(&mut self) -> Vec<Request> {
        self.generation += 1;
        let mut out = vec![Request::Tracks { generation: self.generation, locus: self.locus.clone(), cols: self.cols }];
        let in_view = self.peaks.overlapping(&self.locus.chrom, self.locus.start, self.locus.end);
        if self.models_ready && !self.models.is_empty() {
            for m in std::iter::once(self.model).chain(self.compare) {
                out.extend(self.predict_missing(m, &in_view, 200));
            }
        }
        if self.panel == Panel::Peaks {
            let source = self.list_source();
            let need: Vec<usize> = source.iter().copied().filter(|i| !self.heights.contains_key(i)).take(2000).collect();
            if !need.is_empty() {
                out.push(Request::Heights { peaks: need });
            }
            if self.models_ready && !self.models.is_empty() {
                out.extend(self.predict_missing(self.model, &source, 500));
            }
        }
        out
    }

    /// A prediction request for those of `peaks` that `model` has no prediction for yet.
    fn predict_missing(&self, model: usize, peaks: &[usize], at_most: usize) -> Option<Request> {
        let missing: Vec<usize> = peaks.iter().copied().filter(|&i| !self.preds.contains_key(&(model, i))).take(at_most).collect();
        (!missing.is_empty()).then_some(Request::Predict { generation: self.generation, model, peaks: missing })
    }

    /// Peaks the list draws from: those in view, or all of the selected peak's cluster.
    pub fn list_source(&self) -> Vec<usize> {
        match (self.list.in_cluster, self.peak_filter()) {
            (true, Some(label)) => (0..self.peaks.len()).filter(|&i| self.peaks.get(i).unwrap().label.as_deref() == Some(label.as_str())).collect(),
            _ => self.peaks.overlapping(&self.locus.chrom, self.locus.start, self.locus.end),
        }
    }

    /// (measured, predicted) height of a peak for the list's track, when known.
    pub fn list_values(&self, i: usize) -> (Option<f64>, Option<f64>) {
        let t = self.ism_track;
        let m = self.heights.get(&i).and_then(|v| v.get(t)).copied();
        let p = self.preds.get(&(self.model, i)).and_then(|v| v.get(t)).map(|&x| x as f64).filter(|x| x.is_finite());
        (m, p)
    }

    /// The list in its current order.
    pub fn list_rows(&self) -> Vec<usize> {
        let mut rows = self.list_source();
        let key = |i: usize| -> f64 {
            let (m, p) = self.list_values(i);
            match self.list.sort {
                PeakSort::Measured => -m.unwrap_or(f64::NEG_INFINITY),
                PeakSort::Predicted => -p.unwrap_or(f64::NEG_INFINITY),
                PeakSort::Error => match (m, p) {
                    (Some(m), Some(p)) => -((p + 1.0).log2() - (m + 1.0).log2()).abs(),
                    _ => f64::INFINITY,
                },
                PeakSort::Specificity => self.specificity.get(i).copied().flatten().map(|s| s as f64).unwrap_or(f64::INFINITY),
                PeakSort::Position => i as f64,
            }
        };
        rows.sort_by(|&a, &b| key(a).total_cmp(&key(b)).then(a.cmp(&b)));
        rows
    }

    pub fn on_heights(&mut self, peaks: Vec<usize>, values: Vec<Vec<f64>>) {
        for (p, v) in peaks.into_iter().zip(values) {
            self.heights.insert(p, v);
        }
    }

    fn take_count(&mut self) -> usize {
        self.count.take().unwrap_or(1).max(1)
    }

    fn peak_filter(&self) -> Option<String> {
        self.selected.and_then(|i| self.peaks.get(i)).and_then(|p| p.label.clone())
    }

    fn jump_to_peak(&mut self, i: usize) {
        let p = self.peaks.get(i).unwrap().clone();
        self.selected = Some(i);
        let width = self.locus.len().max(2 * (p.end - p.start));
        let c = (p.start + (p.end - p.start) / 2) as i64;
        self.set_view(&p.chrom.clone(), c - (width / 2) as i64, width);
        self.status = format!("{} {} {}", p.display_name(), p.locus().display(), p.label.as_deref().unwrap_or(""));
    }

    /// Resolve what was typed in the goto box: locus, chromosome, gene or peak name.
    pub fn goto(&mut self, text: &str) -> Result<(), String> {
        match parse_locus(text).map_err(|e| e.to_string())? {
            LocusQuery::Range(l) => {
                if self.chroms.resolve(&l.chrom).is_none() {
                    return Err(format!("no chromosome '{}' (have {})", l.chrom, self.chroms.preview()));
                }
                self.set_view(&l.chrom, l.start as i64, l.len());
            }
            LocusQuery::Point { chrom, pos } => {
                if self.chroms.resolve(&chrom).is_none() {
                    return Err(format!("no chromosome '{chrom}'"));
                }
                let w = self.locus.len();
                self.set_view(&chrom, pos as i64 - (w / 2) as i64, w);
            }
            LocusQuery::Word(w) => {
                if let Some(name) = self.chroms.resolve(&w).map(str::to_string) {
                    let len = self.chroms.len_of(&name).unwrap_or(0);
                    self.set_view(&name, 0, len);
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

    /// One key press.
    pub fn on_key(&mut self, ev: KeyEvent) -> Vec<Request> {
        match self.mode.clone() {
            Mode::Help => {
                self.mode = Mode::Normal;
                return vec![];
            }
            Mode::Prompt { search, mut text } => {
                match ev.code {
                    KeyCode::Esc => self.mode = Mode::Normal,
                    KeyCode::Enter => {
                        self.mode = Mode::Normal;
                        let t = text.trim();
                        if !search {
                            if let Some(f) = t.strip_prefix("w ").map(str::trim).filter(|f| !f.is_empty()) {
                                return vec![Request::SaveSession(f.into())];
                            }
                            if let Some(f) = t.strip_prefix("export ").map(str::trim).filter(|f| !f.is_empty()) {
                                return vec![Request::Export(f.into())];
                            }
                            if t == "q" {
                                self.quit = true;
                                return vec![];
                            }
                        }
                        return match self.goto(t) {
                            Ok(()) => self.refresh(),
                            Err(e) => {
                                self.status = e;
                                vec![]
                            }
                        };
                    }
                    KeyCode::Backspace => {
                        text.pop();
                        self.mode = Mode::Prompt { search, text };
                    }
                    KeyCode::Char(c) if !ev.modifiers.contains(KeyModifiers::CONTROL) => {
                        text.push(c);
                        self.mode = Mode::Prompt { search, text };
                    }
                    _ => {}
                }
                return vec![];
            }
            Mode::Normal => {}
        }
        if let KeyCode::Char(c @ '0'..='9') = ev.code {
            if c != '0' || self.count.is_some() {
                self.count = Some(self.count.unwrap_or(0).saturating_mul(10).saturating_add(c as usize - '0' as usize).min(1_000_000));
                return vec![];
            }
        }
        let Some(action) = self.keymap.action(&ev) else {
            self.count = None;
            return vec![];
        };
        self.apply(action)
    }

    pub fn apply(&mut self, action: Action) -> Vec<Request> {
        let n = self.take_count() as i64;
        let w = self.locus.len();
        let chrom = self.locus.chrom.clone();
        let start = self.locus.start as i64;
        match action {
            Action::PanLeft => self.set_view(&chrom, start - n * (w as i64 / 10).max(1), w),
            Action::PanRight => self.set_view(&chrom, start + n * (w as i64 / 10).max(1), w),
            Action::PanScreenLeft => self.set_view(&chrom, start - n * w as i64, w),
            Action::PanScreenRight => self.set_view(&chrom, start + n * w as i64, w),
            Action::ZoomIn | Action::ZoomOut => {
                let f = 2f64.powi(n.min(30) as i32);
                let nw = if action == Action::ZoomIn { (w as f64 / f) as u64 } else { (w as f64 * f).min(1e12) as u64 };
                let c = (self.locus.start + w / 2) as i64;
                self.set_view(&chrom, c - (nw.max(100) / 2) as i64, nw);
            }
            Action::NextPeak | Action::PrevPeak => {
                let filter = self.peak_filter();
                let keep = |p: &crate::genome::Peak| filter.is_none() || p.label == filter;
                let mut cur =
                    self.selected.and_then(|i| self.peaks.get(i)).map(|p| (p.chrom.clone(), p.start)).unwrap_or((chrom.clone(), self.locus.start + w / 2));
                let mut found = None;
                for _ in 0..n {
                    let next =
                        if action == Action::NextPeak { self.peaks.next_after(&cur.0, cur.1, keep) } else { self.peaks.prev_before(&cur.0, cur.1, keep) };
                    match next {
                        Some(i) => {
                            found = Some(i);
                            let p = self.peaks.get(i).unwrap();
                            cur = (p.chrom.clone(), p.start);
                        }
                        None => break,
                    }
                }
                match found {
                    Some(i) => self.jump_to_peak(i),
                    None => {
                        self.status = format!(
                            "no {} peak{}",
                            if action == Action::NextPeak { "next" } else { "previous" },
                            filter.map(|f| format!(" in {f}")).unwrap_or_default()
                        )
                    }
                }
            }
            Action::SelectPeak if self.panel == Panel::Peaks && !self.list_source().is_empty() => {
                let rows = self.list_rows();
                let i = rows[self.list.cursor.min(rows.len() - 1)];
                let keep = self.list.in_cluster;
                self.jump_to_peak(i);
                if !keep {
                    self.list.cursor = 0;
                }
            }
            Action::SelectPeak => {
                let c = self.locus.start + w / 2;
                let near = self.peaks.overlapping(&chrom, self.locus.start, self.locus.end).into_iter().min_by_key(|&i| {
                    let p = self.peaks.get(i).unwrap();
                    (p.start + (p.end - p.start) / 2).abs_diff(c)
                });
                match near {
                    Some(i) => self.jump_to_peak(i),
                    None => self.status = "no peak in view".into(),
                }
            }
            Action::Goto | Action::Search => {
                self.mode = Mode::Prompt { search: action == Action::Search, text: String::new() };
                return vec![];
            }
            Action::CycleModel => {
                if self.models.is_empty() {
                    self.status = "no models in this project".into();
                } else {
                    self.model = (self.model + 1) % self.models.len();
                    self.status = format!("model {}", self.models[self.model]);
                }
            }
            Action::ToggleScale => {
                self.scale = match self.scale {
                    Scale::Group => Scale::PerTrack,
                    Scale::PerTrack => Scale::Log,
                    Scale::Log => Scale::Group,
                };
                return vec![];
            }
            Action::Help => {
                self.mode = Mode::Help;
                return vec![];
            }
            Action::Quit => {
                self.quit = true;
                if self.eval.running {
                    return vec![Request::EvalStop];
                }
                return vec![];
            }
            Action::Ism => {
                let Some(peak) = self.selected else {
                    self.status = "select a peak first (n, N or enter)".into();
                    return vec![];
                };
                if self.models.is_empty() || !self.models_ready {
                    self.status = if self.models.is_empty() { "no models in this project".into() } else { "models are still loading".into() };
                    return vec![];
                }
                self.panel = Panel::Ism;
                self.ism = None;
                self.status = format!("ISM of {} with {}", self.peaks.get(peak).unwrap().display_name(), self.models[self.model]);
                return vec![Request::Ism { model: self.model, peak }];
            }
            Action::Eval => {
                self.panel = Panel::Metrics;
                if self.eval.running {
                    self.status = "stopping the evaluation after this batch".into();
                    return vec![Request::EvalStop];
                }
                if self.models.is_empty() {
                    self.status = "no models to evaluate".into();
                    return vec![];
                }
                self.eval = EvalView { running: true, ..Default::default() };
                self.status = "evaluation started (e stops it)".into();
                return vec![Request::EvalStart];
            }
            Action::NextPanel => {
                self.panel = match self.panel {
                    Panel::None => Panel::Ism,
                    Panel::Ism => Panel::Metrics,
                    Panel::Metrics => Panel::Peaks,
                    Panel::Peaks => Panel::None,
                };
                if self.panel == Panel::Peaks {
                    return self.refresh();
                }
                return vec![];
            }
            Action::ToggleTrack => {
                if self.hidden.len() != self.tracks.len() {
                    self.hidden = vec![false; self.tracks.len()];
                }
                if let Some(h) = self.hidden.get_mut(self.ism_track) {
                    *h = !*h;
                    self.status = format!("{} {}", self.tracks[self.ism_track], if *h { "hidden" } else { "shown" });
                }
                return vec![];
            }
            Action::CompareModel => {
                if self.models.len() < 2 {
                    self.status = "only one model: nothing to compare".into();
                    return vec![];
                }
                let next = |from: usize| (from + 1..self.models.len()).find(|&m| m != self.model);
                self.compare = match self.compare {
                    None => next(0).or_else(|| (0..self.models.len()).find(|&m| m != self.model)),
                    Some(c) => next(c),
                };
                self.status = match self.compare {
                    Some(c) => format!("comparing {} with {}", self.models[self.model], self.models[c]),
                    None => "comparison off".into(),
                };
            }
            Action::ListUp | Action::ListDown => {
                let len = self.list_source().len();
                if self.panel != Panel::Peaks || len == 0 {
                    return vec![];
                }
                let c = self.list.cursor as i64 + if action == Action::ListDown { n } else { -n };
                self.list.cursor = c.clamp(0, len as i64 - 1) as usize;
                return vec![];
            }
            Action::SortPeaks => {
                self.list.sort = match self.list.sort {
                    PeakSort::Measured => PeakSort::Predicted,
                    PeakSort::Predicted => PeakSort::Error,
                    PeakSort::Error => PeakSort::Specificity,
                    PeakSort::Specificity => PeakSort::Position,
                    PeakSort::Position => PeakSort::Measured,
                };
                self.list.cursor = 0;
                self.status = format!("peak list sorted by {:?}", self.list.sort).to_lowercase();
                return vec![];
            }
            Action::ListScope => {
                self.list.in_cluster = !self.list.in_cluster;
                self.list.cursor = 0;
                self.status = match (self.list.in_cluster, self.peak_filter()) {
                    (true, Some(l)) => format!("peak list: cluster {l}"),
                    (true, None) => "peak list: select a peak to list its cluster".into(),
                    _ => "peak list: peaks in view".into(),
                };
                return self.refresh();
            }
            Action::CycleTrack => {
                if !self.tracks.is_empty() {
                    self.ism_track = (self.ism_track + n as usize) % self.tracks.len();
                    self.status = format!("ISM panel shows {}", self.tracks[self.ism_track]);
                }
                return vec![];
            }
        }
        self.refresh()
    }

    pub fn resize(&mut self, width: u16, height: u16) -> Vec<Request> {
        self.cols = width.saturating_sub(LABEL_W).max(10) as usize;
        self.rows = height;
        self.refresh()
    }

    /// Measured data arrived; stale generations are dropped.
    pub fn on_tracks(&mut self, generation: u64, locus: Locus, data: Vec<Option<Vec<BinSummary>>>) {
        if generation == self.generation && locus == self.locus {
            self.data = Some((locus, data));
        }
    }

    /// Predictions arrived (kept whatever the generation: they stay valid for their peaks).
    pub fn on_preds(&mut self, model: usize, peaks: Vec<usize>, values: Vec<Vec<f32>>) {
        for (p, v) in peaks.into_iter().zip(values) {
            self.preds.insert((model, p), v);
        }
    }

    /// ISM started: the plan of the region.
    pub fn on_ism_started(&mut self, peak: usize, model: usize, region_start: i64, seq: Vec<u8>, mutants: Vec<(u32, u8)>) {
        let t = self.tracks.len();
        let m = mutants.len();
        let mut index = vec![[None; 4]; seq.len()];
        for (k, &(o, a)) in mutants.iter().enumerate() {
            if let Some(slot) = index.get_mut(o as usize) {
                slot[a as usize & 3] = Some(k);
            }
        }
        self.ism = Some(IsmView {
            peak,
            model,
            region_start,
            seq,
            mutants,
            index,
            ref_pred: vec![f32::NAN; t],
            alt_pred: vec![vec![f32::NAN; t]; m],
            done: 0,
            motifs: vec![None; t],
            finished: false,
        });
    }

    /// A chunk of mutant predictions (per track) arrived.
    pub fn on_ism_chunk(&mut self, peak: usize, ref_pred: Vec<f32>, first: usize, preds: Vec<Vec<f32>>) {
        if let Some(v) = self.ism.as_mut().filter(|v| v.peak == peak) {
            if !ref_pred.is_empty() {
                v.ref_pred = ref_pred;
            }
            for (k, p) in preds.into_iter().enumerate() {
                if let Some(slot) = v.alt_pred.get_mut(first + k) {
                    *slot = p;
                    v.done += 1;
                }
            }
        }
    }

    pub fn on_ism_done(&mut self, peak: usize, motifs: Vec<Option<String>>) {
        if let Some(v) = self.ism.as_mut().filter(|v| v.peak == peak) {
            v.motifs = motifs;
            v.finished = true;
            self.status = format!("ISM done: {} mutants", v.done);
        }
    }

    pub fn on_eval_progress(&mut self, done: usize, total: usize, snapshot: Option<crate::eval::report::Snapshot>, strata: Vec<String>) {
        self.eval.done = done;
        self.eval.total = total;
        if !strata.is_empty() {
            self.eval.strata = strata;
        }
        if snapshot.is_some() {
            self.eval.snapshot = snapshot;
        }
    }

    pub fn on_eval_done(&mut self, result: Result<(), String>) {
        self.eval.running = false;
        self.status = match result {
            Ok(()) => format!("evaluation finished: {} of {} peaks", self.eval.done, self.eval.total),
            Err(e) => format!("evaluation failed: {e}"),
        };
    }

    pub fn is_hidden(&self, t: usize) -> bool {
        self.hidden.get(t).copied().unwrap_or(false)
    }

    /// Running jobs for the header: ISM and evaluation progress.
    pub fn jobs_line(&self) -> String {
        let mut parts = Vec::new();
        if let Some(v) = self.ism.as_ref().filter(|v| !v.finished) {
            parts.push(format!("ISM {}/{}", v.done, v.mutants.len()));
        }
        if self.eval.running {
            let pct = (100 * self.eval.done).checked_div(self.eval.total).unwrap_or(0);
            parts.push(format!("eval {pct}%"));
        }
        parts.join(" · ")
    }

    pub fn is_ubiquitous(&self, label: Option<&str>) -> bool {
        label.is_some_and(|l| self.ubiquitous.iter().any(|u| u == l))
    }
}
