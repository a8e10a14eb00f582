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

/// How a model's output tensor is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OutputLayout {
    /// (N, T): one value per target (e.g. peak height)
    #[default]
    Scalar,
    /// (N, B, T): B bins along the sequence, then targets (Enformer-style)
    BinsTargets,
    /// (N, T, B): targets, then bins (ChromBPNet/Basenji-style profile heads)
    TargetsBins,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub name: String,
    /// TorchScript file (torch.jit.trace / torch.jit.script)
    pub path: PathBuf,
    /// output index -> track name; outputs beyond this list are named t<i>
    #[serde(default)]
    pub targets: Vec<String>,
    /// input sequence length in bp
    pub input_length: u32,
    /// models sharing a group are replicates (e.g. different seeds)
    pub replicate_group: Option<String>,
    #[serde(default)]
    pub output: OutputLayout,
    /// bp per output bin for binned layouts
    pub bin_size: Option<u32>,
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
        for m in &mut self.models {
            fix(&mut m.path);
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
            if m.input_length == 0 {
                bail!("model '{}': input_length must be > 0", m.name);
            }
            if m.output != OutputLayout::Scalar && m.bin_size.is_none_or(|b| b == 0) {
                bail!("model '{}': output = {:?} needs bin_size (bp per output bin)", m.name, m.output);
            }
            if m.batch_size == Some(0) {
                bail!("model '{}': batch_size must be > 0", m.name);
            }
        }
        if self.eval.center_width == 0 || self.eval.batch_peaks == 0 {
            bail!("[eval] center_width and batch_peaks must be > 0");
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
        assert_eq!(c.models[0].output, OutputLayout::Scalar);
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
        let e = ProjectConfig::load("/nonexistent/p.toml").unwrap_err().to_string();
        assert!(e.contains("/nonexistent/p.toml"), "{e}");
    }
}
