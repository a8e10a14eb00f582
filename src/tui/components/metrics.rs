//! The metrics panel: `e` starts (and stops) an evaluation of every model on the project's
//! peaks in the background; the table fills in from its snapshots.
use crate::config::ProjectConfig;
use crate::eval::report::{fmt3, Snapshot};
use crate::genome::locus::group_thousands;
use crate::jobs::remote::{EvalFrame, EvalProcess};
use crate::jobs::variants::VariantReports;
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
    /// variant metrics so far (projects with `[variants]`, after the peaks)
    pub variants: Option<VariantMetrics>,
}

/// Variant accuracy as it fills in: per model, reference vs variant accuracy per stratum.
#[derive(Debug, Clone, Default)]
pub struct VariantMetrics {
    pub scored: usize,
    pub strata: Vec<String>,
    pub report: VariantReports,
    pub finished: bool,
}

#[derive(Default)]
pub struct Metrics {
    pub eval: EvalView,
    /// the variant accuracy view (`a`) rather than reference accuracy
    pub show_variants: bool,
    /// the peaks of the running (or last) evaluation
    pub choice: Option<EvalChoice>,
}

pub enum MetricsEvent {
    /// metrics so far (`strata`: their display order, once known)
    Snapshot { done: usize, total: usize, snapshot: Box<Snapshot>, strata: Vec<String> },
    /// variant metrics so far
    Variants(Box<VariantMetrics>),
}

/// Evaluate every model of the project in an evaluation process (see
/// [`jobs::remote`](crate::jobs::remote)): everything it holds is freed when it ends.
/// Stopped by cancelling it; the partial metrics stay.
pub struct EvalTask {
    pub config: Arc<ProjectConfig>,
    /// `--device` as given (auto, cpu, cuda:N)
    pub device: String,
    /// only peaks on these chromosomes (empty: all)
    pub chroms: Vec<String>,
    pub limit: Option<usize>,
}

