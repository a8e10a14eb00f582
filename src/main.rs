use clap::Parser;

fn main() {
    let cli = peakscope::cli::Cli::parse();
    peakscope::logging::init(cli.verbose);
    if let Err(e) = peakscope::cli::run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
