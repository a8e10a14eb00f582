//! The terminal UI.
//!
//! * [`commands`]: every command declared once (name, default keys, count, description);
//!   [`keymap`] and the help popup derive from it.
//! * [`component`]: the component contract (`update` → jobs, `draw` only draws) and
//!   [`components`]: the components and their one registration point — its module doc says
//!   how to add a panel with its data request.
//! * [`app`]: routes keys, pastes, resizes and job replies; holds the [`shared`] state.
//! * [`view`]: the layout, header, status line and help; any terminal size draws.
//! * [`export`]: view export (text, SVG) and sessions (TOML, versioned).
//! * [`term`]: the terminal while the UI owns it (raw mode, alternate screen, bracketed
//!   paste, stderr to the log, signals).
//! * This module: the runtime. Components' tasks run on [`Worker`] threads — the track
//!   loader ([`Reader`]), the predictor ([`ModelClient`], the client of the model server
//!   process, see [`jobs::remote`](crate::jobs::remote)), a background thread for the
//!   evaluation (which runs in a process of its own), one for the peak index and one for
//!   file output — and their replies come
//!   back on one channel. Quitting (`q`, `:q`, Ctrl-C, or SIGTERM/SIGHUP/SIGINT) cancels
//!   every job, joins every thread (models are dropped by the threads that own them), then
//!   restores the terminal.
pub mod app;
pub mod commands;
pub mod component;
pub mod components;
pub mod export;
pub mod keymap;
pub mod shared;
pub mod summary;
pub mod term;
pub mod view;

use crate::config::ProjectConfig;
use crate::genome::genes::Genes;
use crate::genome::peaks::{PeakReadOptions, PeakSet};
use crate::genome::Fasta;
use crate::jobs::remote::ModelClient;
use crate::jobs::view::Reader;
use crate::jobs::worker::{Ctx, Reply, ReplyKind, Task, TaskService, Worker};
use anyhow::Result;
use app::{App, AppEvent, Request};
use component::{AnyEvent, Job, Thread};
use crossbeam_channel::{unbounded, Receiver, Sender};
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use term::restore_terminal;

/// The UI's log file: `$PEAKSCOPE_CACHE/peakscope.log` (default ~/.cache/peakscope).
pub fn log_path() -> PathBuf {
    crate::demo::default_dir().parent().map(|p| p.join("peakscope.log")).unwrap_or_else(|| "peakscope.log".into())
}

/// Build the app state for a project: the FASTA index, the peak set and the genes are read
/// before the UI loop starts; everything heavier (per-track calls, specificity, the height
/// of every peak) is the peak index job's, in the background.
pub fn app_for(cfg: &ProjectConfig) -> Result<App> {
    let fasta = Fasta::open(&cfg.genome.fasta)?;
    let peaks = match &cfg.peaks {
        Some(p) => PeakSet::read(&p.file, &PeakReadOptions { label_column: Some(p.label_column) })?,
        None => PeakSet::default(),
    };
    let genes = cfg.genome.genes.as_ref().map(|g| Genes::read(g)).transpose()?;
    let mut app = App::new(
        cfg.tracks.iter().map(|t| t.name.clone()).collect(),
        cfg.models.iter().map(|m| m.name.clone()).collect(),
        fasta.chroms().clone(),
        peaks,
        cfg.peaks.as_ref().map(|p| p.ubiquitous.clone()).unwrap_or_default(),
        genes,
    );
    app.shared.config = Some(Arc::new(cfg.clone()));
    // per-track calls, specificity and heights: the peak index job (see components::peaks)
    let keys = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/peakscope/keys.toml"));
    if let Some(k) = keys.filter(|k| k.exists()) {
        app.keymap = keymap::Keymap::with_overrides(&std::fs::read_to_string(&k)?).map_err(|e| anyhow::anyhow!("{}: {e:#}", k.display()))?;
    }
    Ok(app)
}

/// How the UI ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// the user quit
    Quit,
    /// a terminating signal arrived (the caller exits with 128 + it)
    Signal(i32),
}

/// Replies with this tag are for the App itself, not a component.
const APP_TAG: u64 = u64::MAX;

