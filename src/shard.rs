//! Deterministic shards of batch work, and the identity a shard output carries so that
//! `peakscope merge` can check that its inputs belong together.
//!
//! # The partition
//! `--shard K/N` (1-based: `1/4` … `4/4`) deals the items, in their defined order, in blocks
//! of B consecutive items round-robin to the N shards: item `i` belongs to shard K when
//! `(i / B) % N == K - 1`. The N shards together hold every item exactly once. What "the
//! items in order" and B are is each command's contract:
//!
//! * `eval`: the peaks in the seeded random order (`[eval] seed`), after `--chroms`,
//!   the input checks and `--limit`, i.e. exactly the peaks one run evaluates, in its
//!   order; B = `[eval] batch_peaks`, so each shard's model batches are the single run's;
//! * `predict --bed`: the region records of the file, in file order; B = the model's
//!   batch size (same reason);
//! * `ism --bed`: the region records, B = 1 (each region is its own ISM run);
//! * a streaming reader (variants, TF activity) counts the records it reads and keeps
//!   those with [`ShardSpec::owns`]`(index)`; no total is needed up front.
//!
//! Round-robin (rather than contiguous blocks) is what lets a streaming command shard
//! without counting its input first, and it keeps shards balanced when items are sorted
//! by size or difficulty.
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::fmt;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Shard K of N (K is 1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ShardSpec {
    /// 1-based shard number
    pub k: usize,
    /// number of shards
    pub n: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShardSpecError {
    #[error("shard spec '{0}' is not K/N: write the shard number and the shard count as whole numbers, e.g. --shard 2/8 (shard 2 of 8)")]
    Syntax(String),
    #[error("shard spec '{0}': the shard count N must be at least 1")]
    ZeroCount(String),
    #[error("shard spec '{0}': shards are numbered from 1, so K must be 1..={1} (1/{1} is the first shard, {1}/{1} the last)")]
    ZeroIndex(String, usize),
    #[error("shard spec '{0}': shard {1} does not exist when there are {2} shards (K must be 1..={2})")]
    OutOfRange(String, usize, usize),
}

impl FromStr for ShardSpec {
    type Err = ShardSpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let (k, n) = text.split_once('/').ok_or_else(|| ShardSpecError::Syntax(s.to_string()))?;
        let parse = |x: &str| x.trim().parse::<usize>().map_err(|_| ShardSpecError::Syntax(s.to_string()));
        let (k, n) = (parse(k)?, parse(n)?);
        if n == 0 {
            return Err(ShardSpecError::ZeroCount(s.to_string()));
        }
        if k == 0 {
            return Err(ShardSpecError::ZeroIndex(s.to_string(), n));
        }
        if k > n {
            return Err(ShardSpecError::OutOfRange(s.to_string(), k, n));
        }
        Ok(ShardSpec { k, n })
    }
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl ShardSpec {
    /// The whole run as one shard.
    pub const WHOLE: ShardSpec = ShardSpec { k: 1, n: 1 };

    /// Whether the item with 0-based index `index` belongs to this shard.
    #[inline]
    pub fn owns(&self, index: usize) -> bool {
        index % self.n == self.k - 1
    }

    /// The 0-based indices of this shard's items among `total`, ascending.
    pub fn indices(&self, total: usize) -> impl Iterator<Item = usize> {
        (self.k - 1..total).step_by(self.n)
    }

    /// How many of `total` items this shard holds.
    pub fn count(&self, total: usize) -> usize {
        self.count_blocked(total, 1)
    }

    /// Round-robin over blocks of `block` consecutive items: item `index` belongs to this
    /// shard when `(index / block) % N == K - 1`. Used where a command's items go to the
    /// model in batches: whole batches stay together, so every forward pass of a shard
    /// is one of the single run's (same sequences at the same batch positions), and the
    /// predictions are bit-identical (BLAS/oneDNN results depend on a row's place in its batch).
    #[inline]
    pub fn owns_blocked(&self, index: usize, block: usize) -> bool {
        (index / block.max(1)) % self.n == self.k - 1
    }

    /// [`indices`](Self::indices) over blocks of `block` items.
    pub fn indices_blocked(&self, total: usize, block: usize) -> impl Iterator<Item = usize> + '_ {
        let block = block.max(1);
        (0..total.div_ceil(block)).filter(move |b| b % self.n == self.k - 1).flat_map(move |b| b * block..((b + 1) * block).min(total))
    }

    /// How many of `total` items this shard holds with blocks of `block`.
    pub fn count_blocked(&self, total: usize, block: usize) -> usize {
        let block = block.max(1);
        let blocks = total.div_ceil(block);
        if blocks < self.k {
            return 0;
        }
        let mine = (blocks - self.k) / self.n + 1;
        let last = blocks - 1;
        // every block is full but possibly the last one overall
        mine * block - if last % self.n == self.k - 1 { blocks * block - total } else { 0 }
    }

    /// This shard's items with their 0-based indices in the whole sequence.
    pub fn select<T: Clone>(&self, items: &[T]) -> Vec<(usize, T)> {
        self.indices(items.len()).map(|i| (i, items[i].clone())).collect()
    }

    /// Which shard owns item `index`.
    pub fn owner(index: usize, n: usize) -> ShardSpec {
        ShardSpec { k: index % n + 1, n }
    }
}

/// Identity of a model a shard ran: its name, file and the file's SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelIdentity {
    pub name: String,
    pub path: String,
    pub sha256: String,
}

