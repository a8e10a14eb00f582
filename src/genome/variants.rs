//! Variants: VCF/BCF records (through htslib: plain text, bgzip, BCF; region queries with a
//! `.tbi`/`.csi` index) and allelic-imbalance tables, checked against the FASTA.
//!
//! * **Records**: a multi-allelic record becomes one [`Variant`] per ALT allele. SNVs and
//!   short indels (REF and ALT of A/C/G/T, length difference at most
//!   [`VariantOptions::max_indel`]) are read; symbolic (`<DEL>`), spanning (`*`), missing
//!   (`.`) and breakend alleles, or alleles with other letters, are skipped and counted.
//! * **Coordinates**: `pos` is the VCF POS (1-based); the REF allele covers the 0-based
//!   half-open interval `[pos − 1, pos − 1 + len(REF))` ([`Variant::locus`]).
//! * **REF check**: REF must equal the FASTA there (case-insensitive). A record whose REF
//!   differs is skipped and counted, never scored; the first few are kept with their line
//!   and the FASTA's bases ([`SkipCounts`]). So are records on a chromosome the FASTA lacks
//!   (names match through aliases: `1` finds `chr1`) and, when a window width is given,
//!   records whose centred window runs past either end of the chromosome.
//! * **Allelic counts**: the FORMAT `AD` field of samples named like the project's tracks
//!   (`AD[0]` = REF reads, `AD[k]` = reads of ALT allele k), or a TSV table
//!   `chrom pos ref alt <track>:ref_count <track>:alt_count …` (header line required; other
//!   columns are allowed and ignored, `NA`/`.`/empty counts are missing).
//! * **Labels**: an INFO key (VCF) or a column (table) marks positive and negative variants:
//!   `1/true/yes/pos/positive` vs `0/false/no/neg/negative`, or a number compared with
//!   thresholds (e.g. fine-mapping PIP ≥ 0.9 positive, ≤ 0.01 negative; in between and
//!   missing = unlabelled).
//! * **Lines**: errors and skipped records name the file and the 1-based line (for BCF, the
//!   record number).
use super::chroms::canonical;
use super::textio::open_text;
use super::{Fasta, Locus};
use rust_htslib::bcf::{self, header::TagType, Read};
use std::collections::VecDeque;
use std::io::{BufRead, Read as IoRead};
use std::path::{Path, PathBuf};

/// One ALT allele of a record, on the FASTA's chromosome spelling.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub chrom: String,
    /// VCF POS, 1-based: the first base of REF
    pub pos: u64,
    pub ref_allele: Vec<u8>,
    pub alt: Vec<u8>,
    /// the VCF ID column ("." when none)
    pub id: String,
    /// 1-based line in the file (record number for BCF)
    pub line: usize,
    /// positive / negative / unlabelled
    pub label: Option<bool>,
    /// per track of the project (config order): (REF reads, ALT reads) where known
    pub counts: Vec<Option<(u32, u32)>>,
}

impl Variant {
    /// The REF allele's interval `[pos − 1, pos − 1 + len(REF))` (0-based half-open); for an
    /// SNV the 1-bp region `[POS − 1, POS)`.
    pub fn locus(&self) -> Locus {
        let s = self.pos - 1;
        Locus::new(self.chrom.clone(), s, s + self.ref_allele.len() as u64)
    }

    pub fn is_snv(&self) -> bool {
        self.ref_allele.len() == 1 && self.alt.len() == 1
    }

    /// `chrom:pos:ref:alt`
    pub fn key(&self) -> String {
        format!("{}:{}:{}:{}", self.chrom, self.pos, String::from_utf8_lossy(&self.ref_allele), String::from_utf8_lossy(&self.alt))
    }
}

/// Errors reading variants: each names the file and, where there is one, the line.
#[derive(Debug, thiserror::Error)]
pub enum VariantError {
    #[error("variants {path}: {msg}")]
    File { path: PathBuf, msg: String },
    #[error("variants {path}, line {line}: {msg}")]
    Line { path: PathBuf, line: usize, msg: String },
}

pub type Result<T> = std::result::Result<T, VariantError>;

fn file_err(path: &Path, msg: impl Into<String>) -> VariantError {
    VariantError::File { path: path.to_path_buf(), msg: msg.into() }
}

fn line_err(path: &Path, line: usize, msg: impl Into<String>) -> VariantError {
    VariantError::Line { path: path.to_path_buf(), line, msg: msg.into() }
}

/// Why a record (or one ALT allele of it) was not read as a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    RefMismatch,
    UnknownChrom,
    OffChrom,
    Unsupported,
}

/// Records skipped, by reason, with the first few of each described (line and what was
/// expected).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SkipCounts {
    /// REF differs from the FASTA (or runs past the chromosome end)
    pub ref_mismatch: usize,
    /// chromosome not in the FASTA
    pub unknown_chrom: usize,
    /// the model window centred on the variant runs past a chromosome end
    pub off_chrom: usize,
    /// symbolic/spanning/missing ALT, bases other than ACGT, or an indel longer than max_indel
    pub unsupported: usize,
    /// chromosomes skipped (the first 20)
    pub unknown_chroms: Vec<String>,
    /// the first few skipped records of each reason, described
    pub examples: Vec<String>,
}

const EXAMPLES_PER_REASON: usize = 5;

impl SkipCounts {
    pub fn total(&self) -> usize {
        self.ref_mismatch + self.unknown_chrom + self.off_chrom + self.unsupported
    }

    fn count(&self, r: SkipReason) -> usize {
        match r {
            SkipReason::RefMismatch => self.ref_mismatch,
            SkipReason::UnknownChrom => self.unknown_chrom,
            SkipReason::OffChrom => self.off_chrom,
            SkipReason::Unsupported => self.unsupported,
        }
    }

