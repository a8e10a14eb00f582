//! Background jobs behind the terminal UI. The UI thread never reads files or runs
//! models: bigWig summaries come from a track loader thread, predictions from a predictor
//! thread that owns the FASTA and the model worker. Both serve only the newest request
//! (latest wins) and report on one event channel.
use crate::config::ProjectConfig;
use crate::genome::bigwig::BinSummary;
use crate::genome::{BigWig, Fasta, Locus};
use crate::jobs::ModelWorker;
use crate::model::device::device_label;
use crate::model::engine::{ModelSpec, Precision};
use crossbeam_channel::{unbounded, Sender};
use std::path::PathBuf;
use tch::Device;

pub enum ViewEvent {
    Tracks {
        generation: u64,
        locus: Locus,
        data: Vec<Option<Vec<BinSummary>>>,
    },
    Preds {
        model: usize,
        peaks: Vec<usize>,
        values: Vec<Vec<f32>>,
    },
    ModelsReady {
        device: String,
    },
    IsmStarted {
        peak: usize,
        model: usize,
        region_start: i64,
        seq: Vec<u8>,
        mutants: Vec<(u32, u8)>,
    },
    /// predictions per track (reference) and per mutant per track
    IsmChunk {
        peak: usize,
        ref_pred: Vec<f32>,
        first: usize,
        preds: Vec<Vec<f32>>,
    },
    IsmDone {
        peak: usize,
        motifs: Vec<Option<String>>,
    },
    EvalProgress {
        done: usize,
        total: usize,
        snapshot: Option<Box<crate::eval::report::Snapshot>>,
        strata: Vec<String>,
    },
    EvalDone(Result<(), String>),
    /// measured height (sum over the central window) per peak, per track
    Heights {
        peaks: Vec<usize>,
        values: Vec<Vec<f64>>,
    },
    /// a session or export was written (message), or failed
    Written(Result<String, String>),
    Error(String),
}

pub struct TrackRequest {
    pub generation: u64,
    pub locus: Locus,
    pub cols: usize,
}

/// Work for the track loader: column summaries of a view, or peak heights.
pub enum LoaderJob {
    Tracks(TrackRequest),
    /// sums over the central `width` bp of each (peak index, locus)
    Heights {
        peaks: Vec<(usize, Locus)>,
        width: u64,
    },
}

/// Start the track loader; send requests on the returned channel. The newest view request
/// wins; height requests are all served.
pub fn spawn_track_loader(bigwigs: Vec<PathBuf>, events: Sender<ViewEvent>) -> Sender<LoaderJob> {
    let (tx, rx) = unbounded::<LoaderJob>();
    std::thread::Builder::new()
        .name("track-loader".into())
        .spawn(move || {
            let mut files: Vec<Option<BigWig>> = bigwigs
                .iter()
                .map(|p| match BigWig::open(p) {
                    Ok(b) => Some(b),
                    Err(e) => {
                        let _ = events.send(ViewEvent::Error(format!("{e:#}")));
                        None
                    }
                })
                .collect();
            let mut pending: Option<TrackRequest> = None;
            loop {
                let mut heights = Vec::new();
                if pending.is_none() {
                    match rx.recv() {
                        Ok(LoaderJob::Tracks(r)) => pending = Some(r),
                        Ok(LoaderJob::Heights { peaks, width }) => heights.push((peaks, width)),
                        Err(_) => break,
                    }
                }
                while let Ok(j) = rx.try_recv() {
                    match j {
                        LoaderJob::Tracks(r) => pending = Some(r),
                        LoaderJob::Heights { peaks, width } => heights.push((peaks, width)),
                    }
                }
                for (peaks, width) in heights {
                    let regions: Vec<(&str, u64, u64)> = peaks
                        .iter()
                        .map(|(_, l)| {
                            let (s, e) = l.centered_window(width);
                            (l.chrom.as_str(), s.max(0) as u64, e.max(0) as u64)
                        })
                        .collect();
                    let mut per_track = Vec::with_capacity(files.len());
                    for f in files.iter_mut() {
                        per_track.push(match f {
                            Some(bw) => bw
                                .stats_many(&regions)
                                .map(|v| v.into_iter().map(|s| s.map(|s| s.sum).unwrap_or(f64::NAN)).collect())
                                .unwrap_or_else(|_| vec![f64::NAN; regions.len()]),
                            None => vec![f64::NAN; regions.len()],
                        });
                    }
                    let values = (0..peaks.len()).map(|k| per_track.iter().map(|t| t[k]).collect()).collect();
                    let _ = events.send(ViewEvent::Heights { peaks: peaks.iter().map(|(i, _)| *i).collect(), values });
                }
                let Some(req) = pending.take() else { continue };
                let mut data = Vec::with_capacity(files.len());
                for f in files.iter_mut() {
                    data.push(match f {
                        Some(bw) => match bw.binned(&req.locus.chrom, req.locus.start, req.locus.end, req.cols) {
                            Ok(d) => d,
                            Err(e) => {
                                let _ = events.send(ViewEvent::Error(format!("{e:#}")));
                                None
                            }
                        },
                        None => None,
                    });
                }
                if events.send(ViewEvent::Tracks { generation: req.generation, locus: req.locus, data }).is_err() {
                    break;
                }
            }
        })
        .expect("spawning the track loader");
    tx
}

