//! bigWig signal through bigtools: exact per-base values and interval statistics, and
//! binned summaries for drawing that use the file's zoom levels at wide views.
//!
//! Bases without data are *not* zeros: they are NaN in [`BigWig::values`] and do not count
//! towards [`IntervalStats::covered`]. `mean0` treats them as 0 (bigWigAverageOverBed's
//! `mean0`), `mean` averages covered bases only (its `mean`, and pyBigWig's `stats`).
use super::chroms::ChromNames;
use super::sniff::{sniff, FileKind};
use anyhow::{anyhow, bail, Result};
use bigtools::utils::reopen::ReopenableFile;
use bigtools::{BigWigRead, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Exact statistics over one interval.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct IntervalStats {
    /// bases asked for (the region's size, also where it runs past the chromosome end)
    pub size: u64,
    /// bases with data
    pub covered: u64,
    pub sum: f64,
    /// NaN when nothing is covered
    pub min: f64,
    pub max: f64,
}

impl IntervalStats {
    fn empty(size: u64) -> Self {
        IntervalStats { size, covered: 0, sum: 0.0, min: f64::NAN, max: f64::NAN }
    }

    #[inline]
    fn add(&mut self, value: f32, bases: u64) {
        let v = value as f64;
        self.covered += bases;
        self.sum += v * bases as f64;
        if self.min.is_nan() || v < self.min {
            self.min = v;
        }
        if self.max.is_nan() || v > self.max {
            self.max = v;
        }
    }

    /// Sum over the region's size, no-data bases counted as zero.
    pub fn mean0(&self) -> f64 {
        if self.size == 0 {
            0.0
        } else {
            self.sum / self.size as f64
        }
    }

    /// Mean over covered bases; `None` when no base is covered.
    pub fn mean(&self) -> Option<f64> {
        (self.covered > 0).then(|| self.sum / self.covered as f64)
    }
}

/// One drawing column: what the bases under it hold.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BinSummary {
    /// bases with data (fractional when estimated from a zoom level)
    pub covered: f64,
    pub sum: f64,
    /// NaN when nothing is covered
    pub max: f32,
}

impl BinSummary {
    pub fn mean(&self) -> Option<f64> {
        (self.covered > 0.0).then(|| self.sum / self.covered)
    }
}

#[derive(Debug, Clone, Copy)]
struct Rec {
    start: u32,
    end: u32,
    /// bases with data inside [start, end)
    covered: u32,
    /// mean over the covered bases
    mean: f64,
    max: f32,
}

const RAW_TILE: u64 = 1 << 16;
const ZOOM_TILE_RECORDS: u64 = 2048;
/// Default memory for one file's tile cache (see [`BigWig::set_cache_budget`]).
pub const DEFAULT_CACHE_BYTES: usize = 64 << 20;
/// Bytes a cached tile costs besides its records (map entry, Arc, Vec header).
const TILE_OVERHEAD: usize = 96;

/// Tile cache: (zoom level (0 = raw), chromosome index, tile index) → (last use, records).
type TileCache = HashMap<(u32, u32, u64), (u64, Arc<Vec<Rec>>)>;

/// An open bigWig with a small LRU of tiles for drawing.
pub struct BigWig {
    path: PathBuf,
    reader: BigWigRead<ReopenableFile>,
    names: ChromNames,
    zooms: Vec<u32>,
    cache: TileCache,
    /// bytes held by `cache`, and the most it may hold
    cache_bytes: usize,
    cache_budget: usize,
    clock: u64,
    /// tiles read from disk since opening (for tests and benches of the cache)
    pub tiles_read: u64,
}

/// Classify a bigtools open failure into a message naming the file and the fix (the magic
/// number was checked before, so the file does claim to be a bigWig).
fn open_error(path: &Path, e: bigtools::BigWigReadOpenError) -> anyhow::Error {
    use bigtools::BigWigReadOpenError as E;
    let p = path.display();
    match e {
        E::NotABigWig => anyhow!("{p} is not a bigWig (its header names another file type); expected a bigWig signal track"),
        E::InvalidChroms => anyhow!("bigWig {p}: its chromosome tree is corrupt; regenerate the file (e.g. bedGraphToBigWig)"),
        E::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            anyhow!("bigWig {p} is truncated (it ended while reading the header): re-download or regenerate it")
        }
        E::IoError(io) => anyhow!("bigWig {p}: cannot read its header ({io}); the file is corrupt: re-download or regenerate it"),
    }
}

