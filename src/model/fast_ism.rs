//! Fast exact ISM for TorchScript CNNs (fastISM, Nair et al. 2022): a substitution at
//! position p can only change the outputs of a convolution, pooling or element-wise layer
//! inside that layer's receptive field of p, so up to the first global operation (flatten,
//! dense, global pooling, attention, ...) each mutant is computed on small windows only and
//! spliced into the reference's activations; the rest of the model runs on the spliced
//! tensors.
//!
//! The graph work is in C++ (`ffi/fast_ism.cpp`): it freezes the module, classifies the
//! forward graph's nodes, propagates each position's affected interval through the
//! position-local prefix, and builds a second method, `peakscope_suffix`, that is the forward
//! graph with the prefix replaced by inputs. [`FastIsm::forward`] is therefore a drop-in for
//! `module.forward(mutants)`: it returns the same value (tensor, tuple or dict) for a batch
//! of mutants given as a reference and (position, base) indices, so heads, transforms and
//! bin sums downstream are shared with the naive path.
//!
//! A model whose graph has no usable prefix runs naively, and says why (see [`for_model`]).
//! Every fast path is checked against the naive forward on mutants at the first, last and
//! spread positions before it is used.
use super::desc::InputKind;
use super::engine::{kind_label, HeadOut, Model, Precision};
use anyhow::{anyhow, bail, Result};
use std::ffi::{c_char, c_void, CStr, CString};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use tch::{CModule, Device, IValue, Kind, Tensor};

/// Which ISM implementation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsmPath {
    /// fast when the model's graph allows it, else naive (saying why)
    Auto,
    /// fast, or an error naming why the model does not allow it
    Fast,
    /// every mutant through the whole model
    Naive,
}

impl IsmPath {
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(IsmPath::Auto),
            "fast" => Ok(IsmPath::Fast),
            "naive" => Ok(IsmPath::Naive),
            _ => bail!("ISM path '{s}': expected auto, fast or naive"),
        }
    }

    /// The path stored as `p as u8` (the process-wide settings below).
    fn from_code(c: u8) -> Self {
        match c {
            1 => IsmPath::Fast,
            2 => IsmPath::Naive,
            _ => IsmPath::Auto,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            IsmPath::Auto => "auto",
            IsmPath::Fast => "fast",
            IsmPath::Naive => "naive",
        }
    }
}

static DEFAULT_PATH: AtomicU8 = AtomicU8::new(0);

/// The path [`super::ism::run_ism`] takes (process-wide; the CLI sets it from `--ism-path`).
pub fn set_default_path(p: IsmPath) {
    DEFAULT_PATH.store(p as u8, Ordering::Relaxed);
}

pub fn default_path() -> IsmPath {
    IsmPath::from_code(DEFAULT_PATH.load(Ordering::Relaxed))
}

static ALT_PATH: AtomicU8 = AtomicU8::new(0);

/// How the ALT alleles of SNVs run (process-wide; the CLI sets it from `--alt-path`): `Auto`
/// and `Fast` splice the one changed base into the REF window's activations (see
/// [`FastModel::refs_and_mutants`]); `Naive` runs every ALT window through the whole model.
pub fn set_alt_path(p: IsmPath) {
    ALT_PATH.store(p as u8, Ordering::Relaxed);
}

pub fn alt_path() -> IsmPath {
    IsmPath::from_code(ALT_PATH.load(Ordering::Relaxed))
}

extern "C" {
    fn peakscope_fastism_build(
        path: *const c_char,
        length: i64,
        device: i32,
        summary: *mut *mut c_char,
        details: *mut *mut c_char,
        module_bytes: *mut *mut c_char,
        module_len: *mut i64,
        err: *mut c_char,
        err_len: i32,
    ) -> *mut c_void;
    fn peakscope_fastism_free_buffer(p: *mut c_char);
    fn peakscope_fastism_free(plan: *mut c_void);
    fn peakscope_fastism_cuts(plan: *mut c_void) -> i32;
    fn peakscope_fastism_bytes_per_mutant(plan: *mut c_void) -> i64;
    fn peakscope_fastism_prepare(plan: *mut c_void, references: *const torch_sys::C_tensor, native: i32, err: *mut c_char, err_len: i32) -> *mut c_void;
    fn peakscope_fastism_free_refs(refs: *mut c_void);
    fn peakscope_fastism_ref_cuts(plan: *mut c_void, refs: *mut c_void, outs: *mut *mut torch_sys::C_tensor, err: *mut c_char, err_len: i32) -> i32;
    fn peakscope_fastism_run(
        plan: *mut c_void,
        refs: *mut c_void,
        ref_idx: *const torch_sys::C_tensor,
        pos: *const torch_sys::C_tensor,
        alt: *const torch_sys::C_tensor,
        outs: *mut *mut torch_sys::C_tensor,
        err: *mut c_char,
        err_len: i32,
    ) -> i32;
}