    pub fn add(&mut self, r: SkipReason, what: impl FnOnce() -> String) {
        if self.count(r) < EXAMPLES_PER_REASON {
            self.examples.push(what());
        }
        match r {
            SkipReason::RefMismatch => self.ref_mismatch += 1,
            SkipReason::UnknownChrom => self.unknown_chrom += 1,
            SkipReason::OffChrom => self.off_chrom += 1,
            SkipReason::Unsupported => self.unsupported += 1,
        }
    }

    /// One line for stderr: `skipped N record(s): A REF mismatch(es), B on unknown chromosomes (…), …`.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{} REF mismatch(es) with the FASTA", self.ref_mismatch)];
        if self.unknown_chrom > 0 {
            parts.push(format!("{} on chromosomes the FASTA lacks ({})", self.unknown_chrom, self.unknown_chroms.join(", ")));
        }
        if self.off_chrom > 0 {
            parts.push(format!("{} whose model window runs off the chromosome", self.off_chrom));
        }
        if self.unsupported > 0 {
            parts.push(format!("{} unsupported allele(s) (symbolic, spanning, non-ACGT or long indel)", self.unsupported));
        }
        format!("skipped {} record(s), never scored: {}", self.total(), parts.join(", "))
    }
}

/// What to read besides the alleles, and which records to keep.
#[derive(Debug, Clone)]
pub struct VariantOptions {
    /// the project's track names: VCF samples and table columns are matched to them
    pub tracks: Vec<String>,
    /// INFO key (VCF) or column name (table) with the positive/negative label
    pub label: Option<String>,
    /// numeric labels: ≥ this is positive
    pub positive_min: Option<f64>,
    /// numeric labels: ≤ this is negative
    pub negative_max: Option<f64>,
    /// longest |len(ALT) − len(REF)| read (longer indels are skipped and counted)
    pub max_indel: usize,
    /// keep only these chromosomes (alias-aware)
    pub chroms: Option<Vec<String>>,
    /// skip (and count) variants whose window of this width, centred on the REF allele,
    /// runs past either end of the chromosome
    pub window: Option<u64>,
}

impl Default for VariantOptions {
    fn default() -> Self {
        VariantOptions { tracks: Vec::new(), label: None, positive_min: None, negative_max: None, max_indel: 50, chroms: None, window: None }
    }
}

impl VariantOptions {
    fn parse_label(&self, text: &str) -> std::result::Result<Option<bool>, String> {
        let t = text.trim();
        match t.to_ascii_lowercase().as_str() {
            "" | "." | "na" | "nan" => return Ok(None),
            "true" | "yes" | "pos" | "positive" => return Ok(Some(true)),
            "false" | "no" | "neg" | "negative" => return Ok(Some(false)),
            _ => {}
        }
        let x: f64 = t.parse().map_err(|_| format!("label '{t}' is neither 1/0, true/false, positive/negative nor a number"))?;
        match (self.positive_min, self.negative_max) {
            (None, None) if x == 1.0 => Ok(Some(true)),
            (None, None) if x == 0.0 => Ok(Some(false)),
            (None, None) => {
                Err(format!("label {x} is a number other than 1/0: set [variants] positive_min and negative_max (e.g. 0.9 and 0.01 for a fine-mapping PIP)"))
            }
            (p, n) => Ok(if p.is_some_and(|p| x >= p) {
                Some(true)
            } else if n.is_some_and(|n| x <= n) {
                Some(false)
            } else {
                None
            }),
        }
    }
}

fn is_acgt(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|c| matches!(c.to_ascii_uppercase(), b'A' | b'C' | b'G' | b'T'))
}

/// A record before the checks: one ALT allele with its counts.
struct Raw {
    chrom: String,
    pos: u64,
    ref_allele: Vec<u8>,
    alt: Vec<u8>,
    id: String,
    line: usize,
    label: Option<bool>,
    counts: Vec<Option<(u32, u32)>>,
}

enum Source {
    Vcf(Box<VcfSource>),
    Table(TableSource),
}

/// Variants of a VCF/BCF or an allelic table, checked against a FASTA, one at a time (bounded
/// memory). Skipped records are counted in [`VariantReader::skipped`].
pub struct VariantReader<'a> {
    path: PathBuf,
    fasta: &'a Fasta,
    opts: VariantOptions,
    source: Source,
    pending: VecDeque<Raw>,
    chrom_keys: Option<Vec<String>>,
    pub skipped: SkipCounts,
    /// records read (before skipping), ALT alleles counted separately
    pub alleles_read: usize,
}

/// Whether `path` is an allelic table (text whose first line is not a VCF header) rather
/// than a VCF/BCF.
pub fn is_table(path: &Path) -> Result<bool> {
    let mut head = Vec::new();
    let f = std::fs::File::open(path).map_err(|e| file_err(path, format!("cannot read it ({e})")))?;
    let mut magic = [0u8; 2];
    let gz = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == [0x1f, 0x8b];
    let r: Box<dyn IoRead> = if gz { Box::new(flate2::read::MultiGzDecoder::new(f)) } else { Box::new(f) };
    r.take(16).read_to_end(&mut head).map_err(|e| file_err(path, format!("cannot read it ({e})")))?;
    Ok(!(head.starts_with(b"BCF") || head.starts_with(b"##fileformat") || head.starts_with(b"#CHROM")))
}

impl<'a> VariantReader<'a> {
    /// Open a VCF/BCF (plain, bgzip or BCF) or an allelic table (told apart by content).
    pub fn open(path: &Path, fasta: &'a Fasta, opts: VariantOptions) -> Result<Self> {
        if std::fs::metadata(path).map_err(|e| file_err(path, format!("cannot read it ({e})")))?.is_dir() {
            return Err(file_err(path, "is a directory; expected a VCF/BCF file or an allelic table"));
        }
        let source = if is_table(path)? { Source::Table(TableSource::open(path, &opts)?) } else { Source::Vcf(Box::new(VcfSource::open(path, &opts, None)?)) };
        Ok(Self::with_source(path, fasta, opts, source))
    }