/// What to say when a file given as a bigWig is something else.
fn not_a_bigwig(path: &Path, kind: FileKind) -> anyhow::Error {
    let p = path.display();
    let hint = match kind {
        FileKind::BigBed => "; a bigBed holds intervals: use it as a peak file ([peaks] file, a track's peaks, or --bed)",
        FileKind::BedText => "; convert bedGraph text with `bedGraphToBigWig in.bedGraph chrom.sizes out.bw`",
        FileKind::WigText => "; convert WIG text with `wigToBigWig in.wig chrom.sizes out.bw`",
        FileKind::Gzip { .. } => "; a compressed bedGraph must be decompressed and converted with bedGraphToBigWig",
        _ => "",
    };
    anyhow!("{p} is not a bigWig: it is {} (a bigWig starts with the magic number 0x888FFC26){hint}", kind.describe())
}

impl BigWig {
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let meta = std::fs::metadata(&path).map_err(|e| anyhow!("bigWig {}: cannot read it ({e})", path.display()))?;
        if meta.is_dir() {
            bail!("bigWig {} is a directory, not a file", path.display());
        }
        if meta.len() == 0 {
            bail!("bigWig {} is empty (0 bytes)", path.display());
        }
        match sniff(&path).map_err(|e| anyhow!("bigWig {}: cannot read it ({e})", path.display()))? {
            FileKind::BigWig => {}
            k => return Err(not_a_bigwig(&path, k)),
        }
        // open the file ourselves: bigtools' open_file prints to stderr on failure
        let file = std::fs::File::open(&path).map_err(|e| anyhow!("bigWig {}: cannot read it ({e})", path.display()))?;
        let reader = BigWigRead::open(ReopenableFile { path: path.clone(), file }).map_err(|e| open_error(&path, e))?;
        let names = ChromNames::new(reader.chroms().iter().map(|c| (c.name.clone(), c.length as u64)));
        if names.is_empty() {
            bail!("bigWig {} lists no chromosomes (it was written from empty input?): it has no signal; regenerate it", path.display());
        }
        let mut zooms: Vec<u32> = reader.info().zoom_headers.iter().map(|z| z.reduction_level).collect();
        zooms.sort_unstable();
        Ok(BigWig { path, reader, names, zooms, cache: HashMap::new(), cache_bytes: 0, cache_budget: DEFAULT_CACHE_BYTES, clock: 0, tiles_read: 0 })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn chroms(&self) -> &ChromNames {
        &self.names
    }

    /// Reduction levels of the zoom tables, ascending.
    pub fn zoom_levels(&self) -> &[u32] {
        &self.zooms
    }

    fn read_err(&self, e: impl std::fmt::Display) -> anyhow::Error {
        anyhow!("bigWig {}: read failed ({e}); the file may be corrupt or truncated", self.path.display())
    }

    /// Raw records overlapping `[start, end)` of the file's own chromosome `name`, clipped.
    fn read_values(&mut self, name: &str, start: u32, end: u32) -> Result<Vec<Value>> {
        if start >= end {
            return Ok(Vec::new());
        }
        let iter = self.reader.get_interval(name, start, end).map_err(|e| anyhow!("bigWig {}: {e}", self.path.display()))?;
        let mut v = Vec::new();
        for r in iter {
            v.push(r.map_err(|e| anyhow!("bigWig read failed: {e}"))?);
        }
        if !v.is_sorted_by_key(|x| x.start) {
            v.sort_by_key(|x| x.start);
        }
        Ok(v)
    }

    /// Per-base values of `[start, end)`; NaN where the file has no data, including past the
    /// chromosome end. `None` when the file lacks the chromosome.
    pub fn values(&mut self, chrom: &str, start: u64, end: u64) -> Result<Option<Vec<f32>>> {
        let Some(i) = self.names.index(chrom) else { return Ok(None) };
        let name = self.names.names()[i].clone();
        let len = self.names.lengths()[i];
        let mut out = vec![f32::NAN; end.saturating_sub(start) as usize];
        let (s, e) = (start.min(len), end.min(len));
        let vals = self.read_values(&name, s as u32, e as u32).map_err(|e| self.read_err(e))?;
        for v in vals {
            for x in &mut out[(v.start as u64 - start) as usize..(v.end as u64 - start) as usize] {
                *x = v.value;
            }
        }
        Ok(Some(out))
    }

    /// Exact statistics over `[start, end)`. `None` when the file lacks the chromosome.
    pub fn stats(&mut self, chrom: &str, start: u64, end: u64) -> Result<Option<IntervalStats>> {
        Ok(self.stats_many(&[(chrom, start, end)])?.pop().flatten())
    }

