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
use crossbeam_channel::{unbounded, Receiver, Sender};
use std::path::PathBuf;
use tch::Device;

pub enum ViewEvent {
    Tracks { generation: u64, locus: Locus, data: Vec<Option<Vec<BinSummary>>> },
    Preds { model: usize, peaks: Vec<usize>, values: Vec<Vec<f32>> },
    ModelsReady { device: String },
    Error(String),
}

/// Newest message in the channel (earlier ones are dropped), or None when closed.
fn latest<T>(rx: &Receiver<T>) -> Option<T> {
    let mut msg = rx.recv().ok()?;
    while let Ok(m) = rx.try_recv() {
        msg = m;
    }
    Some(msg)
}

pub struct TrackRequest {
    pub generation: u64,
    pub locus: Locus,
    pub cols: usize,
}

/// Start the track loader; send requests on the returned channel.
pub fn spawn_track_loader(bigwigs: Vec<PathBuf>, events: Sender<ViewEvent>) -> Sender<TrackRequest> {
    let (tx, rx) = unbounded::<TrackRequest>();
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
            while let Some(req) = latest(&rx) {
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

/// Start the predictor: loads every model of the config on `device`, then answers requests
/// with one value per track for each peak (NaN where the model has no output for a track).
pub fn spawn_predictor(cfg: ProjectConfig, device: Device, events: Sender<ViewEvent>) -> Sender<PredictRequest> {
    let (tx, rx) = unbounded::<PredictRequest>();
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
            let _ = events.send(ViewEvent::ModelsReady { device: device_label(device) });
            while let Some(req) = latest(&rx) {
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