/// SHA-256 of a file's bytes, as lowercase hex.
pub fn file_sha256(path: &Path) -> anyhow::Result<String> {
    use anyhow::Context;
    let mut f = std::fs::File::open(path).with_context(|| format!("cannot read {} to hash it", path.display()))?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The format tag of every shard output.
pub const SHARD_FORMAT: &str = "peakscope-shard/1";

/// What a shard output says about where it came from. Two shards merge only when all of
/// this but `shard.k` and `items` is equal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardHeader {
    /// [`SHARD_FORMAT`]
    pub format: String,
    /// the command: "eval", "predict" or "ism"
    pub kind: String,
    pub shard: ShardSpec,
    /// the project config, when the command used one
    pub config: Option<String>,
    pub config_sha256: Option<String>,
    pub models: Vec<ModelIdentity>,
    /// the regions file (predict/ism --bed) and its SHA-256
    pub input: Option<(String, String)>,
    /// every other setting that shapes the output (seed, limit, chroms, widths, format…)
    pub params: serde_json::Value,
    /// items of the whole run (peaks, region records)
    pub total: usize,
    /// the partition's block size (1: record by record; see [`ShardSpec::owns_blocked`])
    pub block: usize,
    /// items this shard holds
    pub items: usize,
    /// the peakscope that wrote it
    pub version: String,
}

impl ShardHeader {
    pub fn new(kind: &str, shard: ShardSpec, total: usize) -> ShardHeader {
        ShardHeader {
            format: SHARD_FORMAT.into(),
            kind: kind.into(),
            shard,
            config: None,
            config_sha256: None,
            models: Vec::new(),
            input: None,
            params: serde_json::Value::Null,
            total,
            block: 1,
            items: shard.count(total),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    /// Record the config file and its SHA-256.
    pub fn with_config(mut self, path: &Path) -> anyhow::Result<ShardHeader> {
        self.config_sha256 = Some(file_sha256(path)?);
        self.config = Some(path.display().to_string());
        Ok(self)
    }
}

/// Why a set of shards cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("no shard files given: `peakscope merge -o OUT SHARD…` needs all N shard outputs")]
    Empty,
    #[error("{0}: not a peakscope shard output ({1}); give the files written by a command run with --shard K/N")]
    NotAShard(PathBuf, String),
    #[error("{0} is truncated or corrupt ({1}): it does not end the way peakscope writes a shard (outputs are written atomically, so this is a partial copy); copy it again or re-run shard {2}")]
    Truncated(PathBuf, String, String),
    #[error("{path} is a `{kind}` shard but {first} is a `{first_kind}` shard: merge shards of one command at a time")]
    Kind { path: PathBuf, kind: String, first: PathBuf, first_kind: String },
    #[error(
        "{path} is foreign: its {what} differs from {first}'s ({theirs} vs {ours}); every shard must come from the same config, models, inputs and settings"
    )]
    Foreign { path: PathBuf, what: String, first: PathBuf, theirs: String, ours: String },
    #[error("{a} and {b} are both shard {spec}: each shard must be given once")]
    Duplicate { a: PathBuf, b: PathBuf, spec: ShardSpec },
    #[error("missing shard(s) {missing} of {n}: got {have}; run the missing shard(s) with --shard K/{n} and merge all {n}")]
    Missing { missing: String, n: usize, have: String },
    #[error("{0} is incomplete: {1}; re-run that shard")]
    Incomplete(PathBuf, String),
}

fn short(v: &impl Serialize) -> String {
    let s = serde_json::to_string(v).unwrap_or_default();
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}

