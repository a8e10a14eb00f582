//! Per-column summaries of features for the track view, computed once per view change so
//! that drawing a frame never walks every feature: peaks and genes per column (exact spans
//! at narrow views, counts per column at wide ones) and predicted values per column (the
//! maximum over the predicted peaks of each column).
use crate::genome::chroms::canonical;
use crate::genome::genes::{Gene, Genes};
use crate::genome::{Locus, PeakSet};
use std::collections::HashMap;

/// Column `c` of `cols` over `locus` covers `[edge(c), edge(c + 1))`.
pub fn edge(locus: &Locus, cols: usize, c: usize) -> u64 {
    locus.start + ((c as u128 * locus.len() as u128) / cols.max(1) as u128) as u64
}

/// The column of a position (clamped to the view).
pub fn col_of(locus: &Locus, cols: usize, pos: u64) -> usize {
    let w = locus.len().max(1);
    ((((pos.max(locus.start) - locus.start) as u128 * cols as u128) / w as u128) as usize).min(cols)
}

/// Columns `[c1, c2)` a feature `[start, end)` covers (at least one when it is in view).
pub fn span(locus: &Locus, cols: usize, start: u64, end: u64) -> (usize, usize) {
    let c1 = col_of(locus, cols, start.max(locus.start));
    let c2 = col_of(locus, cols, end.min(locus.end)).max(c1 + 1).min(cols);
    (c1, c2)
}

/// Peaks of one chromosome in the order of the peak set, by start.
struct ChromPeaks {
    first: usize,
    starts: Vec<u64>,
    longest: u64,
}

/// Peak starts per chromosome (built once per peak set) for counting peaks per column by
/// binary search.
pub struct PeakStarts {
    chroms: HashMap<String, ChromPeaks>,
}

impl PeakStarts {
    pub fn new(peaks: &PeakSet) -> PeakStarts {
        let mut chroms: HashMap<String, ChromPeaks> = HashMap::new();
        for (i, p) in peaks.peaks().iter().enumerate() {
            let c = chroms.entry(canonical(&p.chrom)).or_insert(ChromPeaks { first: i, starts: Vec::new(), longest: 0 });
            c.starts.push(p.start);
            c.longest = c.longest.max(p.end - p.start);
        }
        PeakStarts { chroms }
    }

    /// Index range (into the peak set) of the peaks that may overlap `[start, end)`.
    pub fn range(&self, chrom: &str, start: u64, end: u64) -> std::ops::Range<usize> {
        let Some(c) = self.chroms.get(&canonical(chrom)) else { return 0..0 };
        let a = c.starts.partition_point(|&s| s + c.longest <= start);
        let b = c.starts.partition_point(|&s| s < end);
        c.first + a..c.first + b.max(a)
    }

    /// Peaks starting in each column.
    pub fn per_column(&self, locus: &Locus, cols: usize) -> Vec<u32> {
        let Some(c) = self.chroms.get(&canonical(&locus.chrom)) else { return vec![0; cols] };
        let at = |pos: u64| c.starts.partition_point(|&s| s < pos);
        (0..cols).map(|k| (at(edge(locus, cols, k + 1)) - at(edge(locus, cols, k))) as u32).collect()
    }
}

/// What the peak row draws in one column.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PeakCell {
    /// peaks overlapping the column (exact view) or starting in it (density view)
    pub count: u32,
    pub ubiquitous: bool,
    pub selected: bool,
}

/// The peak row of a view.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeakRow {
    pub cells: Vec<PeakCell>,
    /// counts per column (wide view) instead of spans
    pub density: bool,
    /// peaks in view
    pub total: usize,
}

/// More peaks than this per column on average and the peak row shows counts.
const EXACT_PEAKS_PER_COL: usize = 2;

