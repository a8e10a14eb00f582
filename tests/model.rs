//! Model engine against independent computation: models whose outputs are known functions
//! of the input, and Python torch on the same TorchScript file.
mod common;
use common::*;
use peakscope::config::OutputLayout;
use peakscope::genome::onehot::{one_hot, reverse_complement};
use peakscope::genome::{Fasta, Locus};
use peakscope::jobs::{ModelEvent, ModelWorker};
use peakscope::model::engine::{Model, ModelSpec, Precision};
use peakscope::model::ism::{attributions, run_ism, IsmPlan};
use peakscope::model::zoo;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tch::Device;

fn spec(path: &Path, l: usize) -> ModelSpec {
    let mut s = ModelSpec::new("m", path, l);
    s.batch_size = 7;
    s
}

fn counts(seq: &[u8]) -> [f32; 4] {
    let mut c = [0f32; 4];
    for &b in seq {
        if let Some(i) = peakscope::genome::onehot::base_index(b) {
            c[i] += 1.0;
        }
    }
    c
}

#[test]
fn count_model_predictions_are_base_counts() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("count.pt");
    zoo::save(&zoo::base_count(50).unwrap(), &p).unwrap();
    let mut m = Model::load(spec(&p, 50), Device::Cpu, Precision::F32).unwrap();
    assert_eq!((m.n_targets(), m.n_bins()), (4, 1));
    let mut rng = Rng::new(1);
    let mut seqs: Vec<Vec<u8>> = (0..23).map(|_| rng.dna(50)).collect();
    seqs[3][10..20].copy_from_slice(b"NNNNNRYNNN"); // N and IUPAC count as nothing
    let pred = m.predict_seqs(&seqs).unwrap();
    for (i, s) in seqs.iter().enumerate() {
        let c = counts(s);
        for t in 0..4 {
            assert_eq!(pred[[i, 0, t]], c[t], "seq {i} target {t}");
        }
    }
}

#[test]
fn ism_deltas_of_count_model_are_exact() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("count.pt");
    zoo::save(&zoo::base_count(40).unwrap(), &p).unwrap();
    let mut rng = Rng::new(2);
    let mut chrom = rng.dna(300);
    chrom[150] = b'N';
    let fa = Fasta::open(fasta(d.path(), &[("chr1", &chrom)])).unwrap();
    let region = Locus::new("chr1", 145, 155); // includes the N at 150
    let plan = IsmPlan::new(&fa, &region, 40).unwrap();
    assert_eq!(plan.mutants.len(), 9 * 3 + 4, "3 alts per base, 4 at the N");
    assert_eq!(plan.genomic_pos(plan.mutants[0].0), 145);
    let mut m = Model::load(spec(&p, 40), Device::Cpu, Precision::F32).unwrap();
    let mut chunks = 0;
    let res = run_ism(&mut m, &plan, &AtomicBool::new(false), |_, _, _| chunks += 1).unwrap();
    assert_eq!(chunks, plan.mutants.len().div_ceil(7), "one chunk per batch");
    assert_eq!(res.ref_pred, counts(&plan.seq).to_vec());
    for (k, &(pos, alt)) in plan.mutants.iter().enumerate() {
        let r = peakscope::genome::onehot::base_index(plan.ref_base(pos));
        for t in 0..4 {
            let want = (t == alt as usize) as i32 as f32 - (Some(t) == r) as i32 as f32;
            assert_eq!(res.delta(k, t), want, "mutant {k} target {t}");
        }
    }
    // attribution at the reference base (deltas mean-centred over the 4 bases)
    let attr = attributions(&plan, &res);
    for (pos, t, v) in attr {
        let r = peakscope::genome::onehot::base_index(plan.seq[pos as usize]);
        let want = match r {
            // target = ref channel: deltas over bases are (0 at ref, -1 at each alt) → 0 - (-3/4)
            Some(ri) if ri == t => 0.75,
            // other target t: delta is +1 at alt t, 0 elsewhere → 0 - 1/4
            Some(_) => -0.25,
            None => 0.0,
        };
        assert!((v - want).abs() < 1e-6, "pos {pos} target {t}: {v} vs {want}");
    }
}

