//! The model worker: one thread owns every loaded model on one device (libtorch state,
//! CUDA context), so the UI thread and CLI never block on the GPU and never share it. Every
//! prediction goes through the model service ([`crate::model::service`]): heights (f64, bins
//! summed as declared, views averaged), bin-by-bin heads and profiles for tracks, and ISM. A
//! request that fails (or panics) is answered with its error; the worker keeps serving.
use crate::model::engine::{Model, ModelSpec, Precision};
use crate::model::grad::{input_gradients, GradResult};
use crate::model::ism::{run_ism, IsmPlan, IsmResult};
use crate::model::service::{Geometry, HeightsOut, Query, Substitution};
use anyhow::{anyhow, Result};
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use ndarray::Array3;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;
use tch::Device;

pub type JobId = u64;

pub enum ModelRequest {
    /// the height head bin by bin, (N, B, T), for context-length sequences
    Predict { job: JobId, model: usize, seqs: Vec<Vec<u8>>, reply: Sender<ModelEvent> },
    /// f64 heights of queries over context-length sequences
    Heights { job: JobId, model: usize, seqs: Vec<Vec<u8>>, queries: Vec<Query>, subs: Vec<Option<Substitution>>, reply: Sender<ModelEvent> },
    /// the profile head (or a binned height head), (N, Bp, T), for context-length sequences
    Profiles { job: JobId, model: usize, seqs: Vec<Vec<u8>>, reply: Sender<ModelEvent> },
    /// ISM with the model's own rc/shift averaging, streamed in chunks, cancellable between
    /// batches
    Ism { job: JobId, model: usize, plan: Arc<IsmPlan>, cancel: Arc<AtomicBool>, reply: Sender<ModelEvent> },
    /// gradients of one sequence's heights with respect to its one-hot input
    Grad { job: JobId, model: usize, seq: Vec<u8>, select: Option<(i64, i64)>, reply: Sender<ModelEvent> },
}

pub enum ModelEvent {
    Predicted {
        job: JobId,
        result: Result<Array3<f32>, String>,
    },
    Heights {
        job: JobId,
        result: Result<HeightsOut, String>,
    },
    Profiles {
        job: JobId,
        result: Result<Array3<f32>, String>,
    },
    /// alt heights (f32, for display) and f64 deltas of mutants `first..`, (n × T) each
    IsmChunk {
        job: JobId,
        first: usize,
        preds: Vec<f32>,
        deltas: Vec<f64>,
        total: usize,
    },
    IsmDone {
        job: JobId,
        result: Result<IsmResult, String>,
    },
    Grad {
        job: JobId,
        result: Result<GradResult, String>,
    },
}

