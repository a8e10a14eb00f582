//! Probing an unknown model file (`peakscope inspect-model`): which input encoding and extra
//! inputs it takes, what its output looks like at a given length, how many parameters it has,
//! and a `[[models]]` block that reads it, verified by loading the model with it.
use super::checkpoint::{sniff, FileKind};
use super::desc::{BinSelect, Dim, HeadPath, HeadSpec, InputKind, Layout, ProfileSpec, ProfileTransform, Transform};
use super::engine::{describe_output, kind_label, output_leaves, summarize_torch_error, Model, ModelSpec, Precision};
use anyhow::{anyhow, bail, Result};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use tch::{CModule, Device, IValue, Kind, Tensor};

/// Input lengths tried when none is given: common model inputs, small before large.
pub const CANDIDATE_LENGTHS: [usize; 12] = [2114, 1344, 1000, 600, 500, 2048, 4096, 1024, 131_072, 196_608, 393_216, 524_288];

/// What a probe found.
#[derive(Debug, Clone)]
pub struct Probe {
    pub path: PathBuf,
    pub parameters: usize,
    pub dtype: String,
    pub input_length: usize,
    /// whether the length was given (else: the first candidate that ran)
    pub length_given: bool,
    pub input: InputKind,
    pub extra_inputs: Vec<Vec<Dim>>,
    /// the output structure on a batch of 2
    pub output: String,
    /// every tensor in the output: (path, shape)
    pub leaves: Vec<(HeadPath, Vec<i64>)>,
    /// suggested heads
    pub height: HeadSpec,
    pub profile: Option<ProfileSpec>,
    /// outputs of the height head
    pub n_outputs: usize,
    pub notes: Vec<String>,
    /// what was tried and failed, for the report
    pub attempts: Vec<String>,
    /// the suggestion loads and runs (else why not)
    pub verified: std::result::Result<(), String>,
}

fn random_onehot(n: i64, l: i64) -> Tensor {
    tch::manual_seed(7);
    let idx = Tensor::randint(4, [n, l], (Kind::Int64, Device::Cpu));
    idx.one_hot(4).permute([0, 2, 1]).to_kind(Kind::Float)
}

fn encode(kind: InputKind, x: &Tensor, dtype: Kind) -> Tensor {
    match kind {
        InputKind::OneHot => x.to_kind(dtype),
        InputKind::OneHotNlc => x.permute([0, 2, 1]).contiguous().to_kind(dtype),
        InputKind::Tokens => x.argmax(1, false),
    }
}

fn try_forward(m: &CModule, kind: InputKind, l: usize, extras: &[Vec<Dim>], dtype: Kind) -> std::result::Result<IValue, String> {
    let x = random_onehot(2, l as i64);
    let mut inputs = vec![IValue::Tensor(encode(kind, &x, dtype))];
    for s in extras {
        let mut dims = vec![2i64];
        dims.extend(s.iter().map(|d| d.resolve(l)));
        inputs.push(IValue::Tensor(Tensor::zeros(dims.as_slice(), (dtype, Device::Cpu))));
    }
    let _g = tch::no_grad_guard();
    m.forward_is(&inputs).map_err(|e| summarize_torch_error(&e.to_string()))
}

fn wants_more_inputs(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("missing value for argument") || (m.contains("expected at least") && m.contains("argument"))
}

