//! The metrics panel: `e` starts (and stops) an evaluation of every model on the project's
//! peaks in the background; the table fills in from its snapshots.
use crate::config::ProjectConfig;
use crate::eval::report::{fmt3, Snapshot};
use crate::jobs::eval::{run_eval, EvalEvent, EvalOptions};
use crate::jobs::worker::{Ctx, ReplyKind, Task};
use crate::tui::commands::Action;
use crate::tui::component::{Component, Event, Job, Outcome, Thread};
use crate::tui::shared::Shared;
use crate::tui::view::truncate;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

/// The evaluation as it runs.
#[derive(Debug, Clone, Default)]
pub struct EvalView {
    pub running: bool,
    pub done: usize,
    pub total: usize,
    pub snapshot: Option<Snapshot>,
    pub strata: Vec<String>,
}

#[derive(Default)]
pub struct Metrics {
    pub eval: EvalView,
}

pub enum MetricsEvent {
    /// metrics so far (`strata`: their display order, once known)
    Snapshot { done: usize, total: usize, snapshot: Box<Snapshot>, strata: Vec<String> },
}

/// Peaks per evaluation batch in the UI (the cancel granularity).
pub const UI_BATCH_PEAKS: usize = 64;

/// Evaluate every model of the project (its own model worker, on `device`). Stopped by
/// cancelling it; the partial metrics stay.
pub struct EvalTask {
    pub config: Arc<ProjectConfig>,
    pub device: tch::Device,
}