pub struct PredictRequest {
    pub model: usize,
    /// (peak index, peak locus)
    pub peaks: Vec<(usize, Locus)>,
}

/// Work for the predictor thread.
pub enum PredictorJob {
    Predict(PredictRequest),
    Ism { model: usize, peak: usize, locus: Locus },
}

/// Best-matching motif at the strongest 15-bp hot spot of ISM attribution (deltas
/// mean-centred over the four bases, read at the reference base) for output `o`.
fn hot_spot_motif(plan: &crate::model::ism::IsmPlan, res: &crate::model::ism::IsmResult, o: usize, motifs: &[crate::genome::motifs::Motif]) -> Option<String> {
    let n = plan.offset.1 - plan.offset.0;
    let mut attr = vec![0f32; n];
    for (p, t, v) in crate::model::ism::attributions(plan, res) {
        if t == o {
            attr[p as usize - plan.offset.0] = v.abs();
        }
    }
    let w = 15.min(n);
    let (best, _) = (0..=n - w).map(|s| (s, attr[s..s + w].iter().sum::<f32>())).max_by(|a, b| a.1.total_cmp(&b.1))?;
    let a = (plan.offset.0 + best).saturating_sub(8);
    let b = (plan.offset.0 + best + w + 8).min(plan.seq.len());
    let window = &plan.seq[a..b];
    let (m, hit) = motifs.iter().filter_map(|m| m.scan(window).map(|h| (m, h))).max_by(|x, y| x.1.relative.total_cmp(&y.1.relative))?;
    (hit.relative >= 0.75)
        .then(|| format!("{} {:.2} @ {}", m.name, hit.relative, crate::genome::locus::group_thousands((plan.genomic_pos((a + hit.pos) as u32) + 1) as u64)))
}

