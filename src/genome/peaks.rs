//! Peak sets from BED3+ / narrowPeak (plain or gzip) and bigBed, with cluster labels, an
//! interval index and next/previous navigation.
use super::sniff::{sniff, FileKind};
use super::textio::for_each_data_line;
use anyhow::{anyhow, bail, Result};
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Peak {
    pub chrom: String,
    /// 0-based inclusive
    pub start: u64,
    /// 0-based exclusive
    pub end: u64,
    /// BED column 4 when present
    pub name: Option<String>,
    /// cluster label from the configured column
    pub label: Option<String>,
    /// narrowPeak summit offset from `start` (column 10), when given and not -1
    pub summit: Option<u64>,
}

impl Peak {
    pub fn locus(&self) -> super::Locus {
        super::Locus::new(self.chrom.clone(), self.start, self.end)
    }

    /// BED name, or `chrom:start-end` when there is none (bigWigAverageOverBed's rule).
    pub fn display_name(&self) -> String {
        match &self.name {
            Some(n) if n != "." => n.clone(),
            _ => format!("{}:{}-{}", self.chrom, self.start, self.end),
        }
    }
}

/// How to read a peak file.
#[derive(Debug, Clone, Default)]
pub struct PeakReadOptions {
    /// 1-based column holding the cluster label (4 = the name column)
    pub label_column: Option<usize>,
}

/// Peaks sorted by (chromosome in first-seen order, start, end) with a per-chromosome index.
#[derive(Debug, Clone, Default)]
pub struct PeakSet {
    peaks: Vec<Peak>,
    chrom_order: Vec<String>,
    ranges: HashMap<String, (usize, usize, u64)>, // chrom -> (lo, hi, longest peak)
}

impl PeakSet {
    pub fn from_peaks(mut peaks: Vec<Peak>) -> Self {
        let mut order: Vec<String> = Vec::new();
        let mut rank: HashMap<String, usize> = HashMap::new();
        for p in &peaks {
            if !rank.contains_key(&p.chrom) {
                rank.insert(p.chrom.clone(), order.len());
                order.push(p.chrom.clone());
            }
        }
        // chromosomes in order of first appearance, then start and end; one rank lookup per
        // peak (not per comparison), and nothing to do for a file that is already sorted
        let key = |p: &Peak, r: usize| (r, p.start, p.end);
        let ranks: Vec<usize> = peaks.iter().map(|p| rank[&p.chrom]).collect();
        if !(1..peaks.len()).all(|i| key(&peaks[i - 1], ranks[i - 1]) <= key(&peaks[i], ranks[i])) {
            let mut keyed: Vec<((usize, u64, u64), Peak)> = peaks.into_iter().zip(ranks).map(|(p, r)| (key(&p, r), p)).collect();
            keyed.sort_by_key(|k| k.0);
            peaks = keyed.into_iter().map(|(_, p)| p).collect();
        }
        let mut ranges = HashMap::new();
        let mut i = 0;
        while i < peaks.len() {
            let mut j = i;
            let mut longest = 0;
            while j < peaks.len() && peaks[j].chrom == peaks[i].chrom {
                longest = longest.max(peaks[j].end - peaks[j].start);
                j += 1;
            }
            ranges.insert(peaks[i].chrom.clone(), (i, j, longest));
            i = j;
        }
        PeakSet { peaks, chrom_order: order, ranges }
    }

    /// Read a BED3+/narrowPeak file (gzip allowed) or a bigBed (by magic number).
    pub fn read(path: &Path, opts: &PeakReadOptions) -> Result<Self> {
        Ok(Self::from_peaks(read_regions(path, opts)?))
    }
}

