//! Loading TorchScript models and running batches through them.
//!
//! Input is a (N, 4, L) one-hot float tensor in ACGT order. Outputs are normalised to
//! (N, B, T): B output bins (1 for per-sequence models) by T targets.
use crate::config::{ModelConfig, OutputLayout};
use crate::genome::onehot;
use anyhow::{anyhow, bail, Context, Result};
use ndarray::Array3;
use std::path::{Path, PathBuf};
use tch::{CModule, Device, IValue, Kind, Tensor};

/// Everything needed to run a model, from a config entry or from CLI flags.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    pub name: String,
    pub path: PathBuf,
    pub input_length: usize,
    pub targets: Vec<String>,
    pub layout: OutputLayout,
    pub bin_size: Option<u32>,
    /// average with the reverse complement
    pub rc: bool,
    /// also average over shifts -k..=k bp
    pub shifts: u32,
    pub batch_size: usize,
    pub replicate_group: Option<String>,
    /// on CUDA, freeze and optimise the module for inference (verified against the original)
    pub optimize: bool,
}

impl ModelSpec {
    pub fn from_config(m: &ModelConfig) -> Self {
        ModelSpec {
            name: m.name.clone(),
            path: m.path.clone(),
            input_length: m.input_length as usize,
            targets: m.targets.clone(),
            layout: m.output,
            bin_size: m.bin_size,
            rc: m.rc,
            shifts: m.shifts,
            batch_size: m.batch_size.unwrap_or(64),
            replicate_group: m.replicate_group.clone(),
            optimize: true,
        }
    }

    /// Sequence length each prediction needs: the input plus the shift margin on both sides.
    pub fn context_length(&self) -> usize {
        self.input_length + 2 * self.shifts as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// strict IEEE fp32 (CUDA results match the CPU to ~1e-6)
    F32,
    /// fp32 tensors, TF32 tensor cores in CUDA convolutions and matmuls (~1e-3 relative)
    TF32,
    F16,
    BF16,
}

impl Precision {
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "fp32" | "f32" | "float32" => Ok(Precision::F32),
            "tf32" => Ok(Precision::TF32),
            "fp16" | "f16" | "half" | "float16" => Ok(Precision::F16),
            "bf16" | "bfloat16" => Ok(Precision::BF16),
            _ => bail!("--precision '{s}': expected fp32, tf32, fp16 or bf16"),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Precision::F32 => "fp32",
            Precision::TF32 => "tf32",
            Precision::F16 => "fp16",
            Precision::BF16 => "bf16",
        }
    }
}

/// Refuse files that cannot be TorchScript before libtorch prints a C++ backtrace.
pub fn check_torchscript_file(path: &Path) -> Result<()> {
    use std::io::Read;
    let p = path.display();
    let mut f = std::fs::File::open(path).map_err(|e| anyhow!("model {p}: cannot read it ({e})"))?;
    let mut magic = [0u8; 4];
    let n = f.read(&mut magic).unwrap_or(0);
    if n < 4 || &magic != b"PK\x03\x04" {
        bail!(
            "model {p} is not a TorchScript file (expected the zip archive torch.jit.save writes). \
             A state_dict or pickled nn.Module cannot be loaded: export it with \
             `torch.jit.trace(model.eval(), torch.zeros(1, 4, L)).save(\"{p}\")`"
        );
    }
    Ok(())
}

/// The first line of a libtorch error (the rest is a C++ backtrace).
pub fn torch_msg(e: &tch::TchError) -> String {
    let s = e.to_string();
    let first = s.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
    first.trim_start_matches("Torch(\"").trim_start_matches("Internal torch error: ").to_string()
}

fn is_oom(e: &tch::TchError) -> bool {
    let s = e.to_string();
    s.contains("out of memory") || s.contains("OutOfMemory")
}

/// A loaded model on one device.
pub struct Model {
    pub spec: ModelSpec,
    module: CModule,
    device: Device,
    precision: Precision,
    n_targets: usize,
    n_bins: usize,
    /// current batch size (halved on CUDA out-of-memory)
    batch_size: usize,
    optimized: bool,
    /// traced convolutions rewritten to follow the runtime cuDNN switches (CUDA)
    convs_rewritten: usize,
    /// CPU replicas for data-parallel batches, loaded on first use
    replicas: Vec<Model>,
}

