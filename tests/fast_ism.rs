//! Fast ISM against the naive path: the same output value (tensor, tuple, dict) as
//! `module.forward(mutants)` for every substitution of a window, on the built-in models and
//! on TorchScript models built with Python torch (dilated residual stacks in BPNet and
//! ChromBPNet style, pooling whose windows a mutation crosses, assorted position-local
//! operations), traced and scripted; graphs without a usable prefix fall back and say why.
mod common;
use common::*;
use peakscope::config::OutputLayout;
use peakscope::model::engine::{Model, ModelSpec, Precision};
use peakscope::model::fast_ism::{self, mutant_batch, FastIsm, IsmPath};
use peakscope::model::ism::{run_ism_with, IsmPlan};
use peakscope::model::zoo;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;
use tch::{CModule, Device, IValue, Kind, Tensor};

/// fp32 tolerance: |fast − naive| relative to the largest output
const TOL: f64 = 1e-5;

fn spec(path: &Path, l: usize, layout: OutputLayout) -> ModelSpec {
    ModelSpec {
        name: path.file_stem().unwrap().to_string_lossy().into_owned(),
        path: path.to_path_buf(),
        input_length: l,
        targets: vec![],
        layout,
        bin_size: None,
        rc: false,
        shifts: 0,
        batch_size: 64,
        replicate_group: None,
        optimize: true,
    }
}

/// The Python-built models, written once per test process.
fn py_models() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let py = std::env::var("PEAKSCOPE_PYTHON")
            .ok()
            .filter(|p| !p.is_empty())
            .expect("PEAKSCOPE_PYTHON is not set: the fast-ISM tests build their models with Python torch (scripts/test.sh sets it)");
        let dir = tempfile::Builder::new().prefix("peakscope-fastism-models-").tempdir().unwrap().keep();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/fast_ism_models.py");
        let out = std::process::Command::new(&py).arg(&script).arg(&dir).output().expect("running python");
        assert!(out.status.success(), "building the test models failed:\n{}", String::from_utf8_lossy(&out.stderr));
        dir
    })
}

fn model_path(name: &str) -> PathBuf {
    py_models().join(format!("{name}.pt"))
}

/// Every tensor of an output value, in order (tuples, lists, dict values).
fn tensors(v: &IValue) -> Vec<Tensor> {
    match v {
        IValue::Tensor(t) => vec![t.to_kind(Kind::Double)],
        IValue::Tuple(xs) | IValue::GenericList(xs) => xs.iter().flat_map(tensors).collect(),
        IValue::GenericDict(kv) => kv.iter().flat_map(|(_, v)| tensors(v)).collect(),
        IValue::TensorList(ts) => ts.iter().map(|t| t.to_kind(Kind::Double)).collect(),
        other => panic!("unexpected output {other:?}"),
    }
}

fn same_structure(a: &IValue, b: &IValue) -> bool {
    match (a, b) {
        (IValue::Tensor(x), IValue::Tensor(y)) => x.size() == y.size(),
        (IValue::Tuple(x), IValue::Tuple(y)) | (IValue::GenericList(x), IValue::GenericList(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_structure(a, b))
        }
        (IValue::GenericDict(x), IValue::GenericDict(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((ka, va), (kb, vb))| format!("{ka:?}") == format!("{kb:?}") && same_structure(va, vb))
        }
        _ => false,
    }
}

struct Agreement {
    /// max |fast − naive| / max |naive output|
    rel_output: f64,
    /// max |fast − naive| / max |naive − reference| (the deltas)
    rel_delta: f64,
    mutants: usize,
}

