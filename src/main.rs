//! `peakscope`: starts without libtorch; see `peakscope::cli::front_main`.
fn main() {
    peakscope::cli::front_main()
}