#[test]
fn reverse_complement_and_shift_averaging_match_direct_computation() {
    let (l, t, k) = (30usize, 3usize, 2u32);
    let mut rng = Rng::new(3);
    let w: Vec<f32> = (0..t * 4 * l).map(|_| (rng.unit() * 2.0 - 1.0) as f32).collect();
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("lin.pt");
    zoo::save(&zoo::positional_linear(&w, t as i64, l as i64).unwrap(), &p).unwrap();
    let f = |s: &[u8]| -> Vec<f64> {
        let x = one_hot(s);
        (0..t).map(|ti| (0..4).flat_map(|c| (0..l).map(move |q| (c, q))).map(|(c, q)| w[(ti * 4 + c) * l + q] as f64 * x[[c, q]] as f64).sum()).collect()
    };
    let mut sp = spec(&p, l);
    sp.rc = true;
    sp.shifts = k;
    let mut m = Model::load(sp, Device::Cpu, Precision::F32).unwrap();
    let seqs: Vec<Vec<u8>> = (0..5).map(|_| rng.dna(l + 2 * k as usize)).collect();
    let pred = m.predict_seqs(&seqs).unwrap();
    for (i, s) in seqs.iter().enumerate() {
        let mut want = vec![0f64; t];
        let views = (2 * k + 1) as f64 * 2.0;
        for sh in 0..=(2 * k as usize) {
            let win = &s[sh..sh + l];
            let (fw, rv) = (f(win), f(&reverse_complement(win)));
            for (ti, w) in want.iter_mut().enumerate() {
                *w += (fw[ti] + rv[ti]) / views;
            }
        }
        for ti in 0..t {
            assert!((pred[[i, 0, ti]] as f64 - want[ti]).abs() < 1e-4, "seq {i} t {ti}: {} vs {}", pred[[i, 0, ti]], want[ti]);
        }
        // the model is strand-asymmetric, so averaging really changed something
        assert!((f(&s[k as usize..k as usize + l])[0] - want[0]).abs() > 1e-3);
    }
}

#[test]
fn binned_layouts_and_rc_flip_bins_back() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("binned.pt");
    zoo::save(&zoo::binned_count(64, 16).unwrap(), &p).unwrap();
    let mut sp = spec(&p, 64);
    sp.height.layout = OutputLayout::BinsTargets;
    sp.height.bin_size = Some(16);
    let mut m = Model::load(sp.clone(), Device::Cpu, Precision::F32).unwrap();
    assert_eq!((m.n_bins(), m.n_targets()), (4, 4));
    let seq = b"AAAAAAAAAAAAAAAACCCCCCCCCCCCCCCCGGGGGGGGGGGGGGGGTTTTTTTTTTTTTTTA".to_vec();
    let pred = m.predict_seqs(std::slice::from_ref(&seq)).unwrap();
    assert_eq!(pred[[0, 0, 0]], 16.0);
    assert_eq!(pred[[0, 3, 3]], 15.0);
    // with rc: bin b of the rc output describes bin B-1-b of the forward strand, with
    // complemented bases; averaged back it gives (counts + complement counts) / 2
    sp.rc = true;
    let mut mrc = Model::load(sp.clone(), Device::Cpu, Precision::F32).unwrap();
    let prc = mrc.predict_seqs(std::slice::from_ref(&seq)).unwrap();
    assert_eq!(prc[[0, 0, 0]], 8.0); // 16 A forward, 0 A in the complement of bin 0
    assert_eq!(prc[[0, 0, 3]], 8.0); // 16 T in the complement of bin 0
                                     // bin 3 = 15 T + 1 A: forward A count 1; on the reverse strand that bin reads 15 A + 1 T
    assert_eq!(prc[[0, 3, 0]], 8.0);
    assert_eq!(prc[[0, 3, 3]], 8.0);
    assert_eq!(prc[[0, 1, 1]], 8.0); // C bin: 16 C forward, 16 G on the reverse strand
    assert_eq!(prc[[0, 1, 2]], 8.0);
    // declared scalar for a binned model: explained with expected vs got
    let mut bad = sp.clone();
    bad.height.layout = OutputLayout::Scalar;
    let e = Model::load(bad, Device::Cpu, Precision::F32).err().unwrap().to_string();
    assert!(e.contains("[2, 4, 4]") && e.contains("(N, T)"), "{e}");
    let mut tb = sp;
    tb.height.layout = OutputLayout::TargetsBins;
    tb.rc = false;
    let mt = Model::load(tb, Device::Cpu, Precision::F32).unwrap();
    assert_eq!((mt.n_bins(), mt.n_targets()), (4, 4), "(N, T, B) read as T=4, B=4");
}