/// The records of a BED3+/narrowPeak (gzip allowed) or bigBed file in file order.
pub fn read_regions(path: &Path, opts: &PeakReadOptions) -> Result<Vec<Peak>> {
    if is_bigbed(path)? {
        return read_bigbed(path, opts);
    }
    let mut peaks = Vec::new();
    let label_column = opts.label_column.filter(|&c| c >= 1);
    let n = for_each_data_line(path, "peak file", |lineno, line| {
        let bad = |why: String| anyhow!("peak file {} line {lineno}: {why}\n  line: {}", path.display(), truncate(line));
        // columns 1-3, 4 (name), the label column and 10 (summit) are all that is read
        let mut f: [&str; 16] = [""; 16];
        let mut cols = fields(line.split('\t'), &mut f);
        let tabs = cols >= 3;
        if !tabs {
            cols = fields(line.split_whitespace(), &mut f);
        }
        if cols < 3 {
            return Err(bad(format!("expected at least 3 tab-separated columns (chrom start end), found {cols}")));
        }
        let (chrom, start, end) = parse_interval(f[0], f[1], f[2]).map_err(bad)?;
        let label = match label_column {
            Some(c) if c > cols => return Err(bad(format!("label column {c} is missing (the line has {cols} columns)"))),
            Some(c) if c <= f.len() => Some(f[c - 1].trim().to_string()),
            // beyond the columns kept above: find it
            Some(c) => if tabs { line.split('\t').nth(c - 1) } else { line.split_whitespace().nth(c - 1) }.map(|x| x.trim().to_string()),
            None => None,
        };
        let summit = if cols >= 10 { f[9].trim().parse::<i64>().ok().filter(|&s| s >= 0).map(|s| s as u64) } else { None };
        peaks.push(Peak { chrom: chrom.to_string(), start, end, name: (cols >= 4).then(|| f[3].trim().to_string()), label, summit });
        Ok(())
    })?;
    if n == 0 {
        bail!("peak file {} has no peaks (empty, or only headers/comments)", path.display());
    }
    Ok(peaks)
}

/// The first `f.len()` fields of a line into `f`; returns how many fields there are.
fn fields<'a>(it: impl Iterator<Item = &'a str>, f: &mut [&'a str]) -> usize {
    let mut n = 0;
    for x in it {
        if let Some(slot) = f.get_mut(n) {
            *slot = x;
        }
        n += 1;
    }
    n
}

/// Largest coordinate accepted (2^40, far beyond any chromosome), so window arithmetic in
/// signed 64-bit can never overflow.
pub const MAX_COORD: u64 = 1 << 40;

/// Parse BED columns 1-3 (chrom, 0-based start, exclusive end) or say what is wrong.
pub(crate) fn parse_interval<'a>(chrom: &'a str, start: &str, end: &str) -> std::result::Result<(&'a str, u64, u64), String> {
    let chrom = chrom.trim();
    if chrom.is_empty() {
        return Err("the chromosome (column 1) is empty".into());
    }
    let num = |s: &str, what: &str| -> std::result::Result<u64, String> {
        let t = s.trim();
        match t.parse::<u64>() {
            Ok(v) if v <= MAX_COORD => Ok(v),
            Ok(v) => Err(format!("{what} {v} is larger than any chromosome")),
            Err(_) if t.starts_with('-') && t[1..].parse::<u64>().is_ok() => Err(format!("{what} {t} is negative (BED coordinates are 0-based, from 0)")),
            Err(_) => Err(format!("{what} '{t}' is not a non-negative integer")),
        }
    };
    let (s, e) = (num(start, "start")?, num(end, "end")?);
    if e <= s {
        return Err(format!("end {e} is not after start {s} (BED is 0-based half-open)"));
    }
    Ok((chrom, s, e))
}

