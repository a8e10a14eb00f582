//! The demo's models, trained with tch on the training chromosomes with a Poisson loss and
//! traced to TorchScript: Basset-style CNNs on 1344-bp windows.
use anyhow::{anyhow, Result};
use tch::nn::{self, Module, OptimizerConfig};
use tch::{CModule, Device, Kind, Tensor};

pub const INPUT: i64 = 1344;
/// training windows carry this much extra sequence on each side for shift augmentation
pub const MARGIN: i64 = 20;

#[derive(Debug, Clone, Copy)]
pub struct NetSpec {
    pub filters: [i64; 3],
    pub dense: i64,
    pub outputs: i64,
}

/// conv k15/k7/k5 with batch norm, GELU and max-pool 4 each (1344 → 21 positions), then a
/// dense layer and an exponential link: one Poisson rate (expected reads over the central
/// 192 bp) per output.
pub struct Net {
    blocks: Vec<(nn::Conv1D, nn::BatchNorm)>,
    fc1: nn::Linear,
    fc2: nn::Linear,
}

impl Net {
    pub fn new(p: &nn::Path, s: NetSpec) -> Net {
        let ks = [15, 7, 5];
        let mut cin = 4;
        let mut blocks = Vec::new();
        for (i, (&k, &f)) in ks.iter().zip(&s.filters).enumerate() {
            let conv = nn::conv1d(p / format!("conv{i}"), cin, f, k, nn::ConvConfig { padding: k / 2, ..Default::default() });
            blocks.push((conv, nn::batch_norm1d(p / format!("bn{i}"), f, Default::default())));
            cin = f;
        }
        let fc1 = nn::linear(p / "fc1", cin * 21, s.dense, Default::default());
        let fc2 = nn::linear(p / "fc2", s.dense, s.outputs, Default::default());
        Net { blocks, fc1, fc2 }
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = x.shallow_clone();
        for (conv, bn) in &self.blocks {
            h = h.apply(conv).apply_t(bn, train).gelu("none").max_pool1d([4], [4], [0], [1], false);
        }
        let h = self.fc1.forward(&h.flatten(1, -1)).gelu("none").dropout(0.2, train);
        self.fc2.forward(&h).clamp_max(20.0).exp()
    }
}

/// Training examples: one-hot windows of INPUT + 2·MARGIN bp and per-cell-type counts.
pub struct TrainSet {
    pub x: Tensor,
    pub y: Tensor,
}

/// Train a net on the chosen target columns with Poisson loss, Adam, random shifts and
/// reverse complements; deterministic for a seed.
pub fn train(spec: NetSpec, data: &TrainSet, columns: &[i64], epochs: usize, seed: i64) -> Result<(nn::VarStore, Net, f64)> {
    tch::manual_seed(seed);
    let vs = nn::VarStore::new(Device::Cpu);
    let mut net = Net::new(&vs.root(), spec);
    let y_all = data.y.index_select(1, &Tensor::from_slice(columns));
    // start the output at the mean rate, so training shapes it rather than scales it
    tch::no_grad(|| {
        if let Some(b) = net.fc2.bs.as_mut() {
            b.copy_(&y_all.mean_dim(0, false, Kind::Float).clamp_min(1e-3).log());
        }
        let _ = net.fc2.ws.zero_();
    });
    let base_lr: f64 = std::env::var("PEAKSCOPE_DEMO_LR").ok().and_then(|v| v.parse().ok()).unwrap_or(2e-3);
    let mut opt = nn::Adam::default().build(&vs, base_lr).map_err(|e| anyhow!("{e}"))?;
    let mut last_loss = f64::NAN;
    let n = data.x.size()[0];
    let bs = 64;
    for epoch in 0..epochs {
        let perm = Tensor::randperm(n, (Kind::Int64, Device::Cpu));
        let lr = if epoch + 3 >= epochs { base_lr / 4.0 } else { base_lr };
        opt.set_lr(lr);
        let (mut i, mut total, mut batches) = (0, 0.0, 0);
        while i < n {
            let idx = perm.narrow(0, i, bs.min(n - i));
            let shift = (Tensor::randint(2 * MARGIN + 1, [1], (Kind::Int64, Device::Cpu))).int64_value(&[0]);
            let mut x = data.x.index_select(0, &idx).narrow(2, shift, INPUT);
            if Tensor::randint(2, [1], (Kind::Int64, Device::Cpu)).int64_value(&[0]) == 1 {
                x = x.flip([1i64, 2]);
            }
            let y = y_all.index_select(0, &idx);
            let rate = net.forward_t(&x, true) + 1e-4;
            let loss = (&rate - &y * rate.log()).mean(Kind::Float);
            opt.backward_step(&loss);
            total += loss.double_value(&[]);
            batches += 1;
            i += bs;
        }
        last_loss = total / batches as f64;
    }
    let mut vs = vs;
    vs.freeze();
    Ok((vs, net, last_loss))
}

/// Trace one or several nets (outputs concatenated in order) to a TorchScript module.
pub fn trace(nets: &[&Net], name: &str) -> Result<CModule> {
    let _g = tch::no_grad_guard();
    let example = Tensor::zeros([2, 4, INPUT], (Kind::Float, Device::Cpu));
    let mut closure = |xs: &[Tensor]| {
        let outs: Vec<Tensor> = nets.iter().map(|n| n.forward_t(&xs[0], false)).collect();
        vec![Tensor::cat(&outs, 1)]
    };
    CModule::create_by_tracing(name, "forward", &[example], &mut closure).map_err(|e| anyhow!("tracing {name}: {e}"))
}