    /// Records of an indexed VCF/BCF overlapping `[start, end)` of `chrom` (0-based). The
    /// file must be bgzip-compressed, sorted and indexed (`.tbi`/`.csi`); otherwise the error
    /// says what to run (and, for an unsorted file, the first line out of order).
    pub fn open_region(path: &Path, fasta: &'a Fasta, opts: VariantOptions, chrom: &str, start: u64, end: u64) -> Result<Self> {
        let source = Source::Vcf(Box::new(VcfSource::open(path, &opts, Some((chrom, start, end)))?));
        Ok(Self::with_source(path, fasta, opts, source))
    }

    fn with_source(path: &Path, fasta: &'a Fasta, opts: VariantOptions, source: Source) -> Self {
        let chrom_keys = opts.chroms.as_ref().map(|c| c.iter().map(|c| canonical(c)).collect());
        VariantReader { path: path.to_path_buf(), fasta, opts, source, pending: VecDeque::new(), chrom_keys, skipped: SkipCounts::default(), alleles_read: 0 }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Track i's counts come from sample/column `names[i]` (None: no counts for it).
    pub fn count_sources(&self) -> Vec<Option<String>> {
        match &self.source {
            Source::Vcf(v) => v.samples.iter().map(|s| s.map(|i| v.sample_names[i].clone())).collect(),
            Source::Table(t) => t.cols.iter().enumerate().map(|(i, c)| c.map(|_| self.opts.tracks[i].clone())).collect(),
        }
    }

    /// The next variant that passes the checks, or None at the end.
    pub fn next_variant(&mut self) -> Result<Option<Variant>> {
        loop {
            if self.pending.is_empty() {
                let more = match &mut self.source {
                    Source::Vcf(v) => v.next(&self.opts, &mut self.pending)?,
                    Source::Table(t) => t.next(&self.opts, &mut self.pending)?,
                };
                if !more {
                    return Ok(None);
                }
                continue;
            }
            let raw = self.pending.pop_front().expect("pending");
            if let Some(keys) = &self.chrom_keys {
                if !keys.contains(&canonical(&raw.chrom)) {
                    continue;
                }
            }
            self.alleles_read += 1;
            if let Some(v) = self.check(raw)? {
                return Ok(Some(v));
            }
        }
    }

    /// Read every remaining variant (for small sets: tests, the UI's variant row).
    pub fn read_all(&mut self) -> Result<Vec<Variant>> {
        let mut out = Vec::new();
        while let Some(v) = self.next_variant()? {
            out.push(v);
        }
        Ok(out)
    }

    fn where_(&self, raw: &Raw) -> String {
        format!(
            "{} line {}: {}:{} {}>{}",
            self.path.display(),
            raw.line,
            raw.chrom,
            raw.pos,
            String::from_utf8_lossy(&raw.ref_allele),
            String::from_utf8_lossy(&raw.alt)
        )
    }

    fn check(&mut self, raw: Raw) -> Result<Option<Variant>> {
        let w = self.where_(&raw);
        let (ra, aa) = (&raw.ref_allele, &raw.alt);
        let indel = (ra.len() as i64 - aa.len() as i64).unsigned_abs() as usize;
        if !is_acgt(ra) || !is_acgt(aa) || indel > self.opts.max_indel || ra.eq_ignore_ascii_case(aa) {
            let why = if indel > self.opts.max_indel {
                format!("indel of {indel} bp, longer than max_indel {}", self.opts.max_indel)
            } else {
                "allele not of A/C/G/T".into()
            };
            self.skipped.add(SkipReason::Unsupported, || format!("{w}: unsupported ({why})"));
            return Ok(None);
        }
        let Some((name, len)) = self.fasta.resolve(&raw.chrom).ok().map(|(n, l)| (n.to_string(), l)) else {
            if self.skipped.unknown_chroms.len() < 20 && !self.skipped.unknown_chroms.contains(&raw.chrom) {
                self.skipped.unknown_chroms.push(raw.chrom.clone());
            }
            let fasta = self.fasta.path().display().to_string();
            let have = self.fasta.chroms().preview();
            self.skipped.add(SkipReason::UnknownChrom, || format!("{w}: chromosome '{}' is not in the FASTA {fasta} (it has {have})", raw.chrom));
            return Ok(None);
        };
        let start = raw.pos - 1;
        let end = start + ra.len() as u64;
        if raw.pos == 0 || end > len {
            self.skipped.add(SkipReason::RefMismatch, || format!("{w}: REF runs past the end of {name} ({len} bp)"));
            return Ok(None);
        }
        let have = self.fasta.fetch_clipped(&name, start, end).map_err(|e| line_err(&self.path, raw.line, format!("{e:#}")))?;
        if !have.eq_ignore_ascii_case(ra) {
            self.skipped.add(SkipReason::RefMismatch, || format!("{w}: REF mismatch, the FASTA has {}", String::from_utf8_lossy(&have)));
            return Ok(None);
        }
        let v = Variant {
            chrom: name,
            pos: raw.pos,
            ref_allele: ra.to_ascii_uppercase(),
            alt: aa.to_ascii_uppercase(),
            id: raw.id,
            line: raw.line,
            label: raw.label,
            counts: raw.counts,
        };
        if let Some(why) = self.opts.window.and_then(|width| window_off_chrom(&v, width, len)) {
            self.skipped.add(SkipReason::OffChrom, || format!("{w}: {why}"));
            return Ok(None);
        }
        Ok(Some(v))
    }
}

/// Why the `width`-bp model window centred on `v` runs off its chromosome of `len` bp, if it
/// does (an indel's ALT window reaches up to |Δ|/2 + 1 bases further on either side).
pub fn window_off_chrom(v: &Variant, width: u64, len: u64) -> Option<String> {
    let (s, e) = v.locus().centered_window(width);
    let extra = v.ref_allele.len().abs_diff(v.alt.len()) as i64 / 2 + 1;
    (s - extra < 0 || e + extra > len as i64).then(|| format!("the {width}-bp model window [{s}, {e}) runs off {} (0-{len})", v.chrom))
}

/// Number of header lines of a text VCF (plain or gzip); None for BCF.
fn vcf_header_lines(path: &Path) -> Result<Option<usize>> {
    let f = std::fs::File::open(path).map_err(|e| file_err(path, format!("cannot read it ({e})")))?;
    let mut magic = [0u8; 2];
    let gz = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == [0x1f, 0x8b];
    let mut r: Box<dyn BufRead> =
        if gz { Box::new(std::io::BufReader::new(flate2::read::MultiGzDecoder::new(f))) } else { Box::new(std::io::BufReader::new(f)) };
    let mut n = 0;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let k = (&mut r).take(1 << 24).read_until(b'\n', &mut buf).map_err(|e| file_err(path, format!("read failed after line {n} ({e})")))?;
        if n == 0 && buf.starts_with(b"BCF") {
            return Ok(None);
        }
        if k == 0 || !buf.starts_with(b"#") {
            return Ok(Some(n));
        }
        n += 1;
        // htslib cannot read a header whose column line lacks the fixed columns (and would
        // hand back no header at all): say so here
        if buf.starts_with(b"#CHROM") {
            let fixed = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"];
            let have: Vec<&[u8]> = buf.trim_ascii_end().split(|&b| b == b'\t').collect();
            if have.len() < fixed.len() || have.iter().zip(fixed).any(|(h, f)| *h != f.as_bytes()) {
                return Err(line_err(path, n, format!("the column header must start with the 8 tab-separated columns {}", fixed.join(" "))));
            }
        }
    }
}

