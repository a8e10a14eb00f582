//! The ISM panel: in-silico saturation mutagenesis of the selected peak with the active
//! model, streamed in as the predictor computes it; a position × base heatmap of deltas for
//! the focused cell type, an importance line and the hot spot's best-matching motif.
use crate::genome::locus::group_thousands;
use crate::genome::Locus;
use crate::jobs::remote::ModelClient;
use crate::jobs::view::IsmUpdate;
use crate::jobs::worker::{Ctx, ReplyKind, Task};
use crate::tui::commands::Action;
use crate::tui::component::{Component, Event, Job, Outcome};
use crate::tui::components::logo::{self, LogoTask, LogoView};
use crate::tui::shared::Shared;
use crate::tui::view::{level, LABEL_W};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use std::any::Any;

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
    /// per mutant, per track: alt − ref height as the model service computes it (f64 sums,
    /// the model's rc/shift views); NaN until computed
    pub deltas: Vec<Vec<f64>>,
    pub done: usize,
    /// best-matching motif at the strongest hot spot, per track
    pub motifs: Vec<Option<String>>,
    pub finished: bool,
}

impl IsmView {
    pub fn new(peak: usize, model: usize, tracks: usize, region_start: i64, seq: Vec<u8>, mutants: Vec<(u32, u8)>) -> IsmView {
        let m = mutants.len();
        let mut index = vec![[None; 4]; seq.len()];
        for (k, &(o, a)) in mutants.iter().enumerate() {
            if let Some(slot) = index.get_mut(o as usize) {
                slot[a as usize & 3] = Some(k);
            }
        }
        IsmView {
            peak,
            model,
            region_start,
            seq,
            mutants,
            index,
            ref_pred: vec![f32::NAN; tracks],
            alt_pred: vec![vec![f32::NAN; tracks]; m],
            deltas: vec![vec![f64::NAN; tracks]; m],
            done: 0,
            motifs: vec![None; tracks],
            finished: false,
        }
    }

    /// delta (alt − ref) for a region offset and base, or None for the reference base or
    /// a mutant not computed yet.
    pub fn delta(&self, offset: usize, base: usize, track: usize) -> Option<f32> {
        let k = self.index.get(offset)?[base]?;
        let v = *self.deltas.get(k)?.get(track)? as f32;
        v.is_finite().then_some(v)
    }
}

#[derive(Default)]
pub struct Ism {
    pub view: Option<IsmView>,
    /// a request is on its way or running
    pub running: bool,
    /// the base-resolution logo view is shown instead of the heatmap
    pub logo_mode: bool,
    pub logo: Option<LogoView>,
    /// first base of the region shown in the logo view
    pub logo_offset: usize,
}

pub enum IsmEvent {
    Started {
        peak: usize,
        model: usize,
        region_start: i64,
        seq: Vec<u8>,
        mutants: Vec<(u32, u8)>,
    },
    /// the reference prediction per track
    Reference {
        peak: usize,
        values: Vec<f32>,
    },
    /// predictions per track for mutants `first..`
    Chunk {
        peak: usize,
        first: usize,
        preds: Vec<Vec<f32>>,
        deltas: Vec<Vec<f64>>,
    },
    Done {
        peak: usize,
        motifs: Vec<Option<String>>,
    },
    /// base-resolution attributions for the logo view
    Logo(LogoView),
}

