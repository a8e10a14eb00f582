//! Fast ISM against the naive path: the same output value (tensor, tuple, dict) as
//! `module.forward(mutants)` for every substitution of a window, on the built-in models and
//! on TorchScript models built with Python torch (dilated residual stacks in BPNet and
//! ChromBPNet style, pooling whose windows a mutation crosses, assorted position-local
//! operations), traced and scripted; graphs without a usable prefix fall back and say why.
mod common;
use common::*;
use peakscope::model::desc::{HeadPath, Layout};
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

fn spec(path: &Path, l: usize) -> ModelSpec {
    ModelSpec::new(path.file_stem().unwrap().to_string_lossy(), path, l)
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
    /// per output tensor, against the same module run in float64
    floors: Vec<Floor>,
}

/// One output tensor's fp32 errors (absolute) against the float64 module, and its scales.
#[derive(Default, Clone, Copy)]
struct Floor {
    fast: f64,
    naive: f64,
    fast_vs_naive: f64,
    /// max |output|
    scale: f64,
    /// max |alt − reference| in float64
    delta_scale: f64,
}

/// The module's parameters and buffers in float64 (the exact arithmetic fp32 approximates).
fn load_f64(path: &Path) -> CModule {
    let mut m = CModule::load_on_device(path, Device::Cpu).unwrap();
    m.to(Device::Cpu, Kind::Double, false);
    m
}

/// Every substitution at `positions` of a random sequence (and of its reverse complement),
/// fast (the drop-in forward) against `module.forward` on the explicit mutant batch, both
/// against `module64` (the same module in float64) on the same mutants.
fn drop_in(module: &CModule, module64: &CModule, fast: &FastIsm, l: usize, positions: &[i64], seed: u64) -> Agreement {
    let _g = tch::no_grad_guard();
    let mut rng = Rng::new(seed);
    let seq = rng.dna(l);
    let fwd = Tensor::from_slice(peakscope::genome::onehot::one_hot(&seq).as_slice().unwrap()).reshape([1, 4, l as i64]);
    let references = Tensor::cat(&[fwd.shallow_clone(), fwd.flip([1i64, 2])], 0);
    let refs = fast.prepare(&references).unwrap();
    let (mut worst, mut out_scale, mut delta_scale, mut n) = (0f64, 0f64, 0f64, 0);
    let mut floors: Vec<Floor> = Vec::new();
    for r in 0..2i64 {
        let reference = references.narrow(0, r, 1);
        let base = tensors(&module.forward_is(&[IValue::Tensor(reference.shallow_clone())]).unwrap());
        let base64 = tensors(&module64.forward_is(&[IValue::Tensor(reference.to_kind(Kind::Double))]).unwrap());
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
            let x = mutant_batch(&reference, &p, &a);
            let want = module.forward_is(&[IValue::Tensor(x.shallow_clone())]).unwrap();
            let exact = tensors(&module64.forward_is(&[IValue::Tensor(x.to_kind(Kind::Double))]).unwrap());
            assert!(same_structure(&got, &want), "output structure differs: {got:?} vs {want:?}");
            let (got, want) = (tensors(&got), tensors(&want));
            floors.resize(got.len(), Floor::default());
            for (k, (((g, w), b), e)) in got.iter().zip(&want).zip(&base).zip(&exact).enumerate() {
                let max = |t: Tensor| t.abs().max().double_value(&[]);
                worst = worst.max(max(g - w));
                out_scale = out_scale.max(max(w.shallow_clone()));
                delta_scale = delta_scale.max(max(w - b));
                let f = &mut floors[k];
                f.fast = f.fast.max(max(g - e));
                f.naive = f.naive.max(max(w - e));
                f.fast_vs_naive = f.fast_vs_naive.max(max(g - w));
                f.scale = f.scale.max(max(e.shallow_clone()));
                f.delta_scale = f.delta_scale.max(max(e - &base64[k]));
            }
            n += chunk.len();
        }
    }
    assert!(delta_scale > 0.0, "mutations changed nothing: the test model is degenerate");
    Agreement { rel_output: worst / out_scale.max(1e-30), rel_delta: worst / delta_scale, mutants: n, floors }
}