#[test]
fn bad_models_and_inputs_are_explained() {
    let d = tempfile::tempdir().unwrap();
    let not_ts = d.path().join("weights.pth");
    write(&not_ts, "not a zip");
    let e = Model::load(spec(&not_ts, 100), Device::Cpu, Precision::F32).err().unwrap().to_string();
    assert!(e.contains("not a TorchScript file") && e.contains("torch.jit.trace"), "{e}");
    let dense = d.path().join("dense.pt");
    zoo::save(&zoo::dense_only(100, 2, 1).unwrap(), &dense).unwrap();
    assert!(Model::load(spec(&dense, 100), Device::Cpu, Precision::F32).is_ok());
    let e = Model::load(spec(&dense, 120), Device::Cpu, Precision::F32).err().unwrap().to_string();
    assert!(e.contains("dummy batch of shape (2, 4, 120)") && e.contains("input_length"), "{e}");
    let mut named = spec(&dense, 100);
    named.targets = vec!["a".into(), "b".into(), "c".into()];
    let e = Model::load(named, Device::Cpu, Precision::F32).err().unwrap().to_string();
    assert!(e.contains("3 target name") && e.contains("2 output"), "{e}");
    let e = Model::load(spec(&dense, 100), Device::Cpu, Precision::F16).err().unwrap().to_string();
    assert!(e.contains("needs a CUDA device"), "{e}");
    let e = Model::load(spec(&d.path().join("nope.pt"), 100), Device::Cpu, Precision::F32).err().unwrap().to_string();
    assert!(e.contains("nope.pt") && e.contains("cannot read"), "{e}");

    // ISM plans: region longer than the window, past the end, all N
    let mut chrom = Rng::new(4).dna(500);
    chrom[200..260].fill(b'N');
    let fa = Fasta::open(fasta(d.path(), &[("chr1", &chrom)])).unwrap();
    let e = IsmPlan::new(&fa, &Locus::new("chr1", 100, 250), 100).unwrap_err().to_string();
    assert!(e.contains("longer than the model's 100 bp"), "{e}");
    let e = IsmPlan::new(&fa, &Locus::new("chr1", 490, 510), 100).unwrap_err().to_string();
    assert!(e.contains("past the end"), "{e}");
    let e = IsmPlan::new(&fa, &Locus::new("chr1", 210, 220), 100).unwrap_err().to_string();
    assert!(e.contains("all N"), "{e}");
    // near the chromosome start the window is padded with N and still works
    let plan = IsmPlan::new(&fa, &Locus::new("1", 0, 5), 100).unwrap();
    assert_eq!(plan.window_start, -48);
    assert_eq!(&plan.seq[..48], &[b'N'; 48][..]);
}

#[test]
fn worker_streams_ism_and_honours_cancel() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("count.pt");
    zoo::save(&zoo::base_count(40).unwrap(), &p).unwrap();
    let worker = ModelWorker::spawn(vec![spec(&p, 40)], Device::Cpu, Precision::F32).unwrap();
    assert_eq!(worker.models[0].target_names, ["t0", "t1", "t2", "t3"]);
    let seq = Rng::new(5).dna(40);
    let plan = Arc::new(IsmPlan::from_sequence(&seq, (0, 40)));
    let (_, rx) = worker.ism(0, plan.clone(), Arc::new(AtomicBool::new(false))).unwrap();
    let (mut got, mut done) = (0, None);
    for ev in rx {
        match ev {
            ModelEvent::IsmChunk { preds, total, .. } => {
                got += preds.len() / 4;
                assert_eq!(total, 120);
            }
            ModelEvent::IsmDone { result, .. } => {
                done = Some(result.unwrap());
                break;
            }
            _ => unreachable!(),
        }
    }
    assert_eq!(got, 120);
    assert!(!done.unwrap().cancelled);
    // cancelled before it starts: returns a partial (empty) result, flagged
    let (_, rx) = worker.ism(0, plan, Arc::new(AtomicBool::new(true))).unwrap();
    let last = rx.iter().last().unwrap();
    match last {
        ModelEvent::IsmDone { result, .. } => {
            let r = result.unwrap();
            assert!(r.cancelled);
            assert_eq!(r.done, 0);
        }
        _ => panic!("expected IsmDone"),
    }
    // predictions through the worker
    let pred = worker.predict(0, vec![seq.clone()]).unwrap();
    assert_eq!(pred[[0, 0, 0]], counts(&seq)[0]);
}

