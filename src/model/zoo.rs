//! Models built and traced to TorchScript from Rust, so tests and benchmarks need no Python:
//! the paper-size Basset variant (seeded random weights) and small models whose outputs
//! are known functions of the input.
use anyhow::{anyhow, Result};
use std::path::Path;
use tch::nn::{self, Module};
use tch::{CModule, Device, Kind, Tensor};

fn trace(name: &str, input_length: i64, mut f: impl FnMut(&Tensor) -> Tensor) -> Result<CModule> {
    let _g = tch::no_grad_guard();
    let example = Tensor::zeros([2, 4, input_length], (Kind::Float, Device::Cpu));
    let mut closure = |xs: &[Tensor]| vec![f(&xs[0])];
    CModule::create_by_tracing(name, "forward", &[example], &mut closure).map_err(|e| anyhow!("tracing {name}: {e}"))
}

pub fn save(module: &CModule, path: &Path) -> Result<()> {
    module.save(path).map_err(|e| anyhow!("saving TorchScript to {}: {e}", path.display()))
}

/// The kidney Basset variant of Kathail et al.: input 1344 bp; blocks of
/// GELU → conv (no bias) → batch norm → max-pool: conv 288 k17 pool 3; six blocks k5 pool 2
/// with 288, 323, 363, 407, 456, 512 filters; conv 256 k1; conv 768 k7 valid; GELU; dense +
/// softplus to `n_targets` outputs (≈ 5.8 M parameters at 10 targets). Weights are random
/// from `seed`. Output (N, T).
pub fn basset(n_targets: i64, seed: i64) -> Result<(CModule, usize)> {
    const L: i64 = 1344;
    tch::manual_seed(seed);
    let vs = nn::VarStore::new(Device::Cpu);
    let root = vs.root();
    // (in, out, kernel, padding, pool)
    let mut spec = vec![(4i64, 288i64, 17i64, 8i64, 3i64)];
    let filters = [288i64, 288, 323, 363, 407, 456, 512];
    for w in filters.windows(2) {
        spec.push((w[0], w[1], 5, 2, 2));
    }
    spec.push((512, 256, 1, 0, 1));
    spec.push((256, 768, 7, 0, 1));
    let mut blocks = Vec::new();
    for (i, &(cin, cout, k, pad, pool)) in spec.iter().enumerate() {
        // He-normal weights keep activations O(1) through the depth, so outputs (and ISM
        // deltas) respond clearly to the sequence
        let ws_init = nn::Init::Randn { mean: 0.0, stdev: (2.0 / (cin * k) as f64).sqrt() };
        let conv = nn::conv1d(&root / format!("conv{i}"), cin, cout, k, nn::ConvConfig { padding: pad, bias: false, ws_init, ..Default::default() });
        // momentum 1: one calibration pass below sets the running statistics
        let bn = nn::batch_norm1d(&root / format!("bn{i}"), cout, nn::BatchNormConfig { momentum: 1.0, ..Default::default() });
        blocks.push((conv, bn, pool));
    }
    let dense = nn::linear(&root / "dense", 768, n_targets, Default::default());
    let n_params: usize = vs.trainable_variables().iter().map(|t| t.numel()).sum();
    let mut vs = vs;
    vs.freeze();
    let forward = |x: &Tensor, train: bool| {
        let mut h = x.shallow_clone();
        for (conv, bn, pool) in &blocks {
            h = h.gelu("none").apply(conv).apply_t(bn, train);
            if *pool > 1 {
                h = h.max_pool1d([*pool], [*pool], [0], [1], false);
            }
        }
        dense.forward(&h.flatten(1, -1).gelu("none")).softplus()
    };
    // Calibrate batch-norm statistics on random sequences, as training would, so every
    // layer sees unit-scale activations and outputs vary with the sequence.
    {
        let _g = tch::no_grad_guard();
        let idx = Tensor::randint(4, [64, L], (Kind::Int64, Device::Cpu));
        let x = idx.one_hot(4).permute([0, 2, 1]).to_kind(Kind::Float);
        let _ = forward(&x, true);
        // Channels that barely vary on random input would get a huge 1/sqrt(var) gain and
        // amplify rounding noise; floor each layer's variances at a tenth of its median
        // so the network is well conditioned (CPU and GPU agree to ~1e-6).
        for (_, bn, _) in &blocks {
            let med = bn.running_var.median().double_value(&[]);
            let _ = bn.running_var.shallow_clone().clamp_min_(0.1 * med);
        }
    }
    let m = trace("Basset", L, |x| forward(x, false))?;
    Ok((m, n_params))
}

/// Output (N, 4): the count of A, C, G, T in the input (N and ambiguity codes count as none).
pub fn base_count(input_length: i64) -> Result<CModule> {
    trace("BaseCount", input_length, |x| x.sum_dim_intlist([2i64].as_slice(), false, Kind::Float))
}

/// Output (N, T): Σ_{c,p} W[t, c, p]·x[c, p] for the given (T, 4, L) weights — a strand-
/// asymmetric linear model with exactly computable predictions.
pub fn positional_linear(weights: &[f32], n_targets: i64, input_length: i64) -> Result<CModule> {
    let w = Tensor::from_slice(weights).reshape([n_targets, 4 * input_length]);
    trace("PositionalLinear", input_length, move |x| x.reshape([-1, 4 * input_length]).matmul(&w.tr()))
}

/// Output (N, B, 4) (layout bins_targets): base counts in each of B = L / bin bins.
pub fn binned_count(input_length: i64, bin: i64) -> Result<CModule> {
    trace("BinnedCount", input_length, move |x| {
        let n_bins = input_length / bin;
        x.narrow(2, 0, n_bins * bin).reshape([-1, 4, n_bins, bin]).sum_dim_intlist([3i64].as_slice(), false, Kind::Float).transpose(1, 2)
    })
}

/// A model with a dense layer over the whole input: it only accepts its own input length.
pub fn dense_only(input_length: i64, n_targets: i64, seed: i64) -> Result<CModule> {
    tch::manual_seed(seed);
    let vs = nn::VarStore::new(Device::Cpu);
    let lin = nn::linear(vs.root() / "dense", 4 * input_length, n_targets, Default::default());
    let mut vs = vs;
    vs.freeze();
    trace("DenseOnly", input_length, move |x| lin.forward(&x.flatten(1, -1)))
}
