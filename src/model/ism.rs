//! In-silico saturation mutagenesis (ISM).
//!
//! The model's context (input + 2 × shifts) is centred on the region's centre; every
//! position of the region gets each substitution (3 for A/C/G/T, all 4 for an N or other
//! ambiguity code). Mutants are built on the device from the reference tokens and two small
//! index tensors, and go through the same views (shifts, reverse complement), heads and f64
//! bin sums as every prediction ([`super::service`]), so the reference prediction equals
//! `peakscope predict` at that window and deltas are alt − ref of f64 heights (no fp32
//! cancellation on long binned outputs).
use super::engine::Model;
use super::service::{bin_sums, view_batch};
use crate::genome::onehot::{base_index, BASES};
use crate::genome::{Fasta, Locus};
use anyhow::{bail, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use tch::Tensor;

/// What to mutate: the reference context and the region inside it.
#[derive(Debug, Clone)]
pub struct IsmPlan {
    pub chrom: String,
    /// 0-based genomic coordinate of the context's first base (may be < 0 near a telomere)
    pub window_start: i64,
    /// the reference context (length = the model's input length + 2 × shifts), upper-case
    pub seq: Vec<u8>,
    /// offsets into `seq` of the region's first and one-past-last base
    pub offset: (usize, usize),
    /// (offset into `seq`, alt base index 0..4), in position then ACGT order
    pub mutants: Vec<(u32, u8)>,
    /// for `bins = "center"` heights: the interval (offsets into `seq`) whose bins are summed;
    /// None = the mutated region
    pub select: Option<(i64, i64)>,
}

impl IsmPlan {
    /// Plan ISM of `region` for a model whose context is `context_length` bp (its
    /// `ModelSpec::context_length()`: the input length plus 2 × shifts).
    pub fn new(fasta: &Fasta, region: &Locus, context_length: usize) -> Result<IsmPlan> {
        let (_, chrom_len) = fasta.resolve(&region.chrom)?;
        if region.is_empty() {
            bail!("ISM region {} is empty", region.display());
        }
        if region.end > chrom_len {
            bail!("ISM region {} runs past the end of {} (length {chrom_len})", region.display(), region.chrom);
        }
        if region.len() as usize > context_length {
            bail!(
                "ISM region {} is {} bp, longer than the model's {context_length} bp input window: choose a region of at most {context_length} bp",
                region.display(),
                region.len()
            );
        }
        let (ws, we) = region.centered_window(context_length as u64);
        let seq = fasta.fetch(&region.chrom, ws, we)?;
        let a = (region.start as i64 - ws) as usize;
        let b = a + region.len() as usize;
        let n_bases = seq[a..b].iter().filter(|&&c| base_index(c).is_some()).count();
        if n_bases == 0 {
            bail!("ISM region {} is all N (assembly gap?): nothing to mutate", region.display());
        }
        let mutants = saturation_mutants(&seq, (a, b));
        Ok(IsmPlan { chrom: region.chrom.clone(), window_start: ws, seq, offset: (a, b), mutants, select: None })
    }

    /// Plan from an explicit context sequence (tests, benchmarks, the Python comparison).
    pub fn from_sequence(seq: &[u8], offset: (usize, usize)) -> IsmPlan {
        let seq = seq.to_ascii_uppercase();
        let mutants = saturation_mutants(&seq, offset);
        IsmPlan { chrom: String::new(), window_start: 0, seq, offset, mutants, select: None }
    }

    /// For `bins = "center"` models: sum the bins over the central `width` bp of the region
    /// (as peak heights do with `[eval] center_width`) instead of the region itself.
    pub fn with_center_width(mut self, width: u64) -> IsmPlan {
        let (a, b) = (self.offset.0 as i64, self.offset.1 as i64);
        let c = a + (b - a) / 2;
        let s = c - (width / 2) as i64;
        self.select = Some((s, s + width as i64));
        self
    }

    /// Genomic 0-based coordinate of context offset `p`.
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

/// Heights of the reference and every mutant (the model's height: its bins summed as
/// declared, averaged over its views), and their f64 differences.
#[derive(Debug, Clone)]
pub struct IsmResult {
    pub n_targets: usize,
    /// (T)
    pub ref_pred: Vec<f32>,
    /// (M × T), row-major by mutant
    pub alt_pred: Vec<f32>,
    /// (T) in f64
    pub ref_height: Vec<f64>,
    /// (M × T) alt − ref, computed in f64
    pub deltas: Vec<f64>,
    /// mutants done (less than planned when cancelled)
    pub done: usize,
    /// which mutants have predictions (all, unless cancelled)
    pub computed: Vec<bool>,
    pub cancelled: bool,
}

impl IsmResult {
    pub fn delta(&self, mutant: usize, target: usize) -> f32 {
        self.deltas[mutant * self.n_targets + target] as f32
    }

    pub fn delta_f64(&self, mutant: usize, target: usize) -> f64 {
        self.deltas[mutant * self.n_targets + target]
    }
}

/// Run ISM with the model's own averaging (rc, shifts). `on_chunk(first_mutant, alt heights,
/// deltas)` sees each batch's (n × T) values as they arrive (in any order); `cancel` stops
/// between batches and the partial result is returned, with `computed` marking the mutants
/// that have predictions.
pub fn run_ism(model: &mut Model, plan: &IsmPlan, cancel: &AtomicBool, mut on_chunk: impl FnMut(usize, &[f32], &[f64])) -> Result<IsmResult> {
    let ctx = model.spec.context_length();
    if plan.seq.len() != ctx {
        bail!(
            "ISM context is {} bp but model {} takes {ctx} (input {} + 2 × shifts {}): plan it with the model's context length",
            plan.seq.len(),
            model.spec.name,
            model.spec.input_length,
            model.spec.shifts
        );
    }
    let geom = model.geometry();
    let (a, b) = plan.offset;
    if geom.shifts > 0 && (a < 2 * geom.shifts as usize || b > ctx - 2 * geom.shifts as usize) {
        bail!(
            "ISM region is {} bp but with shifts = {} every shifted window must contain it: at most {} bp",
            b - a,
            geom.shifts,
            geom.input_length - 2 * geom.shifts as usize
        );
    }
    let select = plan.select.or(Some((a as i64, b as i64)));
    let v = geom.views();
    let t = model.n_targets();
    let reference = model.heights(&[&plan.seq], &[(0, select)])?;
    let ref_height = reference.values.into_iter().next().unwrap_or_default();
    let ranges: Vec<(i64, i64)> = (0..v).map(|vi| geom.bin_range(select, vi)).collect::<Result<_>>()?;
    let device = model.device();
    let ref_tokens = {
        let idx: Vec<i64> = plan.seq.iter().map(|&c| base_index(c).map(|i| i as i64).unwrap_or(4)).collect();
        Tensor::from_slice(&idx).reshape([1, ctx as i64]).to_device(device)
    };
    let m = plan.mutants.len();
    let pos = Tensor::from_slice(&plan.mutants.iter().map(|&(p, _)| p as i64).collect::<Vec<_>>()).to_device(device);
    let alt = Tensor::from_slice(&plan.mutants.iter().map(|&(_, a)| a as i64).collect::<Vec<_>>()).to_device(device);
    let mut alt_pred = vec![0f32; m * t];
    let mut deltas = vec![0f64; m * t];
    let mut computed = vec![false; m];
    let mut done = 0;
    let mut cancelled = false;
    // every batch holds whole mutants (all their views)
    let user_batch = model.batch_size();
    model.set_batch_size((user_batch / v).max(1) * v);
    model.set_granule(v);
    model.take_non_finite();
    let res = model.run_batched(
        m * v,
        |i, j| {
            if cancel.load(Ordering::Relaxed) {
                bail!("cancelled");
            }
            let (m0, m1) = (i / v, j.div_ceil(v));
            let n = (m1 - m0) as i64;
            let p = pos.narrow(0, m0 as i64, n).unsqueeze(1);
            let al = alt.narrow(0, m0 as i64, n).unsqueeze(1);
            let x = ref_tokens.expand([n, ctx as i64], false).contiguous().scatter(1, &p, &al);
            Ok(view_batch(&x, &geom, i - m0 * v, j - m0 * v))
        },
        |i, out| {
            let rows = out.height.size()[0] as usize;
            let entries: Vec<(i64, i64, i64)> = (0..rows).map(|r| (r as i64, ranges[(i + r) % v].0, ranges[(i + r) % v].1)).collect();
            let sums = bin_sums(&out.height, &entries)?;
            let (m0, nm) = (i / v, rows / v);
            for k in 0..nm {
                let mi = m0 + k;
                for o in 0..t {
                    let h: f64 = (0..v).map(|vi| sums[(k * v + vi) * t + o]).sum::<f64>() / v as f64;
                    alt_pred[mi * t + o] = h as f32;
                    deltas[mi * t + o] = h - ref_height[o];
                }
            }
            computed[m0..m0 + nm].fill(true);
            done += nm;
            on_chunk(m0, &alt_pred[m0 * t..(m0 + nm) * t], &deltas[m0 * t..(m0 + nm) * t]);
            Ok(())
        },
    );
    model.set_granule(1);
    model.set_batch_size(user_batch.min(model.batch_size().max(1)));
    let non_finite = model.take_non_finite();
    if non_finite > 0 {
        tracing::warn!("model {}: {non_finite} predicted value(s) were NaN or infinite during ISM", model.spec.name);
    }
    if let Err(e) = res {
        if cancel.load(Ordering::Relaxed) && e.to_string() == "cancelled" {
            cancelled = true;
        } else {
            return Err(e);
        }
    }
    let ref_pred = ref_height.iter().map(|&x| x as f32).collect();
    Ok(IsmResult { n_targets: t, ref_pred, alt_pred, ref_height, deltas, done, computed, cancelled })
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
            let mut d = [0f64; 4];
            for m in k..k + n_alts {
                let a = plan.mutants[m].1 as usize;
                debug_assert_eq!(plan.mutants[m].0 as usize, p);
                if res.computed[m] {
                    d[a] = res.delta_f64(m, ti);
                }
            }
            let v = match r {
                Some(ri) => (d[ri] - d.iter().sum::<f64>() / 4.0) as f32,
                None => 0.0,
            };
            out.push((p as u32, ti, v));
        }
        k += n_alts;
    }
    out
}