/// Check that `shards` (path, header) are the N shards of one run, each exactly once, and
/// return them ordered by K.
pub fn check_set<T>(mut shards: Vec<(PathBuf, ShardHeader, T)>) -> Result<Vec<(PathBuf, ShardHeader, T)>, MergeError> {
    let Some((first, h0, _)) = shards.first() else { return Err(MergeError::Empty) };
    let (first, h0) = (first.clone(), h0.clone());
    for (path, h, _) in &shards {
        if h.kind != h0.kind {
            return Err(MergeError::Kind { path: path.clone(), kind: h.kind.clone(), first: first.clone(), first_kind: h0.kind.clone() });
        }
        let foreign =
            |what: &str, theirs: String, ours: String| MergeError::Foreign { path: path.clone(), what: what.into(), first: first.clone(), theirs, ours };
        if h.config_sha256 != h0.config_sha256 {
            return Err(foreign("config (SHA-256)", short(&h.config_sha256), short(&h0.config_sha256)));
        }
        // identity is content: the same files may sit at other paths on other machines
        let models = |h: &ShardHeader| h.models.iter().map(|m| (m.name.clone(), m.sha256.clone())).collect::<Vec<_>>();
        if models(h) != models(&h0) {
            return Err(foreign("models (names, SHA-256 of the files)", short(&h.models), short(&h0.models)));
        }
        if h.input.as_ref().map(|i| &i.1) != h0.input.as_ref().map(|i| &i.1) {
            return Err(foreign("input regions (SHA-256)", short(&h.input), short(&h0.input)));
        }
        if h.params != h0.params {
            return Err(foreign("settings", short(&h.params), short(&h0.params)));
        }
        if h.shard.n != h0.shard.n {
            return Err(foreign("shard count N", h.shard.n.to_string(), h0.shard.n.to_string()));
        }
        if h.total != h0.total {
            return Err(foreign("number of items in the whole run", h.total.to_string(), h0.total.to_string()));
        }
        if h.block != h0.block {
            return Err(foreign("partition block size", h.block.to_string(), h0.block.to_string()));
        }
        let want = h.shard.count_blocked(h.total, h.block);
        if h.items != want {
            return Err(MergeError::Incomplete(path.clone(), format!("it holds {} of the {want} items of shard {}", h.items, h.shard)));
        }
    }
    shards.sort_by_key(|(_, h, _)| h.shard.k);
    for w in shards.windows(2) {
        if w[0].1.shard.k == w[1].1.shard.k {
            return Err(MergeError::Duplicate { a: w[0].0.clone(), b: w[1].0.clone(), spec: w[0].1.shard });
        }
    }
    let n = h0.shard.n;
    if shards.len() != n {
        let have: Vec<usize> = shards.iter().map(|(_, h, _)| h.shard.k).collect();
        let missing: Vec<String> = (1..=n).filter(|k| !have.contains(k)).map(|k| format!("{k}/{n}")).collect();
        let have: Vec<String> = have.iter().map(|k| format!("{k}/{n}")).collect();
        return Err(MergeError::Missing { missing: missing.join(", "), n, have: have.join(", ") });
    }
    Ok(shards)
}

/// The first line of a record shard (TSV rows keyed by record index): `#peakscope-shard\t{json}`.
pub const RECORD_SHARD_TAG: &str = "#peakscope-shard\t";
/// The last line of a record shard: `#end\t<rows>`.
pub const RECORD_SHARD_END: &str = "#end\t";

/// Write a record shard: the header line, the column line (starting with `record`), the
/// rows from `rows` (each starting with its record index), and the end line with the row
/// count, so that a truncated copy is recognised.
pub fn write_record_shard(w: &mut dyn std::io::Write, header: &ShardHeader, columns: &str, rows: &[String]) -> anyhow::Result<()> {
    writeln!(w, "{RECORD_SHARD_TAG}{}", serde_json::to_string(header)?)?;
    writeln!(w, "record\t{columns}")?;
    for r in rows {
        w.write_all(r.as_bytes())?;
        if !r.ends_with('\n') {
            writeln!(w)?;
        }
    }
    writeln!(w, "{RECORD_SHARD_END}{}", rows.iter().map(|r| r.lines().count()).sum::<usize>())?;
    Ok(())
}