type TaskWorker<Env> = Worker<TaskService<Env, AnyEvent>>;

/// Writes a session or an exported view, off the UI thread.
struct WriteTask {
    path: PathBuf,
    text: String,
    what: &'static str,
}

impl Task<(), AnyEvent> for WriteTask {
    fn key(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.path.hash(&mut h);
        h.finish()
    }
    fn run(self: Box<Self>, _: &mut (), ctx: &Ctx<AnyEvent>) -> Result<(), String> {
        let msg = export::write_text(&self.path, &self.text).map(|_| format!("{} {}", self.what, self.path.display())).map_err(|e| format!("{e:#}"));
        ctx.emit(Box::new(AppEvent::Written(msg)) as AnyEvent);
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The UI's worker threads.
struct Services {
    reader: TaskWorker<Reader>,
    predictor: TaskWorker<ModelClient>,
    background: TaskWorker<()>,
    index: TaskWorker<()>,
    files: TaskWorker<()>,
}

/// Standard error for the UI's child processes: the log file (appended), or nowhere.
pub fn log_stdio() -> std::process::Stdio {
    match std::fs::OpenOptions::new().create(true).append(true).open(log_path()) {
        Ok(f) => f.into(),
        Err(_) => std::process::Stdio::null(),
    }
}

impl Services {
    /// Start the worker threads. The model server is spawned once `models_go` gets a message
    /// (or after [`MODELS_AFTER`] more), and not at all when it is dropped unsent.
    fn start(cfg: &ProjectConfig, device: &str, tx: &Sender<Reply<AnyEvent>>, models_go: Receiver<()>) -> Result<Services> {
        let sink = |tx: &Sender<Reply<AnyEvent>>| {
            let tx = tx.clone();
            move |r| {
                let _ = tx.send(r);
            }
        };
        let bigwigs: Vec<PathBuf> = cfg.tracks.iter().map(|t| t.bigwig.clone()).collect();
        let budget = cfg.ui.tile_cache_mb.saturating_mul(1 << 20);
        let reader = Worker::spawn(
            "track-loader",
            move |ctx| {
                let (reader, errors) = Reader::open_with_budget(&bigwigs, budget);
                for e in errors {
                    ctx.emit(Box::new(AppEvent::Error(e)) as AnyEvent);
                }
                Ok(TaskService::new(reader))
            },
            sink(tx),
        )?;
        let (config, device, no_models) = (cfg.source.clone(), device.to_string(), cfg.models.is_empty());
        let predictor = Worker::spawn(
            "predictor",
            move |ctx| {
                if no_models {
                    return Ok(TaskService::new(ModelClient::none()));
                }
                if let Err(crossbeam_channel::RecvTimeoutError::Disconnected) = models_go.recv_timeout(MODELS_AFTER * 2) {
                    return Ok(TaskService::new(ModelClient::none()));
                }
                let p = ModelClient::spawn(&config, &device, log_stdio()).map_err(|e| format!("models: {e:#}"))?;
                ctx.emit(Box::new(AppEvent::ModelsReady { device: p.device_label() }) as AnyEvent);
                Ok(TaskService::new(p))
            },
            sink(tx),
        )?;
        let background = Worker::spawn("eval", |_| Ok(TaskService::new(())), sink(tx))?;
        let index = Worker::spawn("index", |_| Ok(TaskService::new(())), sink(tx))?;
        let files = Worker::spawn("files", |_| Ok(TaskService::new(())), sink(tx))?;
        Ok(Services { reader, predictor, background, index, files })
    }

    /// Hand requests to the workers; sessions and exports are prepared here (no IO) and
    /// written by the file worker.
    fn run(&self, app: &mut App, reqs: Vec<Request>, size: (u16, u16), config_path: &Path) {
        for r in reqs {
            match r {
                Request::Job { component, job } => {
                    let tag = component as u64;
                    match job {
                        Job::Read(t) => drop(self.reader.submit_tagged(tag, t)),
                        Job::Model(t) => drop(self.predictor.submit_tagged(tag, t)),
                        Job::Background(t) => drop(self.background.submit_tagged(tag, t)),
                        Job::Index(t) => drop(self.index.submit_tagged(tag, t)),
                        Job::Cancel(thread, key) => {
                            match thread {
                                Thread::Reader => self.reader.cancel_lane(tag, key),
                                Thread::Predictor => self.predictor.cancel_lane(tag, key),
                                Thread::Background => self.background.cancel_lane(tag, key),
                                Thread::Index => self.index.cancel_lane(tag, key),
                            };
                        }
                    }
                }
                Request::SaveSession(path) => match export::Session::of(app, config_path).to_toml() {
                    Ok(text) => drop(self.files.submit_tagged(APP_TAG, Box::new(WriteTask { path, text, what: "session saved to" }))),
                    Err(e) => app.shared.status = format!("{e:#}"),
                },
                Request::Export(path) => match export::render_view(app, size.0, size.1, &path) {
                    Ok(text) => drop(self.files.submit_tagged(APP_TAG, Box::new(WriteTask { path, text, what: "view exported to" }))),
                    Err(e) => app.shared.status = format!("{e:#}"),
                },
            }
        }
    }

    /// Cancel every job on every thread, then join them all (the models are dropped by the
    /// model worker thread, inside the predictor's shutdown).
    fn shutdown(&mut self) {
        for cancelled in [self.reader.shutdown(), self.predictor.shutdown(), self.background.shutdown(), self.index.shutdown(), self.files.shutdown()] {
            if !cancelled {
                tracing::error!("a UI worker thread panicked");
            }
        }
    }
}

/// Route one reply: to its component, or to the App (service start, file output).
fn route(app: &mut App, r: Reply<AnyEvent>) -> Vec<Request> {
    if r.id == 0 || r.tag == APP_TAG {
        match r.kind {
            ReplyKind::Event(e) => match e.downcast::<AppEvent>() {
                Ok(ev) => app.on_app_event(*ev),
                Err(_) => {
                    tracing::error!("an event of an unknown type was sent to the App");
                    vec![]
                }
            },
            ReplyKind::Failed(e) => app.on_app_event(AppEvent::Error(e)),
            ReplyKind::Progress { .. } | ReplyKind::Finished { .. } => vec![],
        }
    } else {
        app.on_reply(r.tag as usize, r.kind)
    }
}

/// Open the UI on a project (optionally restoring a session) and run until the user quits
/// or a terminating signal arrives.
pub fn run(cfg: ProjectConfig, device: &str, session: Option<export::Session>) -> Result<Exit> {
    // without a terminal, say so before any work starts
    term::check_terminal()?;
    // the track loader opens the bigWigs on its thread while the peak set and genes are read
    // here (both are on the way to the first frame); the model server starts once that frame
    // is up, so that loading libtorch does not compete with it
    let (tx, rx) = unbounded::<Reply<AnyEvent>>();
    let (go, models_go) = crossbeam_channel::bounded::<()>(1);
    let services = Services::start(&cfg, device, &tx, models_go)?;
    let prepared = app_for(&cfg).and_then(|mut app| {
        app.shared.models.device = device.to_string();
        if let Some(s) = &session {
            s.apply(&mut app)?;
        }
        Ok(app)
    });
    let (mut app, guard) = match prepared.and_then(|app| Ok((app, term::TerminalGuard::enter(&log_path())?))) {
        Ok(opened) => opened,
        Err(e) => {
            // no models are started for a UI that never opened (`go` goes first, so the model
            // thread does not wait for it); every thread is joined
            drop(go);
            drop(services);
            return Err(e);
        }
    };
    let default_hook = Arc::new(std::panic::take_hook());
    let hook = default_hook.clone();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!("panic: {info}");
        // worker threads catch their panics and report them; only the UI thread's own end the UI
        if std::thread::current().name() == Some("main") {
            restore_terminal();
        }
        hook(info);
    }));
    tracing::info!("open {}", cfg.source.display());
    let mut services = services;
    let result = (|| -> Result<Exit> {
        let mut terminal = ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))?;
        let exit = match event_loop(&mut app, &mut terminal, &services, &rx, &guard, &cfg.source, go) {
            // a hangup can take the terminal with it: the signal is what ended the UI
            Err(e) if guard.signals.caught().is_some() => {
                tracing::info!("after the signal: {e:#}");
                Ok(Exit::Signal(guard.signals.caught().unwrap_or_default()))
            }
            other => other,
        };
        app.shared.status = "quitting: stopping background work…".into();
        let _ = terminal.draw(|f| f.render_widget(&app, f.area()));
        services.shutdown();
        exit
    })();
    // every worker thread has been joined (also on the error path: `services` was dropped)
    drop(guard);
    let _ = std::panic::take_hook();
    if let Ok(hook) = Arc::try_unwrap(default_hook) {
        std::panic::set_hook(hook);
    }
    if let Err(e) = &result {
        tracing::error!("{e:#}");
    }
    result
}