pub fn peak_row(
    peaks: &PeakSet,
    starts: &PeakStarts,
    locus: &Locus,
    cols: usize,
    selected: Option<usize>,
    ubiquitous: &dyn Fn(Option<&str>) -> bool,
) -> PeakRow {
    let range = starts.range(&locus.chrom, locus.start, locus.end);
    let mut cells = vec![PeakCell::default(); cols];
    if range.len() <= EXACT_PEAKS_PER_COL * cols.max(1) {
        let mut total = 0;
        for i in range {
            let p = &peaks.peaks()[i];
            if p.end <= locus.start || p.start >= locus.end {
                continue;
            }
            total += 1;
            let (c1, c2) = span(locus, cols, p.start, p.end);
            for cell in &mut cells[c1.min(cols)..c2] {
                cell.count += 1;
                cell.ubiquitous |= ubiquitous(p.label.as_deref());
                cell.selected |= selected == Some(i);
            }
        }
        return PeakRow { cells, density: false, total };
    }
    for (cell, n) in cells.iter_mut().zip(starts.per_column(locus, cols)) {
        cell.count = n;
    }
    if let Some(i) = selected.filter(|i| range.contains(i)) {
        let p = &peaks.peaks()[i];
        let c = col_of(locus, cols, p.start).min(cols.saturating_sub(1));
        if let Some(cell) = cells.get_mut(c) {
            cell.selected = true;
        }
    }
    let total = cells.iter().map(|c| c.count as usize).sum();
    PeakRow { cells, density: true, total }
}

/// Genes per chromosome, sorted by start, for overlap queries by binary search.
pub struct GeneIndex {
    chroms: HashMap<String, (Vec<Gene>, u64)>,
}

impl GeneIndex {
    pub fn new(genes: &Genes) -> GeneIndex {
        let mut chroms: HashMap<String, (Vec<Gene>, u64)> = HashMap::new();
        for g in genes.all() {
            let e = chroms.entry(canonical(&g.locus.chrom)).or_default();
            e.1 = e.1.max(g.locus.len());
            e.0.push(g.clone());
        }
        for (v, _) in chroms.values_mut() {
            v.sort_by_key(|g| (g.locus.start, g.locus.end));
        }
        GeneIndex { chroms }
    }

    /// Genes that may overlap `locus` (every overlapping one, and a few ending before it), by start.
    pub fn overlapping(&self, locus: &Locus) -> &[Gene] {
        let Some((v, longest)) = self.chroms.get(&canonical(&locus.chrom)) else { return &[] };
        let a = v.partition_point(|g| g.locus.start + longest <= locus.start);
        let b = v.partition_point(|g| g.locus.start < locus.end);
        &v[a..b.max(a)]
    }
}

/// One cell of the gene row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GeneCell {
    Empty,
    /// a gene body (`<` / `>` every few columns for the strand)
    Body(char),
    /// a character of a gene name
    Name(char),
    /// genes starting in this column at a wide view (level 1..=8 of the column maximum)
    Density(u8),
}

/// The gene row of a view.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneRow {
    pub cells: Vec<GeneCell>,
    pub density: bool,
    pub total: usize,
}

