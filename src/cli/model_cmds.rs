//! `peakscope predict` and `peakscope ism`.
use super::emit;
use crate::config::{OutputLayout, ProjectConfig};
use crate::genome::locus::{parse_locus, LocusQuery};
use crate::genome::peaks::{read_regions, PeakReadOptions};
use crate::genome::textio::{check_optional_outputs, Output};
use crate::genome::{Fasta, Locus};
use crate::jobs::{ModelEvent, ModelWorker};
use crate::model::device::{device_label, parse_device};
use crate::model::engine::{ModelSpec, Precision};
use crate::model::ism::{attributions, IsmPlan};
use crate::model::predict::{predict_locus_with, windows_for_context};
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LayoutArg {
    Scalar,
    BinsTargets,
    TargetsBins,
}

/// Where and how models run; shared by the model and eval commands.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// auto | cpu | cuda | cuda:N
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// fp32 (strict) | tf32 | fp16 | bf16 (all but fp32 need CUDA)
    #[arg(long, default_value = "fp32")]
    pub precision: String,
    /// sequences per forward pass (halved automatically on CUDA out-of-memory)
    #[arg(long)]
    pub batch_size: Option<usize>,
}

impl RunArgs {
    pub fn device(&self) -> Result<tch::Device> {
        parse_device(&self.device)
    }

    pub fn precision(&self) -> Result<Precision> {
        Precision::parse(&self.precision)
    }
}

/// How to find and run a model: a TorchScript file with flags, or a model of a config.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// TorchScript file, or a model name from --config
    #[arg(long)]
    pub model: String,
    /// project config: supplies the FASTA and, for a model name, its settings
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// indexed reference FASTA (default: the config's)
    #[arg(long)]
    pub fasta: Option<PathBuf>,
    /// model input length in bp (required for a bare model file)
    #[arg(long)]
    pub input_length: Option<usize>,
    /// names of the model's outputs, comma-separated (default t0..tN)
    #[arg(long, value_delimiter = ',')]
    pub targets: Vec<String>,
    /// output layout of a bare model file
    #[arg(long, value_enum, default_value = "scalar")]
    pub output_layout: LayoutArg,
    /// bp per output bin (binned layouts)
    #[arg(long)]
    pub bin_size: Option<u32>,
    /// average with the reverse complement
    #[arg(long)]
    pub rc: bool,
    /// also average over shifts of -K..=K bp
    #[arg(long)]
    pub shifts: Option<u32>,
    #[command(flatten)]
    pub run: RunArgs,
    /// on CUDA, run the module as loaded instead of frozen and optimised for inference
    #[arg(long)]
    pub no_optimize: bool,
}

impl ModelArgs {
    pub fn resolve(&self) -> Result<(ModelSpec, PathBuf)> {
        let cfg = self.config.as_deref().map(ProjectConfig::load).transpose()?;
        let looks_like_file = Path::new(&self.model).exists() || self.model.ends_with(".pt") || self.model.contains('/');
        let mut spec = match (&cfg, looks_like_file) {
            (Some(c), false) => ModelSpec::from_config(c.model(&self.model)?),
            _ => {
                let input_length =
                    self.input_length.ok_or_else(|| anyhow!("--input-length is required for a model file outside a config (e.g. --input-length 1344)"))?;
                ModelSpec {
                    name: Path::new(&self.model).file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| self.model.clone()),
                    path: PathBuf::from(&self.model),
                    input_length,
                    targets: vec![],
                    layout: match self.output_layout {
                        LayoutArg::Scalar => OutputLayout::Scalar,
                        LayoutArg::BinsTargets => OutputLayout::BinsTargets,
                        LayoutArg::TargetsBins => OutputLayout::TargetsBins,
                    },
                    bin_size: self.bin_size,
                    rc: false,
                    shifts: 0,
                    batch_size: 64,
                    replicate_group: None,
                    optimize: true,
                }
            }
        };
        if spec.layout != OutputLayout::Scalar && spec.bin_size.is_none() {
            bail!("a binned output layout needs --bin-size");
        }
        if let Some(l) = self.input_length {
            spec.input_length = l;
        }
        if !self.targets.is_empty() {
            spec.targets = self.targets.clone();
        }
        spec.rc |= self.rc;
        if let Some(k) = self.shifts {
            spec.shifts = k;
        }
        spec.optimize &= !self.no_optimize;
        if let Some(b) = self.run.batch_size {
            if b == 0 {
                bail!("--batch-size must be > 0");
            }
            spec.batch_size = b;
        }
        let fasta = match (&self.fasta, &cfg) {
            (Some(f), _) => f.clone(),
            (None, Some(c)) => c.genome.fasta.clone(),
            (None, None) => bail!("--fasta is required (or --config with a [genome] fasta)"),
        };
        Ok((spec, fasta))
    }

    pub fn start(&self, spec: ModelSpec) -> Result<ModelWorker> {
        let device = self.run.device()?;
        let precision = self.run.precision()?;
        ModelWorker::spawn(vec![spec], device, precision)
    }
}