fn event_loop(
    app: &mut App,
    terminal: &mut ratatui::Terminal<ratatui::backend::CrosstermBackend<std::io::Stdout>>,
    services: &Services,
    rx: &Receiver<Reply<AnyEvent>>,
    guard: &term::TerminalGuard,
    config_path: &Path,
    models_go: Sender<()>,
) -> Result<Exit> {
    let signals = &guard.signals;
    // dropped (the model server never started) when the loop ends before the first frame
    let mut models_go = Some(models_go);
    let opened = Instant::now();
    let size = terminal.size()?;
    let mut size = (size.width, size.height);
    let reqs = app.resize(size.0, size.1);
    services.run(app, reqs, size, config_path);
    let mut dirty = true;
    let mut last_draw = Instant::now() - Duration::from_secs(1);
    loop {
        if let Some(sig) = signals.caught() {
            tracing::info!("signal {sig}: quitting");
            return Ok(Exit::Signal(sig));
        }
        if app.quit {
            return Ok(Exit::Quit);
        }
        // coalesce redraws to at most ~60 per second
        if dirty && last_draw.elapsed() >= Duration::from_millis(16) {
            let t = Instant::now();
            terminal.draw(|f| f.render_widget(&*app, f.area()))?;
            slow("draw", t);
            // the first frame with data is up (or it is taking long): start the models
            if models_go.is_some() && (app.component::<components::tracks::Tracks>().shown_locus().is_some() || opened.elapsed() > MODELS_AFTER) {
                if let Some(go) = models_go.take() {
                    let _ = go.send(());
                }
            }
            last_draw = Instant::now();
            dirty = false;
        }
        // the kernel is asked first (see `term::Input`); crossterm's own poll, with no wait,
        // then also delivers resizes
        let input = guard.input.wait(Duration::from_millis(16));
        if input == term::Input::Gone {
            tracing::info!("the terminal went away: quitting");
            return Ok(Exit::Signal(libc::SIGHUP));
        }
        if event::poll(Duration::ZERO)? {
            // everything already waiting, then draw
            for _ in 0..4096 {
                let t = Instant::now();
                let reqs = match event::read()? {
                    Event::Key(k) if k.kind == KeyEventKind::Press => app.on_key(k),
                    Event::Paste(text) => app.on_paste(&text),
                    Event::Resize(w, h) => {
                        size = (w, h);
                        app.resize(w, h)
                    }
                    _ => vec![],
                };
                services.run(app, reqs, size, config_path);
                slow("key", t);
                dirty = true;
                if app.quit || guard.input.wait(Duration::ZERO) == term::Input::Gone || !event::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
        while let Ok(r) = rx.try_recv() {
            dirty = true;
            let t = Instant::now();
            let reqs = route(app, r);
            services.run(app, reqs, size, config_path);
            slow("reply", t);
        }
    }
}

/// The longest the model server waits for the first frame with data before it starts anyway.
const MODELS_AFTER: Duration = Duration::from_millis(1500);

/// Log a step of the event loop that held the UI thread for more than a frame's worth
/// (`PEAKSCOPE_LOG=debug` shows them in the log file).
fn slow(what: &str, since: Instant) {
    let ms = since.elapsed().as_secs_f64() * 1e3;
    if ms > 16.0 {
        tracing::debug!("slow {what}: {ms:.1} ms on the UI thread");
    }
}