/// Start the predictor: loads every model of the config on `device`, then answers requests
/// with one value per track for each peak (NaN where the model has no output for a track),
/// and runs ISM on peaks, streaming chunks (a newer ISM request cancels the running one).
pub fn spawn_predictor(cfg: ProjectConfig, device: Device, events: Sender<ViewEvent>) -> Sender<PredictorJob> {
    let (tx, rx) = unbounded::<PredictorJob>();
    std::thread::Builder::new()
        .name("predictor".into())
        .spawn(move || {
            let fasta = match Fasta::open(&cfg.genome.fasta) {
                Ok(f) => f,
                Err(e) => {
                    let _ = events.send(ViewEvent::Error(format!("{e:#}")));
                    return;
                }
            };
            let specs: Vec<ModelSpec> = cfg.models.iter().map(ModelSpec::from_config).collect();
            let worker = match ModelWorker::spawn(specs, device, Precision::F32) {
                Ok(w) => w,
                Err(e) => {
                    let _ = events.send(ViewEvent::Error(format!("models: {e:#}")));
                    return;
                }
            };
            let tracks: Vec<String> = cfg.tracks.iter().map(|t| t.name.clone()).collect();
            let motifs = crate::genome::motifs::parse_meme(include_str!("../../assets/motifs/JASPAR2024_CORE_vertebrates_latest.meme")).unwrap_or_default();
            let _ = events.send(ViewEvent::ModelsReady { device: device_label(device) });
            // per model: output index of each track
            let maps: Vec<Vec<Option<usize>>> =
                worker.models.iter().map(|i| tracks.iter().map(|t| i.target_names.iter().position(|x| x == t)).collect()).collect();
            let (mut pending_predict, mut pending_ism) = (None, None);
            loop {
                if pending_predict.is_none() && pending_ism.is_none() {
                    match rx.recv() {
                        Ok(j) => match j {
                            PredictorJob::Predict(r) => pending_predict = Some(r),
                            PredictorJob::Ism { model, peak, locus } => pending_ism = Some((model, peak, locus)),
                        },
                        Err(_) => break,
                    }
                }
                while let Ok(j) = rx.try_recv() {
                    match j {
                        PredictorJob::Predict(r) => pending_predict = Some(r),
                        PredictorJob::Ism { model, peak, locus } => pending_ism = Some((model, peak, locus)),
                    }
                }
                if let Some((model, peak, locus)) = pending_ism.take() {
                    let Some(info) = worker.models.get(model) else { continue };
                    let len = info.spec.input_length as u64;
                    let span = locus.len().min(len).min(1000);
                    let c = locus.center();
                    let region = Locus::new(locus.chrom.clone(), c.saturating_sub(span / 2), c.saturating_sub(span / 2) + span);
                    let plan = match crate::model::ism::IsmPlan::new(&fasta, &region, info.spec.context_length()) {
                        Ok(p) => std::sync::Arc::new(p),
                        Err(e) => {
                            let _ = events.send(ViewEvent::Error(format!("ISM: {e:#}")));
                            continue;
                        }
                    };
                    let (a, b) = plan.offset;
                    let _ = events.send(ViewEvent::IsmStarted {
                        peak,
                        model,
                        region_start: plan.genomic_pos(a as u32),
                        seq: plan.seq[a..b].to_vec(),
                        mutants: plan.mutants.iter().map(|&(p, alt)| (p - a as u32, alt)).collect(),
                    });
                    if let Ok(r) = worker.predict(model, vec![plan.seq.clone()]) {
                        let (_, nb, nt) = r.dim();
                        let v: Vec<f32> = (0..nt).map(|o| (0..nb).map(|bi| r[[0, bi, o]]).sum()).collect();
                        let ref_pred = maps[model].iter().map(|o| o.map(|o| v[o]).unwrap_or(f32::NAN)).collect();
                        let _ = events.send(ViewEvent::IsmChunk { peak, ref_pred, first: 0, preds: vec![] });
                    }
                    let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                    let Ok((_, ism_rx)) = worker.ism(model, plan.clone(), cancel.clone()) else { break };
                    let to_tracks = |v: &[f32]| -> Vec<f32> { maps[model].iter().map(|o| o.map(|o| v[o]).unwrap_or(f32::NAN)).collect() };
                    let t = info.n_targets;
                    for ev in ism_rx {
                        // a newer request cancels this ISM; predictions wait until it stops
                        while let Ok(j) = rx.try_recv() {
                            match j {
                                PredictorJob::Predict(r) => pending_predict = Some(r),
                                PredictorJob::Ism { model, peak, locus } => {
                                    cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                                    pending_ism = Some((model, peak, locus));
                                }
                            }
                        }
                        match ev {
                            crate::jobs::ModelEvent::IsmChunk { first, preds, .. } => {
                                let rows: Vec<Vec<f32>> = preds.chunks(t).map(to_tracks).collect();
                                let _ = events.send(ViewEvent::IsmChunk { peak, ref_pred: vec![], first, preds: rows });
                            }
                            crate::jobs::ModelEvent::IsmDone { result, .. } => {
                                match result {
                                    Ok(res) => {
                                        let labels = maps[model].iter().map(|o| o.and_then(|o| hot_spot_motif(&plan, &res, o, &motifs))).collect();
                                        let _ = events.send(ViewEvent::IsmChunk { peak, ref_pred: to_tracks(&res.ref_pred), first: 0, preds: vec![] });
                                        let _ = events.send(ViewEvent::IsmDone { peak, motifs: labels });
                                    }
                                    Err(e) => {
                                        let _ = events.send(ViewEvent::Error(format!("ISM: {e}")));
                                    }
                                }
                                break;
                            }
                            _ => {}
                        }
                    }
                    continue;
                }
                let Some(req) = pending_predict.take() else { continue };
                let Some(info) = worker.models.get(req.model) else { continue };
                let ctx = info.spec.context_length();
                let seqs: Result<Vec<Vec<u8>>, _> = req
                    .peaks
                    .iter()
                    .map(|(_, l)| {
                        let (s, e) = l.centered_window(ctx as u64);
                        fasta.fetch(&l.chrom, s, e)
                    })
                    .collect();
                let result = seqs.and_then(|s| worker.predict(req.model, s));
                match result {
                    Ok(out) => {
                        let (n, b, t) = out.dim();
                        let values = (0..n)
                            .map(|k| {
                                tracks
                                    .iter()
                                    .map(|tr| match info.target_names.iter().position(|x| x == tr) {
                                        Some(o) if o < t => (0..b).map(|bi| out[[k, bi, o]]).sum(),
                                        _ => f32::NAN,
                                    })
                                    .collect()
                            })
                            .collect();
                        let peaks = req.peaks.iter().map(|(i, _)| *i).collect();
                        if events.send(ViewEvent::Preds { model: req.model, peaks, values }).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = events.send(ViewEvent::Error(format!("predict: {e:#}")));
                    }
                }
            }
        })
        .expect("spawning the predictor");
    tx
}