fn err_buf() -> Vec<c_char> {
    vec![0; 1024]
}

fn err_text(buf: &[c_char]) -> String {
    // SAFETY: the shim always NUL-terminates the buffer it was given (zeroed here).
    unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
}

/// Take a malloc'd string from the shim.
fn take_string(p: *mut c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: `p` is a NUL-terminated buffer the shim allocated with malloc; freed once here.
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    unsafe { peakscope_fastism_free_buffer(p) };
    s
}

/// The analysed model: the C++ plan (prefix steps and window geometry) and the frozen
/// module with its `peakscope_suffix` method.
pub struct FastIsm {
    plan: NonNull<c_void>,
    suffix: CModule,
    cuts: usize,
    device: Device,
    bytes_per_mutant: usize,
    /// one line: the prefix found and where it ends
    pub summary: String,
    /// one line per prefix step: its window width, the tensor length, how inputs are read
    pub details: String,
}

// SAFETY: the plan is not modified after it is built (running it reads the geometry and
// calls stateless operator closures); per-call state lives in `FastRefs`, which one thread
// uses at a time.
unsafe impl Send for FastIsm {}
unsafe impl Sync for FastIsm {}

impl Drop for FastIsm {
    fn drop(&mut self) {
        // SAFETY: the plan was created by peakscope_fastism_build and is freed only here.
        unsafe { peakscope_fastism_free(self.plan.as_ptr()) }
    }
}

/// Reference activations of the prefix for one set of references.
pub struct FastRefs {
    ptr: NonNull<c_void>,
}

// SAFETY: a heap object of the shim, used by one thread at a time.
unsafe impl Send for FastRefs {}

impl Drop for FastRefs {
    fn drop(&mut self) {
        // SAFETY: created by peakscope_fastism_prepare, freed only here.
        unsafe { peakscope_fastism_free_refs(self.ptr.as_ptr()) }
    }
}