struct VcfSource {
    path: PathBuf,
    reader: VcfReader,
    /// header lines (text VCF): a record's line = header + record number
    header_lines: Option<usize>,
    records: usize,
    /// per track: the sample index with its counts
    samples: Vec<Option<usize>>,
    sample_names: Vec<String>,
    label: Option<(Vec<u8>, TagType)>,
    /// region queries: the previous record's (rid, pos), to catch unsorted files
    last: Option<(u32, i64)>,
    rec: bcf::Record,
    /// a region on a contig the file lacks: no records
    exhausted: bool,
}

enum VcfReader {
    Plain(bcf::Reader),
    Indexed(bcf::IndexedReader),
}

impl VcfReader {
    fn header(&self) -> &bcf::header::HeaderView {
        match self {
            VcfReader::Plain(r) => r.header(),
            VcfReader::Indexed(r) => r.header(),
        }
    }

    fn empty_record(&self) -> bcf::Record {
        match self {
            VcfReader::Plain(r) => r.empty_record(),
            VcfReader::Indexed(r) => r.empty_record(),
        }
    }
}

impl VcfSource {
    fn open(path: &Path, opts: &VariantOptions, region: Option<(&str, u64, u64)>) -> Result<Self> {
        let header_lines = vcf_header_lines(path)?;
        let mut exhausted = false;
        let reader = match region {
            None => VcfReader::Plain(bcf::Reader::from_path(path).map_err(|e| {
                file_err(path, format!("htslib cannot read it as VCF/BCF ({e}); expected a VCF (plain or bgzip) or BCF with a ##fileformat header"))
            })?),
            Some((chrom, start, end)) => {
                let tbi = PathBuf::from(format!("{}.tbi", path.display()));
                let csi = PathBuf::from(format!("{}.csi", path.display()));
                if !tbi.exists() && !csi.exists() {
                    let sorted = match first_unsorted(path, header_lines) {
                        Ok(Some((line, what))) => {
                            format!(" It is also not sorted (line {line}: {what}): sort it first with `bcftools sort -Oz -o sorted.vcf.gz {}`.", path.display())
                        }
                        _ => String::new(),
                    };
                    return Err(file_err(
                        path,
                        format!(
                            "region queries need an index ({} or {}), which is missing: bgzip-compress and index it with `bcftools index -t {}` (or `tabix -p vcf`).{sorted}",
                            tbi.display(),
                            csi.display(),
                            path.display()
                        ),
                    ));
                }
                exhausted = false;
                let mut r = bcf::IndexedReader::from_path(path).map_err(|e| {
                    file_err(path, format!("htslib cannot open it with its index ({e}): rebuild the index with `bcftools index -f -t {}`", path.display()))
                })?;
                let rid = (|| {
                    for cand in [chrom.to_string(), format!("chr{chrom}"), canonical(chrom)] {
                        if let Ok(rid) = r.header().name2rid(cand.as_bytes()) {
                            return Some(rid);
                        }
                    }
                    let key = canonical(chrom);
                    (0..r.header().contig_count()).find(|&rid| r.header().rid2name(rid).is_ok_and(|n| canonical(&String::from_utf8_lossy(n)) == key))
                })();
                match rid {
                    Some(rid) => r.fetch(rid, start, Some(end.saturating_sub(1))).map_err(|e| file_err(path, format!("region {chrom}:{start}-{end}: {e}")))?,
                    // no such contig: an empty region
                    // no such contig: nothing overlaps the region
                    None => exhausted = true,
                }
                VcfReader::Indexed(r)
            }
        };
        let hv = reader.header();
        let sample_names: Vec<String> = hv.samples().iter().map(|s| String::from_utf8_lossy(s).to_string()).collect();
        let has_ad = hv.format_type(b"AD").is_ok();
        let samples: Vec<Option<usize>> = opts
            .tracks
            .iter()
            .map(|t| {
                if !has_ad {
                    return None;
                }
                sample_names.iter().position(|s| s == t).or_else(|| sample_names.iter().position(|s| s.eq_ignore_ascii_case(t)))
            })
            .collect();
        if has_ad && !sample_names.is_empty() && samples.iter().all(Option::is_none) {
            tracing::warn!(
                "variants {}: FORMAT AD is present but no sample is named like a track ({}; samples: {}): no allelic counts are read",
                path.display(),
                opts.tracks.join(", "),
                sample_names.iter().take(8).cloned().collect::<Vec<_>>().join(", ")
            );
        }
        let label = match &opts.label {
            None => None,
            Some(k) => match hv.info_type(k.as_bytes()) {
                Ok((t, _)) => Some((k.as_bytes().to_vec(), t)),
                Err(_) => {
                    return Err(file_err(path, format!("the label INFO key '{k}' ([variants] label) is not declared in the VCF header (##INFO=<ID={k},...>)")))
                }
            },
        };
        let rec = reader.empty_record();
        Ok(VcfSource { path: path.to_path_buf(), exhausted, reader, header_lines, records: 0, samples, sample_names, label, last: None, rec })
    }

