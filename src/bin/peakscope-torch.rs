//! `peakscope-torch`: the commands that run models (libtorch linked). Users run `peakscope`,
//! which execs this binary for them; see `peakscope::cli::torch_main`.
fn main() {
    peakscope::cli::torch_main()
}
