//! The App routes keys, pastes, resizes and job replies to the components and holds only
//! what they share ([`Shared`]) plus the input modes (prompt, help, count prefix). No IO:
//! events go in, [`Request`]s for the runtime come out.
//!
//! Routing: a command goes to the open panel first, then to the other components in
//! registration order, then to the App's own navigation commands. After any event, if the
//! view (locus, size, selection, models) changed every component gets `Refresh`; if only the
//! open panel changed, the newly opened one does.
use super::commands::{Action, CommandSet};
use super::component::{AnyEvent, Component, DynComponent, Event, Job, Outcome};
use super::keymap::Keymap;
use super::shared::{Models, Shared};
use crate::genome::genes::Genes;
use crate::genome::{ChromNames, Locus, PeakSet};
use crate::jobs::worker::ReplyKind;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::any::Any;
use std::collections::HashMap;
use std::path::PathBuf;

pub use super::view::LABEL_W;

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

/// Work for the runtime.
pub enum Request {
    /// a component's job: run on its worker thread, replies back to `component`
    Job { component: usize, job: Job<AnyEvent> },
    /// `:w FILE`
    SaveSession(PathBuf),
    /// `:export FILE` (.svg or text)
    Export(PathBuf),
}

impl Request {
    /// The task of a job request, if it is a `T`.
    pub fn task<T: 'static>(&self) -> Option<&T> {
        match self {
            Request::Job { job, .. } => job.task::<T>(),
            _ => None,
        }
    }

    pub fn is_cancel(&self) -> bool {
        matches!(self, Request::Job { job: Job::Cancel(..), .. })
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Job { component, job: Job::Cancel(t, k) } => write!(f, "Cancel {{ component: {component}, thread: {t:?}, key: {k} }}"),
            Request::Job { component, job } => write!(f, "Job {{ component: {component}, thread: {:?} }}", job.thread()),
            Request::SaveSession(p) => write!(f, "SaveSession({})", p.display()),
            Request::Export(p) => write!(f, "Export({})", p.display()),
        }
    }
}

/// Events for the App itself (service start, file output).
pub enum AppEvent {
    /// the predictor loaded the models
    ModelsReady { device: String },
    /// something to show on the status line (and in the log)
    Error(String),
    /// a session or export was written (message), or failed
    Written(Result<String, String>),
}

pub struct App {
    pub shared: Shared,
    components: Vec<Box<dyn DynComponent>>,
    pub mode: Mode,
    pub count: Option<usize>,
    pub keymap: Keymap,
    pub quit: bool,
}