    fn line(&self) -> usize {
        match self.header_lines {
            Some(h) => h + self.records,
            None => self.records,
        }
    }

    fn next(&mut self, opts: &VariantOptions, out: &mut VecDeque<Raw>) -> Result<bool> {
        if self.exhausted {
            return Ok(false);
        }
        let got = match &mut self.reader {
            VcfReader::Plain(r) => r.read(&mut self.rec),
            VcfReader::Indexed(r) => r.read(&mut self.rec),
        };
        self.records += 1;
        let line = self.line();
        let what = if self.header_lines.is_some() { "" } else { " (BCF record number)" };
        match got {
            None => return Ok(false),
            Some(Err(e)) => return Err(line_err(&self.path, line, format!("malformed record{what}: {e}"))),
            Some(Ok(())) => {}
        }
        let rec = &self.rec;
        let rid = rec.rid().ok_or_else(|| line_err(&self.path, line, "record without a chromosome"))?;
        let name = self.reader.header().rid2name(rid).map_err(|e| line_err(&self.path, line, e.to_string()))?;
        // rust-htslib formats the contig name with `from_utf8(..).unwrap()` when an INFO or FORMAT
        // lookup fails, so a non-text name has to be refused before any tag is read
        let chrom = std::str::from_utf8(name)
            .map_err(|_| {
                line_err(&self.path, line, format!("the chromosome name {:?} is not UTF-8 text (binary data in a VCF?)", String::from_utf8_lossy(name)))
            })?
            .to_string();
        if matches!(self.reader, VcfReader::Indexed(_)) {
            if let Some((lr, lp)) = self.last {
                if (lr == rid && rec.pos() < lp) || lr > rid {
                    return Err(line_err(
                        &self.path,
                        line,
                        format!("the VCF is not sorted ({chrom}:{} after position {}): sort it with `bcftools sort` and re-index", rec.pos() + 1, lp + 1),
                    ));
                }
            }
            self.last = Some((rid, rec.pos()));
        }
        let alleles: Vec<Vec<u8>> = rec.alleles().iter().map(|a| a.to_vec()).collect();
        if alleles.is_empty() {
            return Err(line_err(&self.path, line, "record without a REF allele"));
        }
        let id = String::from_utf8_lossy(&rec.id()).to_string();
        let label = match &self.label {
            None => None,
            Some((key, ty)) => {
                let text: Option<String> = match ty {
                    TagType::Flag => Some(if rec.info(key).flag().unwrap_or(false) { "1".into() } else { "0".into() }),
                    TagType::Integer => {
                        rec.info(key).integer().ok().flatten().and_then(|v| v.first().copied()).filter(|&x| x != i32::MIN).map(|x| x.to_string())
                    }
                    TagType::Float => rec.info(key).float().ok().flatten().and_then(|v| v.first().copied()).filter(|x| !x.is_nan()).map(|x| x.to_string()),
                    TagType::String => rec.info(key).string().ok().flatten().and_then(|v| v.first().map(|s| String::from_utf8_lossy(s).to_string())),
                };
                match text {
                    None => None,
                    Some(t) => opts.parse_label(&t).map_err(|m| line_err(&self.path, line, format!("INFO {}: {m}", String::from_utf8_lossy(key))))?,
                }
            }
        };
        let ad: Option<Vec<Vec<i32>>> = if self.samples.iter().any(Option::is_some) {
            match rec.format(b"AD").integer() {
                Ok(b) => Some(b.iter().map(|s| s.to_vec()).collect()),
                Err(_) => None,
            }
        } else {
            None
        };
        for (k, alt) in alleles.iter().enumerate().skip(1) {
            let counts = self
                .samples
                .iter()
                .map(|s| {
                    let ad = ad.as_ref()?.get((*s)?)?;
                    let (r, a) = (*ad.first()?, *ad.get(k)?);
                    // missing (i32::MIN) and vector-end values are negative
                    (r >= 0 && a >= 0).then_some((r as u32, a as u32))
                })
                .collect();
            out.push_back(Raw {
                chrom: chrom.clone(),
                pos: rec.pos() as u64 + 1,
                ref_allele: alleles[0].clone(),
                alt: alt.clone(),
                id: id.clone(),
                line,
                label,
                counts,
            });
        }
        if alleles.len() == 1 {
            // no ALT ("."): nothing to score
            out.push_back(Raw {
                chrom,
                pos: rec.pos() as u64 + 1,
                ref_allele: alleles[0].clone(),
                alt: b".".to_vec(),
                id,
                line,
                label,
                counts: vec![None; self.samples.len()],
            });
        }
        Ok(true)
    }
}

/// The first record out of order of a text VCF (line, description), if any.
fn first_unsorted(path: &Path, header_lines: Option<usize>) -> std::result::Result<Option<(usize, String)>, VariantError> {
    let Some(h) = header_lines else { return Ok(None) };
    let r = open_text(path, "variants").map_err(|e| file_err(path, format!("{e:#}")))?;
    let mut seen: Vec<String> = Vec::new();
    let mut last: Option<(String, u64)> = None;
    for (i, l) in r.lines().enumerate().skip(h) {
        let l = l.map_err(|e| file_err(path, e.to_string()))?;
        let mut f = l.split('\t');
        let (Some(c), Some(p)) = (f.next(), f.next().and_then(|p| p.parse::<u64>().ok())) else { continue };
        if let Some((lc, lp)) = &last {
            if lc == c && p < *lp {
                return Ok(Some((i + 1, format!("{c}:{p} after {c}:{lp}"))));
            }
            if lc != c && seen.iter().any(|s| s == c) {
                return Ok(Some((i + 1, format!("{c} again after {lc}"))));
            }
        }
        if last.as_ref().is_none_or(|(lc, _)| lc != c) {
            seen.push(c.to_string());
        }
        last = Some((c.to_string(), p));
    }
    Ok(None)
}