fn available_cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// How many model replicas run CPU batches in parallel: `PEAKSCOPE_CPU_WORKERS` if set,
/// else one per core up to 4 (each with cores/workers intra-op threads).
pub fn cpu_workers() -> usize {
    match std::env::var("PEAKSCOPE_CPU_WORKERS").ok().and_then(|v| v.parse::<usize>().ok()) {
        Some(w) => w.max(1),
        None => available_cores().min(4),
    }
}

impl Model {
    /// Load a TorchScript file on `device`, switch it to eval mode, and check its output
    /// shape on a dummy batch against the declared layout. On CUDA the module is also
    /// optimised for inference (see [`Model::load_with`]).
    pub fn load(spec: ModelSpec, device: Device, precision: Precision) -> Result<Model> {
        let optimize = spec.optimize && device.is_cuda();
        Self::load_with(spec, device, precision, optimize)
    }

    /// As [`Model::load`]; with `optimize`, the module is frozen and optimised for
    /// inference (batch norm folded into convolutions etc.) and kept only if it agrees with
    /// the original on a random batch (≤ 1e-4 relative), else the original is used.
    pub fn load_with(spec: ModelSpec, device: Device, precision: Precision, optimize: bool) -> Result<Model> {
        check_torchscript_file(&spec.path)?;
        if precision != Precision::F32 && !device.is_cuda() {
            bail!("--precision {} needs a CUDA device; on CPU use fp32", precision.label());
        }
        if spec.batch_size == 0 {
            bail!("model {}: batch size must be > 0", spec.name);
        }
        let p = spec.path.display().to_string();
        // On CUDA, load a copy whose traced convolutions honour this process's TF32 and
        // benchmark switches (see `runtime_conv_copy`); on the CPU they make no difference.
        let (rewritten, convs_rewritten, rewrite_error) = match device.is_cuda().then(|| runtime_conv_copy(&spec.path)) {
            Some(Ok((copy, n))) => (copy, n, None),
            Some(Err(e)) => (None, 0, Some(e)),
            None => (None, 0, None),
        };
        let source = rewritten.as_deref().unwrap_or(&spec.path).to_path_buf();
        let mut module = CModule::load_on_device(&source, device).map_err(|e| anyhow!("model {p}: libtorch could not load it: {}", torch_msg(&e)))?;
        if let Some(e) = rewrite_error {
            tracing::info!("model {p}: its traced convolutions keep the TF32 setting they were traced with ({e:#})");
        }
        module.set_eval();
        let mut m = Model {
            n_targets: 0,
            n_bins: 1,
            batch_size: spec.batch_size,
            module,
            device,
            precision,
            spec,
            optimized: false,
            convs_rewritten,
            replicas: Vec::new(),
        };
        let _g = tch::no_grad_guard();
        let l = m.spec.input_length;
        let dummy = Tensor::zeros([2, 4, l as i64], (Kind::Float, device));
        let out = m.raw_forward(&dummy).map_err(|e| {
            anyhow!(
                "model {p} failed on a dummy batch of shape (2, 4, {l}): {}. Is input_length = {l} right for this model, and does it take one-hot (N, 4, L) input?",
                e.msg
            )
        })?;
        let shape = out.size();
        let expect = match m.spec.layout {
            OutputLayout::Scalar => "(N, T)",
            OutputLayout::BinsTargets => "(N, B, T)",
            OutputLayout::TargetsBins => "(N, T, B)",
        };
        let (bins, targets) = match (m.spec.layout, shape.as_slice()) {
            (OutputLayout::Scalar, [2, t]) => (1, *t),
            (OutputLayout::BinsTargets, [2, b, t]) => (*b, *t),
            (OutputLayout::TargetsBins, [2, t, b]) => (*b, *t),
            _ => bail!(
                "model {p}: output shape {shape:?} on a batch of 2 does not match the declared layout {:?}: expected {expect}. \
                 Declare the layout (config `output = \"scalar\" | \"bins_targets\" | \"targets_bins\"`, or --output-layout)",
                m.spec.layout
            ),
        };
        if m.spec.targets.len() > targets as usize {
            bail!("model {p}: {} target names given ({}) but the model has {targets} output(s)", m.spec.targets.len(), m.spec.targets.join(","));
        }
        m.n_targets = targets as usize;
        m.n_bins = bins as usize;
        if device.is_cuda() {
            set_tf32(precision == Precision::TF32);
        }
        if optimize {
            m.try_optimize(&source);
        }
        Ok(m)
    }