impl Task<ModelClient, IsmEvent> for LogoTask {
    fn key(&self) -> u64 {
        1
    }
    fn run(self: Box<Self>, env: &mut ModelClient, ctx: &Ctx<IsmEvent>) -> Result<(), String> {
        if let Some(v) = self.compute(env, || ctx.cancelled())? {
            ctx.emit(IsmEvent::Logo(v));
        }
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Ism {
    /// The logo job for the selected peak with the active and compared models, unless its
    /// view is there already.
    fn logo_job(&self, s: &Shared) -> Option<Job<IsmEvent>> {
        let peak = s.selected?;
        if !self.logo_mode || !s.models.ready || s.models.names.is_empty() {
            return None;
        }
        let models: Vec<usize> = std::iter::once(s.models.active).chain(s.models.compare.filter(|&c| c != s.models.active)).collect();
        if self.logo.as_ref().is_some_and(|l| l.peak == peak && l.models.iter().map(|m| m.0).eq(models.iter().copied())) {
            return None;
        }
        let locus = s.peaks.get(peak)?.locus();
        Some(Job::Model(Box::new(LogoTask { peak, models, locus })))
    }
}

/// ISM of a peak. A newer ISM request cancels the running one.
pub struct IsmTask {
    pub model: usize,
    pub peak: usize,
    pub locus: Locus,
}

impl Task<ModelClient, IsmEvent> for IsmTask {
    fn run(self: Box<Self>, env: &mut ModelClient, ctx: &Ctx<IsmEvent>) -> Result<(), String> {
        let (peak, model) = (self.peak, self.model);
        let summary = env
            .ism(model, &self.locus, ctx.cancel_flag(), |u| {
                ctx.emit(match u {
                    IsmUpdate::Plan { region_start, seq, mutants } => IsmEvent::Started { peak, model, region_start, seq, mutants },
                    IsmUpdate::Reference(values) => IsmEvent::Reference { peak, values },
                    IsmUpdate::Chunk { first, preds, deltas } => IsmEvent::Chunk { peak, first, preds, deltas },
                });
            })
            .map_err(|e| format!("{e:#}"))?;
        if !summary.cancelled {
            ctx.emit(IsmEvent::Done { peak, motifs: summary.motifs });
        }
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Component for Ism {
    type Event = IsmEvent;
    const NAME: &'static str = "ism";
    const PANEL: bool = true;

    fn update(&mut self, ev: Event<IsmEvent>, s: &mut Shared) -> Outcome<IsmEvent> {
        match ev {
            Event::Command(Action::Ism, _) => {
                let Some(peak) = s.selected else {
                    s.status = "select a peak first (n, N or enter)".into();
                    return Outcome::none();
                };
                if s.models.names.is_empty() || !s.models.ready {
                    s.status = if s.models.names.is_empty() { "no models in this project".into() } else { "models are still loading".into() };
                    return Outcome::none();
                }
                let p = s.peaks.get(peak).expect("selected peak exists");
                s.panel = Some(Self::NAME);
                s.status = format!("ISM of {} with {}", p.display_name(), s.models.names[s.models.active]);
                self.view = None;
                self.running = true;
                Outcome::one(Job::Model(Box::new(IsmTask { model: s.models.active, peak, locus: p.locus() })))
            }
            Event::Command(Action::Logo, _) => {
                self.logo_mode = !self.logo_mode;
                if self.logo_mode && s.selected.is_none() {
                    s.status = "logo view: select a peak first (n, N or enter)".into();
                }
                s.panel = Some(Self::NAME);
                Outcome::Done(self.logo_job(s).into_iter().collect())
            }
            Event::Command(a @ (Action::LogoLeft | Action::LogoRight), n) => {
                let Some(l) = self.logo.as_ref().filter(|_| self.logo_mode) else {
                    s.status = "[ and ] pan the logo view (b in the ISM panel)".into();
                    return Outcome::none();
                };
                let step = (s.cols / 2).max(1) * n;
                let max = l.seq.len().saturating_sub(s.cols);
                self.logo_offset = if a == Action::LogoLeft { self.logo_offset.saturating_sub(step) } else { (self.logo_offset + step).min(max) };
                Outcome::none()
            }
            Event::Command(..) => Outcome::Ignored,
            Event::Refresh => Outcome::Done(self.logo_job(s).into_iter().collect()),
            Event::Reply(r) => {
                match r {
                    ReplyKind::Event(IsmEvent::Started { peak, model, region_start, seq, mutants }) => {
                        self.view = Some(IsmView::new(peak, model, s.tracks.len(), region_start, seq, mutants));
                    }
                    ReplyKind::Event(IsmEvent::Reference { peak, values }) => {
                        if let Some(v) = self.view.as_mut().filter(|v| v.peak == peak) {
                            v.ref_pred = values;
                        }
                    }
                    ReplyKind::Event(IsmEvent::Chunk { peak, first, preds, deltas }) => {
                        if let Some(v) = self.view.as_mut().filter(|v| v.peak == peak) {
                            for (k, (p, d)) in preds.into_iter().zip(deltas).enumerate() {
                                if let (Some(slot), Some(dslot)) = (v.alt_pred.get_mut(first + k), v.deltas.get_mut(first + k)) {
                                    *slot = p;
                                    *dslot = d;
                                    v.done += 1;
                                }
                            }
                        }
                    }
                    ReplyKind::Event(IsmEvent::Logo(v)) => {
                        if s.selected == Some(v.peak) {
                            // start centred on the peak
                            self.logo_offset = v.seq.len().saturating_sub(s.cols) / 2;
                            self.logo = Some(v);
                        }
                    }
                    ReplyKind::Event(IsmEvent::Done { peak, motifs }) => {
                        if let Some(v) = self.view.as_mut().filter(|v| v.peak == peak) {
                            v.motifs = motifs;
                            v.finished = true;
                            s.status = format!("ISM done: {} mutants", v.done);
                        }
                    }
                    ReplyKind::Finished { cancelled } => {
                        self.running = false;
                        if cancelled {
                            s.status = "ISM stopped".into();
                        }
                    }
                    ReplyKind::Failed(e) => {
                        self.running = false;
                        s.status = format!("ISM failed: {e}");
                    }
                    ReplyKind::Progress { .. } => {}
                }
                Outcome::none()
            }
        }
    }

    fn activity(&self) -> Option<String> {
        self.view.as_ref().filter(|v| !v.finished && self.running).map(|v| format!("ISM {}/{}", v.done, v.mutants.len()))
    }

    fn draw(&self, area: Rect, buf: &mut Buffer, s: &Shared) {
        let dim = Style::default().fg(Color::Indexed(244));
        let w = area.width as usize;
        let t = s.focused_track.min(s.tracks.len().saturating_sub(1));
        if self.logo_mode {
            match &self.logo {
                Some(l) if s.selected == Some(l.peak) => logo::draw(l, self.logo_offset, area, buf, s),
                _ => {
                    buf.set_stringn(area.x, area.y, "─ logo ─ computing attributions of the selected peak … (b: back to the heatmap)", w, dim);
                }
            }
            return;
        }
        let Some(v) = &self.view else {
            buf.set_stringn(area.x, area.y, "─ ISM ─ select a peak (n/N/enter) and press i", w, dim);
            return;
        };
        let name = s.peaks.get(v.peak).map(|p| p.display_name()).unwrap_or_default();
        let motif = v.motifs.get(t).cloned().flatten().map(|m| format!(" · hot spot motif {m}")).unwrap_or_default();
        let title = format!(
            "─ ISM {name} · {} · cell type {} (c) · {}/{} mutants{}{motif}",
            s.models.names.get(v.model).cloned().unwrap_or_default(),
            s.tracks.get(t).cloned().unwrap_or_default(),
            v.done,
            v.mutants.len(),
            if v.finished { "" } else { " …" }
        );
        buf.set_stringn(area.x, area.y, &title, w, Style::default().add_modifier(Modifier::BOLD));
        let n = v.seq.len();
        let cols = w.saturating_sub(LABEL_W as usize);
        if cols == 0 || n == 0 {
            return;
        }
        let per_col = n.div_ceil(cols).max(1);
        let ncols = n.div_ceil(per_col);
        // strongest |delta| per column and base, signed
        let cell = |c: usize, base: usize| -> Option<f32> {
            (c * per_col..((c + 1) * per_col).min(n)).filter_map(|p| v.delta(p, base, t)).max_by(|a, b| a.abs().total_cmp(&b.abs()))
        };
        let max = (0..ncols).flat_map(|c| (0..4).filter_map(move |b| cell(c, b))).fold(0f32, |m, x| m.max(x.abs()));
        let reds = [52u8, 88, 124, 160, 196];
        let blues = [17u8, 18, 19, 20, 21];
        let bottom = area.y + area.height;
        for (bi, base) in ['A', 'C', 'G', 'T'].iter().enumerate() {
            let y = area.y + 1 + bi as u16;
            if y >= bottom {
                break;
            }
            buf.set_stringn(area.x, y, format!("  {base} → ",), LABEL_W as usize, dim);
            for c in 0..ncols.min(cols) {
                let x = area.x + LABEL_W + c as u16;
                let is_ref = per_col == 1 && v.seq.get(c).is_some_and(|&r| r.to_ascii_uppercase() == *base as u8);
                let (sym, style) = match cell(c, bi) {
                    Some(d) if max > 0.0 => {
                        let k = ((d.abs() / max) * 4.999) as usize;
                        let bg = if d < 0.0 { reds[k.min(4)] } else { blues[k.min(4)] };
                        (" ", Style::default().bg(Color::Indexed(bg)))
                    }
                    _ if is_ref => ("·", dim),
                    _ => (" ", Style::default()),
                };
                buf.set_string(x, y, sym, style);
            }
        }
        // importance: attribution at the reference base (deltas mean-centred over bases)
        let y = area.y + 5;
        if y < bottom {
            buf.set_stringn(area.x, y, "  importance", LABEL_W as usize, dim);
            let attr = |p: usize| -> f32 {
                match crate::genome::onehot::base_index(v.seq[p]) {
                    Some(_) => -(0..4).filter_map(|b| v.delta(p, b, t)).sum::<f32>() / 4.0,
                    None => 0.0,
                }
            };
            let vals: Vec<f32> =
                (0..ncols).map(|c| (c * per_col..((c + 1) * per_col).min(n)).map(attr).max_by(|a, b| a.abs().total_cmp(&b.abs())).unwrap_or(0.0)).collect();
            let amax = vals.iter().fold(0f32, |m, x| m.max(x.abs()));
            for (c, a) in vals.iter().enumerate().take(cols) {
                let ch = level(a.abs() as f64, amax as f64);
                let color = if *a < 0.0 { Color::Indexed(196) } else { Color::Indexed(39) };
                buf.set_string(area.x + LABEL_W + c as u16, y, ch.to_string(), Style::default().fg(color));
            }
        }
        let y = area.y + 6;
        if y < bottom && per_col == 1 {
            buf.set_stringn(area.x, y, "  reference", LABEL_W as usize, dim);
            buf.set_stringn(area.x + LABEL_W, y, String::from_utf8_lossy(&v.seq[..n.min(cols)]), cols, dim);
        }
        let y = area.y + 7;
        if y < bottom {
            buf.set_stringn(
                area.x,
                y,
                format!(
                    "  {} bp from {}, {} bp per column; blue: mutation raises the prediction, red: lowers it",
                    n,
                    group_thousands((v.region_start + 1).max(0) as u64),
                    per_col
                ),
                w,
                dim,
            );
        }
    }
}