struct TableSource {
    path: PathBuf,
    lines: Box<dyn BufRead>,
    line: usize,
    /// per track: (ref_count column, alt_count column)
    cols: Vec<Option<(usize, usize)>>,
    label: Option<usize>,
    n_cols: usize,
    id: Option<usize>,
}

impl TableSource {
    fn open(path: &Path, opts: &VariantOptions) -> Result<Self> {
        let mut lines = open_text(path, "allelic table").map_err(|e| file_err(path, format!("{e:#}")))?;
        let mut line = 0;
        let mut header = String::new();
        loop {
            header.clear();
            if lines.read_line(&mut header).map_err(|e| file_err(path, e.to_string()))? == 0 {
                return Err(file_err(path, "is empty: expected a header line `chrom pos ref alt <track>:ref_count <track>:alt_count ...`"));
            }
            line += 1;
            let t = header.trim_start_matches('\u{feff}').trim_start_matches('#').trim();
            if !t.is_empty() && !header.starts_with("##") {
                break;
            }
        }
        let names: Vec<String> =
            header.trim_start_matches('\u{feff}').trim_start_matches('#').trim_end_matches(['\r', '\n']).split('\t').map(|s| s.trim().to_string()).collect();
        let want = ["chrom", "pos", "ref", "alt"];
        if names.len() < 4 || !names[..4].iter().zip(want).all(|(n, w)| n.eq_ignore_ascii_case(w)) {
            return Err(line_err(
                path,
                line,
                format!(
                    "the header must start with the tab-separated columns chrom pos ref alt (then <track>:ref_count <track>:alt_count per track), found: {}",
                    names.iter().take(6).cloned().collect::<Vec<_>>().join(" ")
                ),
            ));
        }
        let mut refc: std::collections::BTreeMap<String, usize> = Default::default();
        let mut altc: std::collections::BTreeMap<String, usize> = Default::default();
        let mut label = None;
        let mut id = None;
        for (i, n) in names.iter().enumerate().skip(4) {
            if let Some(t) = n.strip_suffix(":ref_count") {
                refc.insert(t.to_string(), i);
            } else if let Some(t) = n.strip_suffix(":alt_count") {
                altc.insert(t.to_string(), i);
            } else if opts.label.as_deref() == Some(n.as_str()) {
                label = Some(i);
            } else if n.eq_ignore_ascii_case("id") {
                id = Some(i);
            }
        }
        for t in refc.keys().chain(altc.keys()) {
            if !opts.tracks.iter().any(|x| x == t) {
                return Err(line_err(
                    path,
                    line,
                    format!("column '{t}:…_count' names track '{t}', which is not a [[tracks]] name of the config (tracks: {})", opts.tracks.join(", ")),
                ));
            }
            match (refc.contains_key(t), altc.contains_key(t)) {
                (true, false) => return Err(line_err(path, line, format!("track {t} has a {t}:ref_count column but no {t}:alt_count column"))),
                (false, true) => return Err(line_err(path, line, format!("track {t} has a {t}:alt_count column but no {t}:ref_count column"))),
                _ => {}
            }
        }
        if let Some(l) = &opts.label {
            if label.is_none() {
                return Err(line_err(path, line, format!("no column named '{l}' ([variants] label) in the header")));
            }
        }
        let cols = opts.tracks.iter().map(|t| Some((*refc.get(t)?, *altc.get(t)?))).collect();
        Ok(TableSource { path: path.to_path_buf(), lines, line, cols, label, n_cols: names.len(), id })
    }

    fn next(&mut self, opts: &VariantOptions, out: &mut VecDeque<Raw>) -> Result<bool> {
        let mut buf = String::new();
        loop {
            buf.clear();
            let n = (&mut self.lines).take(1 << 24).read_line(&mut buf).map_err(|e| line_err(&self.path, self.line + 1, format!("read failed ({e})")))?;
            if n == 0 {
                return Ok(false);
            }
            self.line += 1;
            // the same text check for plain and gzip files (plain ones are also sniffed on open)
            if let Some(k) = crate::genome::sniff::first_non_text_byte(buf.as_bytes(), true) {
                return Err(line_err(&self.path, self.line, format!("binary data (byte {k} of the line is not text); expected tab-separated text")));
            }
            let t = buf.trim_end_matches(['\r', '\n']);
            if t.trim().is_empty() || t.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = t.split('\t').collect();
            let line = self.line;
            if f.len() != self.n_cols {
                return Err(line_err(&self.path, line, format!("{} tab-separated field(s), but the header has {} columns", f.len(), self.n_cols)));
            }
            let pos: u64 = f[1].trim().parse().map_err(|_| line_err(&self.path, line, format!("pos '{}' is not a 1-based position", f[1])))?;
            if pos == 0 {
                return Err(line_err(&self.path, line, "pos 0: positions are 1-based (as in VCF)"));
            }
            let mut counts = Vec::with_capacity(self.cols.len());
            for (ti, c) in self.cols.iter().enumerate() {
                let Some((rc, ac)) = *c else {
                    counts.push(None);
                    continue;
                };
                let num = |i: usize, what: &str| -> Result<Option<u32>> {
                    let s = f[i].trim();
                    if s.is_empty() || s == "." || s.eq_ignore_ascii_case("na") {
                        return Ok(None);
                    }
                    s.parse::<u32>()
                        .map(Some)
                        .map_err(|_| line_err(&self.path, line, format!("{}:{what} '{s}' is not a non-negative whole number of reads", opts.tracks[ti])))
                };
                let (r, a) = (num(rc, "ref_count")?, num(ac, "alt_count")?);
                counts.push(r.zip(a));
            }
            let label = match self.label {
                Some(i) => {
                    opts.parse_label(f[i]).map_err(|m| line_err(&self.path, line, format!("column {}: {m}", opts.label.as_deref().unwrap_or_default())))?
                }
                None => None,
            };
            let alts: Vec<&str> = f[3].split(',').collect();
            for alt in alts {
                out.push_back(Raw {
                    chrom: f[0].trim().to_string(),
                    pos,
                    ref_allele: f[2].trim().as_bytes().to_vec(),
                    alt: alt.trim().as_bytes().to_vec(),
                    id: self.id.map(|i| f[i].to_string()).unwrap_or_else(|| ".".into()),
                    line,
                    label,
                    counts: counts.clone(),
                });
            }
            return Ok(true);
        }
    }
}

