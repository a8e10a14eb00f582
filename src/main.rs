use clap::Parser;

fn main() {
    peakscope::logging::init(false);
    let cli = peakscope::cli::Cli::parse();
    if let Err(e) = peakscope::cli::run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