impl FastIsm {
    /// Analyse the TorchScript file `path` for inputs (N, 4, `input_length`) on `device`,
    /// without the check against the naive path that [`FastModel::build`] adds. `Err`: why
    /// there is no fast path.
    pub fn from_file(path: &Path, input_length: usize, device: Device) -> Result<FastIsm> {
        let dev = match device {
            Device::Cuda(i) => i as i32,
            _ => -1,
        };
        let cpath = CString::new(path.as_os_str().as_encoded_bytes())?;
        let (mut summary, mut details, mut bytes) = (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
        let mut len = 0i64;
        let mut err = err_buf();
        // SAFETY: all out-pointers are valid for writes; the shim writes them only on success.
        let plan = unsafe {
            peakscope_fastism_build(
                cpath.as_ptr(),
                input_length as i64,
                dev,
                &mut summary,
                &mut details,
                &mut bytes,
                &mut len,
                err.as_mut_ptr(),
                err.len() as i32,
            )
        };
        let Some(plan) = NonNull::new(plan) else {
            bail!("{}", err_text(&err));
        };
        let summary = take_string(summary);
        let details = take_string(details);
        // SAFETY: `bytes` points to `len` bytes the shim malloc'd; copied, then freed once.
        let module_bytes = unsafe { std::slice::from_raw_parts(bytes as *const u8, len as usize) }.to_vec();
        // SAFETY: freed once, after the copy above.
        unsafe { peakscope_fastism_free_buffer(bytes) };
        // SAFETY: plain getters on the live plan.
        let (cuts, bytes_per_mutant) = unsafe { (peakscope_fastism_cuts(plan.as_ptr()) as usize, peakscope_fastism_bytes_per_mutant(plan.as_ptr()) as usize) };
        let mut fast = FastIsm {
            plan,
            suffix: CModule::load_data_on_device(&mut std::io::Cursor::new(module_bytes), device).map_err(|e| anyhow!("loading the suffix module: {e}"))?,
            cuts,
            device,
            bytes_per_mutant,
            summary,
            details,
        };
        fast.suffix.set_eval();
        Ok(fast)
    }

    /// [`FastIsm::from_file`] for a module in memory (saved to a temporary file first).
    pub fn from_module(module: &CModule, input_length: usize, device: Device) -> Result<FastIsm> {
        let tmp = tempfile::Builder::new().prefix("peakscope-fastism-").suffix(".pt").tempfile()?.into_temp_path();
        module.save(&tmp).map_err(|e| anyhow!("saving the module for analysis: {e}"))?;
        Self::from_file(&tmp, input_length, device)
    }

    /// Run the prefix once over references (R, 4, L) on the model's device, convolutions in
    /// the same GEMM formulation as the mutants' windows (so a delta carries no rounding from
    /// two formulations: what ISM wants).
    pub fn prepare(&self, references: &Tensor) -> Result<FastRefs> {
        self.prepare_with(references, false)
    }

    /// [`FastIsm::prepare`]; `native`: convolutions through the module's own operator
    /// (oneDNN/cuDNN, as the naive forward runs them: faster on whole sequences). For
    /// references whose outputs are reported themselves (variant REF windows); they agree
    /// with the naive forward to float32 rounding, which [`FastModel::alt_check`] bounds.
    pub fn prepare_with(&self, references: &Tensor, native: bool) -> Result<FastRefs> {
        let mut err = err_buf();
        let references = references.to_kind(Kind::Float);
        // SAFETY: the plan is alive; the tensor pointer is valid for the call.
        let p = unsafe { peakscope_fastism_prepare(self.plan.as_ptr(), references.as_ptr(), native as i32, err.as_mut_ptr(), err.len() as i32) };
        NonNull::new(p).map(|ptr| FastRefs { ptr }).ok_or_else(|| anyhow!("fast ISM: {}", err_text(&err)))
    }

    /// What `module.forward(mutants)` returns for mutants given as rows: mutant i is
    /// reference `ref_idx[i]` of `refs` with position `pos[i]` set to one-hot base `alt[i]`
    /// (0..4 = A, C, G, T). Index tensors are int64 on the model's device.
    pub fn forward(&self, refs: &FastRefs, ref_idx: &Tensor, pos: &Tensor, alt: &Tensor) -> Result<IValue> {
        let mut outs: Vec<*mut torch_sys::C_tensor> = vec![std::ptr::null_mut(); self.cuts];
        let mut err = err_buf();
        // SAFETY: the plan and references are alive, the tensors valid for the call, and
        // `outs` has room for the `cuts` tensors the shim writes on success.
        let code = unsafe {
            peakscope_fastism_run(
                self.plan.as_ptr(),
                refs.ptr.as_ptr(),
                ref_idx.as_ptr(),
                pos.as_ptr(),
                alt.as_ptr(),
                outs.as_mut_ptr(),
                err.as_mut_ptr(),
                err.len() as i32,
            )
        };
        if code != 0 {
            bail!("fast ISM: {}", err_text(&err));
        }
        // SAFETY: each pointer is a new at::Tensor the shim allocated for us to own.
        let cuts: Vec<IValue> = outs.into_iter().map(|p| IValue::Tensor(unsafe { Tensor::from_ptr(p) })).collect();
        self.suffix.method_is("peakscope_suffix", &cuts).map_err(|e| anyhow!("fast ISM suffix: {}", super::engine::torch_msg(&e)))
    }

    /// What `module.forward(references)` returns for the references `refs` were prepared
    /// on: the suffix on their own prefix activations (no second pass over the prefix).
    pub fn reference_forward(&self, refs: &FastRefs) -> Result<IValue> {
        let mut outs: Vec<*mut torch_sys::C_tensor> = vec![std::ptr::null_mut(); self.cuts];
        let mut err = err_buf();
        // SAFETY: the plan and references are alive, and `outs` has room for the `cuts`
        // tensors the shim writes on success.
        let code = unsafe { peakscope_fastism_ref_cuts(self.plan.as_ptr(), refs.ptr.as_ptr(), outs.as_mut_ptr(), err.as_mut_ptr(), err.len() as i32) };
        if code != 0 {
            bail!("fast path: {}", err_text(&err));
        }
        // SAFETY: each pointer is a new at::Tensor the shim allocated for us to own.
        let cuts: Vec<IValue> = outs.into_iter().map(|p| IValue::Tensor(unsafe { Tensor::from_ptr(p) })).collect();
        self.suffix.method_is("peakscope_suffix", &cuts).map_err(|e| anyhow!("fast path suffix: {}", super::engine::torch_msg(&e)))
    }

    /// Mutants per batch: as many as fit a memory budget for the windows and the spliced
    /// tensors (the model's batch size is tuned for whole sequences).
    /// `PEAKSCOPE_FAST_ISM_BATCH` overrides it.
    pub fn batch_size(&self, rows_per_mutant: usize) -> usize {
        batch_size(self.device, self.bytes_per_mutant, rows_per_mutant)
    }
}

fn batch_size(device: Device, bytes_per_mutant: usize, rows_per_mutant: usize) -> usize {
    if let Some(b) = std::env::var("PEAKSCOPE_FAST_ISM_BATCH").ok().and_then(|v| v.parse::<usize>().ok()) {
        return b.max(1);
    }
    let budget: usize = if device.is_cuda() { 4 << 30 } else { 512 << 20 };
    (budget / (bytes_per_mutant.max(1) * rows_per_mutant.max(1))).clamp(32, 4096)
}

/// A loaded model's fast ISM: one analysed plan per file (a model set has several), checked
/// against the naive path.
pub struct FastModel {
    members: Vec<FastIsm>,
    input_length: usize,
    device: Device,
    /// one line: the prefix found (the first file's, for a model set)
    pub summary: String,
    /// one line per prefix step
    pub details: String,
    /// whether SNV ALT windows may take the fast path (see [`FastModel::alt_check`])
    alt_checked: std::sync::OnceLock<std::result::Result<f64, String>>,
}

impl FastModel {
    /// Analyse `model`'s files and check the fast path against the naive forward. `Err`
    /// carries the reason the model has no fast path (in words, for the user).
    pub fn build(model: &Model) -> std::result::Result<FastModel, String> {
        let (input, extras, kind) = model.input_signature();
        if input != InputKind::OneHot {
            return Err(format!("the model's input is {} (input = \"{}\"); fast ISM takes one-hot (N, 4, L) inputs", input.label(), input.label()));
        }
        if extras > 0 {
            return Err("the model takes extra inputs besides the sequence (extra_inputs)".into());
        }
        if kind != Kind::Float {
            return Err(format!("the model's parameters are {}; fast ISM runs float32 models", kind_label(kind)));
        }
        let files = model.spec.files();
        let mut members = Vec::with_capacity(files.len());
        for f in &files {
            let fast = FastIsm::from_file(f, model.spec.input_length, model.device()).map_err(|e| {
                if files.len() > 1 {
                    format!("{}: {e:#}", f.display())
                } else {
                    format!("{e:#}")
                }
            })?;
            members.push(fast);
        }
        let summary = if members.len() > 1 { format!("{} files; the first: {}", members.len(), members[0].summary) } else { members[0].summary.clone() };
        let details = members.iter().map(|m| m.details.as_str()).collect::<Vec<_>>().join("\n");
        let fm = FastModel { members, input_length: model.spec.input_length, device: model.device(), summary, details, alt_checked: Default::default() };
        fm.verify(model)?;
        Ok(fm)
    }

