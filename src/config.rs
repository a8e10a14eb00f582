//! The project config: one TOML file describing a dataset (genome, tracks, peak set,
//! models). Relative paths resolve against the config file's folder. Unknown keys are
//! errors that name the key and its line.
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    pub genome: GenomeConfig,
    #[serde(default)]
    pub tracks: Vec<TrackConfig>,
    pub peaks: Option<PeaksConfig>,
    #[serde(default)]
    pub models: Vec<ModelConfig>,
    #[serde(default)]
    pub eval: EvalConfig,
    /// candidate variants and allele-specific counts (`peakscope variants`, eval, the UI)
    pub variants: Option<VariantsConfig>,
    #[serde(default)]
    pub ui: UiConfig,
    /// The config file this was read from (not part of the TOML).
    #[serde(skip)]
    pub source: PathBuf,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GenomeConfig {
    /// faidx-indexed FASTA, plain or bgzip
    pub fasta: PathBuf,
    /// optional BED/BED12 with gene names in column 4
    pub genes: Option<PathBuf>,
    /// assembly name for display (e.g. "hg38")
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrackConfig {
    /// cell type / track name; model targets refer to it
    pub name: String,
    pub bigwig: PathBuf,
    /// optional per-track peak calls (BED/narrowPeak/bigBed), used for specificity
    pub peaks: Option<PathBuf>,
    /// optional group (e.g. a lineage): the UI collapses and expands tracks by group
    pub group: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PeaksConfig {
    /// the peak set (BED3+/narrowPeak, gzip allowed, or bigBed)
    pub file: PathBuf,
    /// 1-based column with the cluster label (default 4, the name column)
    #[serde(default = "default_label_column")]
    pub label_column: usize,
    /// labels of the ubiquitous cluster(s); every other label is cell type-specific
    #[serde(default)]
    pub ubiquitous: Vec<String>,
}

fn default_label_column() -> usize {
    4
}

/// Evaluation settings (`peakscope eval`, the TUI's metrics panel).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// measured height = bigWig sum over the central W bp of each peak
    #[serde(default = "default_center_width")]
    pub center_width: u64,
    /// lower edges of specificity bins (number of tracks calling a peak)
    #[serde(default = "default_spec_edges")]
    pub specificity_bins: Vec<u32>,
    /// seed of the peak order shuffle (early snapshots are unbiased estimates)
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// peaks per model request
    #[serde(default = "default_batch_peaks")]
    pub batch_peaks: usize,
    /// held-out (test) chromosomes: the UI's evaluation (`e`) uses only their peaks unless
    /// told otherwise (`:eval`); empty = every chromosome
    #[serde(default)]
    pub chroms: Vec<String>,
    /// the UI's evaluation stops after this many peaks (of the shuffled order); none = all
    pub limit: Option<usize>,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            center_width: default_center_width(),
            specificity_bins: default_spec_edges(),
            seed: default_seed(),
            batch_peaks: default_batch_peaks(),
            chroms: Vec::new(),
            limit: None,
        }
    }
}

/// Settings of the terminal UI.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UiConfig {
    /// memory for the bigWig tile caches of all tracks together, in MB (bytes of tile
    /// data counted, not tiles)
    #[serde(default = "default_tile_cache_mb")]
    pub tile_cache_mb: usize,
    /// folder for the peak index cache (calls, specificity, heights); default: the folder
    /// `.peakscope-index` beside the config, or the user cache folder when that is not
    /// writable
    pub index_dir: Option<PathBuf>,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig { tile_cache_mb: default_tile_cache_mb(), index_dir: None }
    }
}

fn default_tile_cache_mb() -> usize {
    512
}

fn default_center_width() -> u64 {
    192
}
fn default_spec_edges() -> Vec<u32> {
    crate::eval::strata::DEFAULT_SPECIFICITY_EDGES.to_vec()
}
fn default_seed() -> u64 {
    1
}
fn default_batch_peaks() -> usize {
    256
}

