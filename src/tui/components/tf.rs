//! The TF activity panel: motif-insertion activity (as `peakscope tf-activity` computes it,
//! with fewer backgrounds) as a TF × cell type heatmap for the active model, the compared
//! model beside it; rows sorted by how cell type-specific the active model's activity is;
//! `/` finds a TF; enter highlights the selected TF's motif hits in the current view.
use crate::genome::Locus;
use crate::jobs::remote::ModelClient;
use crate::jobs::view::{GenomicHit, HIT_THRESHOLD};
use crate::jobs::worker::{Ctx, ReplyKind, Task};
use crate::model::tf_activity::{pick_backgrounds, specificity};
use crate::tui::commands::Action;
use crate::tui::component::{Component, Event, Job, Outcome};
use crate::tui::shared::Shared;
use crate::tui::view::LABEL_W;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use std::any::Any;
use std::collections::HashMap;

/// Backgrounds per motif in the panel (the command line defaults to 1000).
pub const UI_BACKGROUNDS: usize = 64;
/// Motifs per reply.
const CHUNK: usize = 32;

pub enum TfEvent {
    /// the motif library: (id, TF name)
    Motifs(Vec<(String, String)>),
    /// activity per track of motifs `first..` for a model (NaN: no output for that track)
    Rows { model: usize, first: usize, rows: Vec<Vec<f32>> },
    /// the selected TF's hits in a view
    Hits { motif: usize, locus: Locus, hits: Vec<GenomicHit> },
}

/// TF activity of every motif for some models, streamed in chunks of motifs.
pub struct TfTask {
    pub models: Vec<usize>,
    /// background peaks (one background each)
    pub peaks: Vec<Locus>,
    pub seed: u64,
}

