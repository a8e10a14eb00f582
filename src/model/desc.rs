//! How a model is described: its input encoding, extra inputs, which output heads it uses
//! and how to read them, and how its outputs map to project tracks. Shared by the project
//! config (`[[models]]`, `[models.height]`, `[models.profile]`) and the CLI flags for bare
//! model files (`--input`, `--height-head`, ...).
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// How a sequence is fed to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum InputKind {
    /// (N, 4, L) float one-hot, channels A C G T (N and IUPAC codes: all zero)
    #[default]
    #[serde(rename = "onehot", alias = "one-hot", alias = "onehot-ncl")]
    OneHot,
    /// (N, L, 4) float one-hot, channels last (Enformer, Keras ports)
    #[serde(rename = "onehot-nlc", alias = "onehot_nlc", alias = "one-hot-nlc")]
    OneHotNlc,
    /// (N, L) int64 tokens A C G T N → 0 1 2 3 4 (enformer-pytorch's `seq_indices`)
    #[serde(rename = "tokens")]
    Tokens,
}

impl InputKind {
    pub const ALL: [InputKind; 3] = [InputKind::OneHot, InputKind::OneHotNlc, InputKind::Tokens];

    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "onehot" | "one-hot" | "onehot-ncl" => Ok(InputKind::OneHot),
            "onehot-nlc" | "one-hot-nlc" => Ok(InputKind::OneHotNlc),
            "tokens" => Ok(InputKind::Tokens),
            _ => bail!("input '{s}': expected onehot (N,4,L), onehot-nlc (N,L,4) or tokens (N,L int64, ACGTN → 01234)"),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            InputKind::OneHot => "onehot",
            InputKind::OneHotNlc => "onehot-nlc",
            InputKind::Tokens => "tokens",
        }
    }

    /// The shape of a batch of `n` sequences of length `l`, as text.
    pub fn shape(self, n: usize, l: usize) -> String {
        match self {
            InputKind::OneHot => format!("({n}, 4, {l})"),
            InputKind::OneHotNlc => format!("({n}, {l}, 4)"),
            InputKind::Tokens => format!("({n}, {l}) int64"),
        }
    }
}

/// One dimension of an extra input's declared shape: a number, or `"L"` for the input length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Dim {
    Fixed(u64),
    #[serde(serialize_with = "ser_l")]
    Length,
}

fn ser_l<S: serde::Serializer>(s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str("L")
}

impl<'de> Deserialize<'de> for Dim {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(i64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) if n > 0 => Ok(Dim::Fixed(n as u64)),
            Raw::N(n) => Err(serde::de::Error::custom(format!("extra input dimension {n}: must be > 0 (or \"L\" for the input length)"))),
            Raw::S(s) => Dim::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

impl Dim {
    pub fn parse(s: &str) -> Result<Dim> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("l") {
            return Ok(Dim::Length);
        }
        match s.parse::<u64>() {
            Ok(n) if n > 0 => Ok(Dim::Fixed(n)),
            _ => bail!("extra input dimension '{s}': expected a positive number or L (the input length)"),
        }
    }

    pub fn resolve(self, input_length: usize) -> i64 {
        match self {
            Dim::Fixed(n) => n as i64,
            Dim::Length => input_length as i64,
        }
    }
}

/// Parse an extra input shape such as `2,L` (without the batch dimension).
pub fn parse_shape(s: &str) -> Result<Vec<Dim>> {
    let dims: Vec<Dim> = s.split([',', 'x']).filter(|p| !p.trim().is_empty()).map(Dim::parse).collect::<Result<_>>()?;
    if dims.is_empty() {
        bail!("extra input shape '{s}' is empty: give its dimensions without the batch, e.g. 2,L");
    }
    Ok(dims)
}

fn dims_joined(dims: &[Dim], length: &str) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => n.to_string(),
            Dim::Length => length.into(),
        })
        .collect();
    parts.join(", ")
}

/// An extra input's shape as text: `(N, 2, L)`.
pub fn shape_label(dims: &[Dim]) -> String {
    format!("(N, {})", dims_joined(dims, "L"))
}