    /// Exact statistics for many regions at once. Regions are grouped per chromosome,
    /// sorted, and nearby ones merged into chunks that are read in one sweep, so each data
    /// block is decompressed once however many regions share it. Result order follows the
    /// input; `None` marks a chromosome the file lacks.
    pub fn stats_many<C: AsRef<str>>(&mut self, regions: &[(C, u64, u64)]) -> Result<Vec<Option<IntervalStats>>> {
        const GAP: u64 = 1 << 15;
        const MAX_CHUNK: u64 = 1 << 22;
        let mut out: Vec<Option<IntervalStats>> = vec![None; regions.len()];
        let mut by_chrom: HashMap<usize, Vec<usize>> = HashMap::new();
        for (k, (c, _, _)) in regions.iter().enumerate() {
            if let Some(i) = self.names.index(c.as_ref()) {
                by_chrom.entry(i).or_default().push(k);
            }
        }
        let mut chroms: Vec<usize> = by_chrom.keys().copied().collect();
        chroms.sort_unstable();
        for ci in chroms {
            let mut idx = by_chrom.remove(&ci).unwrap_or_default();
            let name = self.names.names()[ci].clone();
            let len = self.names.lengths()[ci];
            idx.sort_by_key(|&k| (regions[k].1, regions[k].2));
            let mut a = 0;
            while a < idx.len() {
                // grow a chunk of regions whose spans lie close together
                let cs = regions[idx[a]].1.min(len);
                let mut ce = regions[idx[a]].2.min(len).max(cs);
                let mut b = a + 1;
                while b < idx.len() {
                    let (s, e) = (regions[idx[b]].1.min(len), regions[idx[b]].2.min(len));
                    if s > ce + GAP || e.max(ce) - cs > MAX_CHUNK {
                        break;
                    }
                    ce = ce.max(e);
                    b += 1;
                }
                let vals = self.read_values(&name, cs as u32, ce as u32).map_err(|e| self.read_err(e))?;
                let ends: Vec<u32> = vals.iter().map(|v| v.end).collect();
                for &k in &idx[a..b] {
                    let (_, rs, re) = (&regions[k].0, regions[k].1, regions[k].2);
                    let mut st = IntervalStats::empty(re.saturating_sub(rs));
                    let (s, e) = (rs.min(len) as u32, re.min(len) as u32);
                    if s < e {
                        let mut j = ends.partition_point(|&x| x <= s);
                        while j < vals.len() && vals[j].start < e {
                            let v = &vals[j];
                            let ov = (v.end.min(e) - v.start.max(s)) as u64;
                            st.add(v.value, ov);
                            j += 1;
                        }
                    }
                    out[k] = Some(st);
                }
                a = b;
            }
        }
        Ok(out)
    }

    /// The zoom level used for columns of `bases_per_bin` bases: the coarsest whose records
    /// are at most half a column, so each column still averages several records.
    pub fn level_for(&self, bases_per_bin: f64) -> u32 {
        self.zooms.iter().copied().filter(|&r| (r as f64) * 2.0 <= bases_per_bin).max().unwrap_or(0)
    }

    fn tile(&mut self, level: u32, ci: usize, tile: u64) -> Result<Arc<Vec<Rec>>> {
        self.clock += 1;
        let key = (level, ci as u32, tile);
        if let Some(entry) = self.cache.get_mut(&key) {
            entry.0 = self.clock;
            return Ok(entry.1.clone());
        }
        let span = if level == 0 { RAW_TILE } else { level as u64 * ZOOM_TILE_RECORDS };
        let name = self.names.names()[ci].clone();
        let len = self.names.lengths()[ci];
        let (s, e) = ((tile * span).min(len) as u32, ((tile + 1) * span).min(len) as u32);
        let mut recs = Vec::new();
        if s < e {
            if level == 0 {
                for v in self.read_values(&name, s, e).map_err(|er| self.read_err(er))? {
                    let n = v.end - v.start;
                    recs.push(Rec { start: v.start, end: v.end, covered: n, mean: v.value as f64, max: v.value });
                }
            } else {
                let it = self.reader.get_zoom_interval(&name, s, e, level).map_err(|er| anyhow!("bigWig {}: zoom read: {er}", self.path.display()))?;
                for z in it {
                    let z = z.map_err(|er| anyhow!("bigWig zoom read failed: {er}"))?;
                    let (zs, ze) = (z.start.max(s), z.end.min(e));
                    if zs >= ze || z.summary.bases_covered == 0 {
                        continue;
                    }
                    // zoom records can straddle the tile edge: keep the share inside it
                    let frac = (ze - zs) as f64 / (z.end - z.start).max(1) as f64;
                    recs.push(Rec {
                        start: zs,
                        end: ze,
                        covered: ((z.summary.bases_covered as f64 * frac).round() as u32).max(1),
                        mean: z.summary.sum / z.summary.bases_covered as f64,
                        max: z.summary.max_val as f32,
                    });
                }
            }
        }
        self.tiles_read += 1;
        let recs = Arc::new(recs);
        self.cache_bytes += tile_bytes(&recs);
        self.cache.insert(key, (self.clock, recs.clone()));
        // least recently used first, down to the budget (the new tile stays)
        while self.cache_bytes > self.cache_budget && self.cache.len() > 1 {
            let Some(old) = self.cache.iter().filter(|(k, _)| **k != key).min_by_key(|(_, (t, _))| *t).map(|(k, _)| *k) else { break };
            if let Some((_, r)) = self.cache.remove(&old) {
                self.cache_bytes -= tile_bytes(&r);
            }
        }
        Ok(recs)
    }