/// Gene bodies with names where a whole name fits (never cut to initials) when there are
/// few genes per column; otherwise genes per column, with the names that fit on free
/// stretches between them.
pub fn gene_row(index: &GeneIndex, locus: &Locus, cols: usize) -> GeneRow {
    let genes: Vec<&Gene> = index.overlapping(locus).iter().filter(|g| g.locus.end > locus.start && g.locus.start < locus.end).collect();
    let mut cells = vec![GeneCell::Empty; cols];
    let density = genes.len() * 4 > cols;
    if density {
        let mut counts = vec![0u32; cols];
        for g in &genes {
            counts[col_of(locus, cols, g.locus.start.max(locus.start)).min(cols.saturating_sub(1))] += 1;
        }
        let max = counts.iter().copied().max().unwrap_or(0).max(1);
        for (c, &n) in cells.iter_mut().zip(&counts) {
            if n > 0 {
                *c = GeneCell::Density(((n * 8).div_ceil(max)).clamp(1, 8) as u8);
            }
        }
    } else {
        for g in &genes {
            let (c1, c2) = span(locus, cols, g.locus.start, g.locus.end);
            let arrow = if g.strand == Some('-') { '<' } else { '>' };
            for (c, cell) in cells.iter_mut().enumerate().take(c2).skip(c1) {
                if *cell == GeneCell::Empty {
                    *cell = GeneCell::Body(if c % 4 == 0 { arrow } else { '─' });
                }
            }
        }
    }
    // names: longest genes first, each where its whole name fits on cells not named yet
    // (and, in the density view, on empty cells only)
    let mut by_len: Vec<&&Gene> = genes.iter().collect();
    by_len.sort_by_key(|g| std::cmp::Reverse(g.locus.len()));
    for g in by_len.into_iter().take(2000) {
        let n = g.name.chars().count();
        let (c1, _) = span(locus, cols, g.locus.start, g.locus.end);
        let free = |c: usize| match cells.get(c) {
            Some(GeneCell::Name(_)) | None => false,
            Some(GeneCell::Density(_)) => false,
            Some(_) => true,
        };
        // a gap of one cell after the name keeps names apart
        if c1 + n < cols && (c1..c1 + n + 1).all(free) && (c1 == 0 || !matches!(cells[c1 - 1], GeneCell::Name(_))) {
            for (k, ch) in g.name.chars().enumerate() {
                cells[c1 + k] = GeneCell::Name(ch);
            }
        }
    }
    GeneRow { cells, density, total: genes.len() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genome::Peak;

    fn peak(chrom: &str, s: u64, e: u64) -> Peak {
        Peak { chrom: chrom.into(), start: s, end: e, name: None, label: None, summit: None }
    }

    #[test]
    fn peak_rows_are_exact_at_narrow_views_and_counts_at_wide_ones() {
        let set = PeakSet::from_peaks((0..1000).map(|k| peak("chr1", k * 1000, k * 1000 + 200)).chain([peak("chr2", 5, 10)]).collect());
        let starts = PeakStarts::new(&set);
        let no = |_: Option<&str>| false;
        // 10 kb in 10 columns: 10 peaks, exact spans (a 200-bp peak covers its column)
        let narrow = peak_row(&set, &starts, &Locus::new("chr1", 0, 10_000), 10, Some(3), &no);
        assert!(!narrow.density && narrow.total == 10);
        assert!(narrow.cells.iter().all(|c| c.count == 1));
        assert!(narrow.cells[3].selected && !narrow.cells[4].selected);
        // 1 Mb in 10 columns: 100 peaks per column
        let wide = peak_row(&set, &starts, &Locus::new("chr1", 0, 1_000_000), 10, Some(999), &no);
        assert!(wide.density && wide.total == 1000);
        assert_eq!(wide.cells.iter().map(|c| c.count).collect::<Vec<_>>(), vec![100; 10]);
        assert!(wide.cells[9].selected);
        assert_eq!(starts.range("2", 0, 100), 1000..1001, "alias spelling");
    }

    #[test]
    fn gene_names_are_whole_or_absent() {
        let g = |n: &str, s: u64, e: u64| Gene { name: n.into(), locus: Locus::new("chr1", s, e), strand: Some('+') };
        let genes = Genes::from_genes(vec![g("LONGNAME1", 0, 100), g("AB", 120, 130), g("OVERLAPPING", 10, 50)]);
        let idx = GeneIndex::new(&genes);
        let row = gene_row(&idx, &Locus::new("chr1", 0, 200), 40);
        let text: String = row.cells.iter().map(|c| if let GeneCell::Name(ch) = c { *ch } else { '.' }).collect();
        assert!(text.contains("LONGNAME1"), "{text}");
        assert!(!text.contains("OVERL") || text.contains("OVERLAPPING"), "never cut: {text}");
        assert!(text.contains("AB"), "{text}");
        // candidates by binary search (a superset), of which one overlaps
        let near = idx.overlapping(&Locus::new("1", 101, 125));
        assert_eq!(near.iter().filter(|g| g.locus.end > 101 && g.locus.start < 125).map(|g| g.name.as_str()).collect::<Vec<_>>(), ["AB"]);
    }
}