/// An extra input's shape as a TOML array: `[2, "L"]`.
pub fn shape_toml(dims: &[Dim]) -> String {
    format!("[{}]", dims_joined(dims, "\"L\""))
}

/// One step into a structured output: a tuple/list index or a dict key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HeadKey {
    Index(usize),
    Key(String),
}

impl fmt::Display for HeadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadKey::Index(i) => write!(f, "{i}"),
            HeadKey::Key(k) => write!(f, "\"{k}\""),
        }
    }
}

/// Which output a head reads: a path into a (nested) tuple/list/dict output. Empty = the
/// bare tensor output.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct HeadPath(pub Vec<HeadKey>);

impl<'de> Deserialize<'de> for HeadPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(HeadKey),
            Path(Vec<HeadKey>),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::One(k) => HeadPath(vec![k]),
            Raw::Path(p) => HeadPath(p),
        })
    }
}

impl HeadPath {
    /// CLI form: `1`, `human`, or a nested path `0/human`.
    pub fn parse(s: &str) -> Result<HeadPath> {
        let keys: Vec<HeadKey> = s
            .split('/')
            .filter(|p| !p.is_empty())
            .map(|p| match p.trim().parse::<usize>() {
                Ok(i) => HeadKey::Index(i),
                Err(_) => HeadKey::Key(p.to_string()),
            })
            .collect();
        if keys.is_empty() {
            bail!("head '{s}' is empty: give a tuple index (0, 1, ...), a dict key (e.g. human), or a path such as 0/human");
        }
        Ok(HeadPath(keys))
    }

    pub fn is_bare(&self) -> bool {
        self.0.is_empty()
    }

    /// TOML form of the path (`1`, `"human"`, `[0, "human"]`).
    pub fn toml(&self) -> String {
        match self.0.as_slice() {
            [] => "[]".into(),
            [k] => k.to_string(),
            ks => format!("[{}]", ks.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", ")),
        }
    }
}

impl fmt::Display for HeadPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return write!(f, "the output");
        }
        write!(f, "head {}", self.toml())
    }
}

/// How a head's tensor is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
pub enum Layout {
    /// (N, T): one value per target
    #[default]
    #[serde(rename = "scalar")]
    Scalar,
    /// (N, B): one track, B bins (a binned or base-resolution profile)
    #[serde(rename = "bins")]
    Bins,
    /// (N, B, T): bins, then targets (Enformer)
    #[serde(rename = "bins-targets", alias = "bins_targets")]
    BinsTargets,
    /// (N, T, B): targets, then bins (Borzoi, BPNet profiles)
    #[serde(rename = "targets-bins", alias = "targets_bins")]
    TargetsBins,
}

impl Layout {
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "scalar" => Ok(Layout::Scalar),
            "bins" => Ok(Layout::Bins),
            "bins-targets" => Ok(Layout::BinsTargets),
            "targets-bins" => Ok(Layout::TargetsBins),
            _ => bail!("layout '{s}': expected scalar (N,T), bins (N,B), bins-targets (N,B,T) or targets-bins (N,T,B)"),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Layout::Scalar => "scalar",
            Layout::Bins => "bins",
            Layout::BinsTargets => "bins-targets",
            Layout::TargetsBins => "targets-bins",
        }
    }

    pub fn shape(self) -> &'static str {
        match self {
            Layout::Scalar => "(N, T)",
            Layout::Bins => "(N, B)",
            Layout::BinsTargets => "(N, B, T)",
            Layout::TargetsBins => "(N, T, B)",
        }
    }

    pub fn rank(self) -> usize {
        match self {
            Layout::Scalar | Layout::Bins => 2,
            _ => 3,
        }
    }

    pub fn is_binned(self) -> bool {
        self != Layout::Scalar
    }
}

/// An element-wise transform applied to a head's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Transform {
    #[default]
    None,
    Exp,
    Expm1,
    Softplus,
    Sigmoid,
}