/// Every substitution at `positions` of a random sequence (and of its reverse complement),
/// fast (the drop-in forward) against `module.forward` on the explicit mutant batch.
fn drop_in(module: &CModule, fast: &FastIsm, l: usize, positions: &[i64], seed: u64) -> Agreement {
    let _g = tch::no_grad_guard();
    let mut rng = Rng::new(seed);
    let seq = rng.dna(l);
    let fwd = Tensor::from_slice(peakscope::genome::onehot::one_hot(&seq).as_slice().unwrap()).reshape([1, 4, l as i64]);
    let references = Tensor::cat(&[fwd.shallow_clone(), fwd.flip([1i64, 2])], 0);
    let refs = fast.prepare(&references).unwrap();
    let (mut worst, mut out_scale, mut delta_scale, mut n) = (0f64, 0f64, 0f64, 0);
    for r in 0..2i64 {
        let reference = references.narrow(0, r, 1);
        let base = tensors(&module.forward_is(&[IValue::Tensor(reference.shallow_clone())]).unwrap());
        let (mut pos, mut alt) = (Vec::new(), Vec::new());
        for &p in positions {
            for a in 0..4i64 {
                pos.push(p);
                alt.push(a);
            }
        }
        for chunk in (0..pos.len()).collect::<Vec<_>>().chunks(97) {
            let p = Tensor::from_slice(&chunk.iter().map(|&i| pos[i]).collect::<Vec<_>>());
            let a = Tensor::from_slice(&chunk.iter().map(|&i| alt[i]).collect::<Vec<_>>());
            let ri = Tensor::full([chunk.len() as i64], r, (Kind::Int64, Device::Cpu));
            let got = fast.forward(&refs, &ri, &p, &a).unwrap();
            let want = module.forward_is(&[IValue::Tensor(mutant_batch(&reference, &p, &a))]).unwrap();
            assert!(same_structure(&got, &want), "output structure differs: {got:?} vs {want:?}");
            for ((g, w), b) in tensors(&got).iter().zip(tensors(&want)).zip(&base) {
                worst = worst.max((g - &w).abs().max().double_value(&[]));
                out_scale = out_scale.max(w.abs().max().double_value(&[]));
                delta_scale = delta_scale.max((&w - b).abs().max().double_value(&[]));
            }
            n += chunk.len();
        }
    }
    assert!(delta_scale > 0.0, "mutations changed nothing: the test model is degenerate");
    Agreement { rel_output: worst / out_scale.max(1e-30), rel_delta: worst / delta_scale, mutants: n }
}

fn check_python_model(name: &str, l: usize) -> Agreement {
    let path = model_path(name);
    let module = CModule::load_on_device(&path, Device::Cpu).unwrap();
    let fast = match FastIsm::from_module(&module, l, Device::Cpu) {
        Ok(f) => f,
        Err(e) => panic!("{name}: no fast path: {e:#}"),
    };
    let all: Vec<i64> = (0..l as i64).collect();
    let a = drop_in(&module, &fast, l, &all, 11);
    eprintln!(
        "{name}: {} mutants, max |fast-naive| = {:.2e} of the largest output, {:.2e} of the largest delta; {}",
        a.mutants, a.rel_output, a.rel_delta, fast.summary
    );
    assert!(a.rel_output <= TOL, "{name}: fast differs from naive by {:.2e} relative", a.rel_output);
    a
}

#[test]
fn dilated_residual_bpnet_traced_every_position() {
    let a = check_python_model("bpnet_traced", 400);
    assert!(a.rel_delta < 1e-3);
}

#[test]
fn cropped_residual_chrombpnet_scripted_dict_output() {
    check_python_model("chrombpnet_scripted", 400);
}

#[test]
fn pooling_boundaries_traced_and_scripted() {
    check_python_model("pools_traced", 301);
    check_python_model("pools_scripted", 301);
}

#[test]
fn assorted_local_ops_traced_and_scripted() {
    check_python_model("misc_scripted", 200);
    check_python_model("misc_traced", 200);
}

#[test]
fn fully_convolutional_output_is_the_cut() {
    check_python_model("profile_traced", 150);
}

#[test]
fn prefix_stops_at_attention() {
    let a = check_python_model("attention_scripted", 120);
    assert!(a.rel_delta < 1e-3);
    let module = CModule::load(model_path("attention_scripted")).unwrap();
    let f = FastIsm::from_module(&module, 120, Device::Cpu).unwrap();
    assert!(f.summary.contains("transpose"), "{}", f.summary);
}