type Snapshot = ((Locus, usize, Option<usize>, usize, Option<usize>, bool), Option<&'static str>);

impl App {
    pub fn new(tracks: Vec<String>, models: Vec<String>, chroms: ChromNames, peaks: PeakSet, ubiquitous: Vec<String>, genes: Option<Genes>) -> App {
        let locus = match peaks.get(0) {
            Some(p) => {
                let c = p.start + (p.end - p.start) / 2;
                Locus::new(p.chrom.clone(), c.saturating_sub(5_000), c + 5_000)
            }
            None => Locus::new(chroms.names().first().cloned().unwrap_or_default(), 0, chroms.lengths().first().copied().unwrap_or(10_000).min(10_000)),
        };
        let shared = Shared {
            config: None,
            tracks,
            chroms,
            peaks: std::sync::Arc::new(peaks),
            ubiquitous,
            genes,
            specificity: Vec::new(),
            specificity_version: 0,
            eval_choice: None,
            models: Models {
                names: models,
                active: 0,
                compare: None,
                ready: false,
                device: "auto".into(),
                device_label: String::new(),
                preds: HashMap::new(),
                preds_version: 0,
            },
            locus,
            selected: None,
            focused_track: 0,
            panel: None,
            status: super::shared::HINT.into(),
            cols: 80,
            rows: 24,
            generation: 0,
            variant_row: None,
        };
        App { shared, components: super::components::all(), mode: Mode::Normal, count: None, keymap: Keymap::default(), quit: false }
    }

    /// Position of component `C` in the registry.
    fn index_of<C: Component>(&self) -> usize {
        self.components.iter().position(|c| c.name() == C::NAME).unwrap_or_else(|| panic!("component {} is not registered", C::NAME))
    }

    /// The registered component of type `C`.
    pub fn component<C: Component>(&self) -> &C {
        let c: &dyn Any = self.components[self.index_of::<C>()].as_any();
        c.downcast_ref().expect("one component per name")
    }

    pub fn component_mut<C: Component>(&mut self) -> &mut C {
        let i = self.index_of::<C>();
        let c: &mut dyn Any = self.components[i].as_any_mut();
        c.downcast_mut().expect("one component per name")
    }

    pub fn components(&self) -> impl Iterator<Item = &dyn DynComponent> {
        self.components.iter().map(|c| &**c)
    }

    /// Names of the panels, in Tab order.
    pub fn panels(&self) -> Vec<&'static str> {
        self.components.iter().filter(|c| c.is_panel()).map(|c| c.name()).collect()
    }

    fn snapshot(&self) -> Snapshot {
        (self.shared.view_key(), self.shared.panel)
    }

    /// Refresh after an event: everything if the view changed, else a newly opened panel.
    fn settle(&mut self, before: Snapshot, mut out: Vec<Request>) -> Vec<Request> {
        if self.shared.view_key() != before.0 {
            out.extend(self.refresh());
        } else if self.shared.panel != before.1 {
            if let Some(i) = self.shared.panel.and_then(|p| self.components.iter().position(|c| c.name() == p)) {
                out.extend(self.update_one(i, Event::Refresh).1);
            }
        }
        out
    }

    fn update_one(&mut self, i: usize, ev: Event<AnyEvent>) -> (bool, Vec<Request>) {
        match self.components[i].update(ev, &mut self.shared) {
            Outcome::Ignored => (false, vec![]),
            Outcome::Done(jobs) => (true, jobs.into_iter().map(|job| Request::Job { component: i, job }).collect()),
        }
    }

    /// Requests that bring every component up to date with the view.
    pub fn refresh(&mut self) -> Vec<Request> {
        self.shared.generation += 1;
        (0..self.components.len()).flat_map(|i| self.update_one(i, Event::Refresh).1).collect()
    }

    pub fn resize(&mut self, width: u16, height: u16) -> Vec<Request> {
        self.shared.cols = width.saturating_sub(LABEL_W).max(10) as usize;
        self.shared.rows = height;
        self.refresh()
    }

    /// Resolve what was typed in the goto box (see [`Shared::goto`]).
    pub fn goto(&mut self, text: &str) -> Result<(), String> {
        self.shared.goto(text)
    }

    /// A reply for component `component` (its position in the registry).
    pub fn on_reply(&mut self, component: usize, reply: ReplyKind<AnyEvent>) -> Vec<Request> {
        if component >= self.components.len() {
            tracing::error!("a reply for component #{component}, which does not exist");
            return vec![];
        }
        let before = self.snapshot();
        let out = self.update_one(component, Event::Reply(reply)).1;
        self.settle(before, out)
    }

    /// A reply for component `C`, typed (tests and tools feed components this way).
    pub fn deliver<C: Component>(&mut self, reply: ReplyKind<C::Event>) -> Vec<Request> {
        let i = self.index_of::<C>();
        self.on_reply(i, reply.map(|e| Box::new(e) as AnyEvent))
    }

    pub fn on_app_event(&mut self, ev: AppEvent) -> Vec<Request> {
        let before = self.snapshot();
        match ev {
            AppEvent::ModelsReady { device } => {
                self.shared.models.ready = true;
                self.shared.models.device_label = device;
            }
            AppEvent::Error(e) | AppEvent::Written(Err(e)) => {
                tracing::warn!("{e}");
                self.shared.status = e;
            }
            AppEvent::Written(Ok(m)) => self.shared.status = m,
        }
        self.settle(before, vec![])
    }

    /// Text pasted (bracketed paste): into the prompt; in normal mode it opens the goto
    /// prompt with it. Line breaks and other control characters become spaces.
    pub fn on_paste(&mut self, text: &str) -> Vec<Request> {
        let clean: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        match &mut self.mode {
            Mode::Prompt { text, .. } => text.push_str(&clean),
            Mode::Normal => self.mode = Mode::Prompt { search: false, text: clean },
            Mode::Help => self.mode = Mode::Normal,
        }
        vec![]
    }

    /// One key press.
    pub fn on_key(&mut self, ev: KeyEvent) -> Vec<Request> {
        let before = self.snapshot();
        let out = self.key(ev);
        self.settle(before, out)
    }

    /// Run a command as if its key was pressed; None when nothing handles it (a list
    /// command while the list is closed, say).
    pub fn command(&mut self, action: Action, count: usize) -> Option<Vec<Request>> {
        let before = self.snapshot();
        let out = self.dispatch(action, count)?;
        Some(self.settle(before, out))
    }

    fn key(&mut self, ev: KeyEvent) -> Vec<Request> {
        // Ctrl-C quits from any mode (raw mode delivers it as a key, not a signal)
        if ev.code == KeyCode::Char('c') && ev.modifiers.contains(KeyModifiers::CONTROL) {
            self.quit = true;
            return vec![];
        }
        match &mut self.mode {
            Mode::Help => {
                self.mode = Mode::Normal;
                return vec![];
            }
            Mode::Prompt { .. } => return self.prompt_key(ev),
            Mode::Normal => {}
        }
        if let KeyCode::Char(c @ '0'..='9') = ev.code {
            if c != '0' || self.count.is_some() {
                self.count = Some(self.count.unwrap_or(0).saturating_mul(10).saturating_add(c as usize - '0' as usize).min(1_000_000));
                return vec![];
            }
        }
        let count = self.count.take().unwrap_or(1).max(1);
        let Some(action) = self.keymap.action(&ev) else { return vec![] };
        self.dispatch(action, if action.takes_count() { count } else { 1 }).unwrap_or_default()
    }

    fn prompt_key(&mut self, ev: KeyEvent) -> Vec<Request> {
        let Mode::Prompt { search, text } = &mut self.mode else { return vec![] };
        match ev.code {
            KeyCode::Esc => self.mode = Mode::Normal,
            KeyCode::Enter => {
                let (search, line) = (*search, text.trim().to_string());
                self.mode = Mode::Normal;
                if !search {
                    if let Some(f) = line.strip_prefix("w ").map(str::trim).filter(|f| !f.is_empty()) {
                        return vec![Request::SaveSession(f.into())];
                    }
                    if let Some(f) = line.strip_prefix("export ").map(str::trim).filter(|f| !f.is_empty()) {
                        return vec![Request::Export(f.into())];
                    }
                    if line == "q" {
                        self.quit = true;
                        return vec![];
                    }
                    if let Some(args) = line.strip_prefix("eval").filter(|a| a.is_empty() || a.starts_with(' ')) {
                        return self.eval_prompt(args);
                    }
                }
                if search && self.shared.panel == Some(crate::tui::components::tf::TfPanel::NAME) {
                    // `/` in the TF panel finds a TF
                    let i = self.index_of::<crate::tui::components::tf::TfPanel>();
                    let c: &mut dyn Any = self.components[i].as_any_mut();
                    if let Some(tf) = c.downcast_mut::<crate::tui::components::tf::TfPanel>() {
                        tf.find(&line, &mut self.shared);
                    }
                    return self.update_one(i, Event::Refresh).1;
                }
                if let Err(e) = self.shared.goto(&line) {
                    self.shared.status = e;
                }
            }
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) if !ev.modifiers.contains(KeyModifiers::CONTROL) => text.push(c),
            _ => {}
        }
        vec![]
    }

    /// `:eval [CHROMS|all] [N|none]`: choose the peaks of the evaluation and start it.
    fn eval_prompt(&mut self, args: &str) -> Vec<Request> {
        use super::components::metrics::{EvalChoice, Metrics};
        if self.component::<Metrics>().eval.running {
            self.shared.status = "an evaluation is running: e stops it, then :eval starts another".into();
            return vec![];
        }
        let base = self.shared.eval_choice.clone().or_else(|| self.shared.config.as_deref().map(EvalChoice::from_config)).unwrap_or_default();
        match EvalChoice::parse(args, &base, &self.shared.chroms) {
            Ok(choice) => {
                self.shared.eval_choice = Some(choice);
                self.dispatch(Action::Eval, 1).unwrap_or_default()
            }
            Err(e) => {
                self.shared.status = e;
                vec![]
            }
        }
    }

    /// Offer a command to the components (the open panel first), then to the App.
    fn dispatch(&mut self, action: Action, n: usize) -> Option<Vec<Request>> {
        let open = self.shared.panel.and_then(|p| self.components.iter().position(|c| c.name() == p));
        let order: Vec<usize> = open.into_iter().chain((0..self.components.len()).filter(|&i| Some(i) != open)).collect();
        for i in order {
            let (handled, out) = self.update_one(i, Event::Command(action, n));
            if handled {
                return Some(out);
            }
        }
        self.app_command(action, n).then(Vec::new)
    }

    /// The shared navigation commands; false for a command that is not the App's.
    fn app_command(&mut self, action: Action, n: usize) -> bool {
        let s = &mut self.shared;
        let n = n as i64;
        let w = s.locus.len();
        let chrom = s.locus.chrom.clone();
        let start = s.locus.start as i64;
        match action {
            Action::PanLeft => s.set_view(&chrom, start - n * (w as i64 / 10).max(1), w),
            Action::PanRight => s.set_view(&chrom, start + n * (w as i64 / 10).max(1), w),
            Action::PanScreenLeft => s.set_view(&chrom, start - n * w as i64, w),
            Action::PanScreenRight => s.set_view(&chrom, start + n * w as i64, w),
            Action::ZoomIn | Action::ZoomOut => {
                let f = 2f64.powi(n.min(30) as i32);
                let nw = if action == Action::ZoomIn { (w as f64 / f) as u64 } else { (w as f64 * f).min(1e12) as u64 };
                let c = (s.locus.start + w / 2) as i64;
                s.set_view(&chrom, c - (nw.max(100) / 2) as i64, nw);
            }
            Action::NextPeak | Action::PrevPeak => {
                let filter = s.peak_filter();
                let keep = |p: &crate::genome::Peak| filter.is_none() || p.label == filter;
                let mut cur = s.selected.and_then(|i| s.peaks.get(i)).map(|p| (p.chrom.clone(), p.start)).unwrap_or((chrom, s.locus.start + w / 2));
                let mut found = None;
                for _ in 0..n {
                    let next = if action == Action::NextPeak { s.peaks.next_after(&cur.0, cur.1, keep) } else { s.peaks.prev_before(&cur.0, cur.1, keep) };
                    let Some(i) = next else { break };
                    found = Some(i);
                    let p = s.peaks.get(i).unwrap();
                    cur = (p.chrom.clone(), p.start);
                }
                match found {
                    Some(i) => s.jump_to_peak(i),
                    None => {
                        s.status = format!(
                            "no {} peak{}",
                            if action == Action::NextPeak { "next" } else { "previous" },
                            filter.map(|f| format!(" in {f}")).unwrap_or_default()
                        )
                    }
                }
            }
            Action::SelectPeak => {
                let c = s.locus.start + w / 2;
                let near = s.in_view().into_iter().min_by_key(|&i| {
                    let p = s.peaks.get(i).unwrap();
                    (p.start + (p.end - p.start) / 2).abs_diff(c)
                });
                match near {
                    Some(i) => s.jump_to_peak(i),
                    None => s.status = "no peak in view".into(),
                }
            }
            Action::Goto | Action::Search => self.mode = Mode::Prompt { search: action == Action::Search, text: String::new() },
            Action::CycleModel => {
                if s.models.names.is_empty() {
                    s.status = "no models in this project".into();
                } else {
                    s.models.active = (s.models.active + 1) % s.models.names.len();
                    s.status = format!("model {}", s.models.names[s.models.active]);
                }
            }
            Action::CompareModel => {
                let (names, active) = (&s.models.names, s.models.active);
                if names.len() < 2 {
                    s.status = "only one model: nothing to compare".into();
                    return true;
                }
                let next = |from: usize| (from + 1..names.len()).find(|&m| m != active);
                s.models.compare = match s.models.compare {
                    None => next(0).or_else(|| (0..names.len()).find(|&m| m != active)),
                    Some(c) => next(c),
                };
                s.status = match s.models.compare {
                    Some(c) => format!("comparing {} with {}", names[active], names[c]),
                    None => "comparison off".into(),
                };
            }
            Action::NextPanel => {
                let panels = self.panels();
                let s = &mut self.shared;
                let at = s.panel.and_then(|p| panels.iter().position(|&q| q == p));
                s.panel = match at {
                    None => panels.first().copied(),
                    Some(k) => panels.get(k + 1).copied(),
                };
            }
            Action::Help => self.mode = Mode::Help,
            Action::Quit => self.quit = true,
            Action::ToggleScale
            | Action::Ism
            | Action::Eval
            | Action::ListUp
            | Action::ListDown
            | Action::SortPeaks
            | Action::ListScope
            | Action::ToggleTrack
            | Action::TfActivity
            | Action::Logo
            | Action::LogoLeft
            | Action::LogoRight
            | Action::CycleTrack
            | Action::PredictRest
            | Action::ScrollTracksDown
            | Action::ScrollTracksUp
            | Action::ToggleGroup
            | Action::NextVariant
            | Action::PrevVariant
            | Action::VariantMetrics => return false,
        }
        true
    }

    /// Running jobs for the header (ISM and evaluation progress).
    pub fn jobs_line(&self) -> String {
        self.components.iter().filter_map(|c| c.activity()).collect::<Vec<_>>().join(" · ")
    }
}