/// Probe `path` at `input_length` (or the first candidate length that runs).
pub fn probe(path: &Path, input_length: Option<usize>) -> Result<Probe> {
    let p = path.display();
    match sniff(path)? {
        FileKind::TorchScript => {}
        _ => super::checkpoint::check_torchscript_file(path, &format!("torch.zeros(1, 4, {})", input_length.unwrap_or(2114)))?,
    }
    let mut module = CModule::load_on_device(path, Device::Cpu).map_err(|e| {
        tracing::info!("model {p}: libtorch's full message:\n{e}");
        anyhow!("model {p}: libtorch could not load it: {}", summarize_torch_error(&e.to_string()))
    })?;
    module.set_eval();
    let params = module.named_parameters().unwrap_or_default();
    let parameters: usize = params.iter().map(|(_, t)| t.numel()).sum();
    let dtype_kind =
        params.iter().map(|(_, t)| t.kind()).find(|k| matches!(k, Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16)).unwrap_or(Kind::Float);
    let lengths: Vec<usize> = match input_length {
        Some(l) => vec![l],
        None => CANDIDATE_LENGTHS.to_vec(),
    };
    let mut attempts = Vec::new();
    let mut found = None;
    'outer: for &l in &lengths {
        for kind in InputKind::ALL {
            match try_forward(&module, kind, l, &[], dtype_kind) {
                Ok(out) => {
                    found = Some((l, kind, vec![], out));
                    break 'outer;
                }
                Err(e) if wants_more_inputs(&e) => {
                    attempts.push(format!("{} at {l}: {e}", kind.label()));
                    // zero-filled extra inputs such as BPNet's control tracks (C, L)
                    for c in 1..=4u64 {
                        for shape in [vec![Dim::Fixed(c), Dim::Length], vec![Dim::Length, Dim::Fixed(c)]] {
                            if let Ok(out) = try_forward(&module, kind, l, std::slice::from_ref(&shape), dtype_kind) {
                                found = Some((l, kind, vec![shape], out));
                                break 'outer;
                            }
                        }
                    }
                }
                Err(e) => attempts.push(format!("{} {} : {e}", kind.label(), kind.shape(2, l))),
            }
        }
    }
    let Some((l, input, extra_inputs, out)) = found else {
        let tried = match input_length {
            Some(l) => format!("input length {l}"),
            None => format!("input lengths {}", CANDIDATE_LENGTHS.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")),
        };
        bail!(
            "model {p}: no input encoding ran at {tried} (tried onehot (N,4,L), onehot-nlc (N,L,4), tokens (N,L), and zero-filled extra inputs). \
             Last error: {}. Give the model's input length with --input-length",
            attempts.last().cloned().unwrap_or_default()
        );
    };
    let leaves: Vec<(HeadPath, Vec<i64>)> = output_leaves(&out)
        .into_iter()
        .filter(|(_, s, k)| s.first() == Some(&2) && matches!(k, Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16))
        .map(|(h, s, _)| (h, s))
        .collect();
    let output = describe_output(&out);
    let mut probe = Probe {
        path: path.to_path_buf(),
        parameters,
        dtype: kind_label(dtype_kind),
        input_length: l,
        length_given: input_length.is_some(),
        input,
        extra_inputs,
        output,
        leaves,
        height: HeadSpec::default(),
        profile: None,
        n_outputs: 0,
        notes: Vec::new(),
        attempts,
        verified: Ok(()),
    };
    suggest(&mut probe);
    // the suggestion must load
    let spec = probe.spec("probe");
    probe.verified = Model::load_with(spec, Device::Cpu, Precision::F32, false).map(|m| probe.n_outputs = m.n_targets()).map_err(|e| format!("{e:#}"));
    Ok(probe)
}

/// bp per bin, guessed: the largest power of two with bins × size ≤ the input length.
fn guess_bin_size(bins: i64, l: usize) -> u32 {
    let mut s = 1u32;
    while bins * (s as i64) * 2 <= l as i64 && s < 1 << 16 {
        s *= 2;
    }
    s
}

/// Read a rank-3 (2, a, b) head: (layout, bins, targets).
fn guess_3d(a: i64, b: i64) -> (Layout, i64, i64) {
    // a dimension of at most 8 is targets (strands, tasks); else the shorter one is the bins
    let targets_first = if a <= 8 && b > 8 {
        true
    } else if b <= 8 && a > 8 {
        false
    } else {
        a > b
    };
    if targets_first {
        (Layout::TargetsBins, b, a)
    } else {
        (Layout::BinsTargets, a, b)
    }
}