#[test]
fn unsupported_graphs_fall_back_and_say_why() {
    for (name, l, why) in [("reflect_scripted", 100, "reflect"), ("lstm_scripted", 100, "transpose")] {
        let module = CModule::load(model_path(name)).unwrap();
        let err = FastIsm::from_module(&module, l, Device::Cpu).err().unwrap_or_else(|| panic!("{name} should have no fast path"));
        let msg = format!("{err:#}");
        assert!(msg.contains(why), "{name}: {msg}");
        // and run_ism takes the naive path (auto) or refuses (fast)
        let mut m = Model::load(spec(&model_path(name), l, OutputLayout::Scalar), Device::Cpu, Precision::F32).unwrap();
        let plan = IsmPlan::from_sequence(&Rng::new(3).dna(l), (0, 4));
        let c = AtomicBool::new(false);
        assert!(fast_ism::for_model(&m).is_err());
        assert_eq!(run_ism_with(&mut m, &plan, false, &c, IsmPath::Auto, |_, _| {}).unwrap().done, plan.mutants.len());
        let e = run_ism_with(&mut m, &plan, false, &c, IsmPath::Fast, |_, _| {}).unwrap_err();
        assert!(format!("{e:#}").contains("no fast ISM"), "{e:#}");
    }
}

#[test]
fn count_models_have_no_fast_path() {
    let d = tempfile::tempdir().unwrap();
    for (name, m) in [("count", zoo::base_count(50).unwrap()), ("binned", zoo::binned_count(64, 8).unwrap())] {
        let l = if name == "count" { 50 } else { 64 };
        let p = d.path().join(format!("{name}.pt"));
        zoo::save(&m, &p).unwrap();
        let err = FastIsm::from_module(&CModule::load(&p).unwrap(), l, Device::Cpu).err().expect("no fast path");
        eprintln!("{name}: {err:#}");
        assert!(!format!("{err:#}").is_empty());
    }
}

/// ISM deltas through run_ism, fast and naive, with and without reverse-complement
/// averaging; mutations at the first and last bases included.
fn run_ism_agreement(path: &Path, l: usize, layout: OutputLayout, positions: impl Fn(u32) -> bool) -> f64 {
    let mut m = Model::load(spec(path, l, layout), Device::Cpu, Precision::F32).unwrap();
    let seq = Rng::new(21).dna(l);
    let mut plan = IsmPlan::from_sequence(&seq, (0, l));
    plan.mutants.retain(|&(p, _)| positions(p));
    assert!(fast_ism::for_model(&m).is_ok(), "{}", fast_ism::for_model(&m).as_ref().as_ref().err().unwrap());
    let c = AtomicBool::new(false);
    let mut worst = 0f64;
    for rc in [false, true] {
        let fast = run_ism_with(&mut m, &plan, rc, &c, IsmPath::Fast, |_, _| {}).unwrap();
        let naive = run_ism_with(&mut m, &plan, rc, &c, IsmPath::Naive, |_, _| {}).unwrap();
        assert_eq!(fast.done, plan.mutants.len());
        let scale = naive.alt_pred.iter().chain(&naive.ref_pred).fold(0f32, |a, &b| a.max(b.abs())) as f64;
        let mut d = 0f64;
        for k in 0..plan.mutants.len() {
            for t in 0..naive.n_targets {
                d = d.max((fast.delta(k, t) - naive.delta(k, t)).abs() as f64);
            }
        }
        eprintln!("{} rc={rc}: max |fast delta - naive delta| = {:.2e} of the largest prediction", path.display(), d / scale);
        worst = worst.max(d / scale);
    }
    worst
}

#[test]
fn basset_deltas_equal_naive_with_and_without_rc() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("basset.pt");
    zoo::save(&zoo::basset(10, 1).unwrap().0, &p).unwrap();
    let w = run_ism_agreement(&p, 1344, OutputLayout::Scalar, |p| !(12..1332).contains(&p) || (660..672).contains(&p));
    assert!(w <= TOL, "basset: {w:.2e}");
}

#[test]
fn bpnet_deltas_through_run_ism_with_rc() {
    let w = run_ism_agreement(&model_path("bpnet_traced"), 400, OutputLayout::Scalar, |p| p < 30 || p >= 370 || (190..210).contains(&p));
    assert!(w <= TOL, "bpnet: {w:.2e}");
}
