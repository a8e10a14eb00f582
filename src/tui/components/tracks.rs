//! The main view: chromosome position bar, per cell type a measured row (column means from
//! the bigWig) and predicted rows for the peaks in view (active model and the compared
//! one), the peak marks and the gene row.
use crate::genome::bigwig::BinSummary;
use crate::genome::Locus;
use crate::jobs::view::Reader;
use crate::jobs::worker::{Ctx, ReplyKind, Task};
use crate::tui::commands::Action;
use crate::tui::component::{Component, Event, Job, Outcome};
use crate::tui::shared::{Preds, Shared};
use crate::tui::view::{level, track_color, LABEL_W};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use serde::{Deserialize, Serialize};
use std::any::Any;

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

pub struct Tracks {
    /// measured column summaries of `data.0`, per track (None: chromosome absent)
    pub data: Option<(Locus, Vec<Option<Vec<BinSummary>>>)>,
    pub scale: Scale,
    /// cell types hidden from the panel
    pub hidden: Vec<bool>,
}

impl Default for Tracks {
    fn default() -> Self {
        Tracks { data: None, scale: Scale::Group, hidden: Vec::new() }
    }
}

pub enum TracksEvent {
    Columns {
        generation: u64,
        locus: Locus,
        data: Vec<Option<Vec<BinSummary>>>,
    },
    Preds(Preds),
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

impl Tracks {
    pub fn is_hidden(&self, t: usize) -> bool {
        self.hidden.get(t).copied().unwrap_or(false)
    }

    fn transform(&self, v: f64) -> f64 {
        if self.scale == Scale::Log {
            (v.max(0.0) + 1.0).log2()
        } else {
            v
        }
    }

