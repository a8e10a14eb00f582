//! `peakscope bench-ism`: ISM throughput of one model window at several batch sizes, fast
//! and naive paths side by side.
use crate::model::desc::HeadPath;
use crate::model::device::{device_label, parse_device};
use crate::model::engine::{Model, ModelSpec, Precision};
use crate::model::fast_ism::{self, IsmPath};
use crate::model::ism::{run_ism_with, IsmPlan};
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
    /// comma-separated ISM paths to time: fast (only what each mutation can change), naive
    /// (every mutant through the whole model), auto
    #[arg(long, default_value = "fast,naive", value_delimiter = ',')]
    pub ism_path: Vec<String>,
    /// the output used as the height: tuple index or dict key (default: the bare tensor)
    #[arg(long)]
    pub height_head: Option<String>,
    /// average each mutant with its reverse complement (the model's `rc`)
    #[arg(long)]
    pub rc: bool,
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
    println!("device\tprecision\toptimized\truntime_convs\tbatch\tmutants\tms_per_peak_median\tms_per_peak_min\tmutants_per_s\tpath");
    let variants: &[bool] = if a.compare_unoptimized { &[true, false] } else { &[true] };
    let paths = a.ism_path.iter().map(|p| IsmPath::parse(p)).collect::<Result<Vec<_>>>()?;
    let mut best: Vec<(&str, f64)> = Vec::new();
    for p in &a.precision {
        let precision = Precision::parse(p)?;
        for (&bs, &optimize) in a.batch_sizes.iter().flat_map(|b| variants.iter().map(move |o| (b, o))) {
            let mut spec = ModelSpec::new("bench", &a.model, a.input_length);
            spec.batch_size = bs;
            spec.optimize = optimize;
            spec.rc = a.rc;
            if let Some(h) = &a.height_head {
                spec.height.head = HeadPath::parse(h)?;
            }
            let mut model = Model::load(spec, device, precision)?;
            if device.is_cuda() {
                tch::Cuda::cudnn_set_benchmark(true);
            }
            for &path in &paths {
                // which path runs, and how many mutants per batch
                let views = model.geometry().views();
                let (label, batch) = match (path, fast_ism::for_model(&mut model).as_ref()) {
                    (IsmPath::Naive, _) | (IsmPath::Auto, Err(_)) => ("naive", model.batch_size() / views),
                    (_, Ok(f)) => ("fast", f.batch_size(views)),
                    (IsmPath::Fast, Err(why)) => anyhow::bail!("no fast ISM for {}: {why}", a.model.display()),
                };
                run_ism_with(&mut model, &plan, &cancel, path, |_, _, _| {})?; // warm-up (cudnn autotune)
                let mut times = Vec::new();
                for _ in 0..a.repeats.max(1) {
                    let t = std::time::Instant::now();
                    let r = run_ism_with(&mut model, &plan, &cancel, path, |_, _, _| {})?;
                    times.push(t.elapsed().as_secs_f64() * 1e3);
                    assert_eq!(r.done, plan.mutants.len());
                }
                times.sort_by(|x, y| x.total_cmp(y));
                let med = times[times.len() / 2];
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{:.2}\t{:.2}\t{:.0}\t{}",
                    device_label(device),
                    precision.label(),
                    model.is_optimized(),
                    model.convs_rewritten(),
                    batch,
                    plan.mutants.len(),
                    med,
                    times[0],
                    plan.mutants.len() as f64 / (med / 1e3),
                    label
                );
                match best.iter_mut().find(|(p, _)| *p == label) {
                    Some((_, b)) => *b = b.min(med),
                    None => best.push((label, med)),
                }
            }
        }
    }
    if let (Some((_, f)), Some((_, n))) = (best.iter().find(|(p, _)| *p == "fast"), best.iter().find(|(p, _)| *p == "naive")) {
        eprintln!("best median ms per peak: fast {f:.1}, naive {n:.1}: fast ISM is {:.2}x the naive speed", n / f);
    }
    Ok(())
}