/// `[variants]`: a VCF/BCF of variants to score and/or an allelic-imbalance table.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VariantsConfig {
    /// VCF/BCF (plain, bgzip; `.tbi`/`.csi` index for region queries); FORMAT AD of samples
    /// named like tracks gives allelic counts
    pub vcf: Option<PathBuf>,
    /// allelic-imbalance table: `chrom pos ref alt <track>:ref_count <track>:alt_count ...`
    /// (eval reads it instead of the VCF when both are given)
    pub allelic: Option<PathBuf>,
    /// INFO key (VCF) or column (table) marking positive/negative variants
    pub label: Option<String>,
    /// numeric labels (e.g. fine-mapping PIP): at least this is positive
    pub positive_min: Option<f64>,
    /// numeric labels: at most this is negative
    pub negative_max: Option<f64>,
    /// allelic imbalance: sites with fewer reads (ref + alt) in a track are left out of it
    #[serde(default = "default_min_depth")]
    pub min_depth: u32,
    /// longest indel (|len(ALT) - len(REF)|) scored; longer ones are skipped and counted
    #[serde(default = "default_max_indel")]
    pub max_indel: usize,
}

fn default_min_depth() -> u32 {
    10
}
fn default_max_indel() -> usize {
    50
}

impl VariantsConfig {
    /// The file eval reads: the allelic table if given, else the VCF.
    pub fn eval_source(&self) -> Option<&Path> {
        self.allelic.as_deref().or(self.vcf.as_deref())
    }

    /// Reader options for a project with these tracks.
    pub fn options(&self, tracks: &[TrackConfig]) -> crate::genome::variants::VariantOptions {
        crate::genome::variants::VariantOptions {
            tracks: tracks.iter().map(|t| t.name.clone()).collect(),
            label: self.label.clone(),
            positive_min: self.positive_min,
            negative_max: self.negative_max,
            max_indel: self.max_indel,
            ..Default::default()
        }
    }
}

/// How a model's output tensor is laid out (the legacy `output` key; `[models.height]`
/// `layout` is the same type).
pub use crate::model::desc::Layout as OutputLayout;
use crate::model::desc::{Dim, HeadSpec, InputKind, ProfileSpec};