fn read_bigbed(path: &Path, opts: &PeakReadOptions) -> Result<Vec<Peak>> {
    // open the file ourselves: bigtools' open_file prints to stderr on failure
    let file = std::fs::File::open(path).map_err(|e| anyhow!("bigBed {}: cannot read it ({e})", path.display()))?;
    let reopen = bigtools::utils::reopen::ReopenableFile { path: path.to_path_buf(), file };
    let mut bb = bigtools::BigBedRead::open(reopen)
        .map_err(|e| anyhow!("bigBed {}: cannot read its header ({e}); the file is corrupt or truncated: re-create it", path.display()))?;
    let chroms: Vec<(String, u32)> = bb.chroms().iter().map(|c| (c.name.clone(), c.length)).collect();
    let mut peaks = Vec::new();
    for (name, len) in chroms {
        let iter = bb.get_interval(&name, 0, len).map_err(|e| anyhow!("bigBed {}: {e}", path.display()))?;
        for e in iter {
            let e = e.map_err(|e| anyhow!("bigBed {}: read failed ({e})", path.display()))?;
            // `rest` holds columns 4.. tab-separated
            let rest: Vec<&str> = if e.rest.is_empty() { vec![] } else { e.rest.split('\t').collect() };
            let label = match opts.label_column {
                Some(c) if c >= 4 => {
                    Some(rest.get(c - 4).ok_or_else(|| anyhow!("bigBed {}: label column {c} missing at {name}:{}", path.display(), e.start))?.to_string())
                }
                Some(c) if c >= 1 => Some(match c {
                    1 => name.clone(),
                    2 => e.start.to_string(),
                    _ => e.end.to_string(),
                }),
                _ => None,
            };
            let summit = rest.get(6).and_then(|s| s.parse::<i64>().ok()).filter(|&s| s >= 0).map(|s| s as u64);
            peaks.push(Peak { chrom: name.clone(), start: e.start as u64, end: e.end as u64, name: rest.first().map(|s| s.to_string()), label, summit });
        }
    }
    if peaks.is_empty() {
        bail!("bigBed {} has no peaks", path.display());
    }
    Ok(peaks)
}

impl PeakSet {
    pub fn len(&self) -> usize {
        self.peaks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.peaks.is_empty()
    }

    pub fn peaks(&self) -> &[Peak] {
        &self.peaks
    }

    pub fn get(&self, i: usize) -> Option<&Peak> {
        self.peaks.get(i)
    }

    pub fn chroms(&self) -> &[String] {
        &self.chrom_order
    }

    /// Indices of peaks overlapping `[start, end)` on `chrom`, in order. `chrom` is matched
    /// exactly or through an alias (`1` finds `chr1` peaks).
    pub fn overlapping(&self, chrom: &str, start: u64, end: u64) -> Vec<usize> {
        let Some(&(lo, hi, longest)) = self.chrom_range(chrom) else { return vec![] };
        let slice = &self.peaks[lo..hi];
        let first = slice.partition_point(|p| p.start + longest <= start);
        let mut out = Vec::new();
        for (k, p) in slice[first..].iter().enumerate() {
            if p.start >= end {
                break;
            }
            if p.end > start {
                out.push(lo + first + k);
            }
        }
        out
    }

    fn chrom_range(&self, chrom: &str) -> Option<&(usize, usize, u64)> {
        self.ranges.get(chrom).or_else(|| {
            let key = super::chroms::canonical(chrom);
            self.chrom_order.iter().find(|c| super::chroms::canonical(c) == key).and_then(|c| self.ranges.get(c))
        })
    }

    /// Whether any peak overlaps `[start, end)` on `chrom`.
    pub fn any_overlap(&self, chrom: &str, start: u64, end: u64) -> bool {
        let Some(&(lo, hi, longest)) = self.chrom_range(chrom) else { return false };
        let slice = &self.peaks[lo..hi];
        let first = slice.partition_point(|p| p.start + longest <= start);
        slice[first..].iter().take_while(|p| p.start < end).any(|p| p.end > start)
    }

    /// The first peak (in file order across chromosomes) starting after `pos` on `chrom`
    /// that satisfies `keep`; continues onto later chromosomes. `pos` is 0-based.
    pub fn next_after(&self, chrom: &str, pos: u64, keep: impl Fn(&Peak) -> bool) -> Option<usize> {
        let start_idx = match self.chrom_range(chrom) {
            Some(&(lo, hi, _)) => lo + self.peaks[lo..hi].partition_point(|p| p.start <= pos),
            None => 0,
        };
        (start_idx..self.peaks.len()).find(|&i| keep(&self.peaks[i]))
    }