    /// Mutants per batch for `rows_per_mutant` rows (views) each.
    pub fn batch_size(&self, rows_per_mutant: usize) -> usize {
        batch_size(self.device, self.members.iter().map(|m| m.bytes_per_mutant).sum(), rows_per_mutant)
    }

    /// Every file's prefix on references (R, 4, L).
    fn prepare(&self, references: &Tensor) -> Result<Vec<FastRefs>> {
        self.members.iter().map(|m| m.prepare(references)).collect()
    }

    /// Compare with the naive forward on mutants at the first, last and spread positions of
    /// a pseudo-random sequence. A fast path that reads the wrong windows errs by the size of
    /// the deltas; one that only rounds differently errs by fp32 rounding of the outputs. So
    /// the check allows 1e-3 of the largest delta plus the 1e-5 of the largest output within
    /// which fast deltas are promised to equal naive ones (a model whose mutations barely move
    /// its outputs is not refused for rounding). The mutants also run through the whole model
    /// in two halves: a model whose output for one sequence depends on the others in its batch
    /// (a sum or mean over the batch axis) has no per-sequence answer, and the fast path, which
    /// batches mutants its own way, is refused.
    fn verify(&self, model: &Model) -> std::result::Result<(), String> {
        let (delta_share, output_share) = match model.precision() {
            Precision::F32 => (1e-3, 1e-5),
            Precision::TF32 => (2e-2, 2e-2),
            Precision::F16 | Precision::BF16 => (5e-2, 5e-2),
        };
        let run = || -> Result<std::result::Result<(), String>> {
            let l = self.input_length;
            let seq: Vec<u8> = (0..l).map(|i| b"ACGT"[(i.wrapping_mul(2654435761) >> 7) % 4]).collect();
            let reference = Tensor::from_slice(crate::genome::onehot::one_hot(&seq).as_slice().unwrap()).reshape([1, 4, l as i64]).to_device(self.device);
            let mut pos: Vec<i64> = vec![0, 1, l as i64 - 2, l as i64 - 1];
            pos.extend((1..12).map(|k| (k * (l as i64 - 1)) / 12));
            let pos: Vec<i64> = pos.into_iter().map(|p| p.clamp(0, l as i64 - 1)).collect();
            let alt: Vec<i64> = (0..pos.len() as i64).map(|i| (i % 3 + 1 + base_at(&seq, pos[i as usize])) % 4).collect();
            let n = pos.len() as i64;
            let (pt, at) = (Tensor::from_slice(&pos).to_device(self.device), Tensor::from_slice(&alt).to_device(self.device));
            let mutants = mutant_batch(&reference, &pt, &at);
            let naive = model.forward_heads(&mutants)?.height;
            let base = model.forward_heads(&reference)?.height;
            if naive.isfinite().logical_not().any().int64_value(&[]) != 0 || base.isfinite().logical_not().any().int64_value(&[]) != 0 {
                return Ok(Err("the model's outputs on the check batch are not finite".into()));
            }
            let delta = (&naive - &base).abs().max().double_value(&[]);
            let out_max = naive.abs().max().double_value(&[]);
            let allowed = (delta_share * delta + output_share * out_max).max(1e-30);
            let h = n / 2;
            let halves = Tensor::cat(&[model.forward_heads(&mutants.narrow(0, 0, h))?.height, model.forward_heads(&mutants.narrow(0, h, n - h))?.height], 0);
            let batch_diff = (&halves - &naive).abs().max().double_value(&[]);
            if batch_diff.is_nan() || batch_diff > allowed {
                return Ok(Err(format!(
                    "the model's output for a sequence depends on the other sequences in its batch (a check batch run in two halves differs by {:.2e} of the largest output; an operation across the batch axis?), so ISM deltas depend on how mutants are batched",
                    batch_diff / out_max.max(1e-30)
                )));
            }
            let refs = self.prepare(&reference)?;
            let ri = Tensor::zeros([n], (Kind::Int64, self.device));
            let fast = model.heads_via(n, |i| self.members[i].forward(&refs[i], &ri, &pt, &at))?.height;
            let diff = (fast - &naive).abs().max().double_value(&[]);
            if diff.is_nan() || diff > allowed {
                return Ok(Err(format!(
                    "the fast path differs from the naive one on a check batch by {:.2e} of the largest delta ({:.2e} of the largest output), more than {delta_share:.0e} of the delta plus {output_share:.0e} of the output",
                    diff / delta.max(1e-30),
                    diff / out_max.max(1e-30)
                )));
            }
            Ok(Ok(()))
        };
        run().map_err(|e| format!("the fast path failed its check against the naive one: {e:#}"))?
    }

