//! Loading TorchScript models and running batches through them.
//!
//! A model is one TorchScript file, or a set of files (one per target) run as one model. Its
//! description ([`ModelSpec`]) says how sequences are encoded (one-hot (N,4,L), channels-last
//! (N,L,4) or int64 tokens), which zero-filled extra inputs its forward takes, and which
//! output heads to read: the **height** (peak-level work) and optionally a **profile**
//! (tracks). Every batch comes out as a [`HeadOut`]: the height as (N, B, T) float32 on the
//! device (B = 1 for per-sequence heads), transformed and mapped to the reported outputs, and
//! the profile as (N, Bp, T). Everything is checked on a dummy batch at load.
use super::checkpoint;
use super::desc::{shape_label, BinSelect, Dim, HeadKey, HeadPath, HeadSpec, InputKind, Layout, OutputMap, ProfileSpec, ProfileTransform};
use crate::config::ModelConfig;
use anyhow::{anyhow, bail, Result};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use tch::{CModule, Device, IValue, Kind, Tensor};

/// Everything needed to run a model, from a config entry or from CLI flags.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    pub name: String,
    /// the TorchScript file (the first file of a model set)
    pub path: PathBuf,
    /// a model set: one file per target, run as one model (empty = just `path`)
    pub paths: Vec<PathBuf>,
    pub input_length: usize,
    pub input: InputKind,
    /// further forward() inputs, filled with zeros: shapes without the batch dimension
    pub extra_inputs: Vec<Vec<Dim>>,
    /// output names (a model set: one per file)
    pub targets: Vec<String>,
    /// a Basenji/Enformer targets_*.txt naming the outputs
    pub targets_file: Option<PathBuf>,
    /// reported outputs as (track, raw output indices averaged); empty = every raw output
    pub tracks: Vec<(String, Vec<usize>)>,
    /// the head used for peak-level work
    pub height: HeadSpec,
    /// the head drawn as a track
    pub profile: Option<ProfileSpec>,
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
    /// A bare one-file model: one-hot input, the bare tensor output read as (N, T).
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>, input_length: usize) -> Self {
        ModelSpec {
            name: name.into(),
            path: path.into(),
            paths: vec![],
            input_length,
            input: InputKind::OneHot,
            extra_inputs: vec![],
            targets: vec![],
            targets_file: None,
            tracks: vec![],
            height: HeadSpec::default(),
            profile: None,
            rc: false,
            shifts: 0,
            batch_size: 64,
            replicate_group: None,
            optimize: true,
        }
    }

    pub fn from_config(m: &ModelConfig) -> Self {
        let files = m.files();
        ModelSpec {
            name: m.name.clone(),
            path: files[0].clone(),
            paths: if m.paths.is_empty() { vec![] } else { files },
            input_length: m.input_length as usize,
            input: m.input,
            extra_inputs: m.extra_inputs.clone(),
            targets: m.targets.clone(),
            targets_file: m.targets_file.clone(),
            tracks: m.track_map(),
            height: m.height_spec(),
            profile: m.profile.clone(),
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

    /// The model's files.
    pub fn files(&self) -> Vec<PathBuf> {
        if self.paths.is_empty() {
            vec![self.path.clone()]
        } else {
            self.paths.clone()
        }
    }

    /// Python expression of an example input batch (for export hints).
    pub fn example_input(&self) -> String {
        let l = self.input_length;
        let x = match self.input {
            InputKind::OneHot => format!("torch.zeros(1, 4, {l})"),
            InputKind::OneHotNlc => format!("torch.zeros(1, {l}, 4)"),
            InputKind::Tokens => format!("torch.zeros(1, {l}, dtype=torch.long)"),
        };
        if self.extra_inputs.is_empty() {
            return x;
        }
        let extras: Vec<String> = self
            .extra_inputs
            .iter()
            .map(|s| format!("torch.zeros(1, {})", s.iter().map(|d| d.resolve(l).to_string()).collect::<Vec<_>>().join(", ")))
            .collect();
        format!("({x}, {})", extras.join(", "))
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

/// Refuse files that cannot be TorchScript before libtorch prints a C++ backtrace: a
/// `torch.save` checkpoint, an HDF5 (Keras) file, safetensors weights... each explained.
pub fn check_torchscript_file(path: &Path) -> Result<()> {
    checkpoint::check_torchscript_file(path, "torch.zeros(1, 4, L)")
}

/// A libtorch error: the informative line, the whole text, and whether it is an
/// out-of-memory error.
#[derive(Debug, Clone)]
pub struct TorchError {
    pub summary: String,
    pub full: String,
    pub oom: bool,
}

impl TorchError {
    pub fn new(e: &tch::TchError) -> Self {
        let full = e.to_string();
        TorchError { summary: summarize_torch_error(&full), oom: full.contains("out of memory") || full.contains("OutOfMemory"), full }
    }

    fn msg(msg: impl Into<String>) -> Self {
        let m = msg.into();
        TorchError { summary: m.clone(), full: m, oom: false }
    }
}

/// The line of a libtorch error that says what went wrong: the Python-style
/// `SomethingError: ...` line at the end of a TorchScript interpreter traceback, else the
/// first line (the rest is a C++ backtrace).
pub fn summarize_torch_error(full: &str) -> String {
    let text = full.trim_start_matches("Torch(\"").trim_start_matches("Internal torch error: ");
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let is_err = |l: &&&str| {
        let head = l.split(':').next().unwrap_or("");
        l.contains(": ") && (head.ends_with("Error") || head.ends_with("Exception")) && !head.contains(' ')
    };
    let line = lines.iter().rev().find(is_err).or(lines.first()).copied().unwrap_or("");
    let line = line.split(" (Exception raised from").next().unwrap_or(line);
    line.trim_end_matches("\")").to_string()
}

/// A libtorch error for the log: the whole message and TorchScript traceback, without the
/// C++ stack frames.
pub fn torch_log_text(full: &str) -> String {
    full.lines().filter(|l| !l.trim_start().starts_with("frame #") && !l.starts_with("Exception raised from")).collect::<Vec<_>>().join("\n")
}

/// The first line of a libtorch error (kept for callers that format errors themselves).
pub fn torch_msg(e: &tch::TchError) -> String {
    TorchError::new(e).summary
}

pub fn kind_label(k: Kind) -> String {
    match k {
        Kind::Float => "float32".into(),
        Kind::Double => "float64".into(),
        Kind::Half => "float16".into(),
        Kind::BFloat16 => "bfloat16".into(),
        Kind::Int64 => "int64".into(),
        Kind::Int => "int32".into(),
        Kind::Bool => "bool".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// A compact description of a (nested) model output, e.g.
/// `tuple of 2: [0] (2, 1, 1000) float32, [1] (2, 1) float32`.
pub fn describe_output(v: &IValue) -> String {
    fn tensor(t: &Tensor) -> String {
        let dims: Vec<String> = t.size().iter().map(|d| d.to_string()).collect();
        format!("({}) {}", dims.join(", "), kind_label(t.kind()))
    }
    fn go(v: &IValue) -> String {
        match v {
            IValue::Tensor(t) => format!("tensor {}", tensor(t)),
            IValue::Tuple(items) | IValue::GenericList(items) => {
                let what = if matches!(v, IValue::Tuple(_)) { "tuple" } else { "list" };
                let inner: Vec<String> = items.iter().enumerate().map(|(i, x)| format!("[{i}] {}", go(x).trim_start_matches("tensor "))).collect();
                format!("{what} of {}: {}", items.len(), inner.join(", "))
            }
            IValue::TensorList(ts) => {
                let inner: Vec<String> = ts.iter().enumerate().map(|(i, t)| format!("[{i}] {}", tensor(t))).collect();
                format!("list of {}: {}", ts.len(), inner.join(", "))
            }
            IValue::GenericDict(kv) => {
                let inner: Vec<String> = kv.iter().map(|(k, x)| format!("{}: {}", key_label(k), go(x).trim_start_matches("tensor "))).collect();
                format!("dict with keys {}: {}", kv.iter().map(|(k, _)| key_label(k)).collect::<Vec<_>>().join(", "), inner.join(", "))
            }
            other => ivalue_kind(other).to_string(),
        }
    }
    go(v)
}

fn key_label(k: &IValue) -> String {
    match k {
        IValue::String(s) => format!("\"{s}\""),
        IValue::Int(i) => i.to_string(),
        other => ivalue_kind(other).into(),
    }
}

fn ivalue_kind(v: &IValue) -> &'static str {
    match v {
        IValue::None => "None",
        IValue::Tensor(_) => "a tensor",
        IValue::Double(_) | IValue::Int(_) | IValue::Bool(_) => "a number",
        IValue::String(_) => "a string",
        IValue::GenericDict(_) => "a dict",
        IValue::Tuple(_) => "a tuple",
        IValue::GenericList(_) | IValue::TensorList(_) => "a list",
        _ => "a non-tensor value",
    }
}

/// Every tensor in an output with its path, shape and dtype.
pub fn output_leaves(v: &IValue) -> Vec<(HeadPath, Vec<i64>, Kind)> {
    fn go(v: &IValue, path: &mut Vec<HeadKey>, out: &mut Vec<(HeadPath, Vec<i64>, Kind)>) {
        match v {
            IValue::Tensor(t) => out.push((HeadPath(path.clone()), t.size(), t.kind())),
            IValue::Tuple(items) | IValue::GenericList(items) => {
                for (i, x) in items.iter().enumerate() {
                    path.push(HeadKey::Index(i));
                    go(x, path, out);
                    path.pop();
                }
            }
            IValue::TensorList(ts) => {
                for (i, t) in ts.iter().enumerate() {
                    path.push(HeadKey::Index(i));
                    out.push((HeadPath(path.clone()), t.size(), t.kind()));
                    path.pop();
                }
            }
            IValue::GenericDict(kv) => {
                for (k, x) in kv {
                    path.push(match k {
                        IValue::String(s) => HeadKey::Key(s.clone()),
                        IValue::Int(i) => HeadKey::Index(*i as usize),
                        _ => continue,
                    });
                    go(x, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    go(v, &mut Vec::new(), &mut out);
    out
}

/// Follow `path` into an output. Errors say what the output is and how to choose.
pub fn select_head<'a>(v: &'a IValue, path: &HeadPath, role: &str) -> std::result::Result<&'a Tensor, String> {
    let mut cur = v;
    for (depth, key) in path.0.iter().enumerate() {
        let here = if depth == 0 { "the output".to_string() } else { format!("head {}", HeadPath(path.0[..depth].to_vec()).toml()) };
        cur = match (cur, key) {
            (IValue::Tuple(items) | IValue::GenericList(items), HeadKey::Index(i)) => items.get(*i).ok_or_else(|| {
                format!(
                    "{here} is a {} of {} ({}): index {i} is out of range",
                    if matches!(cur, IValue::Tuple(_)) { "tuple" } else { "list" },
                    items.len(),
                    describe_output(cur)
                )
            })?,
            (IValue::TensorList(ts), HeadKey::Index(i)) => {
                return ts.get(*i).ok_or_else(|| format!("{here} is a list of {} tensors: index {i} is out of range", ts.len()));
            }
            (IValue::GenericDict(kv), key) => {
                let want = match key {
                    HeadKey::Key(k) => k.clone(),
                    HeadKey::Index(i) => i.to_string(),
                };
                kv.iter()
                    .find(|(k, _)| match (k, key) {
                        (IValue::String(s), _) => *s == want,
                        (IValue::Int(n), HeadKey::Index(i)) => *n as usize == *i,
                        _ => false,
                    })
                    .map(|(_, x)| x)
                    .ok_or_else(|| {
                        format!("{here} is a dict without key {key}; its keys are {}", kv.iter().map(|(k, _)| key_label(k)).collect::<Vec<_>>().join(", "))
                    })?
            }
            (IValue::Tuple(_) | IValue::GenericList(_) | IValue::TensorList(_), HeadKey::Key(k)) => {
                return Err(format!("{here} is {} ({}), indexed by number, not by key \"{k}\"", ivalue_kind(cur), describe_output(cur)));
            }
            (other, _) => return Err(format!("{here} is {}, so head {} cannot go into it", describe_output(other), path.toml())),
        };
    }
    let what = if path.is_bare() { "the model's output".to_string() } else { format!("head {}", path.toml()) };
    let flag = |example: &str| format!("choose one with [models.{role}] head = {example} (CLI: --{role}-head {})", example.trim_matches('"'));
    let listing = |d: String| d.split_once(": ").map(|(_, rest)| rest.to_string()).unwrap_or(d);
    match cur {
        IValue::Tensor(t) => Ok(t),
        IValue::Tuple(items) | IValue::GenericList(items) => Err(format!(
            "{what} is a {} of {}: {}. peakscope never guesses which element to use: {}{}",
            if matches!(cur, IValue::Tuple(_)) { "tuple" } else { "list" },
            items.len(),
            listing(describe_output(cur)),
            flag("<index>"),
            if role == "height" { " (ChromBPNet/BPNet: head = 1, the log counts, with transform = \"exp\"; the profile is head 0)" } else { "" }
        )),
        IValue::TensorList(ts) => Err(format!("{what} is a list of {} tensors: {}. {}", ts.len(), listing(describe_output(cur)), flag("<index>"))),
        IValue::GenericDict(kv) => {
            Err(format!("{what} is a dict: {}. {}", listing(describe_output(cur)), flag(&kv.first().map(|(k, _)| key_label(k)).unwrap_or_default())))
        }
        other => Err(format!("the selected output is {}, not a tensor", ivalue_kind(other))),
    }
}

/// A head's geometry, found on the dummy batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadGeom {
    pub layout: Layout,
    /// output bins (1 for scalar heads)
    pub bins: usize,
    /// bp per bin (the input length for scalar heads)
    pub bin_size: u32,
    /// outputs (targets) per model file
    pub targets: usize,
}

impl HeadGeom {
    /// Bases covered by the output bins (assumed centred in the input).
    pub fn span(&self) -> u64 {
        self.bins as u64 * self.bin_size as u64
    }
}

/// Read a head tensor as (N, B, T) float32.
fn normalise(t: &Tensor, layout: Layout) -> Tensor {
    let t = t.to_kind(Kind::Float);
    match (layout, t.dim()) {
        (Layout::Scalar, 1) => t.unsqueeze(1).unsqueeze(1),
        (Layout::Scalar, _) => t.unsqueeze(1),
        (Layout::Bins, _) => t.unsqueeze(2),
        (Layout::BinsTargets, _) => t,
        (Layout::TargetsBins, _) => t.transpose(1, 2),
    }
}

/// One batch's heads: the height (N, B, T) and the profile (N, Bp, T), float32 on the device.
pub struct HeadOut {
    pub height: Tensor,
    pub profile: Option<Tensor>,
}

/// The reported outputs as an index selection and an averaging matrix (None = identity).
struct Mapping {
    used: Tensor,
    weights: Tensor,
}

impl Mapping {
    fn new(map: &OutputMap, n_raw: usize, device: Device) -> Option<Mapping> {
        if map.is_identity(n_raw) {
            return None;
        }
        let mut used: Vec<usize> = map.outputs.iter().flat_map(|(_, v)| v.iter().copied()).collect();
        used.sort_unstable();
        used.dedup();
        let mut w = vec![0f32; used.len() * map.len()];
        for (j, (_, idx)) in map.outputs.iter().enumerate() {
            for i in idx {
                let u = used.binary_search(i).unwrap();
                w[u * map.len() + j] += 1.0 / idx.len() as f32;
            }
        }
        let used_t = Tensor::from_slice(&used.iter().map(|&i| i as i64).collect::<Vec<_>>()).to_device(device);
        let weights = Tensor::from_slice(&w).reshape([used.len() as i64, map.len() as i64]).to_device(device);
        Some(Mapping { used: used_t, weights })
    }

    fn apply(&self, t: &Tensor) -> Tensor {
        t.index_select(2, &self.used).matmul(&self.weights)
    }
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

/// A loaded model on one device.
pub struct Model {
    pub spec: ModelSpec,
    /// one module per file (a model set has several)
    modules: Vec<CModule>,
    device: Device,
    precision: Precision,
    /// dtype of the model's floating inputs (its parameters' dtype)
    input_kind: Kind,
    height: HeadGeom,
    profile: Option<HeadGeom>,
    outputs: OutputMap,
    mapping: Option<Mapping>,
    /// current batch size (halved on CUDA out-of-memory)
    batch_size: usize,
    /// batches hold whole groups of this many rows (ISM: a mutant's views)
    granule: usize,
    optimized: bool,
    /// traced convolutions rewritten to follow the runtime cuDNN switches (CUDA)
    convs_rewritten: usize,
    /// predicted values that were NaN or infinite since the last [`Model::take_non_finite`]
    non_finite: Cell<u64>,
    /// whether the path SNV ALT windows take has been logged (service::heights_with)
    pub(crate) alt_path_logged: Cell<bool>,
    /// the output structure on the dummy batch (first file)
    output_desc: String,
    /// parameters over every file
    n_parameters: usize,
    /// CPU replicas for data-parallel batches, loaded on first use
    replicas: Vec<Model>,
    /// the fast-ISM analysis of this model, once made ([`super::fast_ism::for_model`])
    pub(crate) fast_ism: Option<std::sync::Arc<std::result::Result<super::fast_ism::FastModel, String>>>,
}

struct ForwardError {
    oom: bool,
    msg: String,
}

impl From<TorchError> for ForwardError {
    fn from(e: TorchError) -> Self {
        ForwardError { oom: e.oom, msg: e.summary }
    }
}

/// Fix hints for a forward that failed on the dummy batch.
fn forward_hint(summary: &str, spec: &ModelSpec) -> String {
    let s = summary.to_ascii_lowercase();
    if s.contains("missing value for argument") || s.contains("missing") && s.contains("argument") {
        return "its forward() takes more inputs than the sequence: declare them, filled with zeros, with extra_inputs (BPNet control tracks: \
                extra_inputs = [[2, \"L\"]], CLI --extra-input 2,L)"
            .into();
    }
    if s.contains("expected at most") || s.contains("too many positional") {
        return "its forward() takes fewer inputs than declared: remove extra_inputs".into();
    }
    if s.contains("channels") || s.contains("shape") || s.contains("size") || s.contains("dimension") || s.contains("expected scalar type") {
        return format!(
            "is input = \"{}\" right (onehot (N,4,L), onehot-nlc (N,L,4), tokens (N,L)) and input_length = {}? `peakscope inspect-model {}` tries them",
            spec.input.label(),
            spec.input_length,
            spec.path.display()
        );
    }
    format!("is input_length = {} right for this model? `peakscope inspect-model {}` probes the file", spec.input_length, spec.path.display())
}

/// Check a head tensor from the dummy batch of 2 against its declared layout.
fn check_head(t: &Tensor, layout: Layout, bin_size: u32, input_length: usize, what: &str, role: &str) -> Result<HeadGeom> {
    let shape = t.size();
    let fix_layout = |guess: &str| format!("declare its layout ([models.{role}] layout = \"...\", CLI --{role}-layout){guess}");
    if shape.first() != Some(&2) {
        bail!("{what} has shape {shape:?} on a batch of 2: its first dimension should be the batch. Is this the right head?");
    }
    if !t.is_floating_point() {
        bail!("{what} is {} (shape {shape:?}), not floating point: is this the right head?", kind_label(t.kind()));
    }
    let rank = shape.len();
    let want = layout.rank();
    let ok_rank = rank == want || (layout == Layout::Scalar && rank == 1);
    if !ok_rank {
        let guess = match shape.as_slice() {
            [_, a, b] if *a <= 8 && *b > 8 => format!(": it looks like (N, T, B) with T = {a}, B = {b} (layout = \"targets-bins\")"),
            [_, a, b] if *b <= 8 && *a > 8 => format!(": it looks like (N, B, T) with B = {a}, T = {b} (layout = \"bins-targets\")"),
            [_, _, _] => ": it is (N, B, T) or (N, T, B) (layout = \"bins-targets\" or \"targets-bins\")".into(),
            [_, b] if *b > 8 => format!(": (N, {b}) is either {b} targets (scalar) or a {b}-bin profile (layout = \"bins\")"),
            _ => String::new(),
        };
        bail!("{what} has shape {shape:?} but layout {} expects {} ({want} dimensions): {}", layout.label(), layout.shape(), fix_layout(&guess));
    }
    let (bins, targets) = match (layout, shape.as_slice()) {
        (Layout::Scalar, [_]) => (1, 1),
        (Layout::Scalar, [_, t]) => (1, *t),
        (Layout::Bins, [_, b]) => (*b, 1),
        (Layout::BinsTargets, [_, b, t]) => (*b, *t),
        (Layout::TargetsBins, [_, t, b]) => (*b, *t),
        _ => unreachable!(),
    };
    if targets == 0 {
        bail!("{what} has shape {shape:?}: 0 targets. Is this the right head and layout ({})?", layout.shape());
    }
    if bins == 0 {
        bail!(
            "{what} has shape {shape:?}: 0 output bins at input_length {input_length}. The model needs a longer input: is input_length right \
             (e.g. 2114 for ChromBPNet)? `peakscope inspect-model` probes the file"
        );
    }
    let bin_size = if layout.is_binned() { bin_size } else { input_length as u32 };
    if layout.is_binned() && bins as u64 * bin_size as u64 > input_length as u64 {
        let swapped = match layout {
            Layout::BinsTargets if (targets as u64) * bin_size as u64 <= input_length as u64 => " The other reading fits: layout = \"targets-bins\"?",
            Layout::TargetsBins if (targets as u64) * bin_size as u64 <= input_length as u64 => " The other reading fits: layout = \"bins-targets\"?",
            _ => "",
        };
        bail!(
            "{what} has shape {shape:?}: read as {} that is {bins} bins × {bin_size} bp = {} bp, more than the {input_length} bp input. \
             The layout, bin_size or input_length is wrong.{swapped}",
            layout.shape(),
            bins as u64 * bin_size as u64
        );
    }
    Ok(HeadGeom { layout, bins: bins as usize, bin_size, targets: targets as usize })
}

impl Model {
    /// Load a model on `device`, switch it to eval mode, and check it on a dummy batch
    /// against its description. On CUDA the module is also optimised for inference (see
    /// [`Model::load_with`]).
    pub fn load(spec: ModelSpec, device: Device, precision: Precision) -> Result<Model> {
        let optimize = spec.optimize && device.is_cuda();
        Self::load_with(spec, device, precision, optimize)
    }

    /// As [`Model::load`]; with `optimize`, each module is frozen and optimised for inference
    /// (batch norm folded into convolutions etc.) and kept only if it agrees with the original
    /// on a random batch (≤ 1e-4 relative), else the original is used.
    pub fn load_with(spec: ModelSpec, device: Device, precision: Precision, optimize: bool) -> Result<Model> {
        if spec.input_length == 0 {
            bail!("model {}: input_length must be > 0", spec.name);
        }
        let example = spec.example_input();
        for f in spec.files() {
            checkpoint::check_torchscript_file(&f, &example)?;
        }
        if precision != Precision::F32 && !device.is_cuda() {
            bail!("--precision {} needs a CUDA device; on CPU use fp32", precision.label());
        }
        if spec.batch_size == 0 {
            bail!("model {}: batch size must be > 0", spec.name);
        }
        let mut modules = Vec::new();
        let mut sources = Vec::new();
        let mut convs_rewritten = 0;
        for f in spec.files() {
            let p = f.display().to_string();
            // On CUDA, load a copy whose traced convolutions honour this process's TF32 and
            // benchmark switches (see `runtime_conv_copy`); on the CPU they make no difference.
            let (rewritten, n, rewrite_error) = match device.is_cuda().then(|| runtime_conv_copy(&f)) {
                Some(Ok((copy, n))) => (copy, n, None),
                Some(Err(e)) => (None, 0, Some(e)),
                None => (None, 0, None),
            };
            convs_rewritten += n;
            let source = rewritten.as_deref().unwrap_or(&f).to_path_buf();
            let mut module = CModule::load_on_device(&source, device).map_err(|e| {
                let te = TorchError::new(&e);
                tracing::info!("model {p}: libtorch's full message:\n{}", torch_log_text(&te.full));
                anyhow!("model {p}: libtorch could not load it: {}", te.summary)
            })?;
            if let Some(e) = rewrite_error {
                tracing::info!("model {p}: its traced convolutions keep the TF32 setting they were traced with ({e:#})");
            }
            module.set_eval();
            modules.push(module);
            sources.push((source, rewritten));
        }
        let input_kind = match modules[0].named_parameters() {
            Ok(ps) => ps.iter().map(|(_, t)| t.kind()).find(|k| matches!(k, Kind::Double | Kind::Half | Kind::BFloat16 | Kind::Float)).unwrap_or(Kind::Float),
            Err(_) => Kind::Float,
        };
        let mut m = Model {
            height: HeadGeom { layout: Layout::Scalar, bins: 1, bin_size: spec.input_length as u32, targets: 0 },
            profile: None,
            outputs: OutputMap { outputs: vec![] },
            mapping: None,
            batch_size: spec.batch_size,
            granule: 1,
            modules,
            device,
            precision,
            input_kind,
            spec,
            optimized: false,
            convs_rewritten,
            non_finite: Cell::new(0),
            alt_path_logged: Cell::new(false),
            output_desc: String::new(),
            n_parameters: 0,
            replicas: Vec::new(),
            fast_ism: None,
        };
        m.n_parameters = m.modules.iter().map(|md| md.named_parameters().map(|ps| ps.iter().map(|(_, t)| t.numel()).sum::<usize>()).unwrap_or(0)).sum();
        m.check_on_dummy_batch()?;
        if device.is_cuda() {
            set_tf32(precision == Precision::TF32);
        }
        if optimize {
            for (i, (source, _)) in sources.iter().enumerate() {
                m.try_optimize(i, source);
            }
        }
        Ok(m)
    }

    /// Run a dummy batch of 2 and check every head against the description: layouts, bins ×
    /// bin size against the input length, target names, a targets file, the track mapping.
    fn check_on_dummy_batch(&mut self) -> Result<()> {
        let _g = tch::no_grad_guard();
        let spec = self.spec.clone();
        let l = spec.input_length;
        let dummy = Tensor::zeros([2, 4, l as i64], (Kind::Float, self.device));
        let mut height: Option<HeadGeom> = None;
        let mut profile: Option<HeadGeom> = None;
        let mut raw_targets = Vec::new();
        let mut non_finite = 0i64;
        for (i, f) in spec.files().iter().enumerate() {
            let p = f.display();
            let out = self.member_forward(i, &dummy).map_err(|e| {
                tracing::info!("model {p}: libtorch's full message:\n{}", torch_log_text(&e.full));
                let extras = if spec.extra_inputs.is_empty() {
                    String::new()
                } else {
                    format!(" with extra input(s) {}", spec.extra_inputs.iter().map(|s| shape_label(s)).collect::<Vec<_>>().join(", "))
                };
                anyhow!(
                    "model {p} failed on a dummy batch of shape {}{extras}: {}. Fix: {}",
                    spec.input.shape(2, l),
                    e.summary,
                    forward_hint(&e.summary, &spec)
                )
            })?;
            if i == 0 {
                self.output_desc = describe_output(&out);
            }
            let ht = select_head(&out, &spec.height.head, "height").map_err(|e| anyhow!("model {p}: {e}"))?;
            let what = format!("model {p}: {} (height)", spec.height.head);
            let hg = check_head(ht, spec.height.layout, spec.height.bin_size.unwrap_or(1), l, &what, "height")?;
            non_finite += i64::try_from(ht.isfinite().logical_not().sum(Kind::Int64)).unwrap_or(0);
            if let Some(h0) = height {
                if h0.bins != hg.bins {
                    bail!("model set {}: {} gives {} bins but the first file gives {}: a set's files must share one geometry", spec.name, p, hg.bins, h0.bins);
                }
            }
            raw_targets.push(hg.targets);
            height = Some(hg);
            if let Some(ps) = &spec.profile {
                let pt = select_head(&out, &ps.head, "profile").map_err(|e| anyhow!("model {p}: {e}"))?;
                let what = format!("model {p}: {} (profile)", ps.head);
                let pg = check_head(pt, ps.layout, ps.bin_size(), l, &what, "profile")?;
                if pg.targets != hg.targets && hg.targets != 1 {
                    bail!(
                        "model {p}: the profile head has {} target(s) but the height head has {}: they must match (or the height must have one target, \
                         whose profile strands are summed)",
                        pg.targets,
                        hg.targets
                    );
                }
                profile = Some(pg);
            }
        }
        let height = height.expect("at least one file");
        if height.layout.is_binned() && spec.height.bins == BinSelect::Center && height.bins < 2 {
            tracing::info!("model {}: bins = \"center\" on a head with one bin is the same as bins = \"all\"", spec.name);
        }
        // names of the raw outputs, then the reported outputs
        let total: usize = raw_targets.iter().sum();
        let names: Vec<String> = if let Some(tf) = &spec.targets_file {
            let rows = super::desc::read_targets_file(tf)?;
            if rows.len() != total {
                bail!("model {}: targets file {} names {} outputs but the height head has {total}", spec.name, tf.display(), rows.len());
            }
            rows.into_iter().map(|(id, d)| if d.is_empty() { id } else { d }).collect()
        } else if !spec.paths.is_empty() {
            let mut v = Vec::new();
            for (k, &n) in raw_targets.iter().enumerate() {
                let base = spec.targets.get(k).cloned().unwrap_or_else(|| format!("m{k}"));
                if n == 1 {
                    v.push(base);
                } else {
                    v.extend((0..n).map(|i| format!("{base}:{i}")));
                }
            }
            v
        } else {
            spec.targets.clone()
        };
        self.outputs = OutputMap::build(total, &names, &spec.tracks, &spec.name)?;
        self.mapping = Mapping::new(&self.outputs, total, self.device);
        self.height = HeadGeom { targets: total, ..height };
        self.profile = profile;
        if non_finite > 0 {
            tracing::warn!("model {}: {non_finite} value(s) of the height head are NaN or infinite on an all-N dummy batch", spec.name);
        }
        Ok(())
    }

    fn try_optimize(&mut self, member: usize, source: &Path) {
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
            let a = self.member_forward(member, &x).map_err(|e| anyhow!(e.summary))?;
            let inputs = self.inputs(&x);
            let b = opt.forward_is(&inputs).map_err(|e| anyhow!(torch_msg(&e)))?;
            let (la, lb) = (leaf_tensors(&a), leaf_tensors(&b));
            if la.len() != lb.len() {
                bail!("optimised module returns a different structure");
            }
            let tolerance = if self.precision == Precision::TF32 { 1e-2 } else { 1e-4 };
            for (a, b) in la.iter().zip(&lb) {
                if a.size() != b.size() {
                    bail!("optimised module returns other shapes");
                }
                let a = a.to_kind(Kind::Float);
                let scale = a.abs().max().double_value(&[]).max(1e-6);
                let diff = (a - b.to_kind(Kind::Float)).abs().max().double_value(&[]) / scale;
                if diff.is_nan() || diff > tolerance {
                    bail!("optimised module differs from the original by {diff:.2e} (relative)");
                }
            }
            Ok(opt)
        };
        match attempt() {
            Ok(opt) => {
                self.modules[member] = opt;
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

    /// Reported outputs (after the track mapping).
    pub fn n_targets(&self) -> usize {
        self.outputs.len()
    }

    /// Bins of the height head (1 for per-sequence heads).
    pub fn n_bins(&self) -> usize {
        self.height.bins
    }

    /// The height head's geometry (its `targets` are raw outputs per file, summed over a set).
    pub fn height_geom(&self) -> HeadGeom {
        self.height
    }

    pub fn profile_geom(&self) -> Option<HeadGeom> {
        self.profile
    }

    pub fn outputs(&self) -> &OutputMap {
        &self.outputs
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

    /// Keep batches to whole groups of `g` rows (also when halving on out-of-memory).
    pub fn set_granule(&mut self, g: usize) {
        self.granule = g.max(1);
    }

    pub fn target_names(&self) -> Vec<String> {
        self.outputs.names()
    }

    /// The output structure seen on the dummy batch of 2 (first file).
    pub fn output_description(&self) -> &str {
        &self.output_desc
    }

    /// Parameters over every file (0 for frozen modules, whose weights are constants).
    pub fn parameter_count(&self) -> usize {
        self.n_parameters
    }

    /// The dtype the model's floating inputs are given in (its parameters').
    pub fn input_dtype(&self) -> String {
        kind_label(self.input_kind)
    }

    /// How many TorchScript files the model runs (a model set has several).
    pub fn n_members(&self) -> usize {
        self.modules.len()
    }

    /// The declared input encoding, extra inputs and parameter dtype, for the fast ISM path
    /// (which takes one-hot float32 (N, 4, L) sequences only).
    pub(crate) fn input_signature(&self) -> (InputKind, usize, Kind) {
        (self.spec.input, self.spec.extra_inputs.len(), self.input_kind)
    }

    /// NaN or infinite predicted values counted since the last call (also in CPU replicas).
    pub fn take_non_finite(&mut self) -> u64 {
        let mut n = self.non_finite.replace(0);
        for r in &mut self.replicas {
            n += r.non_finite.replace(0);
        }
        n
    }

    /// The model's inputs for a one-hot batch (N, 4, L) on the device: the sequence in the
    /// declared encoding and dtype, then the zero-filled extra inputs.
    fn inputs(&self, onehot: &Tensor) -> Vec<IValue> {
        let n = onehot.size()[0];
        let l = onehot.size()[2] as usize;
        let x = match self.spec.input {
            InputKind::OneHot => onehot.to_kind(self.input_kind),
            InputKind::OneHotNlc => onehot.permute([0, 2, 1]).contiguous().to_kind(self.input_kind),
            InputKind::Tokens => {
                // A C G T → 0 1 2 3 (argmax over the channels), all-zero columns (N) → 4
                let weights = Tensor::from_slice(&[0f32, 1.0, 2.0, 3.0]).to_device(onehot.device()).reshape([1, 4, 1]);
                let idx = (onehot * weights).sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
                let any = onehot.sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
                (idx + (any.ones_like() - any) * 4.0).round().to_kind(Kind::Int64)
            }
        };
        let mut v = vec![IValue::Tensor(x)];
        for shape in &self.spec.extra_inputs {
            let mut dims = vec![n];
            dims.extend(shape.iter().map(|d| d.resolve(l)));
            v.push(IValue::Tensor(Tensor::zeros(dims.as_slice(), (self.input_kind, onehot.device()))));
        }
        v
    }

    /// Forward one model file on a one-hot batch already on the device.
    fn member_forward(&self, member: usize, onehot: &Tensor) -> std::result::Result<IValue, TorchError> {
        let _autocast = match self.precision {
            Precision::F32 | Precision::TF32 => None,
            p => Some(AutocastGuard::enter(p).map_err(TorchError::msg)?),
        };
        let inputs = self.inputs(onehot);
        self.modules[member].forward_is(&inputs).map_err(|e| TorchError::new(&e))
    }

    /// One batch through every file: the heads, transformed, finished and mapped.
    fn run_heads(&self, onehot: &Tensor) -> std::result::Result<HeadOut, ForwardError> {
        self.heads_of(onehot.size()[0], |i| self.member_forward(i, onehot))
    }

    /// The heads of `n` rows whose raw outputs, file by file, come from `member_out`.
    fn heads_of(&self, n: i64, mut member_out: impl FnMut(usize) -> std::result::Result<IValue, TorchError>) -> std::result::Result<HeadOut, ForwardError> {
        let mut heights = Vec::with_capacity(self.modules.len());
        let mut profiles = Vec::new();
        for i in 0..self.modules.len() {
            let out = member_out(i)?;
            let ht = select_head(&out, &self.spec.height.head, "height").map_err(TorchError::msg)?;
            let h = self.spec.height.transform.apply(normalise(ht, self.height.layout));
            let s = h.size();
            if s[0] != n || s[1] != self.height.bins as i64 {
                return Err(TorchError::msg(format!("model {}: height head shape changed between batches: {:?}", self.spec.name, ht.size())).into());
            }
            if let (Some(ps), Some(pg)) = (&self.spec.profile, &self.profile) {
                let pt = select_head(&out, &ps.head, "profile").map_err(TorchError::msg)?;
                let p = normalise(pt, pg.layout);
                if p.size()[1] != pg.bins as i64 {
                    return Err(TorchError::msg(format!("model {}: profile head shape changed between batches: {:?}", self.spec.name, pt.size())).into());
                }
                profiles.push(finish_profile(p, &h, ps.transform));
            }
            heights.push(h);
        }
        let cat = |v: Vec<Tensor>| if v.len() == 1 { v.into_iter().next().unwrap() } else { Tensor::cat(&v, 2) };
        let map = |t: Tensor| match &self.mapping {
            Some(m) => m.apply(&t),
            None => t,
        };
        let height = map(cat(heights));
        let bad = i64::try_from(height.isfinite().logical_not().sum(Kind::Int64)).unwrap_or(0);
        if bad > 0 {
            self.non_finite.set(self.non_finite.get() + bad as u64);
        }
        let profile = (!profiles.is_empty()).then(|| map(cat(profiles)));
        Ok(HeadOut { height, profile })
    }

    /// The heads of `n` rows whose raw outputs another path computes (fast ISM):
    /// `member_out(i)` gives file i's output value, as its `forward` would return it; it runs
    /// without gradients under the model's precision (autocast).
    pub(crate) fn heads_via(&self, n: i64, mut member_out: impl FnMut(usize) -> Result<IValue>) -> Result<HeadOut> {
        let _g = tch::no_grad_guard();
        self.heads_of(n, |i| {
            let _autocast = match self.precision {
                Precision::F32 | Precision::TF32 => None,
                p => Some(AutocastGuard::enter(p).map_err(TorchError::msg)?),
            };
            member_out(i).map_err(|e| {
                let msg = format!("{e:#}");
                TorchError { oom: msg.contains("out of memory"), ..TorchError::msg(msg) }
            })
        })
        .map_err(|e| anyhow!("model {}: forward failed: {}", self.spec.name, e.msg))
    }

    /// Forward a device batch of one-hot sequences (N, 4, L): the heads of [`HeadOut`].
    pub fn forward_heads(&self, onehot: &Tensor) -> Result<HeadOut> {
        let _g = tch::no_grad_guard();
        self.run_heads(onehot).map_err(|e| anyhow!("model {}: forward failed: {}", self.spec.name, e.msg))
    }

    /// Forward a device batch of one-hot sequences (N, 4, L) with autograd recording (for
    /// gradients with respect to the input): the heads of [`HeadOut`].
    pub(crate) fn forward_heads_with_grad(&self, onehot: &Tensor) -> Result<HeadOut> {
        tch::with_grad(|| self.run_heads(onehot)).map_err(|e| anyhow!("model {}: forward failed: {}", self.spec.name, e.msg))
    }

    /// Forward a device batch (N, 4, L) and return the height (N, B, T) float32 on the device.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.forward_heads(x)?.height)
    }

    /// Run `n` rows through the model in batches of the current batch size: `make(i, j)`
    /// builds rows `i..j` as a one-hot (j-i, 4, L) device tensor, `sink(i, out)` takes their
    /// heads (batches may complete out of order). On CUDA out-of-memory the batch size is
    /// halved and the batch retried. On a multi-core CPU, batches run data-parallel on
    /// replicas of the model, each with its share of the cores (see [`cpu_workers`]).
    pub fn run_batched(&mut self, n: usize, make: impl FnMut(usize, usize) -> Result<Tensor>, sink: impl FnMut(usize, HeadOut) -> Result<()>) -> Result<()> {
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
            match self.run_heads(&x) {
                Ok(out) => {
                    sink(i, out)?;
                    i = j;
                }
                Err(e) if e.oom && self.batch_size > self.granule => {
                    self.batch_size = (self.batch_size / 2 / self.granule).max(1) * self.granule;
                    tracing::warn!("model {}: CUDA out of memory; batch size halved to {}", self.spec.name, self.batch_size);
                }
                Err(e) if e.oom => bail!("model {}: CUDA out of memory even at batch size 1", self.spec.name),
                Err(e) => bail!("model {}: forward failed: {}", self.spec.name, e.msg),
            }
        }
        Ok(())
    }

    /// CPU data parallelism: `workers` replicas of the model, each on its own thread with
    /// cores/workers intra-op threads, take batches from a queue. For convolutional models on
    /// few cores this beats one forward spread over all cores (measured: 2 workers × 1
    /// thread ≈ 10% more sequences/s than 1 × 2 on a 2-core machine).
    fn run_batched_cpu_parallel(
        &mut self,
        n: usize,
        workers: usize,
        mut make: impl FnMut(usize, usize) -> Result<Tensor>,
        mut sink: impl FnMut(usize, HeadOut) -> Result<()>,
    ) -> Result<()> {
        while self.replicas.len() < workers {
            let r = Model::load_with(self.spec.clone(), Device::Cpu, Precision::F32, false)?;
            self.replicas.push(r);
        }
        let threads_each = (available_cores() / workers).max(1);
        let bs = self.batch_size;
        let (job_tx, job_rx) = crossbeam_channel::bounded::<(usize, Tensor)>(workers);
        let (res_tx, res_rx) = crossbeam_channel::unbounded::<(usize, Result<HeadOut>)>();
        let replicas = &mut self.replicas[..workers];
        std::thread::scope(|scope| -> Result<()> {
            for replica in replicas.iter_mut() {
                let (job_rx, res_tx) = (job_rx.clone(), res_tx.clone());
                scope.spawn(move || {
                    tch::set_num_threads(threads_each as i32);
                    let _g = tch::no_grad_guard();
                    for (i, x) in job_rx {
                        let out = replica.run_heads(&x).map_err(|e| anyhow!("model {}: forward failed: {}", replica.spec.name, e.msg));
                        if res_tx.send((i, out)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop((job_rx, res_tx));
            let mut outcome = Ok(());
            let mut handle = |(i, out): (usize, Result<HeadOut>), outcome: &mut Result<()>| {
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
}

/// Finish a profile head (N, Bp, Tp) with its file's transformed height (N, B, Th).
fn finish_profile(p: Tensor, height: &Tensor, transform: ProfileTransform) -> Tensor {
    let (tp, th) = (p.size()[2], height.size()[2]);
    match transform {
        ProfileTransform::Elementwise(t) => {
            let p = t.apply(p);
            if tp != th {
                p.sum_dim_intlist([2i64].as_slice(), true, Kind::Float)
            } else {
                p
            }
        }
        ProfileTransform::SoftmaxTimesHeight => {
            // the height's total over its bins, per target
            let total = height.sum_dim_intlist([1i64].as_slice(), true, Kind::Float); // (N, 1, Th)
            if tp == th {
                p.softmax(1, Kind::Float) * total
            } else {
                // one height for several strands: one softmax over bins and strands together
                // (bpnet-lite's convention), strands summed into the one target
                let s = p.size();
                let sm = p.reshape([s[0], s[1] * s[2]]).softmax(1, Kind::Float).reshape([s[0], s[1], s[2]]);
                sm.sum_dim_intlist([2i64].as_slice(), true, Kind::Float) * total
            }
        }
    }
}

fn leaf_tensors(v: &IValue) -> Vec<Tensor> {
    match v {
        IValue::Tensor(t) => vec![t.shallow_clone()],
        IValue::Tuple(items) | IValue::GenericList(items) => items.iter().flat_map(leaf_tensors).collect(),
        IValue::TensorList(ts) => ts.iter().map(|t| t.shallow_clone()).collect(),
        IValue::GenericDict(kv) => kv.iter().flat_map(|(_, x)| leaf_tensors(x)).collect(),
        _ => vec![],
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
    // SAFETY: the shim only sets two booleans in libtorch's global context.
    unsafe { peakscope_set_tf32(allow as i32) }
}

/// Tracing bakes the tracing process's cuDNN switches into every convolution
/// (`aten::_convolution(..., benchmark, deterministic, cudnn_enabled, allow_tf32=True)`), so
/// a traced model runs CUDA fp32 convolutions in TF32 whatever [`set_tf32`] says, and never
/// autotunes. This writes a copy of the file whose convolutions are `aten::convolution`,
/// which reads the switches at run time (CPU results are bit-identical). Returns the copy and
/// the number of convolutions rewritten, or (None, 0) when the file has no traced ones.
pub fn runtime_conv_copy(path: &Path) -> Result<(Option<tempfile::TempPath>, usize)> {
    // SAFETY: file_transform passes NUL-terminated paths and an error buffer of length `len`.
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
    // SAFETY: file_transform passes NUL-terminated paths and an error buffer of length `len`.
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
        // SAFETY: the shim wrote a NUL-terminated message into `err` (it truncates to len - 1).
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
        // SAFETY: the shim toggles libtorch's thread-local autocast state; the guard undoes it.
        if unsafe { peakscope_autocast_enter(code) } != 0 {
            return Err(format!("could not enable {} autocast", p.label()));
        }
        Ok(AutocastGuard)
    }
}

impl Drop for AutocastGuard {
    fn drop(&mut self) {
        // SAFETY: paired with the successful peakscope_autocast_enter of this guard.
        unsafe { peakscope_autocast_exit() };
    }
}