fn suggest(p: &mut Probe) {
    let l = p.input_length;
    // ChromBPNet/BPNet pairs: a (N, 1) log-count head next to a profile
    let counts = p.leaves.iter().find(|(_, s)| s.len() == 2 && s[1] <= 2 && p.leaves.len() > 1).cloned();
    let profile = p.leaves.iter().find(|(_, s)| s.len() == 3 || (s.len() == 2 && s[1] > 8)).cloned();
    if let (Some((ch, cs)), Some((ph, ps))) = (&counts, &profile) {
        p.height = HeadSpec { head: ch.clone(), layout: Layout::Scalar, bin_size: None, bins: BinSelect::All, transform: Transform::Exp };
        let (layout, bins) = match ps.as_slice() {
            [_, b] => (Layout::Bins, *b),
            [_, a, b] => {
                let (lay, bins, _) = guess_3d(*a, *b);
                (lay, bins)
            }
            _ => (Layout::Bins, 0),
        };
        let bin_size = if bins as usize * 2 > l { 1 } else { guess_bin_size(bins, l) };
        p.profile = Some(ProfileSpec { head: ph.clone(), layout, bin_size: Some(bin_size), transform: ProfileTransform::SoftmaxTimesHeight });
        p.notes.push(format!(
            "{} {cs:?} looks like log counts (ChromBPNet/BPNet): height = exp of it; {} {ps:?} is the profile (logits): softmax × height",
            ch, ph
        ));
        return;
    }
    // otherwise the first (or the dict's first) tensor head
    let Some((head, shape)) = p.leaves.first().cloned() else {
        p.notes.push("the output has no floating-point tensor with a batch dimension".into());
        return;
    };
    if p.leaves.len() > 1 {
        let others: Vec<String> = p.leaves.iter().skip(1).map(|(h, s)| format!("{} {s:?}", h.toml())).collect();
        p.notes.push(format!("the output has {} tensors; the height reads {} (others: {})", p.leaves.len(), head.toml(), others.join(", ")));
    }
    match shape.as_slice() {
        [_] => p.height = HeadSpec { head, ..Default::default() },
        [_, t] => {
            p.height = HeadSpec { head, layout: Layout::Scalar, ..Default::default() };
            if *t > 8 {
                p.notes.push(format!("(N, {t}) is read as {t} targets; if it is a {t}-bin profile of one track, use layout = \"bins\" with its bin_size"));
            }
        }
        [_, a, b] => {
            let (layout, bins, _) = guess_3d(*a, *b);
            let bin_size = guess_bin_size(bins, l);
            let span = bins as u64 * bin_size as u64;
            let center = span >= 20_000;
            p.height =
                HeadSpec { head, layout, bin_size: Some(bin_size), bins: if center { BinSelect::Center } else { BinSelect::All }, transform: Transform::None };
            p.notes.push(format!(
                "{} read as {}: {bins} bins; bin_size = {bin_size} is a guess (the largest power of two with bins × bin_size ≤ {l}): check it (Enformer 128, Borzoi 32)",
                layout.shape(),
                layout.label()
            ));
            if center {
                p.notes.push(format!("the output spans ~{} kb: bins = \"center\" lets one window serve every peak inside it", span / 1000));
            }
        }
        _ => p.notes.push(format!("{} has shape {shape:?}: no layout reads it", head.toml())),
    }
}

impl Probe {
    /// The suggestion as a model spec.
    pub fn spec(&self, name: &str) -> ModelSpec {
        let mut s = ModelSpec::new(name, &self.path, self.input_length);
        s.input = self.input;
        s.extra_inputs = self.extra_inputs.clone();
        s.height = self.height.clone();
        s.profile = self.profile.clone();
        s
    }