    /// Per-track column means of the measured data (transformed for the scale mode).
    fn measured_columns(&self, cols: usize) -> Vec<Vec<f64>> {
        match &self.data {
            Some((_, tracks)) => tracks
                .iter()
                .map(|t| match t {
                    Some(bins) => bins.iter().map(|b| self.transform(b.mean().unwrap_or(0.0))).collect(),
                    None => vec![0.0; cols],
                })
                .collect(),
            None => vec![],
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
                Outcome::none()
            }
            Event::Command(..) => Outcome::Ignored,
            Event::Refresh => {
                let mut jobs = vec![Job::Read(Box::new(ColumnsTask { generation: s.generation, locus: s.locus.clone(), cols: s.cols }) as Box<dyn Task<_, _>>)];
                let in_view = s.in_view();
                for m in std::iter::once(s.models.active).chain(s.models.compare) {
                    jobs.extend(s.predict_missing(m, &in_view, 200, TracksEvent::Preds));
                }
                Outcome::Done(jobs)
            }
            Event::Reply(ReplyKind::Event(TracksEvent::Columns { generation, locus, data })) => {
                // a reply for a view the user left is dropped
                if generation == s.generation && locus == s.locus {
                    self.data = Some((locus, data));
                }
                Outcome::none()
            }
            Event::Reply(ReplyKind::Event(TracksEvent::Preds(p))) => {
                s.store_preds(p);
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
        let mut y = area.y;
        // chromosome position bar
        let len = s.chrom_len().max(1);
        let cols = s.cols.min(w.saturating_sub(LABEL_W) as usize);
        buf.set_stringn(area.x, y, format!("{:<width$}", s.locus.chrom, width = LABEL_W as usize), w as usize, dim);
        let (a, b) = ((s.locus.start as u128 * cols as u128 / len as u128) as usize, (s.locus.end as u128 * cols as u128 / len as u128) as usize);
        for c in 0..cols {
            let ch = if c >= a && c <= b.max(a) { '█' } else { '─' };
            buf.set_string(x0 + c as u16, y, ch.to_string(), if ch == '█' { Style::default().fg(Color::Indexed(250)) } else { dim });
        }
        y += 1;
        let bottom = area.y + area.height - 2; // peaks, genes
        let meas = self.measured_columns(s.cols);
        let group_max = meas.iter().flatten().cloned().fold(0.0, f64::max);
        let in_view = s.in_view();
        let pred_in = |m: usize, p: usize, t: usize| s.pred(m, p, t).map(|x| self.transform(x as f64));
        let shown: Vec<usize> = std::iter::once(s.models.active).chain(s.models.compare).collect();
        let pred_max =
            shown.iter().flat_map(|&m| in_view.iter().flat_map(move |&p| (0..s.tracks.len()).filter_map(move |t| pred_in(m, p, t)))).fold(0.0, f64::max);
        let span = |start: u64, end: u64| (s.col_of(start), s.col_of(end).max(s.col_of(start) + 1).min(cols));
        for (t, name) in s.tracks.iter().enumerate() {
            if y >= bottom {
                break;
            }
            if self.is_hidden(t) {
                continue;
            }
            let style = Style::default().fg(track_color(t));
            buf.set_stringn(area.x, y, format!("{name:<width$}", width = LABEL_W as usize - 1), LABEL_W as usize - 1, style);
            if let Some(row) = meas.get(t) {
                let max = if self.scale == Scale::PerTrack { row.iter().cloned().fold(0.0, f64::max) } else { group_max };
                for (c, v) in row.iter().take(cols).enumerate() {
                    buf.set_string(x0 + c as u16, y, level(*v, max).to_string(), style);
                }
            } else {
                buf.set_string(x0, y, "…", dim);
            }
            y += 1;
            for (k, &m) in shown.iter().enumerate() {
                if s.models.names.is_empty() || y >= bottom {
                    break;
                }
                let label = if k == 0 { "  pred".to_string() } else { format!("  vs {}", s.models.names[m]) };
                buf.set_stringn(area.x, y, &label, LABEL_W as usize - 1, dim);
                let row_max = if self.scale == Scale::PerTrack { in_view.iter().filter_map(|&p| pred_in(m, p, t)).fold(0.0, f64::max) } else { pred_max };
                let st = if k == 0 { style.add_modifier(Modifier::DIM) } else { Style::default().fg(Color::Indexed(250)) };
                for &p in &in_view {
                    let Some(v) = pred_in(m, p, t) else { continue };
                    let pk = s.peaks.get(p).unwrap();
                    let (c1, c2) = span(pk.start, pk.end);
                    for c in c1..c2 {
                        buf.set_string(x0 + c as u16, y, level(v, row_max).to_string(), st);
                    }
                }
                y += 1;
            }
        }
        // peaks
        let py = bottom;
        buf.set_stringn(area.x, py, "peaks", LABEL_W as usize, dim);
        for &p in &in_view {
            let pk = s.peaks.get(p).unwrap();
            let color = if s.is_ubiquitous(pk.label.as_deref()) { Color::Indexed(41) } else { Color::Indexed(170) };
            let mut st = Style::default().fg(color);
            if s.selected == Some(p) {
                st = st.fg(Color::Indexed(226)).add_modifier(Modifier::BOLD | Modifier::REVERSED);
            }
            let (c1, c2) = span(pk.start, pk.end);
            for c in c1..c2 {
                buf.set_string(x0 + c as u16, py, "▬", st);
            }
        }
        // genes
        let gy = py + 1;
        buf.set_stringn(area.x, gy, "genes", LABEL_W as usize, dim);
        if let Some(genes) = &s.genes {
            let gene_style = Style::default().fg(Color::Indexed(110));
            for g in genes.overlapping(&s.locus) {
                let (c1, c2) = span(g.locus.start.max(s.locus.start), g.locus.end.min(s.locus.end));
                let arrow = if g.strand == Some('-') { "<" } else { ">" };
                for c in c1..c2 {
                    buf.set_string(x0 + c as u16, gy, if c % 4 == 0 { arrow } else { "─" }, gene_style);
                }
                if c1 < cols {
                    buf.set_stringn(x0 + c1 as u16, gy, &g.name, cols - c1, gene_style.add_modifier(Modifier::BOLD));
                }
            }
        }
    }
}