/// Whether `path` has a `.tbi` or `.csi` index next to it (region queries work).
pub fn has_index(path: &Path) -> bool {
    ["tbi", "csi"].iter().any(|e| PathBuf::from(format!("{}.{e}", path.display())).exists())
}

/// Build the `.tbi` index of a bgzip-compressed VCF (what region queries need). An unsorted
/// file is refused with its first record out of order.
pub fn build_index(path: &Path) -> Result<()> {
    let header_lines = vcf_header_lines(path)?;
    if let Ok(Some((line, what))) = first_unsorted(path, header_lines) {
        return Err(line_err(
            path,
            line,
            format!("the VCF is not sorted ({what}), so it cannot be indexed: sort it with `bcftools sort -Oz -o sorted.vcf.gz {}`", path.display()),
        ));
    }
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| file_err(path, "path contains a NUL byte"))?;
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call; `tbx_conf_vcf` is
    // htslib's static, read-only VCF preset, passed by pointer as the function expects.
    let rc = unsafe { rust_htslib::htslib::tbx_index_build(c.as_ptr(), 0, &rust_htslib::htslib::tbx_conf_vcf) };
    if rc != 0 {
        return Err(file_err(
            path,
            format!("htslib could not index it (code {rc}): it must be bgzip-compressed (`bgzip {0}`), not plain gzip, and sorted", path.display()),
        ));
    }
    Ok(())
}