    /// A `[[models]]` block that reads this model.
    pub fn toml_block(&self, name: &str) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "[[models]]");
        let _ = writeln!(t, "name = \"{name}\"");
        let _ = writeln!(t, "path = \"{}\"", self.path.display());
        let _ = writeln!(
            t,
            "input_length = {}{}",
            self.input_length,
            if self.length_given { "" } else { "   # the first length that ran: set the length the model was trained on" }
        );
        let _ = writeln!(t, "input = \"{}\"", self.input.label());
        if !self.extra_inputs.is_empty() {
            let shapes: Vec<String> = self.extra_inputs.iter().map(|s| super::desc::shape_toml(s)).collect();
            let _ = writeln!(t, "extra_inputs = [{}]   # zero-filled (e.g. BPNet control tracks)", shapes.join(", "));
        }
        let n = self.n_outputs;
        if n > 0 && n <= 16 {
            let names: Vec<String> = (0..n).map(|i| format!("\"t{i}\"")).collect();
            let _ = writeln!(t, "# targets = [{}]   # name the {n} output(s) after your [[tracks]]", names.join(", "));
        } else if n > 16 {
            let _ = writeln!(
                t,
                "# {n} outputs: targets_file = \"targets_human.txt\" and a [models.tracks] table (track = [output indices]) map them to your tracks"
            );
        }
        let h = &self.height;
        let _ = writeln!(t, "[models.height]");
        if !h.head.is_bare() {
            let _ = writeln!(t, "head = {}", h.head.toml());
        }
        let _ = writeln!(t, "layout = \"{}\"", h.layout.label());
        if h.layout.is_binned() {
            let _ = writeln!(t, "bin_size = {}", h.bin_size.unwrap_or(1));
            let _ = writeln!(t, "bins = \"{}\"", h.bins.label());
        }
        let _ = writeln!(t, "transform = \"{}\"", h.transform.label());
        if let Some(p) = &self.profile {
            let _ = writeln!(t, "[models.profile]");
            if !p.head.is_bare() {
                let _ = writeln!(t, "head = {}", p.head.toml());
            }
            let _ = writeln!(t, "layout = \"{}\"", p.layout.label());
            let _ = writeln!(t, "bin_size = {}", p.bin_size());
            let _ = writeln!(t, "transform = \"{}\"", p.transform.label());
        }
        t
    }

    /// The human-readable report.
    pub fn report(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "file        {}", self.path.display());
        let _ = writeln!(t, "parameters  {} ({})", group(self.parameters), self.dtype);
        let _ = writeln!(
            t,
            "input       {} {}{}",
            self.input.label(),
            self.input.shape(2, self.input_length),
            if self.extra_inputs.is_empty() {
                String::new()
            } else {
                format!(" + zero-filled {}", self.extra_inputs.iter().map(|s| super::desc::shape_label(s)).collect::<Vec<_>>().join(", "))
            }
        );
        let _ = writeln!(t, "output      {}", self.output);
        for n in &self.notes {
            let _ = writeln!(t, "note        {n}");
        }
        match &self.verified {
            Ok(()) => {
                let _ = writeln!(t, "check       the block below loads and runs: {} output(s)", self.n_outputs);
            }
            Err(e) => {
                let _ = writeln!(t, "check       the block below does not load yet: {e}");
            }
        }
        t
    }
}

fn group(n: usize) -> String {
    crate::genome::locus::group_thousands(n as u64)
}

/// Doctor's one-line description of a loaded model.
pub fn describe_loaded(m: &Model) -> String {
    let spec = &m.spec;
    let h = m.height_geom();
    let mut s = format!(
        "loads; input {} {}; output {}; height {} ({}{}, {}): {} output(s)",
        spec.input.label(),
        spec.input.shape(2, spec.input_length),
        m.output_description(),
        if spec.height.head.is_bare() { "the output".to_string() } else { format!("head {}", spec.height.head.toml()) },
        h.layout.label(),
        if h.layout.is_binned() { format!(" {} bins × {} bp, bins {}", h.bins, h.bin_size, spec.height.bins.label()) } else { String::new() },
        spec.height.transform.label(),
        m.n_targets()
    );
    if let (Some(p), Some(ps)) = (m.profile_geom(), &spec.profile) {
        let _ = write!(s, "; profile head {} ({} {} bins × {} bp, {})", ps.head.toml(), p.layout.label(), p.bins, p.bin_size, ps.transform.label());
    }
    let _ = write!(s, "; {} parameters ({})", group(m.parameter_count()), m.input_dtype());
    if spec.files().len() > 1 {
        let _ = write!(s, "; a set of {} files", spec.files().len());
    }
    s
}
