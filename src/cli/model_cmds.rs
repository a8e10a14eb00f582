//! `peakscope predict` and `peakscope ism`.
use super::emit;
use crate::config::ProjectConfig;
use crate::genome::locus::{parse_locus, LocusQuery};
use crate::genome::peaks::{read_regions, PeakReadOptions};
use crate::genome::textio::{check_optional_outputs, Output};
use crate::genome::{Fasta, Locus};
use crate::jobs::{ModelEvent, ModelWorker};
use crate::model::desc::{parse_shape, parse_track_map, BinSelect, HeadPath, InputKind, Layout, ProfileSpec, ProfileTransform, Transform};
use crate::model::device::{device_label, parse_device};
use crate::model::engine::{ModelSpec, Precision};
use crate::model::ism::{attributions, IsmPlan};
use crate::model::predict::windows_for_context;
use crate::model::service::{fetch_windows, locus_track, plan_heights};
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
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

/// How to find and run a model: a TorchScript file with flags, or a model of a config. The
/// flags are the `[[models]]` keys; given with a config model they override its settings.
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
    /// input encoding: onehot (N,4,L) | onehot-nlc (N,L,4) | tokens (N,L int64, ACGTN → 01234)
    #[arg(long)]
    pub input: Option<String>,
    /// a further forward() input filled with zeros, shape without the batch (e.g. 2,L for
    /// BPNet control tracks); repeatable
    #[arg(long = "extra-input")]
    pub extra_inputs: Vec<String>,
    /// names of the model's outputs, comma-separated (default t0..tN)
    #[arg(long, value_delimiter = ',')]
    pub targets: Vec<String>,
    /// a Basenji/Enformer targets_*.txt naming the outputs
    #[arg(long)]
    pub targets_file: Option<PathBuf>,
    /// report track NAME as the mean of output indices I,J,... (repeatable)
    #[arg(long = "track")]
    pub tracks: Vec<String>,
    /// legacy: layout of a bare tensor output (same as --height-layout)
    #[arg(long, value_enum)]
    pub output_layout: Option<LayoutArg>,
    /// legacy: bp per output bin (same as --height-bin-size)
    #[arg(long)]
    pub bin_size: Option<u32>,
    /// height head: tuple index, dict key, or a path such as 0/human
    #[arg(long)]
    pub height_head: Option<String>,
    /// height layout: scalar (N,T) | bins (N,B) | bins-targets (N,B,T) | targets-bins (N,T,B)
    #[arg(long)]
    pub height_layout: Option<String>,
    /// height: bp per output bin
    #[arg(long)]
    pub height_bin_size: Option<u32>,
    /// height: all (sum every bin) | center (the bins over the central --center-width bp)
    #[arg(long)]
    pub height_bins: Option<String>,
    /// height transform: none | exp | expm1 | softplus | sigmoid
    #[arg(long)]
    pub height_transform: Option<String>,
    /// profile head (a track along the view): tuple index, dict key or path
    #[arg(long)]
    pub profile_head: Option<String>,
    /// profile layout (default targets-bins)
    #[arg(long)]
    pub profile_layout: Option<String>,
    /// profile: bp per bin (default 1)
    #[arg(long)]
    pub profile_bin_size: Option<u32>,
    /// profile transform: none | exp | expm1 | softplus | sigmoid | softmax-times-height
    #[arg(long)]
    pub profile_transform: Option<String>,
    /// average with the reverse complement
    #[arg(long)]
    pub rc: bool,
    /// also average over shifts of -K..=K bp
    #[arg(long)]
    pub shifts: Option<u32>,
    /// bins = center: the central width in bp (default: the config's [eval] center_width, else 192)
    #[arg(long)]
    pub center_width: Option<u64>,
    #[command(flatten)]
    pub run: RunArgs,
    /// on CUDA, run the module as loaded instead of frozen and optimised for inference
    #[arg(long)]
    pub no_optimize: bool,
}

/// A resolved model: its spec, the FASTA, and the central width for `bins = "center"`.
pub struct Resolved {
    pub spec: ModelSpec,
    pub fasta: PathBuf,
    pub center_width: u64,
}

