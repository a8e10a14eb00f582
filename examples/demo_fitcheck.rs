//! Diagnostic for the demo's training: train the baseline multi-task CNN for N epochs and
//! print its Pearson correlation on its own training windows per cell type, with its final
//! training loss next to a constant predictor's (a net that cannot beat the constant is
//! not learning). `PEAKSCOPE_DEMO_LR` sets Adam's learning rate (default 2e-3).
//!   cargo run --release --example demo_fitcheck -- 6
use peakscope::demo::{self, train};
use tch::{Kind, Tensor};
fn main() -> anyhow::Result<()> {
    let data = demo::synth::generate(demo::SEED)?;
    let ts = demo::training_set(&data, demo::SEED + 1);
    let epochs: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(12);
    let all: Vec<i64> = (0..8).collect();
    let (_vs, net, loss) = train::train(demo::BASE, &ts, &all, epochs, 1)?;
    let y = &ts.y;
    let ybar = y.mean_dim(0, true, Kind::Float);
    let const_loss = (&ybar - y * ybar.log()).mean(Kind::Float).double_value(&[]);
    let x = ts.x.narrow(2, train::MARGIN, train::INPUT);
    let p = tch::no_grad(|| net.forward_t(&x, false));
    let lp = (p + 1.0).log();
    let ly = (y + 1.0).log();
    for c in 0..8 {
        let a = lp.select(1, c);
        let b = ly.select(1, c);
        let r = Tensor::stack(&[a, b], 0).corrcoef().double_value(&[0, 1]);
        print!("{r:.2} ");
    }
    println!("\nfinal train loss {loss:.1}, constant-predictor loss {const_loss:.1}");
    Ok(())
}
