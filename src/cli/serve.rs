//! The terminal UI's model processes, server side (`peakscope-torch serve-models` and
//! `peakscope-torch ui-eval`); the protocol and the UI's clients are in
//! [`jobs::remote`](crate::jobs::remote). Frames go to standard output, logs to standard
//! error (the UI's log file).
use crate::config::ProjectConfig;
use crate::jobs::eval::{run_eval, EvalEvent, EvalOptions};
use crate::jobs::remote::{as_ui_child, read_frame, unwire, write_frame, EvalFrame, ModelRequest, ModelResponse};
use crate::jobs::variants::run_variant_eval_streaming;
use crate::jobs::view::{IsmUpdate, Predictor};
use anyhow::Result;
use std::collections::HashSet;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Peaks per evaluation batch in the UI (the granularity of stopping it).
pub const UI_BATCH_PEAKS: usize = 64;

fn sender<T: serde::Serialize>() -> impl Fn(&T) + Clone {
    let out = Arc::new(Mutex::new(std::io::stdout()));
    move |v: &T| {
        let mut o = out.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = write_frame(&mut *o, v) {
            tracing::debug!("the UI stopped reading: {e}");
        }
    }
}

/// The ISM request running now: its id and its cancel flag.
type Running = Option<(u64, Arc<AtomicBool>)>;