/// The alt allele's context window: the ref context `[start, start + ctx)` with REF replaced
/// by ALT. The window keeps its length and the variant stays centred: with Δ = len(ALT) −
/// len(REF), an insertion drops ⌊Δ/2⌋ flank bases on the left and ⌈Δ/2⌉ on the right; a
/// deletion takes ⌊|Δ|/2⌋ more bases on the left and ⌈|Δ|/2⌉ on the right from the FASTA.
/// An SNV is the ref window with one base changed.
pub fn alt_window(fasta: &Fasta, v: &Variant, ref_window: &[u8], start: i64) -> anyhow::Result<Vec<u8>> {
    let ctx = ref_window.len() as i64;
    let o = v.pos as i64 - 1 - start;
    let rl = v.ref_allele.len() as i64;
    if o < 0 || o + rl > ctx {
        anyhow::bail!("variant {} lies outside its window [{start}, {})", v.key(), start + ctx);
    }
    if v.ref_allele.len() == v.alt.len() {
        let mut w = ref_window.to_vec();
        w[o as usize..(o + rl) as usize].copy_from_slice(&v.alt);
        return Ok(w);
    }
    let d = v.alt.len() as i64 - rl;
    // bases added (+) or dropped (−) on each side
    let (dl, dr) = if d > 0 { (-(d / 2), -(d - d / 2)) } else { ((-d) / 2, -d - (-d) / 2) };
    let left = fasta.fetch(&v.chrom, start - dl, start + o)?;
    let right = fasta.fetch(&v.chrom, start + o + rl, start + ctx + dr)?;
    let mut w = Vec::with_capacity(ctx as usize);
    w.extend_from_slice(&left);
    w.extend_from_slice(&v.alt);
    w.extend_from_slice(&right);
    debug_assert_eq!(w.len() as i64, ctx);
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn genome(dir: &Path) -> Fasta {
        let p = dir.join("g.fa");
        let seq: String = (0..400).map(|i| ['A', 'C', 'G', 'T'][(i * 7 + i / 3) % 4]).collect();
        std::fs::File::create(&p).unwrap().write_all(format!(">chr1\n{seq}\n>chr2\n{}\n", &seq[..200]).as_bytes()).unwrap();
        crate::genome::fasta::build_index(&p).unwrap();
        Fasta::open(&p).unwrap()
    }

    fn base(f: &Fasta, c: &str, pos: u64) -> char {
        f.fetch(c, pos as i64 - 1, pos as i64).unwrap()[0] as char
    }

    fn other(b: char) -> char {
        if b == 'A' {
            'G'
        } else {
            'A'
        }
    }

    const HDR: &str = "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=400>\n##contig=<ID=chr2,length=200>\n##INFO=<ID=LAB,Number=1,Type=Float,Description=\"pip\">\n##FORMAT=<ID=AD,Number=R,Type=Integer,Description=\"depth\">\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT1\tT2\n";

    #[test]
    fn vcf_records_are_split_checked_and_counted() {
        let d = tempfile::tempdir().unwrap();
        let f = genome(d.path());
        let (b10, b20) = (base(&f, "chr1", 10), base(&f, "chr1", 20));
        let alt10 = other(b10);
        let wrong = other(base(&f, "chr1", 30));
        let text = format!(
            "{HDR}chr1\t10\trs1\t{b10}\t{alt10},T\t.\t.\tLAB=0.95\tAD\t5,3,2\t7,0,1\n\
             1\t20\t.\t{b20}\t<DEL>\t.\t.\tLAB=0.5\tAD\t1,1\t.\n\
             chr1\t30\t.\t{wrong}\t{}\t.\t.\t.\tAD\t1,1\t1,1\n\
             chrZ\t5\t.\tA\tC\t.\t.\t.\tAD\t1,1\t1,1\n",
            other(wrong)
        );
        let p = d.path().join("v.vcf");
        std::fs::write(
            &p,
            text.replace("##contig=<ID=chr2,length=200>\n", "##contig=<ID=chr2,length=200>\n##contig=<ID=1,length=400>\n##contig=<ID=chrZ,length=10>\n"),
        )
        .unwrap();
        let opts = VariantOptions {
            tracks: vec!["T2".into(), "T1".into(), "T3".into()],
            label: Some("LAB".into()),
            positive_min: Some(0.9),
            negative_max: Some(0.01),
            ..Default::default()
        };
        let mut r = VariantReader::open(&p, &f, opts).unwrap();
        let v = r.read_all().unwrap();
        // chr1:10 split in two; T (if it is the REF base) or alt10
        let first: Vec<&Variant> = v.iter().filter(|x| x.pos == 10).collect();
        let n10 = if b10 == 'T' { 1 } else { 2 };
        assert_eq!(first.len(), n10, "{v:?}");
        assert_eq!(first[0].alt, vec![alt10 as u8]);
        assert_eq!(first[0].line, 9);
        assert_eq!(first[0].label, Some(true));
        assert_eq!(first[0].id, "rs1");
        // tracks T2, T1, T3 ← samples T2 (7,0,1), T1 (5,3,2), none
        assert_eq!(first[0].counts, vec![Some((7, 0)), Some((5, 3)), None]);
        if n10 == 2 {
            assert_eq!(first[1].counts, vec![Some((7, 1)), Some((5, 2)), None]);
        }
        let s = &r.skipped;
        assert_eq!((s.ref_mismatch, s.unknown_chrom, s.unsupported), (1, 1, 1 + (b10 == 'T') as usize), "{s:?}");
        assert!(s.examples.iter().any(|e| e.contains("line 11") && e.contains(&format!("the FASTA has {}", base(&f, "chr1", 30)))), "{:?}", s.examples);
        assert!(s.summary().contains("1 REF mismatch"), "{}", s.summary());
    }

    #[test]
    fn tables_parse_and_bad_tables_name_the_line() {
        let d = tempfile::tempdir().unwrap();
        let f = genome(d.path());
        let b = base(&f, "chr2", 50);
        let p = d.path().join("a.tsv");
        let opts = VariantOptions { tracks: vec!["A".into(), "B".into()], label: Some("pos_set".into()), ..Default::default() };
        std::fs::write(&p, format!("chrom\tpos\tref\talt\tA:ref_count\tA:alt_count\tpos_set\n2\t50\t{b}\t{}\t12\t30\t1\n", other(b))).unwrap();
        let v = VariantReader::open(&p, &f, opts.clone()).unwrap().read_all().unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].chrom.as_str(), v[0].pos, v[0].line), ("chr2", 50, 2));
        assert_eq!(v[0].counts, vec![Some((12, 30)), None]);
        assert_eq!(v[0].label, Some(true));
        let err = |text: String| {
            std::fs::write(&p, text).unwrap();
            match VariantReader::open(&p, &f, opts.clone()) {
                Err(e) => e.to_string(),
                Ok(mut r) => r.read_all().unwrap_err().to_string(),
            }
        };
        let h = "chrom\tpos\tref\talt\tA:ref_count\tA:alt_count\tpos_set\n";
        let e = err(format!("{h}chr1\t5\tA\tC\t1\t2\t0\nchr1\t6\tA\tC\tx\t2\t0\n"));
        assert!(e.contains("line 3") && e.contains("A:ref_count 'x'") && e.contains("a.tsv"), "{e}");
        let e = err("chrom\tpos\tref\talt\tA:ref_count\tpos_set\n".into());
        assert!(e.contains("line 1") && e.contains("no A:alt_count"), "{e}");
        let e = err("chrom\tpos\tref\talt\tZ:ref_count\tZ:alt_count\tpos_set\n".into());
        assert!(e.contains("track 'Z'") && e.contains("not a [[tracks]] name"), "{e}");
        let e = err(format!("{h}chr1\t5\tA\tC\t1\t2\n"));
        assert!(e.contains("line 2") && e.contains("header has 7"), "{e}");
        let e = err(format!("{h}chr1\t5\tA\tC\t1\t2\t0.5\n"));
        assert!(e.contains("line 2") && e.contains("positive_min"), "{e}");
    }

    #[test]
    fn windows_off_the_chromosome_are_skipped_and_indels_keep_the_window_length() {
        let d = tempfile::tempdir().unwrap();
        let f = genome(d.path());
        let p = d.path().join("v.tsv");
        let (b3, b100, b101, b102) = (base(&f, "chr1", 3), base(&f, "chr1", 100), base(&f, "chr1", 101), base(&f, "chr1", 102));
        std::fs::write(
            &p,
            format!("chrom\tpos\tref\talt\nchr1\t3\t{b3}\t{}\nchr1\t100\t{b100}\t{b100}GGG\nchr1\t100\t{b100}{b101}{b102}\t{b100}\n", other(b3)),
        )
        .unwrap();
        let opts = VariantOptions { window: Some(40), ..Default::default() };
        let mut r = VariantReader::open(&p, &f, opts).unwrap();
        let v = r.read_all().unwrap();
        assert_eq!(r.skipped.off_chrom, 1);
        assert_eq!(v.len(), 2);
        for x in &v {
            let (s, e) = x.locus().centered_window(40);
            let w = f.fetch(&x.chrom, s, e).unwrap();
            let a = alt_window(&f, x, &w, s).unwrap();
            assert_eq!(a.len(), 40);
            let o = (x.pos as i64 - 1 - s) as usize;
            let d = x.alt.len() as i64 - x.ref_allele.len() as i64;
            let shift = if d > 0 { d / 2 } else { -((-d) / 2) };
            // the ALT allele sits where REF sat, moved by the left adjustment
            let at = (o as i64 - shift) as usize;
            assert_eq!(&a[at..at + x.alt.len()], x.alt.as_slice());
            // flanks are genome sequence
            assert_eq!(&a[..at], &f.fetch(&x.chrom, s + shift, s + o as i64).unwrap()[..]);
        }
    }
}
