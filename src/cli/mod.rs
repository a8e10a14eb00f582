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
fn launch_ui(cfg: crate::config::ProjectConfig, device: tch::Device, session: Option<crate::tui::export::Session>) -> Result<()> {
    match crate::tui::run(cfg, device, session)? {
        crate::tui::Exit::Quit => Ok(()),
        crate::tui::Exit::Signal(sig) => std::process::exit(128 + sig),
    }
}

pub fn run(cli: Cli) -> Result<()> {
    let Some(command) = cli.command else {
        let session = cli.session.as_deref().map(crate::tui::export::Session::load).transpose()?;
        let config = cli.config.or_else(|| session.as_ref().map(|s| PathBuf::from(&s.config)));
        return match config {
            Some(p) => launch_ui(crate::config::ProjectConfig::load(&p)?, crate::model::device::parse_device(&cli.device)?, session),
            None => {
                use clap::CommandFactory;
                Cli::command().print_help()?;
                Ok(())
            }
        };
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
                return launch_ui(crate::config::ProjectConfig::load(&cfg)?, crate::model::device::parse_device("auto")?, None);
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
        Command::Faidx { fasta } => {
            check_outputs(&[Output::file("faidx (the index next to the FASTA)", &PathBuf::from(format!("{}.fai", fasta.display())))], &[&fasta])?;
            crate::genome::fasta::build_index(&fasta)?;
            let fa = crate::genome::Fasta::open(&fasta)?;
            eprintln!("indexed {}: {} sequences", fasta.display(), fa.chroms().len());
            Ok(())
        }
    }
}