/// Load the models and answer requests until standard input closes.
pub fn serve_models(cfg: &ProjectConfig, device: &str) -> Result<()> {
    as_ui_child();
    let send = sender::<ModelResponse>();
    let predictor = match crate::model::device::parse_device(device).and_then(|d| Predictor::open(cfg, d)) {
        Ok(p) => p,
        Err(e) => {
            send(&ModelResponse::Failed { id: 0, error: format!("{e:#}") });
            return Err(e);
        }
    };
    send(&ModelResponse::Ready { device: predictor.device_label() });
    // requests are served in order on this thread; cancels act at once from the reader
    let running: Arc<Mutex<Running>> = Arc::new(Mutex::new(None));
    let cancelled: Arc<Mutex<HashSet<u64>>> = Arc::new(Mutex::new(HashSet::new()));
    let (tx, rx) = crossbeam_channel::unbounded::<ModelRequest>();
    {
        let (running, cancelled) = (running.clone(), cancelled.clone());
        std::thread::Builder::new().name("requests".into()).spawn(move || {
            let mut input = std::io::stdin().lock();
            let cancel_running = |id: Option<u64>| {
                if let Some((r, flag)) = running.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                    if id.is_none_or(|i| i == *r) {
                        flag.store(true, Ordering::Relaxed);
                    }
                }
            };
            loop {
                match read_frame::<_, ModelRequest>(&mut input) {
                    Ok(Some(ModelRequest::Cancel { id })) => {
                        cancelled.lock().unwrap_or_else(|p| p.into_inner()).insert(id);
                        cancel_running(Some(id));
                    }
                    Ok(Some(req)) => {
                        if tx.send(req).is_err() {
                            break;
                        }
                    }
                    Ok(None) | Err(_) => {
                        // the UI is gone: stop what runs and end
                        cancel_running(None);
                        break;
                    }
                }
            }
        })?;
    }
    for req in rx {
        match req {
            ModelRequest::Predict { id, model, loci } => {
                if cancelled.lock().unwrap_or_else(|p| p.into_inner()).remove(&id) {
                    continue;
                }
                let loci: Vec<_> = loci.into_iter().map(unwire).collect();
                send(&match predictor.predict_tracks(model, &loci) {
                    Ok(values) => ModelResponse::Predicted { id, values },
                    Err(e) => ModelResponse::Failed { id, error: format!("predict: {e:#}") },
                });
            }
            ModelRequest::Ism { id, model, locus } => {
                let flag = Arc::new(AtomicBool::new(cancelled.lock().unwrap_or_else(|p| p.into_inner()).remove(&id)));
                *running.lock().unwrap_or_else(|p| p.into_inner()) = Some((id, flag.clone()));
                let r = predictor.ism(model, &unwire(locus), flag, |u| {
                    send(&match u {
                        IsmUpdate::Plan { region_start, seq, mutants } => ModelResponse::IsmPlan { id, region_start, seq, mutants },
                        IsmUpdate::Reference(values) => ModelResponse::IsmReference { id, values },
                        IsmUpdate::Chunk { first, preds, deltas } => ModelResponse::IsmChunk { id, first, preds, deltas },
                    })
                });
                *running.lock().unwrap_or_else(|p| p.into_inner()) = None;
                send(&match r {
                    Ok(s) => ModelResponse::IsmDone { id, motifs: s.motifs, done: s.done, cancelled: s.cancelled },
                    Err(e) => ModelResponse::Failed { id, error: format!("ISM: {e:#}") },
                });
            }
            ModelRequest::Cancel { .. } => {}
            ModelRequest::MotifNames { id } => send(&ModelResponse::MotifNames { id, names: predictor.motif_names() }),
            ModelRequest::TfActivity { id, model, first, end, peaks, seed } => {
                let flag = Arc::new(AtomicBool::new(cancelled.lock().unwrap_or_else(|p| p.into_inner()).remove(&id)));
                *running.lock().unwrap_or_else(|p| p.into_inner()) = Some((id, flag.clone()));
                let peaks: Vec<_> = peaks.into_iter().map(unwire).collect();
                let r = predictor.tf_activity(model, first..end, &peaks, seed, &flag);
                *running.lock().unwrap_or_else(|p| p.into_inner()) = None;
                send(&match r {
                    Ok(rows) => ModelResponse::TfRows { id, rows },
                    Err(e) => ModelResponse::Failed { id, error: format!("TF activity: {e:#}") },
                });
            }
            ModelRequest::Along { id, model, locus, cols } => {
                let flag = Arc::new(AtomicBool::new(cancelled.lock().unwrap_or_else(|p| p.into_inner()).remove(&id)));
                *running.lock().unwrap_or_else(|p| p.into_inner()) = Some((id, flag.clone()));
                let r = predictor.along_view(model, &unwire(locus), cols, &flag);
                *running.lock().unwrap_or_else(|p| p.into_inner()) = None;
                send(&match r {
                    Ok(along) => ModelResponse::Along { id, along },
                    Err(e) => ModelResponse::Failed { id, error: format!("predicted signal: {e:#}") },
                });
            }
            ModelRequest::MotifHits { id, motif, locus } => send(&match predictor.motif_hits(motif, &unwire(locus)) {
                Ok(hits) => ModelResponse::MotifHits { id, hits },
                Err(e) => ModelResponse::Failed { id, error: format!("motif hits: {e:#}") },
            }),
            ModelRequest::RegionAttr { id, model, locus, region_len } => {
                if cancelled.lock().unwrap_or_else(|p| p.into_inner()).remove(&id) {
                    send(&ModelResponse::Failed { id, error: "cancelled".into() });
                    continue;
                }
                send(&match predictor.region_attr(model, &unwire(locus), region_len) {
                    Ok((attr, hits)) => ModelResponse::RegionAttr { id, attr, hits },
                    Err(e) => ModelResponse::Failed { id, error: format!("attributions: {e:#}") },
                })
            }
            ModelRequest::VariantEffects { id, model, variants } => {
                if cancelled.lock().unwrap_or_else(|p| p.into_inner()).remove(&id) {
                    send(&ModelResponse::Failed { id, error: "cancelled".into() });
                    continue;
                }
                let variants: Vec<_> = variants.into_iter().map(crate::jobs::remote::unwire_variant).collect();
                send(&variant_effects(&predictor, id, model, &variants));
            }
        }
    }
    drop(predictor);
    Ok(())
}