impl Task<(), MetricsEvent> for EvalTask {
    fn run(self: Box<Self>, _: &mut (), ctx: &Ctx<MetricsEvent>) -> Result<(), String> {
        let mut p = EvalProcess::spawn(&self.config.source, &self.device, &self.chroms, self.limit, crate::tui::log_stdio()).map_err(|e| format!("{e:#}"))?;
        loop {
            if ctx.cancelled() {
                p.stop();
            }
            match p.next(Duration::from_millis(50)).map_err(|e| format!("{e:#}"))? {
                None => {}
                Some(EvalFrame::Progress { done, total }) => {
                    ctx.progress(done, total);
                }
                Some(EvalFrame::Snapshot { done, total, snapshot, strata }) => {
                    ctx.emit(MetricsEvent::Snapshot { done, total, snapshot, strata });
                }
                Some(EvalFrame::Variants { scored, strata, report, finished }) => {
                    ctx.emit(MetricsEvent::Variants(Box::new(VariantMetrics { scored, strata, report: *report, finished })));
                }
                Some(EvalFrame::Done { .. }) => return Ok(()),
                Some(EvalFrame::Failed(e)) => return Err(e),
            }
        }
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Which peaks an evaluation from the UI covers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EvalChoice {
    /// chromosomes (empty: all)
    pub chroms: Vec<String>,
    pub limit: Option<usize>,
}

impl EvalChoice {
    /// From `[eval]` in the config: the held-out chromosomes and the limit.
    pub fn from_config(cfg: &ProjectConfig) -> EvalChoice {
        EvalChoice { chroms: cfg.eval.chroms.clone(), limit: cfg.eval.limit }
    }

    /// `:eval` arguments: chromosome names (comma or space separated) or `all`, and a
    /// number = the peak limit (`none` lifts it). Unset parts come from `base`.
    pub fn parse(args: &str, base: &EvalChoice, chroms: &crate::genome::ChromNames) -> Result<EvalChoice, String> {
        let mut out = base.clone();
        let mut names = Vec::new();
        let mut all = false;
        for w in args.split([' ', ',']).map(str::trim).filter(|w| !w.is_empty()) {
            if let Ok(n) = w.replace('_', "").parse::<usize>() {
                if n == 0 {
                    return Err(":eval: the peak limit must be > 0 (none lifts it)".into());
                }
                out.limit = Some(n);
            } else if w.eq_ignore_ascii_case("none") {
                out.limit = None;
            } else if w.eq_ignore_ascii_case("all") {
                all = true;
            } else {
                let c = chroms.resolve(w).ok_or_else(|| format!(":eval: no chromosome '{w}' (have {})", chroms.preview()))?;
                names.push(c.to_string());
            }
        }
        if all {
            out.chroms.clear();
        } else if !names.is_empty() {
            out.chroms = names;
        }
        Ok(out)
    }

    pub fn describe(&self) -> String {
        format!(
            "{} on {}",
            self.limit.map(|n| format!("up to {} peaks", group_thousands(n as u64))).unwrap_or_else(|| "every peak".into()),
            if self.chroms.is_empty() { "all chromosomes".to_string() } else { self.chroms.join(",") }
        )
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
                // `:eval` chose the peaks, or [eval] in the config (held-out chromosomes, limit)
                let choice = s.eval_choice.clone().unwrap_or_else(|| EvalChoice::from_config(&config));
                self.eval = EvalView { running: true, ..Default::default() };
                s.status = format!(
                    "evaluation started: {} (e stops it; {})",
                    choice.describe(),
                    if s.eval_choice.is_some() { "chosen with :eval" } else { "[eval] chroms/limit in the config; :eval CHROMS|all [N] chooses" }
                );
                self.choice = Some(choice.clone());
                Outcome::one(Job::Background(Box::new(EvalTask { config, device: s.models.device.clone(), chroms: choice.chroms, limit: choice.limit })))
            }
            Event::Command(Action::VariantMetrics, _) => {
                s.panel = Some(Self::NAME);
                self.show_variants = !self.show_variants;
                s.status = match (self.show_variants, s.config.as_ref().is_some_and(|c| c.variants.is_some())) {
                    (false, _) => "metrics: reference accuracy (a: variant accuracy)".into(),
                    (true, true) => "metrics: variant accuracy, filled in after the peaks (a: reference accuracy)".into(),
                    (true, false) => "metrics: variant accuracy needs a [variants] section in the config".into(),
                };
                Outcome::none()
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
                    ReplyKind::Event(MetricsEvent::Variants(v)) => {
                        if self.eval.variants.is_none() && !self.show_variants {
                            s.status = "variant metrics are coming in: a shows them".into();
                        }
                        self.eval.variants = Some(*v);
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
        if self.show_variants {
            return self.draw_variants(area, buf, s);
        }
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
            format!(
                "─ metrics · {state} · {}/{} peaks ({pct:.0}%){} · mean Pearson of log2(x+1) over cell types",
                e.done,
                e.total,
                self.choice.as_ref().map(|c| format!(" · {}", c.describe())).unwrap_or_default()
            ),
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

impl Metrics {
    /// The variant accuracy view: per model and stratum, reference accuracy (mean Pearson of
    /// the peaks) next to allelic-imbalance and labelled-variant accuracy — the table of
    /// `peakscope eval`'s variant metrics.
    fn draw_variants(&self, area: Rect, buf: &mut Buffer, s: &Shared) {
        let dim = Style::default().fg(Color::Indexed(244));
        let w = area.width as usize;
        let bottom = area.y + area.height;
        let e = &self.eval;
        let state = match (&e.variants, e.running) {
            (Some(v), true) => format!("{} variants scored (running, e stops)", v.scored),
            (Some(v), false) => format!("{} variants scored{}", v.scored, if v.finished { "" } else { " (stopped)" }),
            (None, true) => format!("scoring starts after the peaks ({}/{})", e.done, e.total),
            (None, false) => "press e to evaluate (peaks, then variants)".into(),
        };
        buf.set_stringn(
            area.x,
            area.y,
            format!("─ variant metrics · {state} · ref_r: reference accuracy; ai: allelic imbalance; lab: labelled variants · a: reference view"),
            w,
            Style::default().add_modifier(Modifier::BOLD),
        );
        let Some(v) = &e.variants else { return };
        let header = crate::eval::variants::table_header();
        if area.height < 2 {
            return;
        }
        buf.set_stringn(area.x, area.y + 1, header, w, dim);
        let active = s.models.names.get(s.models.active);
        let mut y = area.y + 2;
        for (name, rep) in &v.report {
            // the paper's strata first, then the clusters and specificity bins
            let key = ["all", "ubiquitous", "specific", "outside_peaks"];
            let order = key.iter().map(|k| k.to_string()).chain(v.strata.iter().filter(|x| !key.contains(&x.as_str())).cloned());
            for st in order.filter(|st| rep.summary.contains_key(st)) {
                if y >= bottom {
                    return;
                }
                let x = &rep.summary[&st];
                let line = crate::eval::variants::table_row(&truncate(name, 16), &truncate(&st, 14), x);
                let st = if Some(name) == active { Style::default().add_modifier(Modifier::BOLD) } else { Style::default() };
                buf.set_stringn(area.x, y, line, w, st);
                y += 1;
            }
        }
    }
}