/// A record shard being read: its header, column line, and rows streamed in order.
pub struct RecordShard {
    pub path: PathBuf,
    pub header: ShardHeader,
    /// the column line without the leading `record\t`
    pub columns: String,
    lines: std::io::Lines<std::io::BufReader<std::fs::File>>,
    peeked: Option<(usize, String)>,
    rows: usize,
    ended: bool,
}

/// Read the first line of a file (up to 1 MiB) to tell which kind of shard it is.
pub fn sniff_shard(path: &Path) -> anyhow::Result<Option<String>> {
    use anyhow::Context;
    let f = std::fs::File::open(path).with_context(|| format!("cannot open shard {}", path.display()))?;
    let mut first = Vec::new();
    std::io::BufReader::new(f).take(1 << 20).read_until(b'\n', &mut first)?;
    Ok(Some(String::from_utf8_lossy(&first).to_string()))
}

impl RecordShard {
    pub fn open(path: &Path) -> anyhow::Result<RecordShard> {
        use anyhow::Context;
        let f = std::fs::File::open(path).with_context(|| format!("cannot open shard {}", path.display()))?;
        let mut lines = std::io::BufReader::new(f).lines();
        let not = |why: &str| MergeError::NotAShard(path.to_path_buf(), why.to_string());
        let first = lines.next().transpose()?.ok_or_else(|| not("empty file"))?;
        let json = first.strip_prefix(RECORD_SHARD_TAG).ok_or_else(|| not("its first line is not a #peakscope-shard header"))?;
        let header: ShardHeader = serde_json::from_str(json).map_err(|e| not(&format!("unreadable header: {e}")))?;
        if header.format != SHARD_FORMAT {
            return Err(not(&format!("format {} (this peakscope reads {SHARD_FORMAT})", header.format)).into());
        }
        let trunc = |why: &str| MergeError::Truncated(path.to_path_buf(), why.to_string(), header.shard.to_string());
        let cols = lines.next().transpose()?.ok_or_else(|| trunc("it ends after the header"))?;
        let columns = cols.strip_prefix("record\t").ok_or_else(|| trunc("no column line after the header"))?.to_string();
        let mut s = RecordShard { path: path.to_path_buf(), header, columns, lines, peeked: None, rows: 0, ended: false };
        s.advance()?;
        Ok(s)
    }

    fn advance(&mut self) -> anyhow::Result<()> {
        self.peeked = None;
        if self.ended {
            return Ok(());
        }
        let trunc = |why: String| MergeError::Truncated(self.path.clone(), why, self.header.shard.to_string());
        let Some(line) = self.lines.next().transpose()? else {
            return Err(trunc(format!("it ends after {} row(s) without its #end line", self.rows)).into());
        };
        if let Some(n) = line.strip_prefix(RECORD_SHARD_END) {
            let n: usize = n.trim().parse().map_err(|_| trunc(format!("bad end line '{line}'")))?;
            if n != self.rows {
                return Err(trunc(format!("its end line counts {n} rows but {} were read", self.rows)).into());
            }
            if self.lines.next().transpose()?.is_some() {
                return Err(trunc("text after the #end line".into()).into());
            }
            self.ended = true;
            return Ok(());
        }
        let (rec, rest) = line.split_once('\t').ok_or_else(|| trunc(format!("row {} has no record index", self.rows + 1)))?;
        let rec: usize = rec.parse().map_err(|_| trunc(format!("row {}: bad record index '{rec}'", self.rows + 1)))?;
        if !self.header.shard.owns_blocked(rec, self.header.block) || rec >= self.header.total {
            return Err(trunc(format!("row {}: record {rec} does not belong to shard {}", self.rows + 1, self.header.shard)).into());
        }
        self.rows += 1;
        self.peeked = Some((rec, rest.to_string()));
        Ok(())
    }

    /// The next row if it belongs to record `rec` (without its record column).
    pub fn next_of(&mut self, rec: usize) -> anyhow::Result<Option<String>> {
        match &self.peeked {
            Some((r, _)) if *r == rec => {
                let (_, line) = self.peeked.take().unwrap();
                self.advance()?;
                Ok(Some(line))
            }
            Some((r, _)) if *r < rec => {
                Err(MergeError::Truncated(self.path.clone(), format!("record {r} is out of order"), self.header.shard.to_string()).into())
            }
            _ => Ok(None),
        }
    }