    /// The last peak starting before `pos` on `chrom` that satisfies `keep`; continues onto
    /// earlier chromosomes.
    pub fn prev_before(&self, chrom: &str, pos: u64, keep: impl Fn(&Peak) -> bool) -> Option<usize> {
        let end_idx = match self.chrom_range(chrom) {
            Some(&(lo, hi, _)) => lo + self.peaks[lo..hi].partition_point(|p| p.start < pos),
            None => self.peaks.len(),
        };
        (0..end_idx).rev().find(|&i| keep(&self.peaks[i]))
    }

    /// Peak by exact name (case-insensitive).
    pub fn find_name(&self, name: &str) -> Option<usize> {
        self.peaks.iter().position(|p| p.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name)))
    }

    /// Distinct labels with counts, in first-seen order.
    pub fn label_counts(&self) -> Vec<(String, usize)> {
        let mut order: Vec<(String, usize)> = Vec::new();
        let mut at: HashMap<&str, usize> = HashMap::new();
        for p in &self.peaks {
            if let Some(l) = &p.label {
                match at.get(l.as_str()) {
                    Some(&k) => order[k].1 += 1,
                    None => {
                        at.insert(l, order.len());
                        order.push((l.clone(), 1));
                    }
                }
            }
        }
        order
    }
}

/// For each peak of `peaks`, how many of `per_track` call a peak overlapping it (at least
/// one base in common). This is the peak's cell-type specificity: 1 = specific to one
/// track, `per_track.len()` = ubiquitous.
pub fn specificity(peaks: &PeakSet, per_track: &[PeakSet]) -> Vec<u32> {
    peaks.peaks().iter().map(|p| per_track.iter().filter(|t| t.any_overlap(&p.chrom, p.start, p.end)).count() as u32).collect()
}

fn truncate(s: &str) -> String {
    if s.len() > 120 {
        format!("{}…", &s[..s.char_indices().take_while(|(i, _)| *i < 120).last().map(|(i, c)| i + c.len_utf8()).unwrap_or(0)])
    } else {
        s.to_string()
    }
}