impl Task<(), MetricsEvent> for EvalTask {
    fn run(self: Box<Self>, _: &mut (), ctx: &Ctx<MetricsEvent>) -> Result<(), String> {
        let opts = EvalOptions {
            models: vec![],
            chroms: None,
            limit: None,
            device: self.device,
            precision: crate::model::engine::Precision::F32,
            batch_size: None,
            snapshot_every: Some(Duration::from_millis(250)),
            shard: None,
        };
        // batches of at most 64 peaks, so that stop and quit take effect within one batch
        // (the metrics do not depend on the batching)
        let mut cfg = (*self.config).clone();
        cfg.eval.batch_peaks = cfg.eval.batch_peaks.min(UI_BATCH_PEAKS);
        let cancel = ctx.cancel_flag();
        let mut last = (0, 0);
        let out = run_eval(&cfg, &opts, &cancel, |ev| match ev {
            EvalEvent::Progress { done, total, .. } => {
                last = (done, total);
                ctx.progress(done, total);
            }
            EvalEvent::Snapshot(snapshot) => {
                ctx.emit(MetricsEvent::Snapshot { done: last.0, total: last.1, snapshot, strata: vec![] });
            }
        })
        .map_err(|e| format!("{e:#}"))?;
        let strata = out.state.layout.strata.names().to_vec();
        ctx.emit(MetricsEvent::Snapshot { done: out.state.rows.len(), total: out.state.total, snapshot: Box::new(out.snapshot), strata });
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Component for Metrics {
    type Event = MetricsEvent;
    const NAME: &'static str = "metrics";
    const PANEL: bool = true;

    fn update(&mut self, ev: Event<MetricsEvent>, s: &mut Shared) -> Outcome<MetricsEvent> {
        match ev {
            Event::Command(Action::Eval, _) => {
                s.panel = Some(Self::NAME);
                if self.eval.running {
                    s.status = "stopping the evaluation after this batch".into();
                    return Outcome::one(Job::Cancel(Thread::Background, 0));
                }
                if s.models.names.is_empty() {
                    s.status = "no models to evaluate".into();
                    return Outcome::none();
                }
                let Some(config) = s.config.clone() else {
                    s.status = "no project config: nothing to evaluate".into();
                    return Outcome::none();
                };
                self.eval = EvalView { running: true, ..Default::default() };
                s.status = "evaluation started (e stops it)".into();
                Outcome::one(Job::Background(Box::new(EvalTask { config, device: s.models.device })))
            }
            Event::Command(..) => Outcome::Ignored,
            Event::Refresh => Outcome::none(),
            Event::Reply(r) => {
                match r {
                    ReplyKind::Progress { done, total } => {
                        self.eval.done = done;
                        self.eval.total = total;
                    }
                    ReplyKind::Event(MetricsEvent::Snapshot { done, total, snapshot, strata }) => {
                        self.eval.done = done;
                        self.eval.total = total;
                        if !strata.is_empty() {
                            self.eval.strata = strata;
                        }
                        self.eval.snapshot = Some(*snapshot);
                    }
                    ReplyKind::Finished { cancelled } => {
                        self.eval.running = false;
                        s.status = format!("evaluation {}: {} of {} peaks", if cancelled { "stopped" } else { "finished" }, self.eval.done, self.eval.total);
                    }
                    ReplyKind::Failed(e) => {
                        self.eval.running = false;
                        s.status = format!("evaluation failed: {e}");
                    }
                }
                Outcome::none()
            }
        }
    }

    fn activity(&self) -> Option<String> {
        self.eval.running.then(|| format!("eval {}%", (100 * self.eval.done).checked_div(self.eval.total).unwrap_or(0)))
    }

    fn draw(&self, area: Rect, buf: &mut Buffer, s: &Shared) {
        let dim = Style::default().fg(Color::Indexed(244));
        let w = area.width as usize;
        let bottom = area.y + area.height;
        let e = &self.eval;
        let state = if e.running {
            "running (e stops)"
        } else if e.snapshot.is_some() {
            "done"
        } else {
            "press e to evaluate"
        };
        let pct = if e.total > 0 { 100.0 * e.done as f64 / e.total as f64 } else { 0.0 };
        buf.set_stringn(
            area.x,
            area.y,
            format!("─ metrics · {state} · {}/{} peaks ({pct:.0}%) · mean Pearson of log2(x+1) over cell types", e.done, e.total),
            w,
            Style::default().add_modifier(Modifier::BOLD),
        );
        let Some(snap) = &e.snapshot else { return };
        if area.height < 2 {
            return;
        }
        let models: Vec<&String> = snap.models.keys().collect();
        let colw = 13usize;
        let mut header = format!("{:<24}{:>7}", "stratum", "n");
        for m in &models {
            header += &format!("{:>w$}", truncate(m, colw - 1), w = colw);
        }
        header += &format!("{:>11}{:>9}{:>9}{:>9}", "overcorr*", "auroc*", "auprc*", "cv*");
        buf.set_stringn(area.x, area.y + 1, &header, w, dim);
        let active = s.models.names.get(s.models.active);
        let strata: Vec<&String> =
            if e.strata.is_empty() { snap.models.values().next().map(|m| m.summary.keys().collect()).unwrap_or_default() } else { e.strata.iter().collect() };
        let mut y = area.y + 2;
        for st in strata {
            if y >= bottom {
                break;
            }
            let n = snap.models.values().next().and_then(|m| m.summary.get(st)).map(|s| s.n).unwrap_or(0);
            if n == 0 {
                continue;
            }
            let mut line = format!("{:<24}{:>7}", truncate(st, 23), n);
            for m in &models {
                let p = snap.models[*m].summary.get(st).map(|s| s.mean_pearson).unwrap_or(f64::NAN);
                line += &format!("{:>w$}", fmt3(p), w = colw);
            }
            let am = active.and_then(|a| snap.models.get(a));
            let summ = am.and_then(|m| m.summary.get(st));
            let oc = summ.map(|s| s.overcorrelation).unwrap_or(f64::NAN);
            let roc = summ.and_then(|s| s.mean_auroc).map(fmt3).unwrap_or_else(|| "-".into());
            let prc = summ.and_then(|s| s.mean_auprc).map(fmt3).unwrap_or_else(|| "-".into());
            let cv = am
                .and_then(|m| m.group.as_ref())
                .and_then(|g| snap.replicates.get(g))
                .and_then(|r| r.strata.get(st))
                .map(|r| fmt3(r.median_cv))
                .unwrap_or_else(|| "-".into());
            line += &format!("{:>11}{:>9}{:>9}{:>9}", fmt3(oc), roc, prc, cv);
            buf.set_stringn(area.x, y, &line, w, Style::default());
            y += 1;
        }
        if y < bottom {
            buf.set_stringn(
                area.x,
                y,
                format!(
                    "  * active model ({}): over-correlation, AUROC/AUPRC (at the end of the run), median CV across its replicate group",
                    active.cloned().unwrap_or_default()
                ),
                w,
                dim,
            );
        }
        // per cell type, for the active model: Pearson at ubiquitous vs specific peaks, as bars
        let table_w = 24 + 7 + models.len() * colw + 38;
        if let Some(m) = active.and_then(|a| snap.models.get(a)) {
            if w > table_w + 34 {
                let x = area.x + table_w as u16 + 2;
                let bw = 10usize;
                buf.set_stringn(x, area.y + 1, format!("{:<12}{:<w$} {:<w$}", "cell type", "ubiquitous", "specific", w = bw + 6), w - table_w - 2, dim);
                for (k, (track, per)) in m.targets.iter().enumerate() {
                    let yy = area.y + 2 + k as u16;
                    if yy >= bottom {
                        break;
                    }
                    let bar = |st: &str| -> String {
                        let r = per.get(st).map(|t| t.pearson).unwrap_or(f64::NAN);
                        let n = if r.is_finite() { (r.max(0.0) * bw as f64).round() as usize } else { 0 };
                        format!("{:<bw$}{:>6}", "█".repeat(n.min(bw)), fmt3(r), bw = bw)
                    };
                    buf.set_stringn(x, yy, format!("{:<12}{} {}", truncate(track, 11), bar("ubiquitous"), bar("specific")), w - table_w - 2, Style::default());
                }
            }
        }
    }
}