/// fp32 results carry rounding that depends on how each sum is ordered, and two exact
/// implementations of the same model (im2col GEMMs on windows here, oneDNN convolutions on
/// whole sequences there) order them differently, so fast and naive differ by the sum of two
/// rounding errors. What the fast path must not do is add error: against the model run in
/// float64 its error is at most `FLOOR_FACTOR` × naive's (plus two fp32 ulps of the output,
/// for outputs naive happens to round exactly).
const FLOOR_FACTOR: f64 = 1.5;

fn assert_no_worse_than_naive(name: &str, k: usize, f: &Floor) {
    eprintln!(
        "{name} output {k}: error vs float64 fast {:.2e}, naive {:.2e}; |fast-naive| {:.2e} (of the largest output {:.2e}; {:.2e} of the largest delta)",
        f.fast / f.scale,
        f.naive / f.scale,
        f.fast_vs_naive / f.scale,
        f.scale,
        f.fast_vs_naive / f.delta_scale
    );
    let allowed = FLOOR_FACTOR * f.naive + 2.0 * f32::EPSILON as f64 * f.scale;
    assert!(f.fast <= allowed, "{name} output {k}: fast's error vs float64 {:.2e} exceeds {FLOOR_FACTOR} × naive's {:.2e}", f.fast, f.naive);
}