fn is_bigbed(path: &Path) -> Result<bool> {
    let kind = sniff(path).map_err(|e| anyhow!("peak file {}: cannot read it ({e})", path.display()))?;
    if kind == FileKind::BigWig {
        bail!(
            "peak file {} is a bigWig (signal), not peaks: give a BED/narrowPeak (plain or gzip) or bigBed file; bigWigs go in [[tracks]] bigwig",
            path.display()
        );
    }
    Ok(kind == FileKind::BigBed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn set(text: &str, label: Option<usize>) -> Result<PeakSet> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("p.bed");
        std::fs::File::create(&p).unwrap().write_all(text.as_bytes()).unwrap();
        PeakSet::read(&p, &PeakReadOptions { label_column: label })
    }

    #[test]
    fn reads_sorts_and_labels() {
        let s = set("chr2\t50\t60\tp3\tspec\nchr1\t30\t40\tp2\tubi\nchr1\t10\t20\tp1\tspec\n", Some(5)).unwrap();
        // chromosomes keep first-seen order; starts sorted within
        let names: Vec<_> = s.peaks().iter().map(|p| p.name.clone().unwrap()).collect();
        assert_eq!(names, ["p3", "p1", "p2"]);
        assert_eq!(s.label_counts(), vec![("spec".to_string(), 2), ("ubi".to_string(), 1)]);
        assert_eq!(s.find_name("P2"), Some(2));
    }

    #[test]
    fn columns_by_tabs_or_spaces_and_far_label_columns() {
        // space-separated lines, a label in column 5, a summit in column 10
        let s = set("chr1 10 20 a x 0 . 1 1 4\nchr1  30 40 b y\n", Some(5)).unwrap();
        let got: Vec<_> = s.peaks().iter().map(|p| (p.name.clone().unwrap(), p.label.clone().unwrap(), p.summit)).collect();
        assert_eq!(got, vec![("a".into(), "x".into(), Some(4)), ("b".into(), "y".into(), None)]);
        // a label beyond the first 16 columns, with empty fields kept in place between tabs
        let cols: Vec<String> = (4..=20).map(|k| if k == 7 { String::new() } else { format!("c{k}") }).collect();
        let s = set(&format!("chr1\t1\t2\t{}\n", cols.join("\t")), Some(18)).unwrap();
        assert_eq!(s.peaks()[0].label.as_deref(), Some("c18"));
        // the label column missing on one line: that line named
        let e = set("chr1\t1\t2\ta\tx\nchr1\t3\t4\tb\n", Some(5)).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("label column 5 is missing (the line has 4 columns)"), "{e}");
        let e = set("chr1\t1\t2\n", Some(18)).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("label column 18 is missing"), "{e}");
    }

    #[test]
    fn overlap_edges_are_half_open() {
        let s = set("chr1\t10\t20\nchr1\t20\t30\nchr1\t0\t100\n", None).unwrap();
        // [20,21) touches only the second and the long one
        let hits: Vec<_> = s.overlapping("chr1", 20, 21).iter().map(|&i| (s.peaks()[i].start, s.peaks()[i].end)).collect();
        assert_eq!(hits, vec![(0, 100), (20, 30)]);
        // [19,20) touches the first and the long one, not the one starting at 20
        assert_eq!(s.overlapping("chr1", 19, 20).len(), 2);
        assert!(s.overlapping("chr1", 100, 200).is_empty());
        assert_eq!(s.overlapping("1", 0, 1).len(), 1, "alias lookup");
        assert!(s.overlapping("chr9", 0, 10).is_empty());
    }

    #[test]
    fn next_and_prev_cross_chromosomes_and_filter() {
        let s = set("chr1\t10\t20\ta\tx\nchr1\t30\t40\tb\ty\nchr2\t5\t6\tc\tx\n", Some(5)).unwrap();
        let x = |p: &Peak| p.label.as_deref() == Some("x");
        assert_eq!(s.next_after("chr1", 10, |_| true), Some(1));
        assert_eq!(s.next_after("chr1", 10, x), Some(2)); // skips the 'y' peak onto chr2
        assert_eq!(s.next_after("chr2", 5, |_| true), None);
        assert_eq!(s.prev_before("chr2", 5, |_| true), Some(1));
        assert_eq!(s.prev_before("chr2", 5, x), Some(0));
        assert_eq!(s.prev_before("chr1", 10, |_| true), None);
    }

    #[test]
    fn narrowpeak_summit_and_display_name() {
        let s = set("chr1\t100\t200\t.\t0\t.\t5.0\t3.0\t2.0\t42\n", None).unwrap();
        assert_eq!(s.peaks()[0].summit, Some(42));
        assert_eq!(s.peaks()[0].display_name(), "chr1:100-200");
    }

    #[test]
    fn bad_lines_name_the_line() {
        let e = set("chr1\t1\t2\nchr1\tx\t5\n", None).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("'x'"), "{e}");
        let e = set("chr1\t5\t5\n", None).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("not after"), "{e}");
        let e = set("chr1\t1\t2\n", Some(5)).unwrap_err().to_string();
        assert!(e.contains("label column 5"), "{e}");
        let e = set("# nothing\n", None).unwrap_err().to_string();
        assert!(e.contains("no peaks"), "{e}");
    }

    #[test]
    fn specificity_counts_tracks_with_overlap() {
        let all = set("chr1\t100\t200\nchr1\t300\t400\nchr1\t500\t600\n", None).unwrap();
        let a = set("chr1\t150\t160\nchr1\t399\t450\n", None).unwrap();
        let b = set("1\t190\t210\n", None).unwrap(); // alias spelling
        let c = set("chr1\t400\t500\n", None).unwrap(); // touches neither 300-400 nor 500-600
        assert_eq!(specificity(&all, &[a, b, c]), vec![2, 1, 0]);
    }
}
