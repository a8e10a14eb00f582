//! The model worker: one thread owns every loaded model on one device (libtorch state,
//! CUDA context), so the UI thread and CLI never block on the GPU and never share it.
use crate::model::engine::{Model, ModelSpec, Precision};
use crate::model::ism::{run_ism, IsmPlan, IsmResult};
use anyhow::{anyhow, Result};
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use ndarray::Array3;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;
use tch::Device;

pub type JobId = u64;

pub enum ModelRequest {
    /// (N, B, T) predictions for context-length sequences
    Predict { job: JobId, model: usize, seqs: Vec<Vec<u8>>, reply: Sender<ModelEvent> },
    /// ISM, streamed in chunks, cancellable between batches
    Ism { job: JobId, model: usize, plan: Arc<IsmPlan>, rc: bool, cancel: Arc<AtomicBool>, reply: Sender<ModelEvent> },
}

pub enum ModelEvent {
    Predicted { job: JobId, result: Result<Array3<f32>, String> },
    IsmChunk { job: JobId, first: usize, preds: Vec<f32>, total: usize },
    IsmDone { job: JobId, result: Result<IsmResult, String> },
}

/// What the worker reports about each loaded model.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub spec: ModelSpec,
    pub n_targets: usize,
    pub n_bins: usize,
    pub target_names: Vec<String>,
}

pub struct ModelWorker {
    tx: Option<Sender<ModelRequest>>,
    thread: Option<JoinHandle<()>>,
    pub models: Vec<ModelInfo>,
    pub device: Device,
    next_job: std::cell::Cell<JobId>,
}

impl ModelWorker {
    /// Start the worker and load every model on `device`; returns once all are loaded (or
    /// with the first load error).
    pub fn spawn(specs: Vec<ModelSpec>, device: Device, precision: Precision) -> Result<Self> {
        let (tx, rx) = unbounded::<ModelRequest>();
        let (ready_tx, ready_rx) = bounded::<Result<Vec<ModelInfo>, String>>(1);
        let thread = std::thread::Builder::new()
            .name(format!("model-worker-{}", crate::model::device::device_label(device)))
            .spawn(move || worker_main(specs, device, precision, rx, ready_tx))?;
        let models = ready_rx.recv().map_err(|_| anyhow!("the model worker thread died while loading models"))?.map_err(|e| anyhow!(e))?;
        Ok(ModelWorker { tx: Some(tx), thread: Some(thread), models, device, next_job: std::cell::Cell::new(1) })
    }

    pub fn new_job(&self) -> JobId {
        let j = self.next_job.get();
        self.next_job.set(j + 1);
        j
    }

    pub fn submit(&self, req: ModelRequest) -> Result<()> {
        self.tx.as_ref().expect("worker running").send(req).map_err(|_| anyhow!("the model worker has stopped"))
    }

    /// Blocking convenience: predictions for context-length sequences.
    pub fn predict(&self, model: usize, seqs: Vec<Vec<u8>>) -> Result<Array3<f32>> {
        let (reply, rx) = bounded(1);
        let job = self.new_job();
        self.submit(ModelRequest::Predict { job, model, seqs, reply })?;
        match rx.recv().map_err(|_| anyhow!("the model worker stopped"))? {
            ModelEvent::Predicted { result, .. } => result.map_err(|e| anyhow!(e)),
            _ => Err(anyhow!("unexpected reply from the model worker")),
        }
    }

    /// Start ISM; events arrive on the returned receiver, ending with `IsmDone`.
    pub fn ism(&self, model: usize, plan: Arc<IsmPlan>, rc: bool, cancel: Arc<AtomicBool>) -> Result<(JobId, Receiver<ModelEvent>)> {
        let (reply, rx) = unbounded();
        let job = self.new_job();
        self.submit(ModelRequest::Ism { job, model, plan, rc, cancel, reply })?;
        Ok((job, rx))
    }
}

impl Drop for ModelWorker {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn worker_main(specs: Vec<ModelSpec>, device: Device, precision: Precision, rx: Receiver<ModelRequest>, ready: Sender<Result<Vec<ModelInfo>, String>>) {
    if device.is_cuda() {
        tch::Cuda::cudnn_set_benchmark(true);
    }
    let mut models = Vec::new();
    for s in specs {
        match Model::load(s, device, precision) {
            Ok(m) => models.push(m),
            Err(e) => {
                let _ = ready.send(Err(format!("{e:#}")));
                return;
            }
        }
    }
    let infos =
        models.iter().map(|m| ModelInfo { spec: m.spec.clone(), n_targets: m.n_targets(), n_bins: m.n_bins(), target_names: m.target_names() }).collect();
    let _ = ready.send(Ok(infos));
    for req in rx {
        match req {
            ModelRequest::Predict { job, model, seqs, reply } => {
                let result = match models.get_mut(model) {
                    Some(m) => m.predict_seqs(&seqs).map_err(|e| format!("{e:#}")),
                    None => Err(format!("no model #{model}")),
                };
                let _ = reply.send(ModelEvent::Predicted { job, result });
            }
            ModelRequest::Ism { job, model, plan, rc, cancel, reply } => {
                let result = match models.get_mut(model) {
                    Some(m) => {
                        let total = plan.mutants.len();
                        let r2 = reply.clone();
                        run_ism(m, &plan, rc, &cancel, |first, preds| {
                            let _ = r2.send(ModelEvent::IsmChunk { job, first, preds: preds.to_vec(), total });
                        })
                        .map_err(|e| format!("{e:#}"))
                    }
                    None => Err(format!("no model #{model}")),
                };
                let _ = reply.send(ModelEvent::IsmDone { job, result });
            }
        }
    }
}