impl ModelArgs {
    pub fn resolve(&self) -> Result<Resolved> {
        let cfg = self.config.as_deref().map(ProjectConfig::load).transpose()?;
        let looks_like_file = Path::new(&self.model).exists() || self.model.ends_with(".pt") || self.model.contains('/');
        let mut spec = match (&cfg, looks_like_file) {
            (Some(c), false) => ModelSpec::from_config(c.model(&self.model)?),
            _ => {
                let input_length = self.input_length.ok_or_else(|| {
                    anyhow!(
                        "--input-length is required for a model file outside a config (e.g. --input-length 1344; `peakscope inspect-model {}` finds it)",
                        self.model
                    )
                })?;
                let name = Path::new(&self.model).file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| self.model.clone());
                ModelSpec::new(name, &self.model, input_length)
            }
        };
        if let Some(l) = self.input_length {
            spec.input_length = l;
        }
        if let Some(k) = &self.input {
            spec.input = InputKind::parse(k)?;
        }
        if !self.extra_inputs.is_empty() {
            spec.extra_inputs = self.extra_inputs.iter().map(|s| parse_shape(s)).collect::<Result<_>>()?;
        }
        if !self.targets.is_empty() {
            spec.targets = self.targets.clone();
        }
        if let Some(f) = &self.targets_file {
            spec.targets_file = Some(f.clone());
        }
        if !self.tracks.is_empty() {
            spec.tracks = self.tracks.iter().map(|s| parse_track_map(s)).collect::<Result<_>>()?;
        }
        // height: new flags, or the legacy pair
        if let Some(l) = self.output_layout {
            if self.height_layout.is_some() {
                bail!("give --height-layout or the legacy --output-layout, not both");
            }
            spec.height.layout = match l {
                LayoutArg::Scalar => Layout::Scalar,
                LayoutArg::BinsTargets => Layout::BinsTargets,
                LayoutArg::TargetsBins => Layout::TargetsBins,
            };
        }
        if let Some(h) = &self.height_head {
            spec.height.head = HeadPath::parse(h)?;
        }
        if let Some(l) = &self.height_layout {
            spec.height.layout = Layout::parse(l)?;
        }
        if let Some(b) = self.height_bin_size.or(self.bin_size) {
            spec.height.bin_size = Some(b);
        }
        if let Some(b) = &self.height_bins {
            spec.height.bins = BinSelect::parse(b)?;
        }
        if let Some(t) = &self.height_transform {
            spec.height.transform = Transform::parse(t)?;
        }
        if self.profile_head.is_some() || self.profile_layout.is_some() || self.profile_transform.is_some() || self.profile_bin_size.is_some() {
            let mut p = spec.profile.clone().unwrap_or(ProfileSpec {
                head: HeadPath::default(),
                layout: Layout::TargetsBins,
                bin_size: None,
                transform: ProfileTransform::Elementwise(Transform::None),
            });
            if let Some(h) = &self.profile_head {
                p.head = HeadPath::parse(h)?;
            }
            if let Some(l) = &self.profile_layout {
                p.layout = Layout::parse(l)?;
            }
            if let Some(b) = self.profile_bin_size {
                p.bin_size = Some(b);
            }
            if let Some(t) = &self.profile_transform {
                p.transform = ProfileTransform::parse(t)?;
            }
            if !p.layout.is_binned() {
                bail!("--profile-layout must be binned (bins, bins-targets or targets-bins)");
            }
            spec.profile = Some(p);
        }
        if spec.height.layout.is_binned() && spec.height.bin_size.is_none_or(|b| b == 0) {
            bail!("a binned height layout ({}) needs --height-bin-size (bp per output bin)", spec.height.layout.label());
        }
        if spec.height.bins == BinSelect::Center && !spec.height.layout.is_binned() {
            bail!("--height-bins center needs a binned height layout (--height-layout bins, bins-targets or targets-bins)");
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
        let center_width = self.center_width.or(cfg.as_ref().map(|c| c.eval.center_width)).unwrap_or(192).max(1);
        Ok(Resolved { spec, fasta, center_width })
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
    let r = a.model.resolve()?;
    let fasta = Fasta::open(&r.fasta)?;
    if a.bed.is_none() && a.region.is_none() {
        bail!("give --bed REGIONS or --region chr:start-end");
    }
    let worker = a.model.start(r.spec)?;
    let info = worker.models[0].clone();
    let g = info.geometry;
    eprintln!(
        "model {}: {} output(s), {} bin(s), input {} bp, device {}",
        info.spec.name,
        info.n_targets,
        info.n_bins,
        info.spec.input_length,
        device_label(worker.device)
    );
    if let Some(bed) = &a.bed {
        let peaks = read_regions(bed, &PeakReadOptions::default())?;
        let loci: Vec<Locus> = peaks.iter().map(|p| Locus::new(p.chrom.clone(), p.start, p.end)).collect();
        let plan = plan_heights(&g, &loci, r.center_width)?;
        // N content is judged on each region's own centred window (the windows themselves,
        // unless regions share long windows)
        let centred = windows_for_context(&fasta, &loci, g.context_length(), a.max_n)?;
        let seqs = if plan.grouped { fetch_windows(&fasta, &plan.windows, g.context_length())? } else { centred };
        let out = worker.heights(0, seqs, plan.queries.clone())?;
        if plan.grouped {
            eprintln!(
                "{} region(s) served by {} window(s) (bins = center, central {} bp): {} forward pass(es) avoided",
                loci.len(),
                plan.windows.len(),
                r.center_width,
                loci.len().saturating_sub(plan.windows.len()) * g.views()
            );
        }
        if out.non_finite > 0 {
            eprintln!("warning: {} predicted value(s) were NaN or infinite", out.non_finite);
        }
        return emit(a.output.as_deref(), |w| {
            write!(w, "chrom\tstart\tend\tname")?;
            for t in &info.target_names {
                write!(w, "\t{t}")?;
            }
            writeln!(w)?;
            for (p, v) in peaks.iter().zip(&out.values) {
                write!(w, "{}\t{}\t{}\t{}", p.chrom, p.start, p.end, p.display_name())?;
                for x in v {
                    write!(w, "\t{x}")?;
                }
                writeln!(w)?;
            }
            Ok(())
        });
    }
    let region = resolve_locus(&fasta, a.region.as_deref().unwrap_or_default())?;
    let rows = locus_track(&fasta, &g, &region, a.step, |seqs, profile| if profile { worker.profiles(0, seqs) } else { worker.predict(0, seqs) })?;
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
    let r = a.model.resolve()?;
    let fasta = Fasta::open(&r.fasta)?;
    let region = resolve_locus(&fasta, &a.region)?;
    let mut plan = IsmPlan::new(&fasta, &region, r.spec.context_length())?;
    if r.spec.height.bins == BinSelect::Center {
        plan = plan.with_center_width(r.center_width);
    }
    let plan = Arc::new(plan);
    let worker = a.model.start(r.spec)?;
    let info = worker.models[0].clone();
    let cancel = Arc::new(AtomicBool::new(false));
    let t0 = std::time::Instant::now();
    let (_, events) = worker.ism(0, plan.clone(), cancel)?;
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
            _ => {}
        }
    }
    pb.finish_and_clear();
    let res = result.ok_or_else(|| anyhow!("the model worker stopped before ISM finished"))?;
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "ism {}: {} mutants × {} output(s) in {:.2} s ({:.0} mutants/s) on {}{}",
        region.display(),
        res.done,
        info.n_targets,
        secs,
        res.done as f64 / secs,
        device_label(worker.device),
        match (info.spec.rc, info.spec.shifts) {
            (false, 0) => String::new(),
            (rc, k) => format!(
                " (averaged over {}{})",
                if rc { "both strands" } else { "one strand" },
                if k > 0 { format!(" and shifts ±{k}") } else { String::new() }
            ),
        }
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
                    let (rp, d) = (res.ref_height[t], res.delta_f64(m, t));
                    writeln!(w, "{pos}\t{r}\t{alt}\t{name}\t{rp}\t{}\t{d}", rp + d)?;
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

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// the TorchScript file to probe
    pub model: PathBuf,
    /// input length to probe at (default: try common lengths, small first)
    #[arg(long)]
    pub input_length: Option<usize>,
    /// the name in the printed [[models]] block (default: the file stem)
    #[arg(long)]
    pub name: Option<String>,
}

/// `peakscope inspect-model`: the probe report as TOML comments, then a [[models]] block.
pub fn inspect(a: InspectArgs) -> Result<()> {
    let probe = crate::model::inspect::probe(&a.model, a.input_length)?;
    let name = a.name.unwrap_or_else(|| a.model.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| "model".into()));
    let mut out = String::new();
    for line in probe.report().lines() {
        out.push_str(&format!("# {line}\n"));
    }
    out.push_str(&probe.toml_block(&name));
    print!("{out}");
    Ok(())
}