    /// `nbins` column summaries of `[start, end)`. Column `i` covers
    /// `[start + i*W/n, start + (i+1)*W/n)`. At base-level zoom the sums are exact; at wide
    /// zoom they come from the file's zoom tables (a record straddling two columns is shared
    /// in proportion to its overlap). Tiles are cached, so panning reads only new tiles.
    pub fn binned(&mut self, chrom: &str, start: u64, end: u64, nbins: usize) -> Result<Option<Vec<BinSummary>>> {
        let Some(ci) = self.names.index(chrom) else { return Ok(None) };
        let empty = BinSummary { covered: 0.0, sum: 0.0, max: f32::NAN };
        let mut bins = vec![empty; nbins];
        if nbins == 0 || end <= start {
            return Ok(Some(bins));
        }
        let width = end - start;
        let level = self.level_for(width as f64 / nbins as f64);
        let span = if level == 0 { RAW_TILE } else { level as u64 * ZOOM_TILE_RECORDS };
        let len = self.names.lengths()[ci];
        let (s, e) = (start.min(len), end.min(len));
        if s >= e {
            return Ok(Some(bins));
        }
        let edge = |i: usize| start + ((i as u128 * width as u128) / nbins as u128) as u64;
        let bin_of = |pos: u64| -> usize {
            // largest i with edge(i) <= pos
            let i = (((pos - start) as u128 * nbins as u128) / width as u128) as usize;
            let mut i = i.min(nbins - 1);
            while i + 1 < nbins && edge(i + 1) <= pos {
                i += 1;
            }
            while i > 0 && edge(i) > pos {
                i -= 1;
            }
            i
        };
        for t in s / span..=(e - 1) / span {
            let recs = self.tile(level, ci, t)?;
            for r in recs.iter() {
                let (rs, re) = ((r.start as u64).max(s), (r.end as u64).min(e));
                if rs >= re {
                    continue;
                }
                let rlen = (r.end - r.start) as f64;
                let (first, last) = (bin_of(rs), bin_of(re - 1));
                for (i, b) in bins.iter_mut().enumerate().take(last + 1).skip(first) {
                    let (bs, be) = (edge(i).max(rs), edge(i + 1).min(re));
                    if bs >= be {
                        continue;
                    }
                    // fully covered records (all raw data) share out whole bases exactly
                    let part = if r.covered == r.end - r.start { (be - bs) as f64 } else { r.covered as f64 * (be - bs) as f64 / rlen };
                    b.covered += part;
                    b.sum += r.mean * part;
                    if b.max.is_nan() || r.max > b.max {
                        b.max = r.max;
                    }
                }
            }
        }
        Ok(Some(bins))
    }

    pub fn cached_tiles(&self) -> usize {
        self.cache.len()
    }

    /// Bytes the tile cache holds now.
    pub fn cached_bytes(&self) -> usize {
        self.cache_bytes
    }

    /// The most memory the tile cache may hold, in bytes (least recently used tiles go
    /// first; the tile just read always stays).
    pub fn set_cache_budget(&mut self, bytes: usize) {
        self.cache_budget = bytes;
    }
}

fn tile_bytes(recs: &[Rec]) -> usize {
    std::mem::size_of_val(recs) + TILE_OVERHEAD
}

/// Write a bigWig from sorted `(chrom, start, end, value)` runs (used by `predict
/// --bigwig-out`, the demo data and tests). Chromosomes must come in one block each, and
/// records within a chromosome must be sorted and non-overlapping.
pub fn write_bigwig(path: &Path, chrom_sizes: &[(String, u32)], records: Vec<(String, Value)>) -> Result<()> {
    use bigtools::beddata::BedParserStreamingIterator;
    let sizes: HashMap<String, u32> = chrom_sizes.iter().cloned().collect();
    for (c, v) in &records {
        match sizes.get(c) {
            None => bail!("write_bigwig {}: record on {c}, which has no size", path.display()),
            Some(&n) if v.end > n || v.start >= v.end => {
                bail!("write_bigwig {}: bad record {c}:{}-{} (chromosome length {n})", path.display(), v.start, v.end)
            }
            _ => {}
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let writer = bigtools::BigWigWrite::create_file(path, sizes).map_err(|e| anyhow!("cannot create bigWig {}: {e}", path.display()))?;
    let data = BedParserStreamingIterator::wrap_infallible_iter(records.into_iter(), false);
    writer.write(data, runtime).map_err(|e| anyhow!("writing bigWig {} failed: {e}", path.display()))?;
    Ok(())
}