const PY_PREDICT: &str = r#"
import sys, torch
m = torch.jit.load(sys.argv[1]).eval()
seqs = open(sys.argv[2]).read().split()
idx = {"A": 0, "C": 1, "G": 2, "T": 3}
x = torch.zeros(len(seqs), 4, len(seqs[0]))
for i, s in enumerate(seqs):
    for j, c in enumerate(s):
        if c in idx:
            x[i, idx[c], j] = 1
with torch.no_grad():
    y = m(x)
for row in y.reshape(len(seqs), -1).tolist():
    print("\t".join(repr(v) for v in row))
"#;

#[test]
fn paper_size_basset_equals_python_torch() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("basset.pt");
    let (m, n_params) = zoo::basset(10, 3).unwrap();
    assert!((5_700_000..5_900_000).contains(&n_params), "{n_params} parameters");
    zoo::save(&m, &p).unwrap();
    let mut model = Model::load(spec(&p, 1344), Device::Cpu, Precision::F32).unwrap();
    assert_eq!(model.n_targets(), 10);
    let mut rng = Rng::new(6);
    let mut seqs: Vec<Vec<u8>> = (0..6).map(|_| rng.dna(1344)).collect();
    seqs[1][600..700].fill(b'N');
    let pred = model.predict_seqs(&seqs).unwrap();
    // outputs depend on the sequence
    assert!((pred[[0, 0, 0]] - pred[[2, 0, 0]]).abs() > 1e-3);
    let Some(py) = python() else { return };
    let sp = d.path().join("seqs.txt");
    write(&sp, &seqs.iter().map(|s| String::from_utf8(s.clone()).unwrap()).collect::<Vec<_>>().join("\n"));
    let out = run_python(&py, PY_PREDICT, &[p.to_str().unwrap(), sp.to_str().unwrap()]);
    let mut worst = 0f64;
    for (i, line) in out.lines().enumerate() {
        for (t, v) in line.split('\t').enumerate() {
            let v: f64 = v.parse().unwrap();
            let rel = (pred[[i, 0, t]] as f64 - v).abs() / v.abs().max(1e-6);
            worst = worst.max(rel);
        }
    }
    assert!(worst <= 1e-5, "max relative difference to Python torch: {worst}");
}

#[test]
fn optimised_module_matches_the_original() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("basset.pt");
    zoo::save(&zoo::basset(4, 8).unwrap().0, &p).unwrap();
    let seqs: Vec<Vec<u8>> = (0..3).map(|i| Rng::new(20 + i).dna(1344)).collect();
    let mut plain = Model::load_with(spec(&p, 1344), Device::Cpu, Precision::F32, false).unwrap();
    let mut opt = Model::load_with(spec(&p, 1344), Device::Cpu, Precision::F32, true).unwrap();
    assert!(!plain.is_optimized());
    assert!(opt.is_optimized(), "freeze + optimize_for_inference succeeded");
    let (a, b) = (plain.predict_seqs(&seqs).unwrap(), opt.predict_seqs(&seqs).unwrap());
    for (x, y) in a.iter().zip(b.iter()) {
        assert!((x - y).abs() <= 1e-4 * x.abs().max(1e-3), "{x} vs {y}");
    }
}