    fn try_optimize(&mut self, source: &Path) {
        let name = self.spec.name.clone();
        let attempt = || -> Result<CModule> {
            let tmp = optimized_copy(source, self.device)?;
            let mut opt = CModule::load_on_device(&tmp, self.device).map_err(|e| anyhow!(torch_msg(&e)))?;
            opt.set_eval();
            // compare on random one-hot sequences, in fp32
            let _g = tch::no_grad_guard();
            let l = self.spec.input_length as i64;
            let idx = Tensor::randint(4, [8, l], (Kind::Int64, self.device));
            let x = idx.one_hot(4).permute([0, 2, 1]).to_kind(Kind::Float);
            let a = first_tensor(self.module.forward_is(&[IValue::Tensor(x.shallow_clone())]).map_err(|e| anyhow!(torch_msg(&e)))?)?;
            let b = first_tensor(opt.forward_is(&[IValue::Tensor(x)]).map_err(|e| anyhow!(torch_msg(&e)))?)?;
            let scale = a.abs().max().double_value(&[]).max(1e-6);
            let diff = (a - b).abs().max().double_value(&[]) / scale;
            let tolerance = if self.precision == Precision::TF32 { 1e-2 } else { 1e-4 };
            if diff > tolerance {
                bail!("optimised module differs from the original by {diff:.2e} (relative)");
            }
            Ok(opt)
        };
        match attempt() {
            Ok(opt) => {
                self.module = opt;
                self.optimized = true;
            }
            Err(e) => tracing::info!("model {name}: running unoptimised ({e:#})"),
        }
    }

    /// Whether the module runs frozen and optimised for inference.
    pub fn is_optimized(&self) -> bool {
        self.optimized
    }

    /// How many traced convolutions were rewritten to follow the runtime cuDNN switches.
    pub fn convs_rewritten(&self) -> usize {
        self.convs_rewritten
    }

    pub fn n_targets(&self) -> usize {
        self.n_targets
    }

    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    pub fn device(&self) -> Device {
        self.device
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    pub fn set_batch_size(&mut self, b: usize) {
        self.batch_size = b.max(1);
    }

    pub fn target_names(&self) -> Vec<String> {
        (0..self.n_targets).map(|i| self.spec.targets.get(i).cloned().unwrap_or_else(|| format!("t{i}"))).collect()
    }

    /// Forward one batch already on the device; returns the model's tensor as it comes.
    fn raw_forward(&self, x: &Tensor) -> std::result::Result<Tensor, ForwardError> {
        let _autocast = match self.precision {
            Precision::F32 | Precision::TF32 => None,
            p => Some(AutocastGuard::enter(p).map_err(|msg| ForwardError { oom: false, msg })?),
        };
        let out = self.module.forward_is(&[IValue::Tensor(x.shallow_clone())]).map_err(|e| ForwardError { oom: is_oom(&e), msg: torch_msg(&e) })?;
        first_tensor(out).map_err(|e| ForwardError { oom: false, msg: e.to_string() })
    }

    /// Normalise a raw output to (N, B, T) float32 on the device.
    fn normalise(&self, out: Tensor, n: i64) -> Result<Tensor> {
        let out = out.to_kind(Kind::Float);
        let out = match self.spec.layout {
            OutputLayout::Scalar => out.reshape([n, 1, self.n_targets as i64]),
            OutputLayout::BinsTargets => out,
            OutputLayout::TargetsBins => out.transpose(1, 2),
        };
        let s = out.size();
        if s != [n, self.n_bins as i64, self.n_targets as i64] {
            bail!("model {}: output shape changed between batches: {s:?}", self.spec.name);
        }
        Ok(out)
    }

    /// Forward a device batch (N, 4, L) and return (N, B, T) float32 on the device.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let _g = tch::no_grad_guard();
        let out = self.raw_forward(x).map_err(|e| anyhow!("model {}: forward failed: {}", self.spec.name, e.msg))?;
        self.normalise(out, x.size()[0])
    }

