//! In-silico saturation mutagenesis (ISM).
//!
//! The model's input window is centred on the region's centre; every position of the
//! region gets each substitution (3 for A/C/G/T, all 4 for an N or other ambiguity code).
//! Mutants are built on the device from one reference one-hot and two small index
//! tensors: no per-mutant host work, one host copy per batch of outputs.
use super::engine::Model;
use super::fast_ism::{self, IsmPath};
use crate::genome::onehot::{base_index, BASES};
use crate::genome::{Fasta, Locus};
use anyhow::{bail, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use tch::{Device, Kind, Tensor};

/// What to mutate: the reference window and the region inside it.
#[derive(Debug, Clone)]
pub struct IsmPlan {
    pub chrom: String,
    /// 0-based genomic coordinate of the window's first base (may be < 0 near a telomere)
    pub window_start: i64,
    /// the reference window (length = model input length), upper-case
    pub seq: Vec<u8>,
    /// offsets into `seq` of the region's first and one-past-last base
    pub offset: (usize, usize),
    /// (offset into `seq`, alt base index 0..4), in position then ACGT order
    pub mutants: Vec<(u32, u8)>,
}

impl IsmPlan {
    /// Plan ISM of `region` for a model with `input_length` bp input.
    pub fn new(fasta: &Fasta, region: &Locus, input_length: usize) -> Result<IsmPlan> {
        let (_, chrom_len) = fasta.resolve(&region.chrom)?;
        if region.is_empty() {
            bail!("ISM region {} is empty", region.display());
        }
        if region.end > chrom_len {
            bail!("ISM region {} runs past the end of {} (length {chrom_len})", region.display(), region.chrom);
        }
        if region.len() as usize > input_length {
            bail!(
                "ISM region {} is {} bp, longer than the model's {input_length} bp input window: choose a region of at most {input_length} bp",
                region.display(),
                region.len()
            );
        }
        let (ws, we) = region.centered_window(input_length as u64);
        let seq = fasta.fetch(&region.chrom, ws, we)?;
        let a = (region.start as i64 - ws) as usize;
        let b = a + region.len() as usize;
        let n_bases = seq[a..b].iter().filter(|&&c| base_index(c).is_some()).count();
        if n_bases == 0 {
            bail!("ISM region {} is all N (assembly gap?): nothing to mutate", region.display());
        }
        let mutants = saturation_mutants(&seq, (a, b));
        Ok(IsmPlan { chrom: region.chrom.clone(), window_start: ws, seq, offset: (a, b), mutants })
    }

    /// Plan from an explicit sequence (tests, benchmarks, the Python comparison).
    pub fn from_sequence(seq: &[u8], offset: (usize, usize)) -> IsmPlan {
        let seq = seq.to_ascii_uppercase();
        let mutants = saturation_mutants(&seq, offset);
        IsmPlan { chrom: String::new(), window_start: 0, seq, offset, mutants }
    }

    /// Genomic 0-based coordinate of window offset `p`.
    pub fn genomic_pos(&self, p: u32) -> i64 {
        self.window_start + p as i64
    }

    pub fn ref_base(&self, p: u32) -> u8 {
        self.seq[p as usize]
    }

    pub fn alt_base(alt: u8) -> u8 {
        BASES[alt as usize]
    }
}

/// Every substitution of `seq[a..b]`, in position then ACGT order: the 3 other bases at
/// A/C/G/T, all 4 at an N or other ambiguity code.
fn saturation_mutants(seq: &[u8], (a, b): (usize, usize)) -> Vec<(u32, u8)> {
    let mut mutants = Vec::with_capacity(3 * (b - a));
    for (p, &base) in seq.iter().enumerate().take(b).skip(a) {
        let r = base_index(base);
        mutants.extend((0..4u8).filter(|&alt| Some(alt as usize) != r).map(|alt| (p as u32, alt)));
    }
    mutants
}

/// Predictions for the reference and every mutant. Binned models are reduced to one value
/// per target by summing over the output bins (total signal in the window).
#[derive(Debug, Clone)]
pub struct IsmResult {
    pub n_targets: usize,
    /// (T)
    pub ref_pred: Vec<f32>,
    /// (M × T), row-major by mutant
    pub alt_pred: Vec<f32>,
    /// mutants done (less than planned when cancelled)
    pub done: usize,
    /// which mutants have predictions (all, unless cancelled)
    pub computed: Vec<bool>,
    pub cancelled: bool,
}

impl IsmResult {
    pub fn delta(&self, mutant: usize, target: usize) -> f32 {
        self.alt_pred[mutant * self.n_targets + target] - self.ref_pred[target]
    }
}

/// Run ISM. `on_chunk(first_mutant, preds)` sees each batch's (n × T) predictions as they
/// arrive (in any order); `cancel` stops between batches and the partial result is
/// returned, with `computed` marking the mutants that have predictions. Takes the fast path
/// (see [`fast_ism`]) when the model allows it, unless [`fast_ism::set_default_path`] says
/// otherwise.
pub fn run_ism(model: &mut Model, plan: &IsmPlan, rc: bool, cancel: &AtomicBool, on_chunk: impl FnMut(usize, &[f32])) -> Result<IsmResult> {
    run_ism_with(model, plan, rc, cancel, fast_ism::default_path(), on_chunk)
}

/// [`run_ism`] with the path chosen by the caller.
pub fn run_ism_with(
    model: &mut Model,
    plan: &IsmPlan,
    rc: bool,
    cancel: &AtomicBool,
    path: IsmPath,
    mut on_chunk: impl FnMut(usize, &[f32]),
) -> Result<IsmResult> {
    let l = plan.seq.len() as i64;
    if l as usize != model.spec.input_length {
        bail!("ISM window is {l} bp but model {} takes {}", model.spec.name, model.spec.input_length);
    }
    let device = model.device();
    let t = model.n_targets();
    let reference = Tensor::from_slice(crate::genome::onehot::one_hot(&plan.seq).as_slice().unwrap()).reshape([1, 4 * l]).to_device(device);
    let reduce = |out: Tensor, n: i64| -> Tensor {
        // (2n or n, B, T) -> (n, T): sum the bins, average the strands
        let o = out.sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
        if rc {
            (o.narrow(0, 0, n) + o.narrow(0, n, n)) / 2.0
        } else {
            o
        }
    };
    let with_rc = |x: Tensor| -> Tensor {
        if rc {
            let f = x.flip([1i64, 2]);
            Tensor::cat(&[x, f], 0)
        } else {
            x
        }
    };
    // reference prediction
    let ref_in = with_rc(reference.reshape([1, 4, l]));
    let ref_out = reduce(model.forward(&ref_in)?, 1).to_device(Device::Cpu);
    let ref_pred: Vec<f32> = Vec::<f32>::try_from(ref_out.reshape([-1]))?;
    let m = plan.mutants.len();
    let pos = Tensor::from_slice(&plan.mutants.iter().map(|&(p, _)| p as i64).collect::<Vec<_>>()).to_device(device);
    let alt = Tensor::from_slice(&plan.mutants.iter().map(|&(_, a)| a as i64).collect::<Vec<_>>()).to_device(device);
    let chan = Tensor::arange(4, (Kind::Int64, device)) * l;
    let mut alt_pred = vec![0f32; m * t];
    let mut computed = vec![false; m];
    let mut done = 0;
    let mut cancelled = false;
    // ISM batches hold mutants, and with rc each becomes two rows
    let user_batch = model.batch_size();
    if rc {
        model.set_batch_size((user_batch / 2).max(1));
    }
    let sink = |i: usize, out: Tensor| {
        let n = out.size()[0] / if rc { 2 } else { 1 };
        let o = reduce(out, n).to_device(Device::Cpu).contiguous();
        let v: Vec<f32> = Vec::<f32>::try_from(o.reshape([-1]))?;
        alt_pred[i * t..i * t + v.len()].copy_from_slice(&v);
        computed[i..i + n as usize].fill(true);
        done += n as usize;
        on_chunk(i, &v);
        Ok(())
    };
    let check = || if cancel.load(Ordering::Relaxed) { bail!("cancelled") } else { Ok(()) };
    let fast = if path == IsmPath::Naive { None } else { Some(fast_ism::for_model(model)) };
    let res = match fast.as_deref() {
        Some(Ok(f)) => f.run_batches(model, &reference.reshape([1, 4, l]), &pos, &alt, rc, check, sink),
        Some(Err(why)) if path == IsmPath::Fast => bail!("model {}: no fast ISM: {why}", model.spec.name),
        _ => model.run_batched(
            m,
            |i, j| {
                check()?;
                let n = (j - i) as i64;
                let p = pos.narrow(0, i as i64, n);
                let a = alt.narrow(0, i as i64, n);
                let x = reference.expand([n, 4 * l], false).contiguous();
                let zero_idx = p.unsqueeze(1) + chan.unsqueeze(0); // (n, 4)
                let x = x.scatter_value(1, &zero_idx, 0.0);
                let one_idx = (a * l + &p).unsqueeze(1); // (n, 1)
                let x = x.scatter_value(1, &one_idx, 1.0);
                Ok(with_rc(x.reshape([n, 4, l])))
            },
            sink,
        ),
    };
    model.set_batch_size(user_batch.max(model.batch_size()));
    if let Err(e) = res {
        if cancel.load(Ordering::Relaxed) && e.to_string() == "cancelled" {
            cancelled = true;
        } else {
            return Err(e);
        }
    }
    Ok(IsmResult { n_targets: t, ref_pred, alt_pred, done, computed, cancelled })
}

/// Per-position attribution at the reference base, tangermeme-style: for each target the
/// deltas of the 4 bases (0 for the reference) are mean-centred over the bases and the
/// reference base's value is kept. Returns (offset, target, attribution) rows; positions
/// whose reference is not A/C/G/T get 0.
pub fn attributions(plan: &IsmPlan, res: &IsmResult) -> Vec<(u32, usize, f32)> {
    let t = res.n_targets;
    let mut out = Vec::new();
    let mut k = 0;
    for p in plan.offset.0..plan.offset.1 {
        let r = base_index(plan.seq[p]);
        let n_alts = if r.is_some() { 3 } else { 4 };
        for ti in 0..t {
            let mut d = [0f32; 4];
            for m in k..k + n_alts {
                let a = plan.mutants[m].1 as usize;
                debug_assert_eq!(plan.mutants[m].0 as usize, p);
                if res.computed[m] {
                    d[a] = res.delta(m, ti);
                }
            }
            let v = match r {
                Some(ri) => d[ri] - d.iter().sum::<f32>() / 4.0,
                None => 0.0,
            };
            out.push((p as u32, ti, v));
        }
        k += n_alts;
    }
    out
}