/// Counts of traced (`aten::_convolution`, with the allow_tf32 constant) and runtime
/// (`aten::convolution`) convolution nodes in a TorchScript file's inlined graph.
const PY_CONV_NODES: &str = r#"
import sys, torch
g = torch.jit.load(sys.argv[1]).inlined_graph
traced = [n for n in g.nodes() if n.kind() == "aten::_convolution"]
tf32 = [list(n.inputs())[12].toIValue() for n in traced]
runtime = [n for n in g.nodes() if n.kind() == "aten::convolution"]
print(len(traced), sum(1 for t in tf32 if t), len(runtime))
"#;

#[test]
fn traced_convolutions_are_rewritten_to_follow_runtime_switches() {
    use peakscope::model::engine::runtime_conv_copy;
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("basset.pt");
    zoo::save(&zoo::basset(3, 5).unwrap().0, &p).unwrap();
    let (copy, n) = runtime_conv_copy(&p).unwrap();
    assert_eq!(n, 9, "the Basset variant has 9 convolutions");
    let copy = copy.unwrap();
    // the rewrite changes no number: CPU predictions are bit-identical
    let seqs: Vec<Vec<u8>> = (0..4).map(|i| Rng::new(40 + i).dna(1344)).collect();
    let a = Model::load_with(spec(&p, 1344), Device::Cpu, Precision::F32, false).unwrap().predict_seqs(&seqs).unwrap();
    let b = Model::load_with(spec(&copy, 1344), Device::Cpu, Precision::F32, false).unwrap().predict_seqs(&seqs).unwrap();
    assert_eq!(a, b);
    // a model without convolutions is left alone
    let c = d.path().join("count.pt");
    zoo::save(&zoo::base_count(100).unwrap(), &c).unwrap();
    let (none, zero) = runtime_conv_copy(&c).unwrap();
    assert!(none.is_none() && zero == 0);
    // what the graph holds, read by Python torch: tracing baked allow_tf32=True into every
    // convolution; the copy has runtime convolutions only
    let Some(py) = python() else { return };
    assert_eq!(run_python(&py, PY_CONV_NODES, &[p.to_str().unwrap()]).trim(), "9 9 0");
    assert_eq!(run_python(&py, PY_CONV_NODES, &[copy.to_str().unwrap()]).trim(), "0 0 9");
}

#[test]
fn tf32_and_half_precisions_need_cuda() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("count.pt");
    zoo::save(&zoo::base_count(50).unwrap(), &p).unwrap();
    assert_eq!(Precision::parse("TF32").unwrap(), Precision::TF32);
    for prec in [Precision::TF32, Precision::F16, Precision::BF16] {
        let e = Model::load(spec(&p, 50), Device::Cpu, prec).err().expect("refused on the CPU").to_string();
        assert!(e.contains("needs a CUDA device") && e.contains(prec.label()), "{e}");
    }
    assert!(Precision::parse("fp64").unwrap_err().to_string().contains("tf32"));
}