impl Transform {
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "" => Ok(Transform::None),
            "exp" => Ok(Transform::Exp),
            "expm1" => Ok(Transform::Expm1),
            "softplus" => Ok(Transform::Softplus),
            "sigmoid" => Ok(Transform::Sigmoid),
            _ => bail!("transform '{s}': expected none, exp, expm1, softplus or sigmoid"),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Transform::None => "none",
            Transform::Exp => "exp",
            Transform::Expm1 => "expm1",
            Transform::Softplus => "softplus",
            Transform::Sigmoid => "sigmoid",
        }
    }

    pub fn apply(self, t: tch::Tensor) -> tch::Tensor {
        match self {
            Transform::None => t,
            Transform::Exp => t.exp(),
            Transform::Expm1 => t.expm1(),
            Transform::Softplus => t.softplus(),
            Transform::Sigmoid => t.sigmoid(),
        }
    }
}

/// A profile head's transform: element-wise, or ChromBPNet's softmax(logits) × height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum ProfileTransform {
    Elementwise(Transform),
    /// softmax over the bins (over bins and strands when the height has one target) times
    /// the height: ChromBPNet's profile = softmax(profile logits) × exp(log counts)
    #[default]
    SoftmaxTimesHeight,
}

impl<'de> Deserialize<'de> for ProfileTransform {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ProfileTransform::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl ProfileTransform {
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "softmax-times-height" | "softmax*height" => Ok(ProfileTransform::SoftmaxTimesHeight),
            other => Transform::parse(other)
                .map(ProfileTransform::Elementwise)
                .map_err(|_| anyhow!("profile transform '{s}': expected none, exp, expm1, softplus, sigmoid or softmax-times-height")),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ProfileTransform::Elementwise(t) => t.label(),
            ProfileTransform::SoftmaxTimesHeight => "softmax-times-height",
        }
    }
}

/// Which bins of a binned height head count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BinSelect {
    /// the sum over every output bin
    #[default]
    All,
    /// the sum over the bins that overlap the peak's central `center_width` bp; lets one long
    /// window serve every peak inside its output
    Center,
}

impl BinSelect {
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "all" => Ok(BinSelect::All),
            "center" | "centre" => Ok(BinSelect::Center),
            _ => bail!("bins '{s}': expected all (sum over every bin) or center (the bins covering the peak's central center_width bp)"),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            BinSelect::All => "all",
            BinSelect::Center => "center",
        }
    }
}

/// `[models.height]`: the head used for peak-level work.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HeadSpec {
    /// tuple/list index or dict key (nested: a list); omitted = the bare tensor output
    #[serde(default)]
    pub head: HeadPath,
    #[serde(default)]
    pub layout: Layout,
    /// bp per bin (binned layouts)
    pub bin_size: Option<u32>,
    #[serde(default)]
    pub bins: BinSelect,
    #[serde(default)]
    pub transform: Transform,
}

/// `[models.profile]`: the head drawn as a track along the view.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSpec {
    #[serde(default)]
    pub head: HeadPath,
    #[serde(default = "default_profile_layout")]
    pub layout: Layout,
    /// bp per bin (default 1: base resolution)
    pub bin_size: Option<u32>,
    #[serde(default = "default_profile_transform")]
    pub transform: ProfileTransform,
}

fn default_profile_layout() -> Layout {
    Layout::TargetsBins
}

fn default_profile_transform() -> ProfileTransform {
    ProfileTransform::Elementwise(Transform::None)
}

impl ProfileSpec {
    pub fn bin_size(&self) -> u32 {
        self.bin_size.unwrap_or(1)
    }
}