impl Task<ModelClient, TfEvent> for TfTask {
    fn key(&self) -> u64 {
        1
    }
    fn run(self: Box<Self>, env: &mut ModelClient, ctx: &Ctx<TfEvent>) -> Result<(), String> {
        let names = env.motif_names().map_err(|e| format!("motifs: {e:#}"))?;
        let n = names.len();
        ctx.emit_even_if_stale(TfEvent::Motifs(names));
        let total = n * self.models.len();
        let mut done = 0;
        for &model in &self.models {
            let mut first = 0;
            while first < n {
                if ctx.cancelled() {
                    return Ok(());
                }
                let end = (first + CHUNK).min(n);
                let rows = env.tf_activity(model, first..end, &self.peaks, self.seed, &ctx.cancel_flag()).map_err(|e| format!("TF activity: {e:#}"))?;
                ctx.emit_even_if_stale(TfEvent::Rows { model, first, rows });
                done += end - first;
                ctx.progress(done, total);
                first = end;
            }
        }
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Hits of one motif in a view.
pub struct HitsTask {
    pub motif: usize,
    pub locus: Locus,
}

impl Task<ModelClient, TfEvent> for HitsTask {
    fn key(&self) -> u64 {
        2
    }
    fn run(self: Box<Self>, env: &mut ModelClient, ctx: &Ctx<TfEvent>) -> Result<(), String> {
        let hits = env.motif_hits(self.motif, &self.locus).map_err(|e| format!("motif hits: {e:#}"))?;
        ctx.emit(TfEvent::Hits { motif: self.motif, locus: self.locus, hits });
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[derive(Default)]
pub struct TfPanel {
    /// (id, TF name) per motif
    pub motifs: Vec<(String, String)>,
    /// per model: per motif, activity per track (None until computed)
    pub rows: HashMap<usize, Vec<Option<Vec<f32>>>>,
    /// models asked for
    pub requested: Vec<usize>,
    pub running: bool,
    pub progress: (usize, usize),
    /// row under the cursor, in display order
    pub cursor: usize,
    /// the motif whose hits are highlighted
    pub selected: Option<usize>,
    /// hits of the selected motif in `hits_locus`
    pub hits: Vec<GenomicHit>,
    pub hits_locus: Option<Locus>,
}

impl TfPanel {
    /// Motif indices in display order: computed rows of the active model by specificity of
    /// their activity across cell types (most specific first), then the rest.
    pub fn order(&self, model: usize) -> Vec<usize> {
        let rows = self.rows.get(&model);
        let score = |m: usize| -> Option<f64> {
            let r = rows?.get(m)?.as_ref()?;
            let v: Vec<f64> = r.iter().filter(|x| x.is_finite()).map(|&x| x as f64).collect();
            (!v.is_empty()).then(|| specificity(&v))
        };
        let mut idx: Vec<(usize, Option<f64>)> = (0..self.motifs.len()).map(|m| (m, score(m))).collect();
        idx.sort_by(|a, b| match (a.1, b.1) {
            (Some(x), Some(y)) => y.total_cmp(&x).then(a.0.cmp(&b.0)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.0.cmp(&b.0),
        });
        idx.into_iter().map(|x| x.0).collect()
    }

    /// Find a TF by name or motif id (exact, then prefix, case-insensitive): the cursor goes to
    /// it and it is selected. False when nothing matches.
    pub fn find(&mut self, text: &str, s: &mut Shared) -> bool {
        let t = text.trim().to_ascii_uppercase();
        let exact = self.motifs.iter().position(|(id, n)| n.to_ascii_uppercase() == t || id.to_ascii_uppercase() == t);
        let m = exact.or_else(|| self.motifs.iter().position(|(_, n)| n.to_ascii_uppercase().starts_with(&t)));
        match m {
            Some(m) => {
                self.cursor = self.order(s.models.active).iter().position(|&x| x == m).unwrap_or(0);
                self.selected = Some(m);
                self.hits.clear();
                self.hits_locus = None;
                s.status = format!("TF {} ({}): highlighting its motif hits in the view", self.motifs[m].1, self.motifs[m].0);
                true
            }
            None => {
                s.status = if self.motifs.is_empty() { "no TF activity yet: press t".into() } else { format!("no TF or motif named '{text}'") };
                false
            }
        }
    }

    fn start(&mut self, s: &mut Shared) -> Outcome<TfEvent> {
        let models: Vec<usize> =
            std::iter::once(s.models.active).chain(s.models.compare).filter(|m| !self.rows.contains_key(m) && !self.requested.contains(m)).collect();
        if models.is_empty() {
            return Outcome::none();
        }
        let picks = match pick_backgrounds(s.peaks.len(), UI_BACKGROUNDS, 1) {
            Ok(p) => p,
            Err(e) => {
                s.status = format!("TF activity: {e:#}");
                return Outcome::none();
            }
        };
        let peaks: Vec<Locus> = picks.peaks.iter().filter_map(|&i| s.peaks.get(i).map(|p| p.locus())).collect();
        self.requested.extend(&models);
        self.running = true;
        s.status = format!(
            "TF activity of {} with {} background(s) drawn from the peaks{}",
            models.iter().map(|&m| s.models.names[m].as_str()).collect::<Vec<_>>().join(" and "),
            peaks.len(),
            if picks.with_replacement { " (with replacement: fewer peaks than backgrounds)" } else { "" }
        );
        Outcome::one(Job::Model(Box::new(TfTask { models, peaks, seed: 1 })))
    }

    fn hits_job(&self, s: &Shared) -> Option<Job<TfEvent>> {
        let m = self.selected?;
        (self.hits_locus.as_ref() != Some(&s.locus)).then(|| Job::Model(Box::new(HitsTask { motif: m, locus: s.locus.clone() })))
    }
}

impl Component for TfPanel {
    type Event = TfEvent;
    const NAME: &'static str = "tf";
    const PANEL: bool = true;

    fn update(&mut self, ev: Event<TfEvent>, s: &mut Shared) -> Outcome<TfEvent> {
        let open = s.is_open(Self::NAME);
        match ev {
            Event::Command(Action::TfActivity, _) => {
                if s.models.names.is_empty() || !s.models.ready {
                    s.status = if s.models.names.is_empty() { "no models in this project".into() } else { "models are still loading".into() };
                    return Outcome::none();
                }
                s.panel = Some(Self::NAME);
                self.start(s)
            }
            Event::Command(Action::ListDown, n) if open => {
                self.cursor = (self.cursor + n).min(self.motifs.len().saturating_sub(1));
                Outcome::none()
            }
            Event::Command(Action::ListUp, n) if open => {
                self.cursor = self.cursor.saturating_sub(n);
                Outcome::none()
            }
            Event::Command(Action::SelectPeak, _) if open => {
                let Some(&m) = self.order(s.models.active).get(self.cursor) else { return Outcome::none() };
                if self.selected == Some(m) {
                    self.selected = None;
                    self.hits.clear();
                    self.hits_locus = None;
                    s.status = "motif highlight off".into();
                    return Outcome::none();
                }
                self.selected = Some(m);
                self.hits.clear();
                self.hits_locus = None;
                s.status = format!("TF {}: highlighting its motif hits in the view", self.motifs[m].1);
                Outcome::Done(self.hits_job(s).into_iter().collect())
            }
            Event::Command(..) => Outcome::Ignored,
            Event::Refresh => {
                let mut jobs: Vec<Job<TfEvent>> = Vec::new();
                if open && s.models.ready && !s.models.names.is_empty() {
                    if let Outcome::Done(j) = self.start(s) {
                        jobs.extend(j);
                    }
                }
                jobs.extend(self.hits_job(s));
                Outcome::Done(jobs)
            }
            Event::Reply(r) => {
                match r {
                    ReplyKind::Event(TfEvent::Motifs(m)) => {
                        if self.motifs.len() != m.len() {
                            self.motifs = m;
                        }
                    }
                    ReplyKind::Event(TfEvent::Rows { model, first, rows }) => {
                        let n = self.motifs.len().max(first + rows.len());
                        let slot = self.rows.entry(model).or_default();
                        if slot.len() < n {
                            slot.resize(n, None);
                        }
                        for (k, r) in rows.into_iter().enumerate() {
                            slot[first + k] = Some(r);
                        }
                    }
                    ReplyKind::Event(TfEvent::Hits { motif, locus, hits }) => {
                        if self.selected == Some(motif) && locus == s.locus {
                            s.status = format!(
                                "TF {}: {} motif hit(s) in view (score ≥ {:.0}% of the best)",
                                self.motifs.get(motif).map(|m| m.1.as_str()).unwrap_or("?"),
                                hits.len(),
                                HIT_THRESHOLD * 100.0
                            );
                            self.hits = hits;
                            self.hits_locus = Some(locus);
                        }
                    }
                    ReplyKind::Progress { done, total } => self.progress = (done, total),
                    ReplyKind::Finished { cancelled } => {
                        self.running = false;
                        if cancelled {
                            // what was not finished is asked for again on the next refresh
                            let done: Vec<usize> =
                                self.rows.iter().filter(|(_, v)| v.len() == self.motifs.len() && v.iter().all(Option::is_some)).map(|(m, _)| *m).collect();
                            self.requested.retain(|m| done.contains(m));
                            self.rows.retain(|m, _| done.contains(m));
                        }
                    }
                    ReplyKind::Failed(e) => {
                        self.running = false;
                        s.status = format!("TF activity failed: {e}");
                    }
                }
                Outcome::none()
            }
        }
    }

    fn activity(&self) -> Option<String> {
        (self.running && self.progress.1 > 0).then(|| format!("TF {}/{}", self.progress.0, self.progress.1))
    }

    fn draw(&self, area: Rect, buf: &mut Buffer, s: &Shared) {
        let dim = Style::default().fg(Color::Indexed(244));
        let w = area.width as usize;
        let bottom = area.y + area.height;
        let active = s.models.active;
        let cmp = s.models.compare.filter(|&c| c != active);
        let name = |m: usize| s.models.names.get(m).cloned().unwrap_or_default();
        let done = |m: usize| self.rows.get(&m).map(|v| v.iter().filter(|r| r.is_some()).count()).unwrap_or(0);
        let title = format!(
            "─ TF activity (motif insertion, {UI_BACKGROUNDS} backgrounds) · {} {}/{}{} · sorted by cell-type specificity · j/k move · / find · enter highlight hits",
            name(active),
            done(active),
            self.motifs.len(),
            cmp.map(|c| format!(" │ compared {} {}/{}", name(c), done(c), self.motifs.len())).unwrap_or_default()
        );
        buf.set_stringn(area.x, area.y, &title, w, Style::default().add_modifier(Modifier::BOLD));
        if self.motifs.is_empty() {
            if area.height > 1 {
                buf.set_stringn(area.x, area.y + 1, "  press t to compute each TF's activity per cell type", w, dim);
            }
            return;
        }
        let nt = s.tracks.len();
        let cell = 5usize;
        let name_w = LABEL_W as usize;
        let block = nt * cell;
        // header: cell type names per block
        let mut y = area.y + 1;
        let blocks: Vec<usize> = std::iter::once(active).chain(cmp).collect();
        if y < bottom {
            for (bi, _) in blocks.iter().enumerate() {
                let x0 = name_w + bi * (block + 2);
                for (t, tn) in s.tracks.iter().enumerate() {
                    let x = x0 + t * cell;
                    if x + cell <= w {
                        let short: String = tn.chars().take(cell - 1).collect();
                        buf.set_stringn(area.x + x as u16, y, format!("{short:>4}"), cell, dim);
                    }
                }
            }
            y += 1;
        }
        // the hit strip of the selected TF, aligned with the track columns
        let strip = self.selected.is_some() && area.height >= 5;
        let rows_avail = (bottom.saturating_sub(y) as usize).saturating_sub(if strip { 1 } else { 0 });
        let order = self.order(active);
        let first = self.cursor.saturating_sub(rows_avail.saturating_sub(1) / 2).min(order.len().saturating_sub(rows_avail));
        for (k, &m) in order.iter().enumerate().skip(first).take(rows_avail) {
            let here = k == self.cursor;
            let sel = self.selected == Some(m);
            let label = format!("{}{}", if sel { "▶" } else { " " }, self.motifs[m].1);
            let st = if here { Style::default().add_modifier(Modifier::REVERSED) } else { Style::default() };
            buf.set_stringn(area.x, y, &label, name_w.min(w), st);
            for (bi, &model) in blocks.iter().enumerate() {
                let x0 = name_w + bi * (block + 2);
                if bi > 0 && x0 >= 2 && x0 - 2 < w {
                    buf.set_string(area.x + (x0 - 2) as u16, y, "│", dim);
                }
                let row = self.rows.get(&model).and_then(|r| r.get(m)).and_then(|r| r.as_ref());
                let max = row.map(|r| r.iter().filter(|x| x.is_finite()).fold(0f32, |a, x| a.max(x.abs()))).unwrap_or(0.0);
                for t in 0..nt {
                    let x = x0 + t * cell;
                    if x + cell > w {
                        break;
                    }
                    let (text, style) = match row.and_then(|r| r.get(t)).copied() {
                        Some(v) if v.is_finite() => {
                            let k = if max > 0.0 { ((v.abs() / max) * 4.999) as usize } else { 0 };
                            let bg = if v < 0.0 { [52u8, 88, 124, 160, 196][k.min(4)] } else { [17u8, 18, 19, 20, 21][k.min(4)] };
                            let txt = if v.abs() >= 10.0 { format!("{v:>4.0}") } else { format!("{v:>4.1}") };
                            (txt, Style::default().bg(Color::Indexed(bg)).fg(Color::White))
                        }
                        Some(_) => ("   -".to_string(), dim),
                        None => ("   …".to_string(), dim),
                    };
                    buf.set_stringn(area.x + x as u16, y, &text, cell - 1, style);
                }
            }
            y += 1;
        }
        if strip && y < bottom {
            let yb = bottom - 1;
            let m = self.selected.unwrap_or(0);
            buf.set_stringn(area.x, yb, format!(" {} hits", self.motifs[m].1), name_w, dim);
            if self.hits_locus.as_ref() == Some(&s.locus) {
                let cols = w.saturating_sub(name_w);
                for h in &self.hits {
                    let c = s.col_of(h.start.max(0) as u64);
                    if c < cols {
                        buf.set_string(area.x + (name_w + c) as u16, yb, if h.reverse { "◀" } else { "▶" }, Style::default().fg(Color::Indexed(214)));
                    }
                }
            } else {
                buf.set_stringn(area.x + name_w as u16, yb, "scanning the view …", w.saturating_sub(name_w), dim);
            }
        }
    }
}