/// Resolve a locus string against a FASTA (alias-aware); points become one base.
pub fn resolve_locus(fasta: &Fasta, text: &str) -> Result<Locus> {
    match parse_locus(text)? {
        LocusQuery::Range(l) => {
            let (name, _) = fasta.resolve(&l.chrom)?;
            Ok(Locus::new(name, l.start, l.end))
        }
        LocusQuery::Point { chrom, pos } => {
            let (name, _) = fasta.resolve(&chrom)?;
            Ok(Locus::new(name, pos, pos + 1))
        }
        LocusQuery::Word(w) => {
            let (name, len) = fasta.resolve(&w)?;
            Ok(Locus::new(name, 0, len))
        }
    }
}

#[derive(Args, Debug)]
pub struct PredictArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// regions: one window centred on each (BED3+/narrowPeak/bigBed)
    #[arg(long, conflicts_with = "region")]
    pub bed: Option<PathBuf>,
    /// a locus (chr:start-end, 1-based) to tile with windows
    #[arg(long)]
    pub region: Option<String>,
    /// with --region and a per-sequence model: bp between window centres
    #[arg(long, default_value_t = 50)]
    pub step: u64,
    /// with --region: write one bigWig per target into this folder
    #[arg(long)]
    pub bigwig_out: Option<PathBuf>,
    /// refuse windows with a larger fraction of N
    #[arg(long, default_value_t = 0.5)]
    pub max_n: f64,
    /// output TSV (atomic); stdout when absent
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

fn fmt(x: f32) -> String {
    format!("{x}")
}

pub fn predict(a: PredictArgs) -> Result<()> {
    let bed: Vec<&Path> = a.bed.iter().map(|p| p.as_path()).collect();
    check_optional_outputs([Output::file_opt("-o/--output", a.output.as_deref()), Output::dir_opt("--bigwig-out", a.bigwig_out.as_deref())], &bed)?;
    let (spec, fasta_path) = a.model.resolve()?;
    let fasta = Fasta::open(&fasta_path)?;
    if a.bed.is_none() && a.region.is_none() {
        bail!("give --bed REGIONS or --region chr:start-end");
    }
    let worker = a.model.start(spec)?;
    let info = worker.models[0].clone();
    eprintln!(
        "model {}: {} target(s), {} bin(s), input {} bp, device {}",
        info.spec.name,
        info.n_targets,
        info.n_bins,
        info.spec.input_length,
        device_label(worker.device)
    );
    if let Some(bed) = &a.bed {
        let peaks = read_regions(bed, &PeakReadOptions::default())?;
        let loci: Vec<Locus> = peaks.iter().map(|p| Locus::new(p.chrom.clone(), p.start, p.end)).collect();
        let seqs = windows_for_context(&fasta, &loci, info.spec.context_length(), a.max_n)?;
        let pred = worker.predict(0, seqs)?;
        let out = |w: &mut dyn Write| -> Result<()> {
            write!(w, "chrom\tstart\tend\tname")?;
            for t in &info.target_names {
                write!(w, "\t{t}")?;
            }
            writeln!(w)?;
            for (k, p) in peaks.iter().enumerate() {
                write!(w, "{}\t{}\t{}\t{}", p.chrom, p.start, p.end, p.display_name())?;
                for t in 0..info.n_targets {
                    // binned models: total over the output bins
                    let v: f32 = (0..info.n_bins).map(|b| pred[[k, b, t]]).sum();
                    write!(w, "\t{}", fmt(v))?;
                }
                writeln!(w)?;
            }
            Ok(())
        };
        return emit(a.output.as_deref(), out);
    }
    let region = resolve_locus(&fasta, a.region.as_deref().unwrap_or_default())?;
    let rows = predict_locus_with(&fasta, &region, a.step, info.n_bins, info.spec.bin_size, info.spec.context_length(), |seqs| worker.predict(0, seqs))?;
    if let Some(dir) = &a.bigwig_out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let sizes: Vec<(String, u32)> = fasta.chroms().iter().map(|(n, l)| (n.to_string(), l as u32)).collect();
        for (t, name) in info.target_names.iter().enumerate() {
            let path = dir.join(format!("{}.{}.bw", info.spec.name, sanitize(name)));
            let tmp = dir.join(format!(".{}.{}.bw.tmp", info.spec.name, sanitize(name)));
            let recs = rows.iter().map(|(s, e, v)| (region.chrom.clone(), bigtools::Value { start: *s as u32, end: *e as u32, value: v[t] })).collect();
            crate::genome::bigwig::write_bigwig(&tmp, &sizes, recs)?;
            std::fs::rename(&tmp, &path)?;
            eprintln!("wrote {}", path.display());
        }
        return Ok(());
    }
    emit(a.output.as_deref(), |w| {
        write!(w, "chrom\tstart\tend")?;
        for t in &info.target_names {
            write!(w, "\t{t}")?;
        }
        writeln!(w)?;
        for (s, e, v) in &rows {
            write!(w, "{}\t{s}\t{e}", region.chrom)?;
            for x in v {
                write!(w, "\t{}", fmt(*x))?;
            }
            writeln!(w)?;
        }
        Ok(())
    })
}

fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum IsmFormat {
    /// one row per (position, alt, target): pos ref alt target ref_pred alt_pred delta
    Deltas,
    /// one row per (position, target): pos ref target attr
    Attr,
}

#[derive(Args, Debug)]
pub struct IsmArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// region to mutate (chr:start-end, 1-based inclusive), inside the model window
    #[arg(long)]
    pub region: String,
    #[arg(long, value_enum, default_value = "deltas")]
    pub format: IsmFormat,
    /// output TSV (atomic); stdout when absent
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

pub fn ism(a: IsmArgs) -> Result<()> {
    check_optional_outputs([Output::file_opt("-o/--output", a.output.as_deref())], &[])?;
    parse_locus(&a.region)?; // syntax errors before any file is opened
    let (spec, fasta_path) = a.model.resolve()?;
    if spec.shifts > 0 {
        bail!("ISM does not average over shifts (--shifts); use --rc for strand averaging");
    }
    let fasta = Fasta::open(&fasta_path)?;
    let region = resolve_locus(&fasta, &a.region)?;
    let plan = Arc::new(IsmPlan::new(&fasta, &region, spec.input_length)?);
    let rc = spec.rc;
    let worker = a.model.start(spec)?;
    let info = worker.models[0].clone();
    let cancel = Arc::new(AtomicBool::new(false));
    let t0 = std::time::Instant::now();
    let (_, events) = worker.ism(0, plan.clone(), rc, cancel)?;
    let total = plan.mutants.len() as u64;
    let pb = if total >= 2000 {
        indicatif::ProgressBar::new(total).with_style(indicatif::ProgressStyle::with_template("ism {bar:30} {pos}/{len} mutants {per_sec} eta {eta}").unwrap())
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut result = None;
    for ev in events {
        match ev {
            ModelEvent::IsmChunk { preds, .. } => pb.inc((preds.len() / info.n_targets.max(1)) as u64),
            ModelEvent::IsmDone { result: r, .. } => {
                result = Some(r.map_err(|e| anyhow!(e))?);
                break;
            }
            ModelEvent::Predicted { .. } => {}
        }
    }
    pb.finish_and_clear();
    let res = result.ok_or_else(|| anyhow!("the model worker stopped before ISM finished"))?;
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "ism {}: {} mutants × {} target(s) in {:.2} s ({:.0} mutants/s) on {}",
        region.display(),
        res.done,
        info.n_targets,
        secs,
        res.done as f64 / secs,
        device_label(worker.device)
    );
    let names = info.target_names.clone();
    match a.format {
        IsmFormat::Deltas => emit(a.output.as_deref(), |w| {
            writeln!(w, "pos\tref\talt\ttarget\tref_pred\talt_pred\tdelta")?;
            for (m, &(p, alt)) in plan.mutants.iter().enumerate().filter(|(m, _)| res.computed[*m]) {
                let pos = plan.genomic_pos(p);
                let r = plan.ref_base(p) as char;
                let alt = IsmPlan::alt_base(alt) as char;
                for (t, name) in names.iter().enumerate() {
                    let (rp, ap) = (res.ref_pred[t], res.alt_pred[m * res.n_targets + t]);
                    writeln!(w, "{pos}\t{r}\t{alt}\t{name}\t{rp}\t{ap}\t{}", ap - rp)?;
                }
            }
            Ok(())
        }),
        IsmFormat::Attr => emit(a.output.as_deref(), |w| {
            writeln!(w, "pos\tref\ttarget\tattr")?;
            for (p, t, v) in attributions(&plan, &res) {
                writeln!(w, "{}\t{}\t{}\t{v}", plan.genomic_pos(p), plan.ref_base(p) as char, names[t])?;
            }
            Ok(())
        }),
    }
}
