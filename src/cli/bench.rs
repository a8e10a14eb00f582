//! `peakscope bench-ism`: ISM throughput of one model window at several batch sizes.
use crate::model::device::{device_label, parse_device};
use crate::model::engine::{Model, ModelSpec, Precision};
use crate::model::ism::{run_ism, IsmPlan};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

#[derive(Args, Debug)]
pub struct BenchIsmArgs {
    /// TorchScript model (e.g. from `peakscope make-model basset`)
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long, default_value_t = 1344)]
    pub input_length: usize,
    /// bp mutated, centred in the window (default: the whole window)
    #[arg(long)]
    pub region_length: Option<usize>,
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// comma-separated: fp32,tf32,fp16,bf16
    #[arg(long, default_value = "fp32", value_delimiter = ',')]
    pub precision: Vec<String>,
    #[arg(long, default_value = "128", value_delimiter = ',')]
    pub batch_sizes: Vec<usize>,
    /// timed runs per setting (after one warm-up)
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// also run each setting without freezing/optimising the module (CUDA)
    #[arg(long)]
    pub compare_unoptimized: bool,
}

/// A reproducible random sequence (xorshift), so runs compare like with like.
pub fn random_dna(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b"ACGT"[(x >> 33) as usize % 4]
        })
        .collect()
}

pub fn run(a: BenchIsmArgs) -> Result<()> {
    let device = parse_device(&a.device)?;
    let seq = random_dna(a.input_length, a.seed);
    let rl = a.region_length.unwrap_or(a.input_length).min(a.input_length);
    let off = (a.input_length - rl) / 2;
    let plan = IsmPlan::from_sequence(&seq, (off, off + rl));
    let cancel = AtomicBool::new(false);
    println!("device\tprecision\toptimized\truntime_convs\tbatch\tmutants\tms_per_peak_median\tms_per_peak_min\tmutants_per_s");
    let variants: &[bool] = if a.compare_unoptimized { &[true, false] } else { &[true] };
    for p in &a.precision {
        let precision = Precision::parse(p)?;
        for (&bs, &optimize) in a.batch_sizes.iter().flat_map(|b| variants.iter().map(move |o| (b, o))) {
            let mut spec = ModelSpec::new("bench", &a.model, a.input_length);
            spec.batch_size = bs;
            spec.optimize = optimize;
            let mut model = Model::load(spec, device, precision)?;
            if device.is_cuda() {
                tch::Cuda::cudnn_set_benchmark(true);
            }
            run_ism(&mut model, &plan, &cancel, |_, _, _| {})?; // warm-up (cudnn autotune)
            let mut times = Vec::new();
            for _ in 0..a.repeats.max(1) {
                let t = std::time::Instant::now();
                let r = run_ism(&mut model, &plan, &cancel, |_, _, _| {})?;
                times.push(t.elapsed().as_secs_f64() * 1e3);
                assert_eq!(r.done, plan.mutants.len());
            }
            times.sort_by(|x, y| x.total_cmp(y));
            let med = times[times.len() / 2];
            println!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{:.2}\t{:.2}\t{:.0}",
                device_label(device),
                precision.label(),
                model.is_optimized(),
                model.convs_rewritten(),
                model.batch_size(),
                plan.mutants.len(),
                med,
                times[0],
                plan.mutants.len() as f64 / (med / 1e3)
            );
        }
    }
    Ok(())
}