    /// Whether every row was read and the end line checked.
    pub fn finished(&self) -> bool {
        self.ended && self.peeked.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_reject() {
        assert_eq!("2/8".parse::<ShardSpec>().unwrap(), ShardSpec { k: 2, n: 8 });
        assert_eq!(" 1/1 ".parse::<ShardSpec>().unwrap(), ShardSpec::WHOLE);
        assert!(matches!("3/2".parse::<ShardSpec>(), Err(ShardSpecError::OutOfRange(_, 3, 2))));
        assert!(matches!("0/4".parse::<ShardSpec>(), Err(ShardSpecError::ZeroIndex(_, 4))));
        assert!(matches!("a/b".parse::<ShardSpec>(), Err(ShardSpecError::Syntax(_))));
        assert!(matches!("1/0".parse::<ShardSpec>(), Err(ShardSpecError::ZeroCount(_))));
        assert!(matches!("3".parse::<ShardSpec>(), Err(ShardSpecError::Syntax(_))));
        assert!(matches!("-1/3".parse::<ShardSpec>(), Err(ShardSpecError::Syntax(_))));
        let e = "3/2".parse::<ShardSpec>().unwrap_err().to_string();
        assert!(e.contains("'3/2'") && e.contains("1..=2"), "{e}");
    }

    #[test]
    fn shards_partition_exactly() {
        for total in [0usize, 1, 2, 5, 17, 100] {
            for n in 1..=9 {
                let mut seen = vec![0u32; total];
                for k in 1..=n {
                    let s = ShardSpec { k, n };
                    let idx: Vec<usize> = s.indices(total).collect();
                    assert_eq!(idx.len(), s.count(total));
                    assert!(idx.windows(2).all(|w| w[0] < w[1]));
                    for i in idx {
                        assert!(s.owns(i));
                        assert_eq!(ShardSpec::owner(i, n), s);
                        seen[i] += 1;
                    }
                }
                assert!(seen.iter().all(|&c| c == 1), "total {total} n {n}");
                let sizes: Vec<usize> = (1..=n).map(|k| ShardSpec { k, n }.count(total)).collect();
                assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
            }
        }
        assert_eq!(ShardSpec { k: 2, n: 3 }.select(&['a', 'b', 'c', 'd', 'e']), vec![(1, 'b'), (4, 'e')]);
        for total in [0usize, 1, 7, 64, 65, 300] {
            for block in [1usize, 3, 32, 64, 500] {
                for n in [1usize, 2, 3, 7] {
                    let mut seen = vec![0u32; total];
                    for k in 1..=n {
                        let s = ShardSpec { k, n };
                        let idx: Vec<usize> = s.indices_blocked(total, block).collect();
                        assert_eq!(idx.len(), s.count_blocked(total, block), "total {total} block {block} {s}");
                        assert!(idx.windows(2).all(|w| w[0] < w[1]));
                        for i in idx {
                            assert!(s.owns_blocked(i, block));
                            seen[i] += 1;
                        }
                    }
                    assert!(seen.iter().all(|&c| c == 1));
                }
            }
        }
        assert_eq!(ShardSpec { k: 2, n: 2 }.indices_blocked(7, 2).collect::<Vec<_>>(), [2, 3, 6]);
    }

    fn header(k: usize, n: usize) -> ShardHeader {
        let mut h = ShardHeader::new("eval", ShardSpec { k, n }, 10);
        h.config_sha256 = Some("abc".into());
        h
    }

    #[test]
    fn set_checks() {
        let set = |hs: Vec<ShardHeader>| check_set(hs.into_iter().enumerate().map(|(i, h)| (PathBuf::from(format!("s{i}")), h, ())).collect());
        let ok = set(vec![header(3, 3), header(1, 3), header(2, 3)]).unwrap();
        assert_eq!(ok.iter().map(|s| s.1.shard.k).collect::<Vec<_>>(), [1, 2, 3]);
        let e = set(vec![header(1, 3), header(3, 3)]).unwrap_err().to_string();
        assert!(e.contains("missing shard(s) 2/3"), "{e}");
        let e = set(vec![header(1, 2), header(1, 2)]).unwrap_err().to_string();
        assert!(e.contains("both shard 1/2"), "{e}");
        let mut f = header(2, 2);
        f.config_sha256 = Some("def".into());
        let e = set(vec![header(1, 2), f]).unwrap_err().to_string();
        assert!(e.contains("s1 is foreign") && e.contains("config"), "{e}");
        let e = set(vec![header(1, 2), header(2, 3)]).unwrap_err().to_string();
        assert!(e.contains("shard count"), "{e}");
        let mut p = header(2, 2);
        p.items = 1;
        assert!(set(vec![header(1, 2), p]).unwrap_err().to_string().contains("incomplete"));
    }
}