    /// Run `n` rows through the model in batches of the current batch size: `make(i, j)`
    /// builds rows `i..j` as a device tensor, `sink(i, out)` takes their (j-i, B, T)
    /// output (batches may complete out of order). On CUDA out-of-memory the batch size is
    /// halved and the batch retried. On a multi-core CPU, batches run data-parallel on
    /// replicas of the model, each with its share of the cores (see [`cpu_workers`]).
    pub fn run_batched(&mut self, n: usize, make: impl FnMut(usize, usize) -> Result<Tensor>, sink: impl FnMut(usize, Tensor) -> Result<()>) -> Result<()> {
        let workers = cpu_workers();
        if self.device == Device::Cpu && workers > 1 && n > self.batch_size {
            return self.run_batched_cpu_parallel(n, workers, make, sink);
        }
        let (mut make, mut sink) = (make, sink);
        let _g = tch::no_grad_guard();
        let mut i = 0;
        while i < n {
            let j = (i + self.batch_size).min(n);
            let x = make(i, j)?;
            match self.raw_forward(&x) {
                Ok(out) => {
                    sink(i, self.normalise(out, (j - i) as i64)?)?;
                    i = j;
                }
                Err(e) if e.oom && self.batch_size > 1 => {
                    self.batch_size /= 2;
                    tracing::warn!("model {}: CUDA out of memory; batch size halved to {}", self.spec.name, self.batch_size);
                }
                Err(e) if e.oom => bail!("model {}: CUDA out of memory even at batch size 1", self.spec.name),
                Err(e) => bail!("model {}: forward failed: {}", self.spec.name, e.msg),
            }
        }
        Ok(())
    }