    /// ISM on the fast path, as `Model::run_batched` runs the naive one: mutant k (context
    /// position `pos[k]`, base `alt[k]`, 0..4 = A C G T) gives one row per view of the
    /// context, in mutant-major order; view v reads the context from offset `views[v].0`,
    /// reverse-complemented when `views[v].1`, and its reference one-hot is `references[v]`
    /// (V, 4, L). `check()` runs before each batch (cancel); `sink(first_row, heads)` takes
    /// each batch's heads.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_batches(
        &self,
        model: &Model,
        references: &Tensor,
        views: &[(i64, bool)],
        pos: &Tensor,
        alt: &Tensor,
        mut check: impl FnMut() -> Result<()>,
        mut sink: impl FnMut(usize, HeadOut) -> Result<()>,
    ) -> Result<()> {
        let m = pos.size()[0] as usize;
        let v = views.len();
        let rows = ViewRows::new(views, self.input_length as i64, self.device);
        let mut bs = self.batch_size(v);
        let workers = if self.device == Device::Cpu { super::engine::cpu_workers().min(m.div_ceil(8)).max(1) } else { 1 };
        if workers > 1 {
            return self.run_batches_cpu_parallel(model, references, &rows, pos, alt, workers, bs, check, sink);
        }
        let mut refs: Option<Vec<FastRefs>> = None;
        let mut i = 0;
        while i < m {
            check()?;
            let j = (i + bs).min(m);
            let (ri, p, a) = rows.of(pos, alt, i, j);
            let res = model.heads_via(ri.size()[0], |mi| {
                if refs.is_none() {
                    refs = Some(self.prepare(references)?);
                }
                self.members[mi].forward(&refs.as_ref().unwrap()[mi], &ri, &p, &a)
            });
            match res {
                Ok(out) => {
                    sink(i * v, out)?;
                    i = j;
                }
                Err(e) if bs > 1 && format!("{e:#}").contains("out of memory") => {
                    bs /= 2;
                    tracing::warn!("model {}: fast ISM out of memory; batch size halved to {bs}", model.spec.name);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// CPU: each batch is split between `workers` threads with cores/workers intra-op
    /// threads each (as the naive path's replicas run): the windowed ops are small, and one
    /// thread per core avoids synchronising every op across cores. Each worker keeps its own
    /// reference activations (their buffers take the batch's windows).
    #[allow(clippy::too_many_arguments)]
    fn run_batches_cpu_parallel(
        &self,
        model: &Model,
        references: &Tensor,
        rows: &ViewRows,
        pos: &Tensor,
        alt: &Tensor,
        workers: usize,
        bs: usize,
        mut check: impl FnMut() -> Result<()>,
        mut sink: impl FnMut(usize, HeadOut) -> Result<()>,
    ) -> Result<()> {
        let m = pos.size()[0] as usize;
        let v = rows.views;
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let threads_each = (cores / workers).max(1) as i32;
        let mut refs: Vec<Option<Vec<FastRefs>>> = (0..workers).map(|_| None).collect();
        let mut i = 0;
        while i < m {
            check()?;
            let j = (i + bs).min(m);
            let chunk = (j - i).div_ceil(workers);
            let mut placed = Vec::new();
            let mut items = Vec::new();
            for (w, slot) in refs.iter_mut().enumerate().filter(|(w, _)| i + w * chunk < j) {
                let (a, b) = (i + w * chunk, (i + (w + 1) * chunk).min(j));
                let (ri, p, alt_rows) = rows.of(pos, alt, a, b);
                placed.push((a, ri.size()[0]));
                items.push((slot, references.shallow_clone(), [ri, p, alt_rows]));
            }
            let outs = on_threads(items, threads_each, |(slot, references, [ri, p, alt_rows])| {
                if slot.is_none() {
                    *slot = Some(self.prepare(&references)?);
                }
                let r = slot.as_ref().unwrap();
                self.members.iter().zip(r).map(|(f, r)| f.forward(r, &ri, &p, &alt_rows).map(Sendable)).collect()
            });
            for ((a, n_rows), out) in placed.into_iter().zip(outs) {
                sink(a * v, heads_of_outputs(model, n_rows, out?)?)?;
            }
            i = j;
        }
        Ok(())
    }
}

/// How far (relative, value by value) the fast path's REF and ALT outputs may be from the whole
/// model's on the check batch for SNV ALT windows to take it: half the 1e-5 within which
/// variant scores must equal Python torch's.
pub const ALT_CHECK_TOLERANCE: f64 = 5e-6;

impl FastModel {
    /// Whether SNV ALT windows may take the fast path, checked once per model: REF windows
    /// and their SNVs (first, last and spread positions) of a pseudo-random check batch
    /// through [`FastModel::refs_and_mutants`] and through the whole model; `Ok(largest
    /// relative difference)` when it is within [`ALT_CHECK_TOLERANCE`], else `Err(why)`. A
    /// model whose fast path only differs in rounding, but whose depth amplifies that rounding
    /// past the tolerance, scores every ALT window on the whole model.
    pub fn alt_check(&self, model: &Model) -> std::result::Result<f64, String> {
        self.alt_checked
            .get_or_init(|| {
                let run = || -> Result<f64> {
                    let l = self.input_length;
                    let r = 6usize;
                    let seqs: Vec<Vec<u8>> = (0..r).map(|k| (0..l).map(|i| b"ACGT"[((i + 7919 * k).wrapping_mul(2654435761) >> 9) % 4]).collect()).collect();
                    let flat: Vec<f32> = seqs.iter().flat_map(|s| crate::genome::onehot::one_hot(s).as_slice().unwrap().to_vec()).collect();
                    let refs = Tensor::from_slice(&flat).reshape([r as i64, 4, l as i64]).to_device(self.device);
                    let pos: Vec<i64> = (0..r as i64).map(|k| [0, l as i64 - 1, l as i64 / 2, l as i64 / 3, 2 * l as i64 / 3, 1][k as usize % 6]).collect();
                    let alt: Vec<i64> = (0..r).map(|k| (base_at(&seqs[k], pos[k]) + 1 + k as i64 % 3) % 4).collect();
                    let ri: Vec<i64> = (0..r as i64).collect();
                    let (fr, fm) = self.refs_and_mutants(model, &refs, &ri, &pos, &alt)?;
                    let fm = fm.ok_or_else(|| anyhow!("no mutant output"))?;
                    let dev = |v: &[i64]| Tensor::from_slice(v).to_device(self.device);
                    let muts = Tensor::cat(
                        &(0..r).map(|k| mutant_batch(&refs.narrow(0, k as i64, 1), &dev(&pos[k..k + 1]), &dev(&alt[k..k + 1]))).collect::<Vec<_>>(),
                        0,
                    );
                    // compared as reported: per window and output, the sum over the height
                    // bins in f64 (a base-resolution bin alone can be ~0)
                    let height = |t: &Tensor| t.sum_dim_intlist([1i64].as_slice(), false, Kind::Double);
                    let nr = height(&model.forward_heads(&refs)?.height);
                    let nm = height(&model.forward_heads(&muts)?.height);
                    let rel = |f: &Tensor, n: &Tensor| {
                        let floor = 1e-4 * n.abs().max().double_value(&[]).max(1e-30);
                        ((height(f) - n).abs() / n.abs().clamp_min(floor)).max().double_value(&[])
                    };
                    Ok(rel(&fr.height, &nr).max(rel(&fm.height, &nm)))
                };
                match run() {
                    Ok(d) if d <= ALT_CHECK_TOLERANCE => Ok(d),
                    Ok(d) if d.is_nan() => Err("its outputs on the check batch are not finite".into()),
                    Ok(d) => {
                        Err(format!("on the check batch its outputs differ from the whole model's by {d:.1e} (relative), more than {ALT_CHECK_TOLERANCE:.0e}"))
                    }
                    Err(e) => Err(format!("the fast path failed on the check batch: {e:#}")),
                }
            })
            .clone()
    }
}

impl FastModel {
    /// The heads of reference rows and of single-base mutants of them, from one pass of the
    /// prefix over the references: the references' own outputs come from the suffix on their
    /// prefix activations, each mutant's from its windows spliced into them (the ALT allele
    /// of an SNV next to its REF window). `references` is (R, 4, L) on the device; mutant k is
    /// row `ref_idx[k]` with window position `pos[k]` set to one-hot base `alt[k]` (0..4 = A C
    /// G T). Returns (R rows, M rows; None when there are no mutants). On a multi-core CPU the
    /// references are split between threads as the naive path's replicas split batches.
    pub(crate) fn refs_and_mutants(&self, model: &Model, references: &Tensor, ref_idx: &[i64], pos: &[i64], alt: &[i64]) -> Result<(HeadOut, Option<HeadOut>)> {
        let r = references.size()[0] as usize;
        let m = ref_idx.len();
        if pos.len() != m || alt.len() != m {
            bail!("fast path: {m} mutant rows but {} positions and {} bases", pos.len(), alt.len());
        }
        if let Some(k) = ref_idx.iter().position(|&i| i < 0 || i as usize >= r) {
            bail!("fast path: mutant {k} refers to reference row {} of {r}", ref_idx[k]);
        }
        // mutants grouped by reference (stable), so each thread's share is a contiguous run
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by_key(|&k| ref_idx[k]);
        let workers = if self.device == Device::Cpu { super::engine::cpu_workers().min(r.div_ceil(4)).max(1) } else { 1 };
        let chunk = r.div_ceil(workers);
        let parts: Vec<(usize, usize, Vec<usize>)> = (0..workers)
            .map(|w| (w * chunk, ((w + 1) * chunk).min(r)))
            .filter(|(a, b)| a < b)
            .map(|(a, b)| (a, b, order.iter().copied().filter(|&k| (ref_idx[k] as usize) >= a && (ref_idx[k] as usize) < b).collect()))
            .collect();
        let device = self.device;
        // per part: its references and its mutants' (row, position, base), built here (tensors
        // move into the threads)
        let inputs: Vec<(Tensor, Option<[Tensor; 3]>)> = parts
            .iter()
            .map(|(a, b, ks)| {
                let col = |f: &dyn Fn(usize) -> i64| Tensor::from_slice(&ks.iter().map(|&k| f(k)).collect::<Vec<_>>()).to_device(device);
                let muts = (!ks.is_empty()).then(|| [col(&|k| ref_idx[k] - *a as i64), col(&|k| pos[k]), col(&|k| alt[k])]);
                (references.narrow(0, *a as i64, (b - a) as i64), muts)
            })
            .collect();
        let run_part = |refs: Tensor, muts: Option<[Tensor; 3]>| -> Result<(Vec<Sendable>, Vec<Sendable>)> {
            let prepared = self.members.iter().map(|m| m.prepare_with(&refs, true)).collect::<Result<Vec<_>>>()?;
            let ref_out = self.members.iter().zip(&prepared).map(|(f, p)| f.reference_forward(p).map(Sendable)).collect::<Result<Vec<_>>>()?;
            let Some([ri, p, al]) = muts else {
                return Ok((ref_out, vec![]));
            };
            let mut_out = self.members.iter().zip(&prepared).map(|(f, r)| f.forward(r, &ri, &p, &al).map(Sendable)).collect::<Result<Vec<_>>>()?;
            Ok((ref_out, mut_out))
        };
        let outs: Vec<Result<(Vec<Sendable>, Vec<Sendable>)>> = if inputs.len() == 1 {
            inputs.into_iter().map(|(r, m)| run_part(r, m)).collect()
        } else {
            let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
            let threads_each = (cores / inputs.len()).max(1) as i32;
            on_threads(inputs, threads_each, |(r, m)| run_part(r, m))
        };
        let (mut ref_heads, mut mut_heads) = (Vec::new(), Vec::new());
        for ((a, b, ks), out) in parts.iter().zip(outs) {
            let (ro, mo) = out?;
            ref_heads.push(heads_of_outputs(model, (b - a) as i64, ro)?);
            if !ks.is_empty() {
                mut_heads.push(heads_of_outputs(model, ks.len() as i64, mo)?);
            }
        }
        let cat = |v: Vec<HeadOut>| -> HeadOut {
            if v.len() == 1 {
                return v.into_iter().next().unwrap();
            }
            let profile = v
                .iter()
                .all(|h| h.profile.is_some())
                .then(|| Tensor::cat(&v.iter().map(|h| h.profile.as_ref().unwrap().shallow_clone()).collect::<Vec<_>>(), 0));
            HeadOut { height: Tensor::cat(&v.iter().map(|h| h.height.shallow_clone()).collect::<Vec<_>>(), 0), profile }
        };
        let refs = cat(ref_heads);
        if m == 0 {
            return Ok((refs, None));
        }
        // back to the callers' mutant order
        let mut inverse = vec![0i64; m];
        for (row, &k) in order.iter().enumerate() {
            inverse[k] = row as i64;
        }
        let inv = Tensor::from_slice(&inverse).to_device(device);
        let muts = cat(mut_heads);
        let muts = HeadOut { height: muts.height.index_select(0, &inv), profile: muts.profile.map(|p| p.index_select(0, &inv)) };
        Ok((refs, Some(muts)))
    }
}

/// The base index (0..4) of `seq[p]` (A/C/G/T; anything else 0).
fn base_at(seq: &[u8], p: i64) -> i64 {
    crate::genome::onehot::base_index(seq[p as usize]).unwrap_or(0) as i64
}

/// Per-view offsets and strands, on the device: maps context mutants to view rows.
struct ViewRows {
    views: usize,
    /// (1, V) shift of each view's window in the context
    shift: Tensor,
    /// (1, V) reverse strand
    rc: Tensor,
    /// (1, V) view index
    index: Tensor,
    l: i64,
}

impl ViewRows {
    fn new(views: &[(i64, bool)], l: i64, device: Device) -> ViewRows {
        let shift = Tensor::from_slice(&views.iter().map(|v| v.0).collect::<Vec<_>>()).to_device(device).unsqueeze(0);
        let rc = Tensor::from_slice(&views.iter().map(|v| v.1).collect::<Vec<_>>()).to_device(device).unsqueeze(0);
        let index = Tensor::arange(views.len() as i64, (Kind::Int64, device)).unsqueeze(0);
        ViewRows { views: views.len(), shift, rc, index, l }
    }

    /// Rows (reference view, window position, base) of mutants i..j, each followed by its
    /// other views: on a reverse-strand view the position is mirrored and the base
    /// complemented.
    fn of(&self, pos: &Tensor, alt: &Tensor, i: usize, j: usize) -> (Tensor, Tensor, Tensor) {
        let n = (j - i) as i64;
        let (p, a) = (pos.narrow(0, i as i64, n).unsqueeze(1), alt.narrow(0, i as i64, n).unsqueeze(1));
        let w = &p - &self.shift; // (n, V) window position on the forward strand
        let fwd = self.rc.logical_not();
        let wp = w.where_self(&fwd, &(-&w + (self.l - 1)));
        let ab = a.expand([n, self.views as i64], false).where_self(&fwd, &(-&a + 3));
        let ri = self.index.expand([n, self.views as i64], false);
        (ri.reshape([-1]), wp.reshape([-1]), ab.reshape([-1]))
    }
}

/// A model output handed from a worker thread to the caller.
struct Sendable(IValue);

/// `f` on each item, each on its own thread with `threads_each` intra-op threads and without
/// gradients (the CPU split of the fast paths); results in item order, a panic as an error.
fn on_threads<T: Send, R: Send>(items: Vec<T>, threads_each: i32, f: impl Fn(T) -> Result<R> + Sync) -> Vec<Result<R>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .into_iter()
            .map(|item| {
                let f = &f;
                scope.spawn(move || {
                    tch::set_num_threads(threads_each);
                    let _g = tch::no_grad_guard();
                    f(item)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(anyhow!("a fast-ISM worker panicked")))).collect()
    })
}

/// The heads of `n` rows from the per-file outputs a worker thread computed.
fn heads_of_outputs(model: &Model, n: i64, outs: Vec<Sendable>) -> Result<HeadOut> {
    let mut outs: Vec<Option<IValue>> = outs.into_iter().map(|s| Some(s.0)).collect();
    model.heads_via(n, |mi| outs[mi].take().ok_or_else(|| anyhow!("fast ISM: file {mi} has no output")))
}

// SAFETY: libtorch values are reference-counted atomically; the worker hands its output over
// and keeps no reference to it.
unsafe impl Send for Sendable {}

/// (n, 4, L) mutants of `reference` (1, 4, L): position pos[i] set to one-hot alt[i].
pub fn mutant_batch(reference: &Tensor, pos: &Tensor, alt: &Tensor) -> Tensor {
    let l = reference.size()[2];
    let n = pos.size()[0];
    let x = reference.reshape([1, 4 * l]).expand([n, 4 * l], false).contiguous();
    let chan = Tensor::arange(4, (Kind::Int64, reference.device())) * l;
    let x = x.scatter_value(1, &(pos.unsqueeze(1) + chan.unsqueeze(0)), 0.0);
    x.scatter_value(1, &(alt * l + pos).unsqueeze(1), 1.0).reshape([n, 4, l])
}

/// The fast path of a loaded model, analysed once per loaded model (and logged once: the
/// prefix found, or why ISM runs every mutant through the whole model), or the reason there
/// is none.
pub fn for_model(model: &mut Model) -> Arc<std::result::Result<FastModel, String>> {
    if let Some(f) = &model.fast_ism {
        return f.clone();
    }
    let t = std::time::Instant::now();
    let built = Arc::new(FastModel::build(model));
    match built.as_ref() {
        Ok(f) => {
            tracing::info!("model {}: fast ISM ({:.2} s to analyse): {}", model.spec.name, t.elapsed().as_secs_f64(), f.summary);
            for line in f.details.lines() {
                tracing::debug!("fast ISM step {}", line.trim());
            }
        }
        Err(why) => tracing::info!("model {}: ISM runs every mutant through the whole model (no fast path: {why})", model.spec.name),
    }
    model.fast_ism = Some(built.clone());
    built
}