/// Model outputs named in a Basenji/Enformer `targets_*.txt` file: a TSV with a header, an
/// index column, an identifier and a description (more columns allowed). Returns the name
/// of each output, in index order (the description, or the identifier when it is empty).
pub fn read_targets_file(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow!("targets file {}: cannot read it ({e})", path.display()))?;
    let mut rows: Vec<(usize, String, String)> = Vec::new();
    let mut header: Option<Vec<String>> = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if header.is_none() && cols.first().is_none_or(|c| c.trim().parse::<usize>().is_err()) {
            header = Some(cols.iter().map(|c| c.trim().to_ascii_lowercase()).collect());
            continue;
        }
        let col = |name: &str, default: usize| header.as_ref().and_then(|h| h.iter().position(|c| c == name)).unwrap_or(default);
        // Basenji files have an unnamed first column (the row number) before `index`
        let index_col = header.as_ref().and_then(|h| h.iter().position(|c| c == "index")).unwrap_or(0);
        let index: usize = cols
            .get(index_col)
            .and_then(|c| c.trim().parse().ok())
            .ok_or_else(|| anyhow!("targets file {} line {}: column {} is not an output index: {line:?}", path.display(), i + 1, index_col + 1))?;
        let id = cols.get(col("identifier", index_col + 1)).map(|s| s.trim().to_string()).unwrap_or_default();
        let desc = cols.get(col("description", cols.len().saturating_sub(1))).map(|s| s.trim().to_string()).unwrap_or_default();
        rows.push((index, id, desc));
    }
    if rows.is_empty() {
        bail!("targets file {} has no rows (expected a TSV with index, identifier and description columns)", path.display());
    }
    rows.sort_by_key(|r| r.0);
    for (k, r) in rows.iter().enumerate() {
        if r.0 != k {
            bail!(
                "targets file {}: output indices must be 0..{} without gaps; index {k} is {}",
                path.display(),
                rows.len(),
                if r.0 < k { "repeated" } else { "missing" }
            );
        }
    }
    Ok(rows.into_iter().map(|(_, id, d)| (id, d)).collect())
}

/// What a model's outputs are called and which ones each reported output averages.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputMap {
    /// reported outputs: (name, raw output indices averaged into it)
    pub outputs: Vec<(String, Vec<usize>)>,
}

impl OutputMap {
    /// Reported outputs for a head with `n_raw` outputs: the `[models.tracks]` mapping when
    /// given (each track averages its indices), else one per raw output named by `targets`
    /// (or `t<i>`).
    pub fn build(n_raw: usize, targets: &[String], tracks: &[(String, Vec<usize>)], model: &str) -> Result<OutputMap> {
        if !tracks.is_empty() {
            for (t, idx) in tracks {
                if idx.is_empty() {
                    bail!("model {model}: [models.tracks] {t} lists no output index");
                }
                if let Some(&bad) = idx.iter().find(|&&i| i >= n_raw) {
                    bail!(
                        "model {model}: [models.tracks] {t} = {idx:?} names output {bad}, but the height head has {n_raw} output(s) (0..{})",
                        n_raw.saturating_sub(1)
                    );
                }
            }
            return Ok(OutputMap { outputs: tracks.to_vec() });
        }
        if targets.len() > n_raw {
            bail!(
                "model {model}: {} target name(s) given ({}{}) but the height head has {n_raw} output(s): give one name per output",
                targets.len(),
                targets.iter().take(5).cloned().collect::<Vec<_>>().join(","),
                if targets.len() > 5 { ",…" } else { "" },
            );
        }
        if !targets.is_empty() && targets.len() < n_raw {
            tracing::warn!(
                "model {model}: {} target name(s) for {n_raw} outputs; the others are named t{}..t{}{}",
                targets.len(),
                targets.len(),
                n_raw - 1,
                if targets.len() == 1 && n_raw > 8 {
                    ". If this head is a profile (positions, not targets), declare its layout (layout = \"bins\" or \"targets-bins\")"
                } else {
                    ""
                }
            );
        }
        Ok(OutputMap { outputs: (0..n_raw).map(|i| (targets.get(i).cloned().unwrap_or_else(|| format!("t{i}")), vec![i])).collect() })
    }