    /// CPU data parallelism: `workers` replicas of the module, each on its own thread with
    /// cores/workers intra-op threads, take batches from a queue. For convolutional models on
    /// few cores this beats one forward spread over all cores (measured: 2 workers × 1
    /// thread ≈ 10% more sequences/s than 1 × 2 on a 2-core machine).
    fn run_batched_cpu_parallel(
        &mut self,
        n: usize,
        workers: usize,
        mut make: impl FnMut(usize, usize) -> Result<Tensor>,
        mut sink: impl FnMut(usize, Tensor) -> Result<()>,
    ) -> Result<()> {
        while self.replicas.len() < workers {
            let r = Model::load_with(self.spec.clone(), Device::Cpu, Precision::F32, false)?;
            self.replicas.push(r);
        }
        let threads_each = (available_cores() / workers).max(1);
        let bs = self.batch_size;
        let (job_tx, job_rx) = crossbeam_channel::bounded::<(usize, Tensor)>(workers);
        let (res_tx, res_rx) = crossbeam_channel::unbounded::<(usize, Result<Tensor>)>();
        let replicas = &mut self.replicas[..workers];
        std::thread::scope(|scope| -> Result<()> {
            for replica in replicas.iter_mut() {
                let (job_rx, res_tx) = (job_rx.clone(), res_tx.clone());
                scope.spawn(move || {
                    tch::set_num_threads(threads_each as i32);
                    let _g = tch::no_grad_guard();
                    for (i, x) in job_rx {
                        let n = x.size()[0];
                        let out = replica
                            .raw_forward(&x)
                            .map_err(|e| anyhow!("model {}: forward failed: {}", replica.spec.name, e.msg))
                            .and_then(|o| replica.normalise(o, n));
                        if res_tx.send((i, out)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop((job_rx, res_tx));
            let mut outcome = Ok(());
            let mut handle = |(i, out): (usize, Result<Tensor>), outcome: &mut Result<()>| {
                if outcome.is_ok() {
                    *outcome = out.and_then(|o| sink(i, o));
                }
            };
            let mut i = 0;
            while i < n && outcome.is_ok() {
                let j = (i + bs).min(n);
                match make(i, j) {
                    Ok(x) => {
                        if job_tx.send((i, x)).is_err() {
                            break;
                        }
                    }
                    Err(e) => outcome = Err(e),
                }
                while let Ok(r) = res_rx.try_recv() {
                    handle(r, &mut outcome);
                }
                i = j;
            }
            drop(job_tx);
            for r in res_rx.iter() {
                handle(r, &mut outcome);
            }
            outcome
        })
    }

    /// Test-time-averaged predictions for sequences of length `context_length()`:
    /// the mean over shifts -k..=k (windows of input_length inside the context) and, with
    /// `rc`, over both strands (binned outputs flipped back along the bins). Returns
    /// (N, B, T) on the host.
    pub fn predict_seqs<S: AsRef<[u8]>>(&mut self, seqs: &[S]) -> Result<Array3<f32>> {
        let ctx = self.spec.context_length();
        for (i, s) in seqs.iter().enumerate() {
            if s.as_ref().len() != ctx {
                bail!("sequence {i} has length {} but model {} needs {ctx}", s.as_ref().len(), self.spec.name);
            }
        }
        let n = seqs.len();
        let (b, t) = (self.n_bins, self.n_targets);
        let l = self.spec.input_length as i64;
        let shifts = self.spec.shifts as i64;
        let rc = self.spec.rc;
        let views = ((2 * shifts + 1) * if rc { 2 } else { 1 }) as usize;
        let device = self.device;
        let mut out = Array3::<f32>::zeros((n, b, t));
        // each request row expands to `views` model inputs
        let total = n * views;
        let mut acc = vec![0f32; n * b * t];
        self.run_batched(
            total,
            |i, j| {
                let mut host = vec![0f32; (j - i) * 4 * l as usize];
                for (r, k) in (i..j).enumerate() {
                    let (row, v) = (k / views, k % views);
                    let (shift, strand_rc) = (v / if rc { 2 } else { 1 }, rc && v % 2 == 1);
                    let s = &seqs[row].as_ref()[shift..shift + l as usize];
                    let s = if strand_rc { onehot::reverse_complement(s) } else { s.to_vec() };
                    let a = onehot::one_hot(&s);
                    host[r * 4 * l as usize..(r + 1) * 4 * l as usize].copy_from_slice(a.as_slice().unwrap());
                }
                Ok(Tensor::from_slice(&host).reshape([(j - i) as i64, 4, l]).to_device(device))
            },
            |i, o| {
                let o = o.to_device(Device::Cpu).contiguous();
                let v: Vec<f32> = Vec::<f32>::try_from(o.reshape([-1])).context("copying predictions to the host")?;
                for (r, k) in (i..i + v.len() / (b * t)).enumerate() {
                    let (row, vi) = (k / views, k % views);
                    let strand_rc = rc && vi % 2 == 1;
                    for bi in 0..b {
                        let src_b = if strand_rc { b - 1 - bi } else { bi };
                        for ti in 0..t {
                            acc[(row * b + bi) * t + ti] += v[(r * b + src_b) * t + ti];
                        }
                    }
                }
                Ok(())
            },
        )?;
        for (o, a) in out.as_slice_mut().unwrap().iter_mut().zip(acc) {
            *o = a / views as f32;
        }
        Ok(out)
    }
}

extern "C" {
    fn peakscope_autocast_enter(dtype: i32) -> i32;
    fn peakscope_autocast_exit() -> i32;
    fn peakscope_set_tf32(allow: i32);
    fn peakscope_runtime_conv_flags(input: *const std::ffi::c_char, output: *const std::ffi::c_char, err: *mut std::ffi::c_char, err_len: i32) -> i32;
    fn peakscope_optimize_file(input: *const std::ffi::c_char, output: *const std::ffi::c_char, device: i32, err: *mut std::ffi::c_char, err_len: i32) -> i32;
}

/// Allow or forbid TF32 in cuDNN convolutions and cuBLAS matmuls (process-wide). peakscope
/// forbids it for fp32, so CUDA fp32 results match the CPU to ~1e-6 rather than ~1e-3, and
/// allows it for `--precision tf32`. Traced convolutions obey it only after
/// [`runtime_conv_copy`].
pub fn set_tf32(allow: bool) {
    // SAFETY: the shim only sets two process-wide libtorch flags from a plain integer.
    unsafe { peakscope_set_tf32(allow as i32) }
}

/// Tracing bakes the tracing process's cuDNN switches into every convolution
/// (`aten::_convolution(..., benchmark, deterministic, cudnn_enabled, allow_tf32=True)`), so
/// a traced model runs CUDA fp32 convolutions in TF32 whatever [`set_tf32`] says, and never
/// autotunes. This writes a copy of the file whose convolutions are `aten::convolution`,
/// which reads the switches at run time (CPU results are bit-identical). Returns the copy and
/// the number of convolutions rewritten, or (None, 0) when the file has no traced ones.
pub fn runtime_conv_copy(path: &Path) -> Result<(Option<tempfile::TempPath>, usize)> {
    // SAFETY: file_transform passes two NUL-terminated paths and an error buffer of `len`
    // bytes, all alive for the call; the shim writes at most `len` bytes into it.
    let (tmp, n) = file_transform(path, "peakscope-conv-", |cin, cout, err, len| unsafe { peakscope_runtime_conv_flags(cin, cout, err, len) })?;
    Ok(if n == 0 { (None, 0) } else { (Some(tmp), n as usize) })
}

/// `torch::jit::optimize_for_inference` of a TorchScript file (freeze, fold batch norm into
/// the preceding convolution, ...), written to a temporary file that is returned.
fn optimized_copy(path: &Path, device: Device) -> Result<tempfile::TempPath> {
    let dev = match device {
        Device::Cuda(i) => i as i32,
        _ => -1,
    };
    // SAFETY: as in runtime_conv_copy: valid paths and an error buffer of `len` bytes.
    let (tmp, _) = file_transform(path, "peakscope-opt-", |cin, cout, err, len| unsafe { peakscope_optimize_file(cin, cout, dev, err, len) })?;
    Ok(tmp)
}

/// Run a shim function that reads TorchScript file `path` and writes a temporary file:
/// `f(input, output, error buffer, its length)` returns ≥ 0 on success (passed on), or < 0
/// with a message in the buffer.
fn file_transform(
    path: &Path,
    prefix: &str,
    f: impl FnOnce(*const std::ffi::c_char, *const std::ffi::c_char, *mut std::ffi::c_char, i32) -> i32,
) -> Result<(tempfile::TempPath, i32)> {
    let tmp = tempfile::Builder::new().prefix(prefix).suffix(".pt").tempfile()?.into_temp_path();
    let cin = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
    let cout = std::ffi::CString::new(tmp.as_os_str().as_encoded_bytes())?;
    let mut err = vec![0 as std::ffi::c_char; 512];
    let code = f(cin.as_ptr(), cout.as_ptr(), err.as_mut_ptr(), err.len() as i32);
    if code < 0 {
        // SAFETY: `err` was zero-filled and the shim writes a NUL-terminated message of at
        // most len - 1 bytes, so the buffer holds a valid C string.
        let msg = unsafe { std::ffi::CStr::from_ptr(err.as_ptr()) }.to_string_lossy().into_owned();
        bail!("{msg}");
    }
    Ok((tmp, code))
}

/// CUDA autocast to fp16/bf16 for the guard's lifetime (like `torch.autocast` in Python):
/// matmuls and convolutions run in half precision, reductions stay in fp32.
struct AutocastGuard;

impl AutocastGuard {
    fn enter(p: Precision) -> std::result::Result<Self, String> {
        let code = if p == Precision::BF16 { 1 } else { 0 };
        // SAFETY: enables thread-local autocast state in libtorch; paired with the exit in Drop.
        if unsafe { peakscope_autocast_enter(code) } != 0 {
            return Err(format!("could not enable {} autocast", p.label()));
        }
        Ok(AutocastGuard)
    }
}

impl Drop for AutocastGuard {
    fn drop(&mut self) {
        // SAFETY: restores the autocast state entered in AutocastGuard::enter on this thread.
        unsafe { peakscope_autocast_exit() };
    }
}

/// A model's output tensor: the tensor itself, or the first element of a tuple/list
/// (multi-head models such as ChromBPNet's (profile, counts)).
fn first_tensor(out: IValue) -> Result<Tensor> {
    match out {
        IValue::Tensor(t) => Ok(t),
        IValue::Tuple(v) | IValue::GenericList(v) => match v.into_iter().next() {
            Some(IValue::Tensor(t)) => Ok(t),
            _ => bail!("the model returned a tuple/list whose first element is not a tensor"),
        },
        other => bail!("the model returned {}, not a tensor", ivalue_kind(&other)),
    }
}

fn ivalue_kind(v: &IValue) -> &'static str {
    match v {
        IValue::None => "None",
        IValue::Double(_) | IValue::Int(_) | IValue::Bool(_) => "a number",
        IValue::String(_) => "a string",
        IValue::GenericDict(_) => "a dict",
        _ => "a non-tensor value",
    }
}

struct ForwardError {
    oom: bool,
    msg: String,
}
