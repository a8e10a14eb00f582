//! Command-line interface: one clap subcommand per headless capability.
use crate::genome::textio::{check_outputs, Output};
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub mod bench;
pub mod doctor;
pub mod eval_cmd;
pub mod ism_bed;
pub mod merge;
pub mod model_cmds;
pub mod serve;
pub mod summarize;
pub mod tf_activity;
pub mod variants_cmd;

#[derive(Parser, Debug)]
#[command(name = "peakscope", version, about = "Terminal genome explorer for sequence-to-function models", long_about = None, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// project config (TOML) to open in the terminal UI
    pub config: Option<PathBuf>,
    /// device for the UI's predictions: auto | cpu | cuda | cuda:N
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// reopen a session saved with `:w FILE` (locus, model, panel, scale, selection)
    #[arg(long)]
    pub session: Option<PathBuf>,
    /// more detail on standard error (e.g. the fast-ISM prefix, step by step)
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Versions, devices (CPU, CUDA, cuDNN), and a line-by-line check of a project config
    Doctor {
        /// project config (TOML) whose files to check
        config: Option<PathBuf>,
        /// also load each model and run a dummy batch through it
        #[arg(long)]
        models: bool,
    },
    /// Per-region bigWig statistics, like UCSC bigWigAverageOverBed (TSV)
    Summarize(summarize::SummarizeArgs),
    /// Predictions of a TorchScript model: per region (--bed) or tiled over a locus (--region)
    Predict(model_cmds::PredictArgs),
    /// In-silico saturation mutagenesis of a region (every base, every substitution)
    Ism(model_cmds::IsmArgs),
    /// Motif-insertion TF activity: each motif inserted into dinucleotide-shuffled
    /// backgrounds drawn from the project's peaks; mean prediction change per model and track
    TfActivity(tf_activity::TfActivityArgs),
    /// Attributions of a region: gradient × input (--method grad) or ISM (--method ism)
    Attr(tf_activity::AttrArgs),
    /// Probe a model file (input encoding, extra inputs, output structure and shapes,
    /// parameters) and print a [[models]] block that reads it
    InspectModel(model_cmds::InspectArgs),
    /// Write a built-in TorchScript model (paper-size Basset with random weights, or a small
    /// model with known outputs) for tests, benchmarks and trying things out
    MakeModel {
        #[arg(value_enum)]
        kind: ZooModel,
        /// output .pt file
        #[arg(short, long)]
        output: PathBuf,
        /// number of outputs (basset)
        #[arg(long, default_value_t = 10)]
        targets: i64,
        #[arg(long, default_value_t = 1)]
        seed: i64,
        /// input length (count models)
        #[arg(long, default_value_t = 1344)]
        input_length: i64,
    },
    /// Benchmark ISM of one window: ms per peak at each precision and batch size
    BenchIsm(bench::BenchIsmArgs),
    /// Evaluate models on a project's peaks: Pearson/Spearman per cell type and stratum,
    /// over-correlation, replicate spread, AUROC/AUPRC (metrics.json, per-peak TSV, table)
    Eval(eval_cmd::EvalArgs),
    /// Score variants (VCF/BCF or allelic table): REF vs ALT predictions per model and track,
    /// annotated with the peak, cluster and specificity they fall in (long TSV)
    Variants(variants_cmd::VariantsArgs),
    /// Write the demo project (synthetic genome, 8 cell types, trained models) and open the
    /// terminal UI on it (when run in a terminal; otherwise print its config path)
    Demo {
        /// folder for the demo (default: ~/.cache/peakscope/demo-v1)
        #[arg(long)]
        dir: Option<PathBuf>,
        /// only write the files (for scripts and tests)
        #[arg(long)]
        no_tui: bool,
        /// retrain the models from the generated data instead of using the shipped ones
        #[arg(long)]
        rebuild: bool,
        /// regenerate the files even if the folder is complete
        #[arg(long)]
        force: bool,
    },
    /// Combine the outputs of `--shard K/N` runs (eval, predict --bed, ism --bed) into what
    /// one run writes; refuses missing, duplicated, truncated or foreign shards
    Merge(merge::MergeArgs),
    /// Build a .fai index (and .gzi for bgzip) for a FASTA file
    Faidx { fasta: PathBuf },
    /// (internal) the terminal UI's model server: loads the config's models and answers
    /// prediction and ISM requests framed on stdin/stdout
    #[command(hide = true)]
    ServeModels {
        config: PathBuf,
        #[arg(long, default_value = "auto")]
        device: String,
    },
    /// (internal) the terminal UI's evaluation: runs one evaluation and streams progress and
    /// snapshots framed on stdout; a byte or end of file on stdin stops it
    #[command(hide = true)]
    UiEval {
        config: PathBuf,
        #[arg(long, default_value = "auto")]
        device: String,
        /// only peaks on these chromosomes (comma-separated)
        #[arg(long, value_delimiter = ',')]
        chroms: Vec<String>,
        #[arg(long)]
        limit: Option<usize>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ZooModel {
    /// the paper-size Basset variant (1344 bp, ≈5.8 M parameters at 10 targets)
    Basset,
    /// output (N, 4): base counts
    Count,
    /// output (N, B, 4): base counts per 32-bp bin
    BinnedCount,
}

/// Write command output atomically to `path`, or to stdout when there is none.
pub(crate) fn emit(path: Option<&std::path::Path>, f: impl FnOnce(&mut dyn std::io::Write) -> Result<()>) -> Result<()> {
    match path {
        Some(p) => crate::genome::textio::write_atomic(p, f),
        None => {
            use std::io::Write;
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            f(&mut w)?;
            w.flush()?;
            Ok(())
        }
    }
}

/// Run the terminal UI. A terminating signal ends it in order (jobs cancelled, threads
/// joined, terminal restored) and the process exits with 128 + the signal number, as a
/// shell reports a process killed by it (129 SIGHUP, 130 SIGINT, 143 SIGTERM).
fn launch_ui(cfg: crate::config::ProjectConfig, device: &str, session: Option<crate::tui::export::Session>) -> Result<()> {
    match crate::tui::run(cfg, device, session)? {
        crate::tui::Exit::Quit => Ok(()),
        crate::tui::Exit::Signal(sig) => std::process::exit(128 + sig),
    }
}

/// Whether a command needs libtorch (then `peakscope` execs `peakscope-torch` for it).
pub fn needs_torch(cli: &Cli) -> bool {
    match &cli.command {
        None => false,
        Some(Command::Doctor { models, .. }) => *models,
        Some(Command::Summarize(_) | Command::Faidx { .. }) => false,
        Some(_) => true,
    }
}

/// `--device` as the UI takes it: checked for its form here, for CUDA by the model server.
fn check_device_arg(s: &str) -> Result<()> {
    let s = s.trim().to_ascii_lowercase();
    let ok = matches!(s.as_str(), "auto" | "cpu" | "cuda" | "gpu") || s.strip_prefix("cuda:").is_some_and(|n| n.parse::<usize>().is_ok());
    if !ok {
        anyhow::bail!("--device '{s}': expected auto, cpu, cuda or cuda:N");
    }
    Ok(())
}

/// The UI, or clap's help when there is nothing to open.
fn run_ui(cli: Cli) -> Result<()> {
    let session = cli.session.as_deref().map(crate::tui::export::Session::load).transpose()?;
    let config = cli.config.or_else(|| session.as_ref().map(|s| PathBuf::from(&s.config)));
    match config {
        Some(p) => {
            check_device_arg(&cli.device)?;
            launch_ui(crate::config::ProjectConfig::load(&p)?, &cli.device, session)
        }
        None => {
            use clap::CommandFactory;
            Cli::command().print_help()?;
            Ok(())
        }
    }
}

fn exit_on_error(r: Result<()>) {
    if let Err(e) = r {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// `peakscope`: the commands that need no model run here, without libtorch (so they start
/// in milliseconds); the others replace this process with `peakscope-torch` and the same
/// arguments, so exit codes, signals and the terminal are exactly that process's.
pub fn front_main() {
    let cli = Cli::parse();
    crate::logging::init(cli.verbose);
    if !needs_torch(&cli) {
        return exit_on_error(run_light(cli));
    }
    let err = crate::jobs::remote::exec_torch(std::env::args_os().skip(1));
    eprintln!("error: {err:#}");
    std::process::exit(1);
}

/// `peakscope-torch`: every command, libtorch linked.
pub fn torch_main() {
    let cli = Cli::parse();
    crate::logging::init(cli.verbose);
    exit_on_error(run(cli))
}

/// The commands without models (see [`needs_torch`]).
pub fn run_light(cli: Cli) -> Result<()> {
    match cli.command {
        None => run_ui(cli),
        Some(Command::Doctor { config, models: false }) => doctor::run_light(config.as_deref()),
        Some(Command::Summarize(a)) => summarize::run(a),
        Some(Command::Faidx { fasta }) => faidx(&fasta),
        Some(_) => anyhow::bail!("this command runs models: use `peakscope` (it runs `peakscope-torch` for it)"),
    }
}

fn faidx(fasta: &std::path::Path) -> Result<()> {
    check_outputs(&[Output::file("faidx (the index next to the FASTA)", &PathBuf::from(format!("{}.fai", fasta.display())))], &[fasta])?;
    crate::genome::fasta::build_index(fasta)?;
    let fa = crate::genome::Fasta::open(fasta)?;
    eprintln!("indexed {}: {} sequences", fasta.display(), fa.chroms().len());
    Ok(())
}

pub fn run(cli: Cli) -> Result<()> {
    let Some(command) = cli.command else {
        return run_ui(cli);
    };
    match command {
        Command::Doctor { config, models } => doctor::run(config.as_deref(), models),
        Command::Summarize(a) => summarize::run(a),
        Command::BenchIsm(a) => bench::run(a),
        Command::Eval(a) => eval_cmd::run(a),
        Command::Merge(a) => merge::run(a),
        Command::Predict(a) => model_cmds::predict(a),
        Command::Variants(a) => variants_cmd::run(a),
        Command::Ism(a) => model_cmds::ism(a),
        Command::TfActivity(a) => tf_activity::tf_activity(a),
        Command::Attr(a) => tf_activity::attr(a),
        Command::InspectModel(a) => model_cmds::inspect(a),
        Command::MakeModel { kind, output, targets, seed, input_length } => {
            use crate::model::zoo;
            check_outputs(&[Output::file("-o/--output", &output)], &[])?;
            let m = match kind {
                ZooModel::Basset => {
                    let (m, n) = zoo::basset(targets, seed)?;
                    eprintln!("basset: {n} parameters, input 1344 bp, {targets} outputs");
                    m
                }
                ZooModel::Count => zoo::base_count(input_length)?,
                ZooModel::BinnedCount => zoo::binned_count(input_length, 32)?,
            };
            zoo::save(&m, &output)?;
            eprintln!("wrote {}", output.display());
            Ok(())
        }
        Command::Demo { dir, no_tui, rebuild, force } => {
            let dir = dir.unwrap_or_else(crate::demo::default_dir);
            check_outputs(&[Output::dir("--dir", &dir)], &[])?;
            let t = std::time::Instant::now();
            let cfg = crate::demo::prepare(&dir, rebuild, force, &mut |m| eprintln!("{m}"))?;
            use std::io::IsTerminal;
            if !no_tui && std::io::stdout().is_terminal() {
                return launch_ui(crate::config::ProjectConfig::load(&cfg)?, "auto", None);
            }
            println!("{}", cfg.display());
            if !no_tui {
                eprintln!(
                    "demo project ready in {:.1} s: {}\nnext:\n  peakscope doctor {1}\n  peakscope eval --config {1} --chroms chr3 -o metrics.json --per-peak peaks.tsv",
                    t.elapsed().as_secs_f64(),
                    cfg.display()
                );
            }
            Ok(())
        }
        Command::Faidx { fasta } => faidx(&fasta),
        Command::ServeModels { config, device } => serve::serve_models(&crate::config::ProjectConfig::load(&config)?, &device),
        Command::UiEval { config, device, chroms, limit } => {
            serve::serve_eval(&crate::config::ProjectConfig::load(&config)?, &device, (!chroms.is_empty()).then_some(chroms), limit)
        }
    }
}
