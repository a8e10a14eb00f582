//! The terminal UI: app state and transitions ([`app`]), keys as data ([`keymap`]),
//! drawing ([`view`]), and the event loop here, which owns the terminal (restored on exit,
//! error and panic) and talks to the background jobs of `jobs::view`.
pub mod app;
pub mod export;
pub mod keymap;
pub mod view;

use crate::config::ProjectConfig;
use crate::genome::genes::Genes;
use crate::genome::peaks::{PeakReadOptions, PeakSet};
use crate::genome::Fasta;
use crate::jobs::eval::{run_eval, EvalEvent, EvalOptions};
use crate::jobs::view::{spawn_predictor, spawn_track_loader, LoaderJob, PredictRequest, PredictorJob, TrackRequest, ViewEvent};
use anyhow::Result;
use app::{App, Request};
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Put the terminal back: raw mode off, main screen, cursor shown.
pub fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(std::io::stdout(), LeaveAlternateScreen, ratatui::crossterm::cursor::Show);
}

/// The UI's log file: `$PEAKSCOPE_CACHE/peakscope.log` (default ~/.cache/peakscope).
pub fn log_path() -> std::path::PathBuf {
    crate::demo::default_dir().parent().map(|p| p.join("peakscope.log")).unwrap_or_else(|| "peakscope.log".into())
}

/// A logger thread: lines sent on the channel are appended to the log file with a time.
fn spawn_logger() -> crossbeam_channel::Sender<String> {
    let (tx, rx) = crossbeam_channel::unbounded::<String>();
    let path = log_path();
    std::thread::Builder::new()
        .name("log".into())
        .spawn(move || {
            use std::io::Write;
            if let Some(d) = path.parent() {
                let _ = std::fs::create_dir_all(d);
            }
            let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(&path) else { return };
            for line in rx {
                let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
                let _ = writeln!(f, "{t} {line}");
            }
        })
        .ok();
    tx
}

/// Build the app state for a project (reads the indexes and peak files once, before the UI
/// loop starts).
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
    // specificity from the per-track calls, when every track has them
    let calls: Vec<PeakSet> =
        cfg.tracks.iter().filter_map(|t| t.peaks.as_ref()).map(|p| PeakSet::read(p, &PeakReadOptions::default())).collect::<Result<_>>()?;
    if !calls.is_empty() && calls.len() == cfg.tracks.len() {
        app.specificity = crate::genome::peaks::specificity(&app.peaks, &calls).into_iter().map(Some).collect();
    }
    let keys = std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".config/peakscope/keys.toml"));
    if let Some(k) = keys.filter(|k| k.exists()) {
        app.keymap = keymap::Keymap::with_overrides(&std::fs::read_to_string(&k)?)?;
    }
    Ok(app)
}

