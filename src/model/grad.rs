//! Gradient × input attributions through libtorch autograd.
//!
//! For one context sequence the model's views (shifts, reverse complement) are built from a
//! single one-hot leaf tensor X (4 × context) by differentiable slicing and flipping (the
//! reverse complement of a one-hot column is the column flipped along A C G T), run in one
//! forward pass, and each target's height, exactly as the prediction service defines it
//! (the height bins summed over the interval, transform and output→track mapping applied,
//! averaged over the views), is back-propagated to X: one backward per target. The
//! attribution of a position is gradient × input (the gradient at its reference base; 0 at
//! N). With `rc = true` the gradient is that of the strand-averaged prediction, so the
//! attributions explain the number the model reports.
use super::desc::InputKind;
use super::engine::Model;
use crate::genome::onehot::base_index;
use anyhow::{bail, Context, Result};
use tch::{Device, Kind, Tensor};

/// Gradients of one sequence's heights with respect to its one-hot input.
#[derive(Debug, Clone)]
pub struct GradResult {
    pub n_targets: usize,
    pub context_length: usize,
    /// per target, the height the gradient is of (f64 sum of the selected bins, view-averaged)
    pub height: Vec<f64>,
    /// (T × 4 × context) d height / d X
    pub grad: Vec<f32>,
}

impl GradResult {
    pub fn grad_at(&self, target: usize, base: usize, pos: usize) -> f32 {
        self.grad[(target * 4 + base) * self.context_length + pos]
    }

    /// Gradient × input at context offset `pos` of `seq` for `target` (0 at N).
    pub fn grad_x_input(&self, seq: &[u8], target: usize, pos: usize) -> f32 {
        base_index(seq[pos]).map(|b| self.grad_at(target, b, pos)).unwrap_or(0.0)
    }
}

/// Gradient of each target's height of `seq` (a context-length sequence) with respect to the
/// one-hot input; `select` is the interval of the context whose height bins are summed (None:
/// every bin), as in `Model::heights`.
pub fn input_gradients(model: &Model, seq: &[u8], select: Option<(i64, i64)>) -> Result<GradResult> {
    if model.spec.input == InputKind::Tokens {
        bail!("model {}: gradients need a one-hot input; it takes integer tokens, which have no gradient: use --method ism", model.spec.name);
    }
    let geom = model.geometry();
    let ctx = geom.context_length();
    if seq.len() != ctx {
        bail!("sequence has length {} but model {} needs {ctx}", seq.len(), model.spec.name);
    }
    let device = model.device();
    let mut host = vec![0f32; 4 * ctx];
    for (p, &c) in seq.iter().enumerate() {
        if let Some(b) = base_index(c) {
            host[b * ctx + p] = 1.0;
        }
    }
    let x = Tensor::from_slice(&host).reshape([1, 4, ctx as i64]).to_device(device).set_requires_grad(true);
    let l = geom.input_length as i64;
    let v = geom.views();
    let views: Vec<Tensor> = (0..v)
        .map(|vi| {
            let (sh, rc) = geom.view(vi);
            let w = x.narrow(2, sh as i64, l);
            if rc {
                w.flip([1, 2])
            } else {
                w
            }
        })
        .collect();
    let batch = Tensor::cat(&views, 0);
    let out = model.forward_heads_with_grad(&batch)?;
    let h = out.height.to_kind(Kind::Double);
    let t = h.size()[2] as usize;
    let ranges: Vec<(i64, i64)> = (0..v).map(|vi| geom.bin_range(select, vi)).collect::<Result<_>>()?;
    let mut height = Vec::with_capacity(t);
    let mut grad = Vec::with_capacity(t * 4 * ctx);
    for ti in 0..t {
        let y = (0..v)
            .map(|vi| h.get(vi as i64).narrow(0, ranges[vi].0, ranges[vi].1 - ranges[vi].0).select(1, ti as i64).sum(Kind::Double))
            .reduce(|a, b| a + b)
            .expect("at least one view")
            / v as f64;
        height.push(f64::try_from(&y).context("reading the height")?);
        let g = Tensor::f_run_backward(&[&y], &[&x], ti + 1 < t, false).map_err(|e| anyhow::anyhow!("model {}: backward failed: {e}", model.spec.name))?;
        let g = g.into_iter().next().expect("one gradient").to_device(Device::Cpu).to_kind(Kind::Float).contiguous().reshape([-1]);
        grad.extend(Vec::<f32>::try_from(g).context("copying gradients to the host")?);
    }
    Ok(GradResult { n_targets: t, context_length: ctx, height, grad })
}
