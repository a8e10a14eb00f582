//! `peakscope variants`: REF and ALT predictions of every variant of a VCF/BCF (or allelic
//! table) for every model and track, in long format, streamed and written atomically.
use crate::config::ProjectConfig;
use crate::genome::textio::{check_optional_outputs, Output};
use crate::genome::Fasta;
use crate::jobs::variants::{check_chroms, score_file, start_models, Annotator, ScoreOptions, ScoreSummary, Scored};
use crate::jobs::ModelInfo;
use crate::model::device::device_label;
use crate::model::variant_effect::effect;
use anyhow::{anyhow, bail, Result};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct VariantsArgs {
    /// project config (TOML): FASTA, models, peaks (for annotation), [variants]
    #[arg(long)]
    pub config: PathBuf,
    /// models to score with (repeatable; default: all in the config)
    #[arg(long = "model")]
    pub models: Vec<String>,
    /// VCF/BCF (plain, bgzip) or allelic table to score (default: [variants] vcf, else allelic)
    #[arg(long)]
    pub vcf: Option<PathBuf>,
    /// scores TSV (atomic); stdout when absent
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// only variants on these chromosomes (aliases match)
    #[arg(long, value_delimiter = ',')]
    pub chroms: Option<Vec<String>>,
    /// at most N variants (the first N that pass the checks; N >= 1)
    #[arg(long)]
    pub limit: Option<usize>,
    /// variants per model request (REF and ALT windows of a variant go together)
    #[arg(long, default_value_t = 512)]
    pub chunk: usize,
    /// how the ALT allele of an SNV runs. auto: its REF window's activations are reused and
    /// only what the changed base can reach is recomputed, when the model's graph allows it
    /// (as fast ISM), else the whole model; fast: fail if the model has no such path; naive:
    /// every ALT window through the whole model. Same numbers to float32 rounding
    #[arg(long, default_value = "auto")]
    pub alt_path: String,
    #[command(flatten)]
    pub run: super::model_cmds::RunArgs,
}

pub const COLUMNS: [&str; 14] =
    ["chrom", "pos", "ref", "alt", "model", "track", "ref_pred", "alt_pred", "sad", "log2fc", "peak", "cluster", "stratum", "specificity"];

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "nan".into()
    }
}

/// One row per variant × model × output.
pub fn write_rows(w: &mut dyn Write, chunk: &[Scored], models: &[ModelInfo]) -> Result<()> {
    for s in chunk {
        let v = &s.variant;
        let a = &s.annotation;
        let na = |x: &Option<String>| x.clone().unwrap_or_else(|| "NA".into());
        let spec = a.specificity.map(|x| x.to_string()).unwrap_or_else(|| "NA".into());
        let (r, al) = (String::from_utf8_lossy(&v.ref_allele), String::from_utf8_lossy(&v.alt));
        for (mi, m) in models.iter().enumerate() {
            for (o, name) in m.target_names.iter().enumerate() {
                let (rp, ap) = (s.ref_pred[mi][o], s.alt_pred[mi][o]);
                let (sad, lfc) = effect(rp, ap);
                writeln!(
                    w,
                    "{}\t{}\t{r}\t{al}\t{}\t{name}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{spec}",
                    v.chrom,
                    v.pos,
                    m.spec.name,
                    num(rp),
                    num(ap),
                    num(sad),
                    num(lfc),
                    na(&a.peak),
                    na(&a.cluster),
                    na(&a.stratum)
                )?;
            }
        }
    }
    Ok(())
}

/// The summary line (it always names the REF mismatch count) and the first skipped records.
pub fn report_summary(s: &ScoreSummary, n_models: usize, device: &str) {
    eprintln!(
        "variants: scored {} of {} allele(s) read × {n_models} model(s) in {:.1} s ({:.0} variants/s, model {:.0}%) on {device}; {}",
        s.scored,
        s.alleles_read,
        s.seconds,
        s.scored as f64 / s.seconds.max(1e-9),
        100.0 * s.model_seconds / s.seconds.max(1e-9),
        s.skipped.summary()
    );
    for e in &s.skipped.examples {
        eprintln!("  skipped: {e}");
    }
    if s.non_finite > 0 {
        eprintln!("warning: {} predicted value(s) were NaN or infinite", s.non_finite);
    }
}

pub fn run(a: VariantsArgs) -> Result<()> {
    crate::model::fast_ism::set_alt_path(crate::model::fast_ism::IsmPath::parse(&a.alt_path).map_err(|e| anyhow!("--alt-path: {e}"))?);
    let cancel = super::eval_cmd::interrupt_handler();
    if a.limit == Some(0) {
        bail!("--limit 0 would score no variant: give the number of variants (at least 1), or leave it out for all");
    }
    if a.chunk == 0 {
        bail!("--chunk must be > 0");
    }
    let cfg = ProjectConfig::load(&a.config)?;
    let source = match (&a.vcf, &cfg.variants) {
        (Some(v), _) => v.clone(),
        (None, Some(v)) => v.vcf.clone().or_else(|| v.allelic.clone()).ok_or_else(|| anyhow!("[variants] names no file"))?,
        (None, None) => bail!("give --vcf VARIANTS.vcf.gz, or a [variants] section with vcf = \"...\" in {}", a.config.display()),
    };
    let mut inputs = cfg.input_paths();
    inputs.push(&source);
    check_optional_outputs([Output::file_opt("-o/--output", a.output.as_deref())], &inputs)?;
    let fasta = Fasta::open(&cfg.genome.fasta)?;
    check_chroms(&fasta, a.chroms.as_deref())?;
    // the file opens (and its header parses) before models load
    crate::genome::variants::VariantReader::open(&source, &fasta, crate::jobs::variants::reader_options(&cfg, &[], a.chroms.as_deref()))?;
    let annotator = Annotator::new(&cfg)?;
    let device = a.run.device()?;
    let worker = start_models(&cfg, &a.models, device, a.run.precision()?, a.run.batch_size)?;
    let opts = ScoreOptions {
        models: a.models.clone(),
        chroms: a.chroms.clone(),
        limit: a.limit,
        device,
        precision: a.run.precision()?,
        batch_size: a.run.batch_size,
        chunk: a.chunk,
    };
    let pb = indicatif::ProgressBar::new_spinner()
        .with_style(indicatif::ProgressStyle::with_template("variants {spinner} {pos} scored {per_sec} {elapsed}").unwrap());
    let models = worker.models.clone();
    super::emit(a.output.as_deref(), |w| {
        writeln!(w, "{}", COLUMNS.join("\t"))?;
        let s = score_file(&cfg, &source, &worker, &fasta, &annotator, &opts, &cancel, |chunk| write_rows(w, chunk, &models), |n| pb.set_position(n as u64))?;
        pb.finish_and_clear();
        report_summary(&s, models.len(), &device_label(device));
        if s.cancelled {
            bail!("interrupted after {} variants: nothing written", s.scored);
        }
        if s.scored == 0 {
            bail!("no variant of {} was scored, nothing written ({})", source.display(), s.skipped.summary());
        }
        Ok(())
    })?;
    if let Some(p) = &a.output {
        eprintln!("wrote {}", p.display());
    }
    Ok(())
}
