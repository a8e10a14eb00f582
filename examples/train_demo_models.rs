//! Regenerate the demo's shipped models (assets/demo/*.pt) from the deterministic dataset:
//!   cargo run --release --example train_demo_models [OUT_DIR] [EPOCHS]
//! `peakscope demo --rebuild` does the same into the demo folder.
fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let out = std::path::PathBuf::from(args.get(1).map(String::as_str).unwrap_or("assets/demo"));
    let epochs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(peakscope::demo::EPOCHS);
    let t = std::time::Instant::now();
    let data = peakscope::demo::synth::generate(peakscope::demo::SEED)?;
    eprintln!("dataset: {} peaks in {:.1} s", data.peaks.len(), t.elapsed().as_secs_f64());
    let files = peakscope::demo::train_models(&data, &out, epochs, &mut |m| eprintln!("{m}"))?;
    for f in files {
        eprintln!("wrote {} ({} KB)", f.display(), std::fs::metadata(&f)?.len() / 1024);
    }
    Ok(())
}