/// A `[models.tracks]` value: one output index or several (averaged).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(usize),
    Many(Vec<usize>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<usize> {
        match self {
            OneOrMany::One(i) => vec![*i],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub name: String,
    /// TorchScript file (torch.jit.trace / torch.jit.script)
    #[serde(default)]
    pub path: PathBuf,
    /// a model set: one TorchScript file per target (e.g. per-cell-type ChromBPNet models),
    /// run as one model; `targets` names them in the same order
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    /// output index -> name (a track name to compare with that track)
    #[serde(default)]
    pub targets: Vec<String>,
    /// a Basenji/Enformer targets_*.txt naming the outputs (index, identifier, description)
    pub targets_file: Option<PathBuf>,
    /// track name -> output index or indices (several are averaged)
    #[serde(default)]
    pub tracks: std::collections::BTreeMap<String, OneOrMany>,
    /// input sequence length in bp
    pub input_length: u32,
    /// input encoding: onehot (N,4,L) | onehot-nlc (N,L,4) | tokens (N,L int64)
    #[serde(default)]
    pub input: InputKind,
    /// further inputs the model's forward takes, filled with zeros: each a shape without the
    /// batch dimension, "L" = the input length (BPNet control tracks: [[2, "L"]])
    #[serde(default)]
    pub extra_inputs: Vec<Vec<Dim>>,
    /// models sharing a group are replicates (e.g. different seeds)
    pub replicate_group: Option<String>,
    /// legacy: layout of a bare tensor output (`[models.height]` layout replaces it)
    pub output: Option<OutputLayout>,
    /// legacy: bp per output bin (`[models.height]` bin_size replaces it)
    pub bin_size: Option<u32>,
    /// the head used for peak-level work (eval, ISM, variants); omitted = the bare tensor
    pub height: Option<HeadSpec>,
    /// optional head drawn as a track along the view
    pub profile: Option<ProfileSpec>,
    /// average with the reverse complement at prediction time
    #[serde(default)]
    pub rc: bool,
    /// also average over shifts of -k..=k bp
    #[serde(default)]
    pub shifts: u32,
    /// sequences per forward pass
    pub batch_size: Option<usize>,
}

impl ModelConfig {
    pub fn target_name(&self, i: usize) -> String {
        self.targets.get(i).cloned().unwrap_or_else(|| format!("t{i}"))
    }

    /// The model's files: `path`, or every file of a model set.
    pub fn files(&self) -> Vec<PathBuf> {
        if self.paths.is_empty() {
            vec![self.path.clone()]
        } else {
            self.paths.clone()
        }
    }

    /// The height head: `[models.height]`, or the legacy `output`/`bin_size` keys.
    pub fn height_spec(&self) -> HeadSpec {
        match &self.height {
            Some(h) => h.clone(),
            None => HeadSpec { layout: self.output.unwrap_or_default(), bin_size: self.bin_size, ..Default::default() },
        }
    }

    /// `[models.tracks]` as (track, output indices).
    pub fn track_map(&self) -> Vec<(String, Vec<usize>)> {
        self.tracks.iter().map(|(k, v)| (k.clone(), v.to_vec())).collect()
    }

    /// Names this model reports that are not tracks of the project (its predictions for
    /// them are compared with nothing).
    pub fn names_without_track(&self, tracks: &[TrackConfig]) -> Vec<String> {
        let names: Vec<String> = if self.tracks.is_empty() { self.targets.clone() } else { self.tracks.keys().cloned().collect() };
        names.into_iter().filter(|n| !tracks.iter().any(|t| &t.name == n)).collect()
    }

    fn validate(&self) -> Result<()> {
        let name = &self.name;
        if self.input_length == 0 {
            bail!("model '{name}': input_length must be > 0");
        }
        match (self.path.as_os_str().is_empty(), self.paths.is_empty()) {
            (true, true) => bail!("model '{name}': give path = \"model.pt\" (or paths = [...] for a model set, one file per target)"),
            (false, false) => bail!("model '{name}': give either path or paths (a model set), not both"),
            _ => {}
        }
        if !self.paths.is_empty() && self.targets.len() != self.paths.len() {
            bail!(
                "model '{name}': a model set needs one target name per file: paths has {} file(s), targets has {} name(s)",
                self.paths.len(),
                self.targets.len()
            );
        }
        if self.height.is_some() && (self.output.is_some() || self.bin_size.is_some()) {
            bail!("model '{name}': output/bin_size are the legacy form of [models.height] layout/bin_size: use one or the other");
        }
        let h = self.height_spec();
        if h.layout.is_binned() && h.bin_size.is_none_or(|b| b == 0) {
            let key = if self.height.is_some() { "[models.height] bin_size" } else { "bin_size" };
            bail!("model '{name}': layout {} needs {key} (bp per output bin, e.g. 128 for Enformer, 32 for Borzoi)", h.layout.label());
        }
        if h.bins == crate::model::desc::BinSelect::Center && !h.layout.is_binned() {
            bail!("model '{name}': bins = \"center\" needs a binned height layout (bins, bins-targets or targets-bins), not {}", h.layout.label());
        }
        if let Some(p) = &self.profile {
            if p.bin_size == Some(0) {
                bail!("model '{name}': [models.profile] bin_size must be > 0");
            }
            if !p.layout.is_binned() {
                bail!("model '{name}': [models.profile] layout must be binned (bins, bins-targets or targets-bins), not scalar");
            }
        }
        if !self.tracks.is_empty() && !self.targets.is_empty() && self.paths.is_empty() {
            bail!("model '{name}': give targets (one name per output) or [models.tracks] (track = output indices), not both");
        }
        if self.targets_file.is_some() && !self.targets.is_empty() {
            bail!("model '{name}': give targets or targets_file, not both");
        }
        if self.batch_size == Some(0) {
            bail!("model '{name}': batch_size must be > 0");
        }
        Ok(())
    }
}

impl ProjectConfig {
    /// Read, parse, resolve paths and validate a config file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| anyhow!("config {}: cannot read it ({e})", path.display()))?;
        let mut cfg = Self::parse(&text).with_context(|| format!("config {}", path.display()))?;
        cfg.source = path.to_path_buf();
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        cfg.resolve_paths(&dir);
        for m in &cfg.models {
            let orphans = m.names_without_track(&cfg.tracks);
            if !orphans.is_empty() && !cfg.tracks.is_empty() {
                tracing::warn!(
                    "config {}: model {} reports {} that no [[tracks]] entry is named after ({}): its predictions for them are compared with nothing",
                    path.display(),
                    m.name,
                    if orphans.len() == 1 { "a target" } else { "targets" },
                    orphans.iter().take(6).cloned().collect::<Vec<_>>().join(", ")
                );
            }
        }
        Ok(cfg)
    }

    /// Parse and validate TOML text (paths left as written).
    pub fn parse(text: &str) -> Result<Self> {
        let cfg: ProjectConfig = toml::from_str(text).map_err(|e| anyhow!("{e}"))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn resolve_paths(&mut self, dir: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        fix(&mut self.genome.fasta);
        if let Some(g) = &mut self.genome.genes {
            fix(g);
        }
        for t in &mut self.tracks {
            fix(&mut t.bigwig);
            if let Some(p) = &mut t.peaks {
                fix(p);
            }
        }
        if let Some(p) = &mut self.peaks {
            fix(&mut p.file);
        }
        if let Some(v) = &mut self.variants {
            v.vcf.iter_mut().chain(v.allelic.iter_mut()).for_each(fix);
        }
        for m in &mut self.models {
            if !m.path.as_os_str().is_empty() {
                fix(&mut m.path);
            }
            m.paths.iter_mut().for_each(fix);
            if let Some(t) = &mut m.targets_file {
                fix(t);
            }
        }
        if let Some(d) = &mut self.ui.index_dir {
            fix(d);
        }
    }

    fn validate(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for t in &self.tracks {
            if t.name.trim().is_empty() {
                bail!("a [[tracks]] entry has an empty name");
            }
            if !seen.insert(t.name.as_str()) {
                bail!("track name '{}' is used twice in [[tracks]]", t.name);
            }
        }
        let mut seen = std::collections::HashSet::new();
        for m in &self.models {
            if !seen.insert(m.name.as_str()) {
                bail!("model name '{}' is used twice in [[models]]", m.name);
            }
            m.validate()?;
        }
        if self.genome.fasta.as_os_str().is_empty() {
            bail!("[genome] fasta is empty: give the path of an indexed FASTA");
        }
        for t in &self.tracks {
            if t.bigwig.as_os_str().is_empty() {
                bail!("track '{}': bigwig is empty: give the path of a bigWig", t.name);
            }
            if t.name.contains(['\t', '\n', '\r']) {
                bail!("track name {:?} contains a tab or line break (it becomes a TSV column name)", t.name);
            }
        }
        if self.eval.center_width == 0 {
            bail!("[eval] center_width must be > 0 (bp centred on each peak whose signal is summed)");
        }
        if self.eval.batch_peaks == 0 {
            bail!("[eval] batch_peaks must be > 0");
        }
        if self.eval.specificity_bins.is_empty() || self.eval.specificity_bins.contains(&0) {
            bail!(
                "[eval] specificity_bins = {:?}: give the lower edges of the bins, each at least 1 (0 is always its own stratum), e.g. [1, 2, 4, 7]",
                self.eval.specificity_bins
            );
        }
        if let Some(v) = &self.variants {
            if v.vcf.is_none() && v.allelic.is_none() {
                bail!("[variants] needs vcf = \"variants.vcf.gz\" and/or allelic = \"allelic.tsv\"");
            }
            if let (Some(p), Some(n)) = (v.positive_min, v.negative_max) {
                if n >= p {
                    bail!("[variants] negative_max ({n}) must be below positive_min ({p})");
                }
            }
        }
        if self.eval.limit == Some(0) {
            bail!("[eval] limit must be > 0 (leave it out to evaluate every peak)");
        }
        if self.ui.tile_cache_mb == 0 {
            bail!("[ui] tile_cache_mb must be > 0 (memory for the bigWig tile caches, in MB)");
        }
        if let Some(p) = &self.peaks {
            if p.label_column == 0 {
                bail!("[peaks] label_column is 1-based (4 = BED name column), got 0");
            }
        }
        Ok(())
    }

    /// Every file this config names (the config itself first): outputs must not overwrite
    /// any of them (see `genome::textio::check_outputs`).
    pub fn input_paths(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = vec![self.source.as_path(), self.genome.fasta.as_path()];
        v.extend(self.genome.genes.as_deref());
        for t in &self.tracks {
            v.push(&t.bigwig);
            v.extend(t.peaks.as_deref());
        }
        v.extend(self.peaks.as_ref().map(|p| p.file.as_path()));
        if let Some(x) = &self.variants {
            v.extend(x.vcf.as_deref());
            v.extend(x.allelic.as_deref());
        }
        v.extend(self.models.iter().map(|m| m.path.as_path()));
        v
    }

    pub fn track_index(&self, name: &str) -> Option<usize> {
        self.tracks.iter().position(|t| t.name == name)
    }

    pub fn model(&self, name: &str) -> Result<&ModelConfig> {
        self.models.iter().find(|m| m.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.models.iter().map(|m| m.name.as_str()).collect();
            anyhow!("no model named '{name}' in {} (models: {})", self.source.display(), names.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
[genome]
fasta = "hg38.fa"
genes = "genes.bed"

[[tracks]]
name = "PT"
bigwig = "PT.bw"
peaks = "PT.narrowPeak"

[[tracks]]
name = "DT"
bigwig = "/abs/DT.bw"

[peaks]
file = "clusters.bed"
label_column = 4
ubiquitous = ["cluster3_Ubiquitous"]

[[models]]
name = "multitask"
path = "mt_rep1.pt"
targets = ["PT", "DT"]
input_length = 1344
replicate_group = "multitask"
"#;

    #[test]
    fn parses_full_example_and_resolves_relative_paths() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("project.toml");
        std::fs::write(&p, FULL).unwrap();
        let c = ProjectConfig::load(&p).unwrap();
        assert_eq!(c.genome.fasta, d.path().join("hg38.fa"));
        assert_eq!(c.tracks[1].bigwig, PathBuf::from("/abs/DT.bw"));
        assert_eq!(c.tracks[0].peaks.as_deref(), Some(d.path().join("PT.narrowPeak").as_path()));
        assert_eq!(c.models[0].height_spec().layout, OutputLayout::Scalar);
        assert_eq!(c.models[0].target_name(1), "DT");
        assert_eq!(c.models[0].target_name(5), "t5");
        assert_eq!(c.track_index("DT"), Some(1));
        assert_eq!(c.peaks.as_ref().unwrap().ubiquitous, vec!["cluster3_Ubiquitous"]);
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let text = FULL.replace("label_column = 4", "label_colum = 4");
        let e = format!("{:#}", ProjectConfig::parse(&text).unwrap_err());
        assert!(e.contains("label_colum"), "{e}");
        assert!(e.contains("line 17"), "{e}");
    }

    #[test]
    fn validation_errors() {
        let dup = FULL.replace("name = \"DT\"", "name = \"PT\"");
        assert!(ProjectConfig::parse(&dup).unwrap_err().to_string().contains("used twice"));
        let binned = FULL.replace("replicate_group = \"multitask\"", "output = \"bins_targets\"");
        assert!(ProjectConfig::parse(&binned).unwrap_err().to_string().contains("bin_size"));
        for (from, to, want) in [
            ("label_column = 4", "label_column = 0", "1-based"),
            ("[peaks]", "[eval]\ncenter_width = 0\n[peaks]", "center_width must be > 0"),
            ("[peaks]", "[eval]\nspecificity_bins = [0, 2]\n[peaks]", "specificity_bins"),
            ("[peaks]", "[eval]\nspecificity_bins = []\n[peaks]", "specificity_bins"),
            ("[peaks]", "[eval]\nbatch_peaks = 0\n[peaks]", "batch_peaks must be > 0"),
            ("fasta = \"hg38.fa\"", "fasta = \"\"", "[genome] fasta is empty"),
            ("bigwig = \"PT.bw\"", "bigwig = \"\"", "bigwig is empty"),
            ("name = \"DT\"", "name = \"D\\tT\"", "tab or line break"),
            ("input_length = 1344", "input_length = -5", "input_length"),
        ] {
            assert!(FULL.contains(from), "{from}");
            let e = format!("{:#}", ProjectConfig::parse(&FULL.replacen(from, to, 1)).unwrap_err());
            assert!(e.contains(want), "{to}: {e}");
        }
        let e = ProjectConfig::load("/nonexistent/p.toml").unwrap_err().to_string();
        assert!(e.contains("/nonexistent/p.toml"), "{e}");
    }

    #[test]
    fn model_descriptions_parse_and_are_validated() {
        let base = "[genome]\nfasta = \"g.fa\"\n[[tracks]]\nname = \"PT\"\nbigwig = \"PT.bw\"\n";
        let enformer = format!(
            "{base}[[models]]\nname = \"enf\"\npath = \"enf.pt\"\ninput_length = 196608\ninput = \"onehot-nlc\"\ntargets_file = \"targets_human.txt\"\n\
             [models.tracks]\nPT = [12, 40]\nDT = 3\n[models.height]\nhead = \"human\"\nlayout = \"bins-targets\"\nbin_size = 128\nbins = \"center\"\n"
        );
        let c = ProjectConfig::parse(&enformer).unwrap();
        let m = &c.models[0];
        assert_eq!(m.input, InputKind::OneHotNlc);
        assert_eq!(m.track_map(), vec![("DT".to_string(), vec![3]), ("PT".to_string(), vec![12, 40])]);
        assert_eq!(m.height_spec().bins, crate::model::desc::BinSelect::Center);
        assert_eq!(m.names_without_track(&c.tracks), vec!["DT".to_string()]);
        let cbp = format!(
            "{base}[[models]]\nname = \"cbp\"\npaths = [\"PT.pt\", \"DT.pt\"]\ntargets = [\"PT\", \"DT\"]\ninput_length = 2114\nextra_inputs = [[2, \"L\"]]\n\
             [models.height]\nhead = 1\ntransform = \"exp\"\n[models.profile]\nhead = 0\ntransform = \"softmax-times-height\"\n"
        );
        let c = ProjectConfig::parse(&cbp).unwrap();
        assert_eq!(c.models[0].files().len(), 2);
        assert_eq!(c.models[0].extra_inputs, vec![vec![Dim::Fixed(2), Dim::Length]]);
        assert_eq!(c.models[0].profile.as_ref().unwrap().layout, OutputLayout::TargetsBins);
        let err = |text: &str| format!("{:#}", ProjectConfig::parse(text).unwrap_err());
        let e = err(&enformer.replace("bin_size = 128\n", ""));
        assert!(e.contains("[models.height] bin_size"), "{e}");
        let e = err(&cbp.replace("targets = [\"PT\", \"DT\"]", "targets = [\"PT\"]"));
        assert!(e.contains("one target name per file"), "{e}");
        let e = err(&cbp.replace("paths = [", "path = \"x.pt\"\npaths = ["));
        assert!(e.contains("not both"), "{e}");
        let e = err(&enformer.replace("input = \"onehot-nlc\"", "input = \"onehot-ncw\""));
        assert!(e.contains("onehot-ncw"), "{e}");
        let e = err(&enformer.replace("input_length = 196608\n", "input_length = 196608\noutput = \"scalar\"\n"));
        assert!(e.contains("legacy"), "{e}");
        let e = err(&enformer.replace("layout = \"bins-targets\"\nbin_size = 128\n", ""));
        assert!(e.contains("bins = \"center\" needs a binned"), "{e}");
    }
}