/// Variant heights for the UI: the whole request in one batch; when that fails (a variant
/// whose window runs off its chromosome, say), one variant at a time, so that one bad
/// variant costs only its own row (NaN, with its reason).
fn variant_effects(predictor: &Predictor, id: u64, model: usize, variants: &[crate::genome::variants::Variant]) -> ModelResponse {
    match predictor.variant_effects(model, variants) {
        Ok(e) => ModelResponse::VariantEffects { id, ref_pred: e.ref_pred, alt_pred: e.alt_pred, errors: e.errors },
        Err(e) if variants.len() <= 1 => ModelResponse::Failed { id, error: format!("variant effects: {e:#}") },
        Err(_) => {
            let (mut ref_pred, mut alt_pred, mut errors) = (Vec::new(), Vec::new(), Vec::new());
            for (k, v) in variants.iter().enumerate() {
                match predictor.variant_effects(model, std::slice::from_ref(v)) {
                    Ok(mut e) => {
                        ref_pred.push(e.ref_pred.pop().unwrap_or_default());
                        alt_pred.push(e.alt_pred.pop().unwrap_or_default());
                    }
                    Err(e) => {
                        ref_pred.push(vec![]);
                        alt_pred.push(vec![]);
                        errors.push((k, format!("{}: {e:#}", v.key())));
                    }
                }
            }
            ModelResponse::VariantEffects { id, ref_pred, alt_pred, errors }
        }
    }
}

/// Run one evaluation, streaming progress and snapshots; a byte or the end of standard
/// input stops it after the running batch (its partial metrics are still sent).
pub fn serve_eval(cfg: &ProjectConfig, device: &str, chroms: Option<Vec<String>>, limit: Option<usize>) -> Result<()> {
    as_ui_child();
    let send = sender::<EvalFrame>();
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        std::thread::Builder::new().name("stop".into()).spawn(move || {
            let mut b = [0u8; 1];
            let _ = std::io::stdin().read(&mut b);
            cancel.store(true, Ordering::Relaxed);
        })?;
    }
    let run = || -> Result<bool> {
        let opts = EvalOptions {
            models: vec![],
            chroms,
            limit,
            device: crate::model::device::parse_device(device)?,
            precision: crate::model::engine::Precision::F32,
            batch_size: None,
            snapshot_every: Some(Duration::from_millis(250)),
            shard: None,
        };
        // small batches, so that stop and quit take effect within one (the metrics do not
        // depend on the batching)
        let mut cfg = cfg.clone();
        cfg.eval.batch_peaks = cfg.eval.batch_peaks.min(UI_BATCH_PEAKS);
        let mut last = (0, 0);
        let out = run_eval(&cfg, &opts, &cancel, |ev| match ev {
            EvalEvent::Progress { done, total, .. } => {
                last = (done, total);
                send(&EvalFrame::Progress { done, total });
            }
            EvalEvent::Snapshot(snapshot) => send(&EvalFrame::Snapshot { done: last.0, total: last.1, snapshot, strata: vec![] }),
        })?;
        let strata = out.state.layout.strata.names().to_vec();
        send(&EvalFrame::Snapshot { done: out.state.rows.len(), total: out.state.total, snapshot: Box::new(out.snapshot.clone()), strata });
        if out.cancelled || cfg.variants.is_none() {
            return Ok(out.cancelled);
        }
        // then the variants, with reference accuracy next to variant accuracy (as `eval`)
        let v = run_variant_eval_streaming(
            &cfg,
            &opts,
            &cancel,
            Some(&out.snapshot),
            |_| {},
            Some(Duration::from_millis(500)),
            |scored, strata, report| send(&EvalFrame::Variants { scored, strata: strata.to_vec(), report: Box::new(report.clone()), finished: false }),
        )?;
        let finished = !v.summary.cancelled;
        send(&EvalFrame::Variants { scored: v.summary.scored, strata: v.strata, report: Box::new(v.report), finished });
        Ok(!finished)
    };
    match run() {
        Ok(cancelled) => {
            send(&EvalFrame::Done { cancelled });
            Ok(())
        }
        Err(e) => {
            send(&EvalFrame::Failed(format!("{e:#}")));
            Err(e)
        }
    }
}