/// The UI's way of running ISM (the worker, a plan with the model's context) and `peakscope
/// ism` give the same deltas, with rc and shifts averaging, and both equal the direct
/// computation on a strand-asymmetric linear model.
#[test]
fn ism_honours_rc_and_shifts_and_the_worker_equals_the_cli() {
    let (l, t, k) = (40usize, 2usize, 2u32);
    let mut rng = Rng::new(31);
    let w: Vec<f32> = (0..t * 4 * l).map(|_| (rng.unit() * 2.0 - 1.0) as f32).collect();
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("lin.pt");
    zoo::save(&zoo::positional_linear(&w, t as i64, l as i64).unwrap(), &p).unwrap();
    let chrom = rng.dna(400);
    let fa_path = fasta(d.path(), &[("chr1", &chrom)]);
    let fa = Fasta::open(&fa_path).unwrap();
    let f = |s: &[u8]| -> Vec<f64> {
        let x = one_hot(s);
        (0..t).map(|ti| (0..4).flat_map(|c| (0..l).map(move |q| (c, q))).map(|(c, q)| w[(ti * 4 + c) * l + q] as f64 * x[[c, q]] as f64).sum()).collect()
    };
    // the model's height: the mean over shifts and strands of the context's windows
    let height = |ctx: &[u8]| -> Vec<f64> {
        let mut h = vec![0f64; t];
        let views = (2 * k as usize + 1) * 2;
        for sh in 0..=2 * k as usize {
            let win = &ctx[sh..sh + l];
            for (ti, (a, b)) in f(win).into_iter().zip(f(&reverse_complement(win))).enumerate() {
                h[ti] += (a + b) / views as f64;
            }
        }
        h
    };
    let mut sp = spec(&p, l);
    sp.rc = true;
    sp.shifts = k;
    sp.batch_size = 64;
    let region = Locus::new("chr1", 200, 210);
    let plan = Arc::new(IsmPlan::new(&fa, &region, sp.context_length()).unwrap());
    assert_eq!(plan.seq.len(), l + 2 * k as usize);
    let worker = ModelWorker::spawn(vec![sp], Device::Cpu, Precision::F32).unwrap();
    let (_, rx) = worker.ism(0, plan.clone(), Arc::new(AtomicBool::new(false))).unwrap();
    let res = rx
        .iter()
        .find_map(|ev| match ev {
            ModelEvent::IsmDone { result, .. } => Some(result.unwrap()),
            _ => None,
        })
        .unwrap();
    let href = height(&plan.seq);
    for (ti, r) in href.iter().enumerate() {
        assert!((res.ref_height[ti] - r).abs() < 1e-4, "ref {ti}: {} vs {r}", res.ref_height[ti]);
    }
    for (m, &(pos, alt)) in plan.mutants.iter().enumerate() {
        let mut s = plan.seq.clone();
        s[pos as usize] = IsmPlan::alt_base(alt);
        let h = height(&s);
        for ti in 0..t {
            let want = h[ti] - href[ti];
            assert!((res.delta_f64(m, ti) - want).abs() < 1e-4, "mutant {m} target {ti}: {} vs {want}", res.delta_f64(m, ti));
        }
    }
    // the reference equals predict's height at the same window
    let pred = worker.heights(0, vec![plan.seq.clone()], vec![(0, None)]).unwrap();
    assert_eq!(pred.values[0], res.ref_height);
    // and `peakscope ism` prints the same deltas
    let (ok, out, err) = peakscope(&[
        "ism",
        "--model",
        p.to_str().unwrap(),
        "--input-length",
        &l.to_string(),
        "--fasta",
        fa_path.to_str().unwrap(),
        "--region",
        "chr1:201-210",
        "--rc",
        "--shifts",
        &k.to_string(),
        "--device",
        "cpu",
    ]);
    assert!(ok, "{err}");
    let rows: Vec<Vec<&str>> = out.lines().skip(1).map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), plan.mutants.len() * t);
    for (i, r) in rows.iter().enumerate() {
        let (m, ti) = (i / t, i % t);
        assert_eq!(r[6].parse::<f64>().unwrap(), res.delta_f64(m, ti), "row {i}");
    }
}

/// NaN and infinite predictions are counted (and warned about), never dropped silently.
#[test]
fn non_finite_predictions_are_counted() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("logcount.pt");
    let l = 8i64;
    let m = {
        let _g = tch::no_grad_guard();
        let example = tch::Tensor::zeros([2, 4, l], (tch::Kind::Float, Device::Cpu));
        // log(count - 2): NaN below 2 of a base, -inf at exactly 2
        let mut f = |xs: &[tch::Tensor]| vec![(xs[0].sum_dim_intlist([2i64].as_slice(), false, tch::Kind::Float) - 2.0).log()];
        tch::CModule::create_by_tracing("LogCount", "forward", &[example], &mut f).unwrap()
    };
    zoo::save(&m, &p).unwrap();
    let mut model = Model::load(spec(&p, l as usize), Device::Cpu, Precision::F32).unwrap();
    let mut rng = Rng::new(9);
    let seqs: Vec<Vec<u8>> = (0..20).map(|_| rng.dna(l as usize)).collect();
    let want: u64 = seqs.iter().map(|s| counts(s).iter().filter(|&&c| c <= 2.0).count() as u64).sum();
    assert!(want > 0);
    let out = model.heights(&seqs, &(0..seqs.len()).map(|i| (i, None)).collect::<Vec<_>>()).unwrap();
    assert_eq!(out.non_finite, want);
    let nan = out.values.iter().flatten().filter(|v| !v.is_finite()).count() as u64;
    assert_eq!(nan, want, "non-finite values are kept, not dropped");
}