/// What the worker reports about each loaded model.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub spec: ModelSpec,
    /// reported outputs (after the output→track mapping)
    pub n_targets: usize,
    /// bins of the height head (1 for per-sequence heads)
    pub n_bins: usize,
    pub target_names: Vec<String>,
    /// windows, views, heads: what planning predictions over loci needs
    pub geometry: Geometry,
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

    fn ask(&self, req: impl FnOnce(JobId, Sender<ModelEvent>) -> ModelRequest) -> Result<ModelEvent> {
        let (reply, rx) = bounded(1);
        self.submit(req(self.new_job(), reply))?;
        rx.recv().map_err(|_| anyhow!("the model worker stopped"))
    }

    /// Blocking: the height head bin by bin, (N, B, T), for context-length sequences.
    pub fn predict(&self, model: usize, seqs: Vec<Vec<u8>>) -> Result<Array3<f32>> {
        match self.ask(|job, reply| ModelRequest::Predict { job, model, seqs, reply })? {
            ModelEvent::Predicted { result, .. } => result.map_err(|e| anyhow!(e)),
            _ => Err(anyhow!("unexpected reply from the model worker")),
        }
    }

    /// Blocking: f64 heights of queries over context-length sequences.
    pub fn heights(&self, model: usize, seqs: Vec<Vec<u8>>, queries: Vec<Query>) -> Result<HeightsOut> {
        self.heights_with(model, seqs, queries, vec![])
    }

    /// Blocking: [`ModelWorker::heights`] where some sequences are others with one base
    /// substituted (`Model::heights_with`: SNV ALT windows next to their REF windows).
    pub fn heights_with(&self, model: usize, seqs: Vec<Vec<u8>>, queries: Vec<Query>, subs: Vec<Option<Substitution>>) -> Result<HeightsOut> {
        match self.ask(|job, reply| ModelRequest::Heights { job, model, seqs, queries, subs, reply })? {
            ModelEvent::Heights { result, .. } => result.map_err(|e| anyhow!(e)),
            _ => Err(anyhow!("unexpected reply from the model worker")),
        }
    }

    /// Blocking: the profile head (or a binned height head), (N, Bp, T).
    pub fn profiles(&self, model: usize, seqs: Vec<Vec<u8>>) -> Result<Array3<f32>> {
        match self.ask(|job, reply| ModelRequest::Profiles { job, model, seqs, reply })? {
            ModelEvent::Profiles { result, .. } => result.map_err(|e| anyhow!(e)),
            _ => Err(anyhow!("unexpected reply from the model worker")),
        }
    }

    /// Blocking: gradients of one context-length sequence's heights with respect to its
    /// one-hot input (one forward, one backward per target); `select` as for heights.
    pub fn grad(&self, model: usize, seq: Vec<u8>, select: Option<(i64, i64)>) -> Result<GradResult> {
        match self.ask(|job, reply| ModelRequest::Grad { job, model, seq, select, reply })? {
            ModelEvent::Grad { result, .. } => result.map_err(|e| anyhow!(e)),
            _ => Err(anyhow!("unexpected reply from the model worker")),
        }
    }

    /// Start ISM (the model's rc and shifts apply); events arrive on the returned receiver,
    /// ending with `IsmDone`. Plan it with the model's context length
    /// (`ModelInfo::spec.context_length()`).
    pub fn ism(&self, model: usize, plan: Arc<IsmPlan>, cancel: Arc<AtomicBool>) -> Result<(JobId, Receiver<ModelEvent>)> {
        let (reply, rx) = unbounded();
        let job = self.new_job();
        self.submit(ModelRequest::Ism { job, model, plan, cancel, reply })?;
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

/// Run `f` on model `index`, turning errors and panics into messages.
fn serve<T>(models: &mut [Model], index: usize, f: impl FnOnce(&mut Model) -> Result<T>) -> Result<T, String> {
    let Some(m) = models.get_mut(index) else {
        return Err(format!("no model #{index}"));
    };
    let name = m.spec.name.clone();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(m))) {
        Ok(r) => r.map_err(|e| format!("{e:#}")),
        Err(p) => {
            let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
            tracing::warn!("model {name}: a request failed with an internal error: {msg}");
            Err(format!("model {name}: internal error ({msg}); the worker keeps running"))
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
    let infos = models
        .iter()
        .map(|m| ModelInfo { spec: m.spec.clone(), n_targets: m.n_targets(), n_bins: m.n_bins(), target_names: m.target_names(), geometry: m.geometry() })
        .collect();
    let _ = ready.send(Ok(infos));
    for req in rx {
        match req {
            ModelRequest::Predict { job, model, seqs, reply } => {
                let result = serve(&mut models, model, |m| m.predict_seqs(&seqs));
                let _ = reply.send(ModelEvent::Predicted { job, result });
            }
            ModelRequest::Heights { job, model, seqs, queries, subs, reply } => {
                let result = serve(&mut models, model, |m| m.heights_with(&seqs, &queries, &subs));
                let _ = reply.send(ModelEvent::Heights { job, result });
            }
            ModelRequest::Profiles { job, model, seqs, reply } => {
                let result = serve(&mut models, model, |m| m.profiles(&seqs));
                let _ = reply.send(ModelEvent::Profiles { job, result });
            }
            ModelRequest::Grad { job, model, seq, select, reply } => {
                let result = serve(&mut models, model, |m| input_gradients(m, &seq, select));
                let _ = reply.send(ModelEvent::Grad { job, result });
            }
            ModelRequest::Ism { job, model, plan, cancel, reply } => {
                let total = plan.mutants.len();
                let r2 = reply.clone();
                let result = serve(&mut models, model, |m| {
                    run_ism(m, &plan, &cancel, |first, preds, deltas| {
                        let _ = r2.send(ModelEvent::IsmChunk { job, first, preds: preds.to_vec(), deltas: deltas.to_vec(), total });
                    })
                });
                let _ = reply.send(ModelEvent::IsmDone { job, result });
            }
        }
    }
}