/// Open the UI on a project (optionally restoring a session) and run until the user quits.
pub fn run(cfg: ProjectConfig, device: tch::Device, session: Option<export::Session>) -> Result<()> {
    let mut app = app_for(&cfg)?;
    if let Some(s) = &session {
        s.apply(&mut app)?;
    }
    let config_path = cfg.source.clone();
    let center_width = cfg.eval.center_width;
    let (ev_tx, ev_rx) = crossbeam_channel::unbounded::<ViewEvent>();
    let tracks_tx = spawn_track_loader(cfg.tracks.iter().map(|t| t.bigwig.clone()).collect(), ev_tx.clone());
    let pred_tx = spawn_predictor(cfg.clone(), device, ev_tx.clone());
    let eval_cancel = Arc::new(AtomicBool::new(false));
    // the evaluation runs on its own thread with its own model worker
    let start_eval = {
        let cfg = cfg.clone();
        let ev_tx = ev_tx.clone();
        let cancel = eval_cancel.clone();
        move || {
            cancel.store(false, Ordering::SeqCst);
            let (cfg, ev_tx, cancel) = (cfg.clone(), ev_tx.clone(), cancel.clone());
            std::thread::Builder::new()
                .name("eval".into())
                .spawn(move || {
                    let opts = EvalOptions {
                        models: vec![],
                        chroms: None,
                        limit: None,
                        device,
                        precision: crate::model::engine::Precision::F32,
                        batch_size: None,
                        snapshot_every: Some(Duration::from_millis(250)),
                    };
                    let strata: Vec<String> = Vec::new();
                    let tx = ev_tx.clone();
                    let mut last_done = (0, 0);
                    let r = run_eval(&cfg, &opts, &cancel, |ev| match ev {
                        EvalEvent::Progress { done, total, .. } => {
                            last_done = (done, total);
                            let _ = tx.send(ViewEvent::EvalProgress { done, total, snapshot: None, strata: strata.clone() });
                        }
                        EvalEvent::Snapshot(s) => {
                            let _ = tx.send(ViewEvent::EvalProgress { done: last_done.0, total: last_done.1, snapshot: Some(s), strata: vec![] });
                        }
                    });
                    match r {
                        Ok(out) => {
                            let names = out.state.layout.strata.names().to_vec();
                            let (d, t) = (out.state.rows.len(), out.state.total);
                            let _ = ev_tx.send(ViewEvent::EvalProgress { done: d, total: t, snapshot: Some(Box::new(out.snapshot)), strata: names });
                            let _ = ev_tx.send(ViewEvent::EvalDone(Ok(())));
                        }
                        Err(e) => {
                            let _ = ev_tx.send(ViewEvent::EvalDone(Err(format!("{e:#}"))));
                        }
                    }
                })
                .ok();
        }
    };
    let writer_tx = ev_tx.clone();
    drop(ev_tx);
    let log = spawn_logger();
    let _ = log.send(format!("open {}", cfg.source.display()));
    let default_hook = std::panic::take_hook();
    let panic_log = log_path();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(&panic_log) {
            use std::io::Write;
            let _ = writeln!(f, "panic: {info}");
        }
        default_hook(info);
    }));
    // library log lines go to the log file while the UI owns the terminal
    let _ = crate::logging::to_file(&log_path());
    enable_raw_mode()?;
    execute!(std::io::stdout(), EnterAlternateScreen)?;
    let mut terminal = ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))?;
    let result = (|| -> Result<()> {
        let size = terminal.size()?;
        let send = |app: &App, reqs: Vec<Request>| {
            for r in reqs {
                match r {
                    Request::Tracks { generation, locus, cols } => {
                        let _ = tracks_tx.send(LoaderJob::Tracks(TrackRequest { generation, locus, cols }));
                    }
                    Request::Heights { peaks } => {
                        let peaks = peaks.into_iter().filter_map(|i| app.peaks.get(i).map(|p| (i, p.locus()))).collect();
                        let _ = tracks_tx.send(LoaderJob::Heights { peaks, width: center_width });
                    }
                    Request::Predict { model, peaks, .. } => {
                        let peaks = peaks.into_iter().filter_map(|i| app.peaks.get(i).map(|p| (i, p.locus()))).collect();
                        let _ = pred_tx.send(PredictorJob::Predict(PredictRequest { model, peaks }));
                    }
                    Request::Ism { model, peak } => {
                        if let Some(p) = app.peaks.get(peak) {
                            let _ = pred_tx.send(PredictorJob::Ism { model, peak, locus: p.locus() });
                        }
                    }
                    Request::EvalStart => start_eval(),
                    Request::SaveSession(_) | Request::Export(_) => {}
                    Request::EvalStop => eval_cancel.store(true, Ordering::SeqCst),
                }
            }
        };
        let reqs = app.resize(size.width, size.height);
        send(&app, reqs);
        let mut dirty = true;
        let mut last_draw = Instant::now() - Duration::from_secs(1);
        while !app.quit {
            // coalesce redraws to at most ~60 per second
            if dirty && last_draw.elapsed() >= Duration::from_millis(16) {
                terminal.draw(|f| f.render_widget(&app, f.area()))?;
                last_draw = Instant::now();
                dirty = false;
            }
            if event::poll(Duration::from_millis(16))? {
                match event::read()? {
                    Event::Key(k) if k.kind == KeyEventKind::Press => {
                        let reqs = app.on_key(k);
                        // prepare file output here (no IO), write it on a thread, report back
                        for r in &reqs {
                            let prepared = match r {
                                Request::SaveSession(p) => export::Session::of(&app, &config_path).to_toml().map(|t| (p.clone(), t, "session saved to")),
                                Request::Export(p) => {
                                    let sz = terminal.size()?;
                                    export::render_view(&app, sz.width, sz.height, p).map(|t| (p.clone(), t, "view exported to"))
                                }
                                _ => continue,
                            };
                            match prepared {
                                Ok((path, text, what)) => {
                                    let tx = writer_tx.clone();
                                    std::thread::spawn(move || {
                                        let msg = export::write_text(&path, &text).map(|_| format!("{what} {}", path.display())).map_err(|e| format!("{e:#}"));
                                        let _ = tx.send(ViewEvent::Written(msg));
                                    });
                                }
                                Err(e) => app.status = format!("{e:#}"),
                            }
                        }
                        send(&app, reqs);
                        dirty = true;
                    }
                    Event::Resize(w, h) => {
                        let reqs = app.resize(w, h);
                        send(&app, reqs);
                        dirty = true;
                    }
                    _ => {}
                }
            }
            while let Ok(ev) = ev_rx.try_recv() {
                dirty = true;
                match ev {
                    ViewEvent::Tracks { generation, locus, data } => app.on_tracks(generation, locus, data),
                    ViewEvent::Preds { model, peaks, values } => app.on_preds(model, peaks, values),
                    ViewEvent::ModelsReady { device } => {
                        app.models_ready = true;
                        app.device = device;
                        let reqs = app.refresh();
                        send(&app, reqs);
                    }
                    ViewEvent::IsmStarted { peak, model, region_start, seq, mutants } => app.on_ism_started(peak, model, region_start, seq, mutants),
                    ViewEvent::IsmChunk { peak, ref_pred, first, preds } => app.on_ism_chunk(peak, ref_pred, first, preds),
                    ViewEvent::IsmDone { peak, motifs } => app.on_ism_done(peak, motifs),
                    ViewEvent::EvalProgress { done, total, snapshot, strata } => app.on_eval_progress(done, total, snapshot.map(|s| *s), strata),
                    ViewEvent::EvalDone(r) => {
                        if let Err(e) = &r {
                            let _ = log.send(format!("eval failed: {e}"));
                        }
                        app.on_eval_done(r)
                    }
                    ViewEvent::Heights { peaks, values } => app.on_heights(peaks, values),
                    ViewEvent::Written(r) => {
                        app.status = match r {
                            Ok(m) => m,
                            Err(e) => {
                                let _ = log.send(format!("error: {e}"));
                                e
                            }
                        }
                    }
                    ViewEvent::Error(e) => {
                        let _ = log.send(format!("error: {e}"));
                        app.status = e;
                    }
                }
            }
        }
        Ok(())
    })();
    eval_cancel.store(true, Ordering::SeqCst);
    restore_terminal();
    crate::logging::to_stderr();
    let _ = std::panic::take_hook();
    result
}