    pub fn names(&self) -> Vec<String> {
        self.outputs.iter().map(|(n, _)| n.clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.outputs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty()
    }

    /// Whether each reported output is exactly raw output i (no mapping).
    pub fn is_identity(&self, n_raw: usize) -> bool {
        self.outputs.len() == n_raw && self.outputs.iter().enumerate().all(|(i, (_, v))| v.as_slice() == [i])
    }
}

/// Parse a CLI `--track NAME=I,J` mapping entry.
pub fn parse_track_map(s: &str) -> Result<(String, Vec<usize>)> {
    let (name, idx) = s.split_once('=').ok_or_else(|| anyhow!("--track '{s}': expected NAME=I[,J...] (output indices averaged into track NAME)"))?;
    let idx = idx
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.trim().parse::<usize>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .with_context(|| format!("--track '{s}': indices must be numbers"))?;
    if name.trim().is_empty() || idx.is_empty() {
        bail!("--track '{s}': expected NAME=I[,J...]");
    }
    Ok((name.trim().to_string(), idx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct H {
        h: HeadSpec,
    }

    #[test]
    fn heads_parse_from_toml_and_cli() {
        let h: H = toml::from_str("[h]\nhead = 1\nlayout = \"scalar\"\ntransform = \"exp\"").unwrap();
        assert_eq!(h.h.head, HeadPath(vec![HeadKey::Index(1)]));
        assert_eq!(h.h.transform, Transform::Exp);
        let h: H = toml::from_str("[h]\nhead = \"human\"\nlayout = \"bins-targets\"\nbin_size = 128\nbins = \"center\"").unwrap();
        assert_eq!(h.h.head, HeadPath(vec![HeadKey::Key("human".into())]));
        assert_eq!((h.h.layout, h.h.bins, h.h.bin_size), (Layout::BinsTargets, BinSelect::Center, Some(128)));
        let h: H = toml::from_str("[h]\nhead = [0, \"human\"]\nlayout = \"bins_targets\"").unwrap();
        assert_eq!(h.h.head.0.len(), 2);
        assert!(toml::from_str::<H>("[h]\nlayout = \"binz\"").is_err());
        assert!(toml::from_str::<H>("[h]\nhed = 1").is_err());
        assert_eq!(HeadPath::parse("0/human").unwrap().toml(), "[0, \"human\"]");
        assert_eq!(HeadPath::parse("1").unwrap().0, vec![HeadKey::Index(1)]);
        assert_eq!(ProfileTransform::parse("softmax_times_height").unwrap(), ProfileTransform::SoftmaxTimesHeight);
        assert!(ProfileTransform::parse("softmax").unwrap_err().to_string().contains("softmax-times-height"));
        assert_eq!(parse_shape("2,L").unwrap(), vec![Dim::Fixed(2), Dim::Length]);
        assert!(parse_shape("0,L").is_err());
        assert_eq!(parse_track_map("PT=12,40").unwrap(), ("PT".into(), vec![12, 40]));
    }

    #[test]
    fn targets_files_and_output_maps() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("targets_human.txt");
        std::fs::write(&p, "\tindex\tgenome\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription\n0\t0\t0\tENCFF1\tx\t32\t2\tsum\tDNASE:kidney\n1\t1\t0\tENCFF2\tx\t32\t2\tsum\tCAGE:liver\n").unwrap();
        let t = read_targets_file(&p).unwrap();
        assert_eq!(t, vec![("ENCFF1".to_string(), "DNASE:kidney".to_string()), ("ENCFF2".into(), "CAGE:liver".into())]);
        std::fs::write(&p, "index\tidentifier\tdescription\n0\ta\tA\n2\tc\tC\n").unwrap();
        assert!(read_targets_file(&p).unwrap_err().to_string().contains("index 1 is missing"));
        let m = OutputMap::build(3, &[], &[("PT".into(), vec![0, 2])], "m").unwrap();
        assert_eq!(m.names(), ["PT"]);
        assert!(OutputMap::build(3, &[], &[("PT".into(), vec![3])], "m").unwrap_err().to_string().contains("names output 3"));
        assert_eq!(OutputMap::build(1000, &["PT".into()], &[], "cbp").unwrap().names()[..2], ["PT", "t1"]);
        let e = OutputMap::build(2, &["a".into(), "b".into(), "c".into()], &[], "m").unwrap_err().to_string();
        assert!(e.contains("3 target name") && e.contains("2 output"), "{e}");
        assert!(OutputMap::build(2, &[], &[], "m").unwrap().is_identity(2));
    }
}