fn check_python_model(name: &str, l: usize) -> Agreement {
    let path = model_path(name);
    let module = CModule::load_on_device(&path, Device::Cpu).unwrap();
    let fast = match FastIsm::from_module(&module, l, Device::Cpu) {
        Ok(f) => f,
        Err(e) => panic!("{name}: no fast path: {e:#}"),
    };
    let all: Vec<i64> = (0..l as i64).collect();
    let a = drop_in(&module, &load_f64(&path), &fast, l, &all, 11);
    eprintln!(
        "{name}: {} mutants, max |fast-naive| = {:.2e} of the largest output, {:.2e} of the largest delta; {}",
        a.mutants, a.rel_output, a.rel_delta, fast.summary
    );
    for (k, f) in a.floors.iter().enumerate() {
        assert_no_worse_than_naive(name, k, f);
    }
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
fn strided_grouped_convs_and_padded_pools_traced_and_scripted() {
    for name in ["strided_traced", "strided_scripted"] {
        let a = check_python_model(name, 601);
        assert!(a.rel_delta < 1e-3, "{name}: {:.2e} of the largest delta", a.rel_delta);
    }
    // the first/last-base mutants reach pooling windows that straddle the padding
    let first = |v: &IValue| tensors(v).remove(0);
    let w = run_ism_agreement_with(spec(&model_path("strided_traced"), 601), |p| !(16..585).contains(&p) || (290..310).contains(&p), Some(&first));
    assert!(w <= TOL, "strided: {w:.2e}");
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
    // the graph analysis refuses the first two; the third (a sum over the batch) has a
    // prefix, but the check against the naive forward refuses it
    for (name, l, why) in [("reflect_scripted", 100, "reflect"), ("lstm_scripted", 100, "transpose"), ("batchmix_traced", 120, "other sequences in its batch")]
    {
        let module = CModule::load(model_path(name)).unwrap();
        if let Err(err) = FastIsm::from_module(&module, l, Device::Cpu) {
            let msg = format!("{err:#}");
            assert!(msg.contains(why), "{name}: {msg}");
        } else {
            assert_eq!(name, "batchmix_traced", "{name} should have no fast path");
        }
        // and run_ism takes the naive path (auto) or refuses (fast)
        let mut m = Model::load(spec(&model_path(name), l), Device::Cpu, Precision::F32).unwrap();
        let plan = IsmPlan::from_sequence(&Rng::new(3).dna(l), (0, 4));
        let c = AtomicBool::new(false);
        assert!(fast_ism::for_model(&mut m).is_err());
        let res = run_ism_with(&mut m, &plan, &c, IsmPath::Auto, |_, _, _| {}).unwrap();
        assert_eq!(res.done, plan.mutants.len());
        assert_eq!(res.path, "naive");
        assert!(res.path_note.contains(why), "{}", res.path_note);
        let e = run_ism_with(&mut m, &plan, &c, IsmPath::Fast, |_, _, _| {}).unwrap_err();
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

/// ISM deltas through run_ism, fast and naive, for the spec as given and with reverse-
/// complement averaging and shifts; mutations at the first and last bases included. Returns
/// the worst max |fast delta − naive delta| relative to the largest naive prediction (fp32
/// outputs carry ~1e-7 relative rounding, whichever way they are summed; a delta is a
/// difference of two of them). The same relative to the largest |delta| must stay < 1e-3.
fn run_ism_agreement(spec: ModelSpec, positions: impl Fn(u32) -> bool) -> f64 {
    run_ism_agreement_with(spec, positions, None)
}

/// Heights (N, T) read from a model's output value, as the spec's head reads them.
type HeightOf<'a> = &'a dyn Fn(&IValue) -> Tensor;

/// Exact (float64) ISM deltas (M × T) of `plan` for a spec without shifts: the module in
/// float64 on every mutant (and its reverse complement when `rc`), heights averaged over the
/// views, alt − ref.
fn f64_deltas(path: &Path, plan: &IsmPlan, rc: bool, height: HeightOf) -> Vec<f64> {
    let _g = tch::no_grad_guard();
    let module = load_f64(path);
    let l = plan.seq.len() as i64;
    let reference = Tensor::from_slice(peakscope::genome::onehot::one_hot(&plan.seq).as_slice().unwrap()).reshape([1, 4, l]).to_kind(Kind::Double);
    let heights = |x: &Tensor| {
        let h = |x: Tensor| height(&module.forward_is(&[IValue::Tensor(x)]).unwrap()).to_kind(Kind::Double);
        if rc {
            (h(x.shallow_clone()) + h(x.flip([1i64, 2]))) / 2.0
        } else {
            h(x.shallow_clone())
        }
    };
    let base = heights(&reference);
    let pos = Tensor::from_slice(&plan.mutants.iter().map(|&(p, _)| p as i64).collect::<Vec<_>>());
    let alt = Tensor::from_slice(&plan.mutants.iter().map(|&(_, a)| a as i64).collect::<Vec<_>>());
    let d = heights(&mutant_batch(&reference, &pos, &alt)) - base;
    Vec::<f64>::try_from(d.reshape([-1])).unwrap()
}

/// [`run_ism_agreement`]; with `exact`, the configurations without shifts also compare fast
/// and naive deltas with the float64 module's ([`f64_deltas`]): fast's error must stay within
/// [`FLOOR_FACTOR`] × naive's.
fn run_ism_agreement_with(spec: ModelSpec, positions: impl Fn(u32) -> bool, exact: Option<HeightOf>) -> f64 {
    let mut worst = 0f64;
    for (rc, shifts) in [(false, 0), (true, 0), (true, 2)] {
        let mut s = spec.clone();
        s.rc = rc;
        s.shifts = shifts;
        let ctx = s.context_length();
        let mut m = Model::load(s, Device::Cpu, Precision::F32).unwrap();
        let seq = Rng::new(21).dna(ctx);
        // every shifted window must contain the region: 2 × shifts bases each side
        let k = 2 * shifts as usize;
        let mut plan = IsmPlan::from_sequence(&seq, (k, ctx - k));
        plan.mutants.retain(|&(p, _)| positions(p - k as u32) || p as usize == k || p as usize == ctx - k - 1);
        let f = fast_ism::for_model(&mut m);
        assert!(f.is_ok(), "{}", f.as_ref().as_ref().err().unwrap());
        let c = AtomicBool::new(false);
        let fast = run_ism_with(&mut m, &plan, &c, IsmPath::Fast, |_, _, _| {}).unwrap();
        let naive = run_ism_with(&mut m, &plan, &c, IsmPath::Naive, |_, _, _| {}).unwrap();
        assert_eq!((fast.path, naive.path), ("fast", "naive"));
        assert_eq!(fast.done, plan.mutants.len());
        assert_eq!(fast.ref_height, naive.ref_height);
        let delta_scale = naive.deltas.iter().fold(0f64, |a, &b| a.max(b.abs()));
        assert!(delta_scale > 0.0, "mutations changed nothing");
        let scale = naive.alt_pred.iter().map(|&x| x as f64).chain(naive.ref_height.iter().copied()).fold(0f64, |a, b| a.max(b.abs()));
        let d = fast.deltas.iter().zip(&naive.deltas).fold(0f64, |a, (x, y)| a.max((x - y).abs()));
        eprintln!(
            "{} rc={rc} shifts={shifts}: {} mutants, max |fast delta - naive delta| = {:.2e} of the largest prediction, {:.2e} of the largest delta",
            m.spec.name,
            plan.mutants.len(),
            d / scale,
            d / delta_scale
        );
        // (where substitutions barely move the outputs, rounding of the outputs is most of a
        // delta: there the bound of the largest prediction, checked by the callers, applies)
        let tiny = delta_scale < 1e-3 * scale;
        assert!(d / delta_scale < 1e-3 || tiny, "{}: fast deltas differ by {:.2e} of the largest delta", m.spec.name, d / delta_scale);
        if let (Some(height), 0) = (exact, shifts) {
            let truth = f64_deltas(&m.spec.path, &plan, rc, height);
            let err = |x: &[f64]| x.iter().zip(&truth).fold(0f64, |a, (x, t)| a.max((x - t).abs()));
            let floor = Floor { fast: err(&fast.deltas), naive: err(&naive.deltas), fast_vs_naive: d, scale, delta_scale };
            assert_no_worse_than_naive(&format!("{} rc={rc} deltas", m.spec.name), 0, &floor);
        }
        worst = worst.max(d / scale);
    }
    worst
}

#[test]
fn basset_deltas_equal_naive_with_rc_and_shifts() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("basset.pt");
    zoo::save(&zoo::basset(10, 1).unwrap().0, &p).unwrap();
    let w = run_ism_agreement(spec(&p, 1344), |p| !(12..1332).contains(&p) || (660..672).contains(&p));
    assert!(w <= TOL, "basset: {w:.2e}");
}

#[test]
fn demo_models_deltas_equal_naive() {
    // the demo's Basset-style nets (conv, batch norm, gelu, max pool ×3, dense), one and
    // several traced together as one module, untrained
    use peakscope::demo::train::{trace, Net, NetSpec};
    let mut vs = tch::nn::VarStore::new(Device::Cpu);
    let s = NetSpec { filters: [16, 24, 32], dense: 16, outputs: 3 };
    let (a, b) = (Net::new(&(vs.root() / "a"), s), Net::new(&(vs.root() / "b"), s));
    vs.freeze();
    let d = tempfile::tempdir().unwrap();
    for (name, nets) in [("one", vec![&a]), ("two", vec![&a, &b])] {
        let p = d.path().join(format!("demo_{name}.pt"));
        zoo::save(&trace(&nets, name).unwrap(), &p).unwrap();
        let w = run_ism_agreement(spec(&p, 1344), |p| !(8..1336).contains(&p) || (600..616).contains(&p));
        assert!(w <= TOL, "demo {name}: {w:.2e}");
    }
}

#[test]
fn bpnet_and_profile_deltas_through_run_ism() {
    let mut s = spec(&model_path("bpnet_traced"), 400);
    s.height.head = HeadPath::parse("1").unwrap();
    let counts = |v: &IValue| tensors(v).remove(1);
    let w = run_ism_agreement_with(s, |p| !(30..366).contains(&p) || (190..210).contains(&p), Some(&counts));
    assert!(w <= TOL, "bpnet counts: {w:.2e}");
    // a fully convolutional (N, 3, 150) output read as 3 base-resolution tracks
    let mut s = spec(&model_path("profile_traced"), 150);
    s.height.layout = Layout::TargetsBins;
    s.height.bin_size = Some(1);
    let w = run_ism_agreement(s, |_| true);
    assert!(w <= TOL, "profile: {w:.2e}");
}

#[test]
fn pooling_and_chrombpnet_deltas_through_run_ism() {
    let first = |v: &IValue| tensors(v).remove(0);
    let w = run_ism_agreement_with(spec(&model_path("pools_traced"), 301), |p| !(12..285).contains(&p) || (140..160).contains(&p), Some(&first));
    assert!(w <= TOL, "pools: {w:.2e}");
    let mut s = spec(&model_path("chrombpnet_scripted"), 400);
    s.height.head = HeadPath::parse("counts").unwrap();
    // This random-weight counts head is a linear map of the mean of large residual
    // activations whose terms largely cancel: fp32 rounding of the mean, the same whichever
    // path computed the activations, is a large share of its output. Against the float64
    // module, naive and fast deltas both err by about 5e-5 of the largest delta (~8e-6 of the
    // largest prediction), so they differ from each other by up to the sum of two such
    // errors (on a CPU whose oneDNN kernels round differently naive alone erred by 1.35e-5 of
    // the largest prediction, and fast − naive reached 2.0e-5): the float64 comparison
    // (inside run_ism_agreement_with) is the criterion, fast must not be less exact than
    // naive; the bound below only catches a fast path that is wrong, not rounded differently.
    let counts = |v: &IValue| match v {
        IValue::GenericDict(kv) => kv.iter().find(|(k, _)| matches!(k, IValue::String(s) if s == "counts")).map(|(_, v)| tensors(v).remove(0)).unwrap(),
        other => panic!("expected a dict, got {other:?}"),
    };
    let w = run_ism_agreement_with(s, |p| !(20..376).contains(&p) || (190..200).contains(&p), Some(&counts));
    assert!(w <= 5.0 * TOL, "chrombpnet: {w:.2e}");
}

#[test]
fn tiny_deltas_take_the_fast_path() {
    // outputs ~1 moved by ~1e-5 per substitution: fp32 rounding of the outputs is a large
    // share of each delta, which must not make the check refuse the fast path
    let first = |v: &IValue| tensors(v).remove(0);
    let w = run_ism_agreement_with(spec(&model_path("tiny_scripted"), 200), |p| !(10..190).contains(&p) || (95..105).contains(&p), Some(&first));
    assert!(w <= TOL, "tiny: {w:.2e}");
}

#[test]
fn model_sets_run_every_file_fast() {
    let mut s = spec(&model_path("pools_traced"), 301);
    s.paths = vec![model_path("pools_traced"), model_path("pools_scripted")];
    let w = run_ism_agreement(s, |p| !(6..290).contains(&p));
    assert!(w <= TOL, "set: {w:.2e}");
}

/// `Model::heights_with` (SNV ALT windows as substitutions of their REF windows, through the
/// fast path) against `Model::heights` on the same sequences (every window through the whole
/// model): REF and ALT heights equal to float32 rounding, and so do their differences, for
/// substitutions anywhere in the context (also where a shifted view's window does not hold
/// them, and over N bases), with several ALT copies of one REF, on single files and a set.
fn alt_windows_agree(spec: ModelSpec, queries_of: impl Fn(usize) -> Option<(i64, i64)>) -> (f64, f64) {
    use peakscope::model::service::Substitution;
    let mut worst = (0f64, 0f64);
    for (rc, shifts) in [(false, 0), (true, 0), (true, 2)] {
        let mut s = spec.clone();
        s.rc = rc;
        s.shifts = shifts;
        s.batch_size = 5; // several batches, and a batch boundary inside a REF's copies
        let ctx = s.context_length();
        let mut m = Model::load(s, Device::Cpu, Precision::F32).unwrap();
        let mut rng = Rng::new(7 + shifts as u64);
        let mut seqs: Vec<Vec<u8>> = Vec::new();
        let mut subs: Vec<Option<Substitution>> = Vec::new();
        let positions = [0, 1, ctx / 2, ctx / 3, ctx - 2, ctx - 1, 2 * shifts as usize, ctx - 1 - 2 * shifts as usize];
        for r in 0..9 {
            let mut reference = rng.dna(ctx);
            if r == 4 {
                reference[ctx / 2 - 3..ctx / 2 + 3].copy_from_slice(b"NNNNNN");
            }
            let of = seqs.len();
            seqs.push(reference.clone());
            subs.push(None);
            for k in 0..(r % 3 + 1) {
                let p = positions[(r + 3 * k) % positions.len()];
                let mut alt = reference.clone();
                alt[p] = b"ACGT".iter().copied().find(|&b| b != reference[p] && (b as usize + r + k).is_multiple_of(2)).unwrap_or(b'A');
                if alt[p] == reference[p] {
                    alt[p] = if reference[p] == b'A' { b'C' } else { b'A' };
                }
                subs.push(Some(Substitution::between(of, &reference, &alt).expect("one base")));
                seqs.push(alt);
            }
        }
        let queries: Vec<(usize, Option<(i64, i64)>)> = (0..seqs.len()).map(|i| (i, queries_of(ctx))).collect();
        fast_ism::set_alt_path(IsmPath::Auto);
        let fast = m.heights_with(&seqs, &queries, &subs).unwrap();
        let naive = m.heights(&seqs, &queries).unwrap();
        fast_ism::set_alt_path(IsmPath::Fast);
        if let Err(e) = m.heights_with(&seqs, &queries, &subs) {
            panic!("the fast path is not taken: {e:#}");
        }
        fast_ism::set_alt_path(IsmPath::Auto);
        let scale = naive.values.iter().flatten().fold(0f64, |a, &b| a.max(b.abs()));
        let diff = fast.values.iter().flatten().zip(naive.values.iter().flatten()).fold(0f64, |a, (x, y)| a.max((x - y).abs()));
        let sad = |v: &[Vec<f64>]| -> Vec<f64> {
            subs.iter()
                .enumerate()
                .filter_map(|(i, s)| s.map(|s| (i, s.of)))
                .flat_map(|(a, r)| v[a].iter().zip(&v[r]).map(|(x, y)| x - y).collect::<Vec<_>>())
                .collect()
        };
        let (fs, ns) = (sad(&fast.values), sad(&naive.values));
        let sad_scale = ns.iter().fold(0f64, |a, b| a.max(b.abs()));
        assert!(sad_scale > 0.0, "the substitutions changed nothing");
        let sad_diff = fs.iter().zip(&ns).fold(0f64, |a, (x, y)| a.max((x - y).abs()));
        eprintln!(
            "{} rc={rc} shifts={shifts}: heights differ by {:.2e} of the largest, sad by {:.2e} of the largest",
            m.spec.name,
            diff / scale,
            sad_diff / sad_scale
        );
        worst = (worst.0.max(diff / scale), worst.1.max(sad_diff / sad_scale));
    }
    worst
}

/// The ALT path is process-wide: the tests that set it take turns.
static ALT_PATH_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn snv_alt_windows_through_the_fast_path_equal_the_whole_model() {
    let _turn = ALT_PATH_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("basset.pt");
    zoo::save(&zoo::basset(10, 1).unwrap().0, &p).unwrap();
    let (h, sad) = alt_windows_agree(spec(&p, 1344), |_| None);
    assert!(h <= TOL && sad <= 1e-3, "basset: heights {h:.2e}, sad {sad:.2e}");
    // base-resolution tracks summed over a central interval (bins = "center")
    let mut s = spec(&model_path("profile_traced"), 150);
    s.height.layout = Layout::TargetsBins;
    s.height.bin_size = Some(1);
    s.height.bins = peakscope::model::desc::BinSelect::Center;
    let (h, sad) = alt_windows_agree(s, |ctx| Some((ctx as i64 / 2 - 20, ctx as i64 / 2 + 20)));
    assert!(h <= TOL && sad <= 1e-3, "profile: heights {h:.2e}, sad {sad:.2e}");
    // a model set: one file per output
    let mut s = spec(&model_path("pools_traced"), 301);
    s.paths = vec![model_path("pools_traced"), model_path("pools_scripted")];
    let (h, sad) = alt_windows_agree(s, |_| None);
    assert!(h <= TOL && sad <= 1e-3, "set: heights {h:.2e}, sad {sad:.2e}");
}

#[test]
fn snv_alt_windows_without_a_fast_path_run_the_whole_model() {
    use peakscope::model::service::Substitution;
    let _turn = ALT_PATH_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // a position-wise linear map of the whole input: no local prefix
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("poslin.pt");
    zoo::save(&zoo::dense_only(200, 3, 1).unwrap(), &p).unwrap();
    let mut m = Model::load(spec(&p, 200), Device::Cpu, Precision::F32).unwrap();
    let reference = Rng::new(3).dna(200);
    let mut alt = reference.clone();
    alt[17] = if reference[17] == b'G' { b'T' } else { b'G' };
    let seqs = vec![reference.clone(), alt.clone()];
    let subs = vec![None, Substitution::between(0, &reference, &alt)];
    let q = vec![(0, None), (1, None)];
    fast_ism::set_alt_path(IsmPath::Auto);
    assert_eq!(m.heights_with(&seqs, &q, &subs).unwrap().values, m.heights(&seqs, &q).unwrap().values);
    fast_ism::set_alt_path(IsmPath::Fast);
    let e = m.heights_with(&seqs, &q, &subs).unwrap_err().to_string();
    fast_ism::set_alt_path(IsmPath::Auto);
    assert!(e.contains("no fast path"), "{e}");
    // a substitution that is not one (internal consistency) is refused
    let bad = vec![None, Some(Substitution { of: 0, pos: 18, base: 0 })];
    assert!(m.heights_with(&seqs, &q, &bad).is_err());
}
