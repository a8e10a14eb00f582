//! The peak list: peaks in view (or in the selected peak's cluster), with measured and
//! predicted heights for the focused cell type, sortable; `enter` jumps to a row.
use crate::genome::Locus;
use crate::jobs::view::Reader;
use crate::jobs::worker::{Ctx, ReplyKind, Task};
use crate::tui::commands::Action;
use crate::tui::component::{Component, Event, Job, Outcome};
use crate::tui::shared::{Preds, Shared};
use crate::tui::view::truncate;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use std::any::Any;
use std::collections::HashMap;

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

pub struct PeakList {
    pub in_cluster: bool,
    pub sort: PeakSort,
    pub cursor: usize,
    /// measured height per peak (per track), as loaded
    pub heights: HashMap<usize, Vec<f64>>,
}

impl Default for PeakList {
    fn default() -> Self {
        PeakList { in_cluster: false, sort: PeakSort::Measured, cursor: 0, heights: HashMap::new() }
    }
}

pub enum PeaksEvent {
    /// measured heights (central-window sums per track) of these peaks
    Heights {
        peaks: Vec<usize>,
        values: Vec<Vec<f64>>,
    },
    Preds(Preds),
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

impl PeakList {
    /// Peaks the list draws from: those in view, or all of the selected peak's cluster.
    pub fn source(&self, s: &Shared) -> Vec<usize> {
        match (self.in_cluster, s.peak_filter()) {
            (true, Some(label)) => (0..s.peaks.len()).filter(|&i| s.peaks.get(i).unwrap().label.as_deref() == Some(label.as_str())).collect(),
            _ => s.in_view(),
        }
    }

    /// (measured, predicted) height of a peak for the focused track, when known.
    pub fn values(&self, s: &Shared, i: usize) -> (Option<f64>, Option<f64>) {
        let t = s.focused_track;
        let m = self.heights.get(&i).and_then(|v| v.get(t)).copied();
        (m, s.pred(s.models.active, i, t).map(|x| x as f64))
    }

    /// The list in its current order.
    pub fn rows(&self, s: &Shared) -> Vec<usize> {
        let mut rows = self.source(s);
        let key = |i: usize| -> f64 {
            let (m, p) = self.values(s, i);
            match self.sort {
                PeakSort::Measured => -m.unwrap_or(f64::NEG_INFINITY),
                PeakSort::Predicted => -p.unwrap_or(f64::NEG_INFINITY),
                PeakSort::Error => match (m, p) {
                    (Some(m), Some(p)) => -((p + 1.0).log2() - (m + 1.0).log2()).abs(),
                    _ => f64::INFINITY,
                },
                PeakSort::Specificity => s.specificity.get(i).copied().flatten().map(|s| s as f64).unwrap_or(f64::INFINITY),
                PeakSort::Position => i as f64,
            }
        };
        rows.sort_by(|&a, &b| key(a).total_cmp(&key(b)).then(a.cmp(&b)));
        rows
    }

    /// Heights and predictions the open list lacks.
    fn missing(&self, s: &Shared) -> Vec<Job<PeaksEvent>> {
        if !s.is_open(Self::NAME) {
            return vec![];
        }
        let source = self.source(s);
        let mut jobs = Vec::new();
        let need: Vec<usize> = source.iter().copied().filter(|i| !self.heights.contains_key(i)).take(2000).collect();
        if !need.is_empty() {
            let width = s.config.as_ref().map(|c| c.eval.center_width).unwrap_or(crate::config::EvalConfig::default().center_width);
            let loci = need.iter().filter_map(|&i| s.peaks.get(i).map(|p| p.locus())).collect();
            jobs.push(Job::Read(Box::new(HeightsTask { peaks: need, loci, width }) as Box<dyn Task<_, _>>));
        }
        jobs.extend(s.predict_missing(s.models.active, &source, 500, PeaksEvent::Preds));
        jobs
    }
}

impl Component for PeakList {
    type Event = PeaksEvent;
    const NAME: &'static str = "peaks";
    const PANEL: bool = true;

    fn update(&mut self, ev: Event<PeaksEvent>, s: &mut Shared) -> Outcome<PeaksEvent> {
        let open = s.is_open(Self::NAME);
        match ev {
            Event::Command(Action::SelectPeak, _) if open && !self.source(s).is_empty() => {
                let rows = self.rows(s);
                let i = rows[self.cursor.min(rows.len() - 1)];
                s.jump_to_peak(i);
                if !self.in_cluster {
                    self.cursor = 0;
                }
                Outcome::none()
            }
            Event::Command(a @ (Action::ListUp | Action::ListDown), n) => {
                let len = self.source(s).len();
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
            Event::Command(..) => Outcome::Ignored,
            Event::Refresh => Outcome::Done(self.missing(s)),
            Event::Reply(ReplyKind::Event(PeaksEvent::Heights { peaks, values })) => {
                self.heights.extend(peaks.into_iter().zip(values));
                Outcome::none()
            }
            Event::Reply(ReplyKind::Event(PeaksEvent::Preds(p))) => {
                s.store_preds(p);
                Outcome::none()
            }
            Event::Reply(ReplyKind::Failed(e)) => {
                s.status = e;
                Outcome::none()
            }
            Event::Reply(ReplyKind::Progress { .. } | ReplyKind::Finished { .. }) => Outcome::none(),
        }
    }

    fn draw(&self, area: Rect, buf: &mut Buffer, s: &Shared) {
        let dim = Style::default().fg(Color::Indexed(244));
        let w = area.width as usize;
        let rows = self.rows(s);
        let track = s.focused_name().unwrap_or_default();
        let scope = if self.in_cluster { "selected peak's cluster" } else { "in view" };
        buf.set_stringn(
            area.x,
            area.y,
            format!("─ peaks {scope} ({}) · sorted by {} (r) · {track} (c) · ↑↓ move, enter jumps, f scope", rows.len(), self.sort.label()),
            w,
            Style::default().add_modifier(Modifier::BOLD),
        );
        if area.height < 2 {
            return;
        }
        buf.set_stringn(
            area.x,
            area.y + 1,
            format!("  {:<14}{:<26}{:<22}{:>5}{:>11}{:>11}{:>8}", "name", "locus", "cluster", "spec", "measured", "predicted", "error"),
            w,
            dim,
        );
        let visible = area.height.saturating_sub(2) as usize;
        let first = self.cursor.saturating_sub(visible.saturating_sub(1));
        for (k, &i) in rows.iter().enumerate().skip(first).take(visible) {
            let p = s.peaks.get(i).unwrap();
            let (m, pr) = self.values(s, i);
            let err = match (m, pr) {
                (Some(m), Some(p)) => format!("{:+.2}", (p + 1.0).log2() - (m + 1.0).log2()),
                _ => "…".into(),
            };
            let f = |x: Option<f64>| x.map(|v| format!("{v:.1}")).unwrap_or_else(|| "…".into());
            let line = format!(
                "{}{:<14}{:<26}{:<22}{:>5}{:>11}{:>11}{:>8}",
                if k == self.cursor { "▶ " } else { "  " },
                truncate(&p.display_name(), 13),
                p.locus().display(),
                truncate(p.label.as_deref().unwrap_or("-"), 21),
                s.specificity.get(i).copied().flatten().map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                f(m),
                f(pr),
                err
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
