//! Genomic intervals and the locus syntax users type.
//!
//! Storage is 0-based half-open like BED: `start` is the first base, `end` one past the
//! last. Display is 1-based inclusive like IGV and UCSC: BED `chr1 999 2000` shows as
//! `chr1:1,000-2,000`.
use anyhow::{anyhow, bail, Result};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Locus {
    pub chrom: String,
    /// 0-based, inclusive
    pub start: u64,
    /// 0-based, exclusive
    pub end: u64,
}

impl Locus {
    pub fn new(chrom: impl Into<String>, start: u64, end: u64) -> Self {
        Locus { chrom: chrom.into(), start, end }
    }

    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Midpoint, rounded down: for an even width the left of the two central bases' right edge.
    pub fn center(&self) -> u64 {
        self.start + self.len() / 2
    }

    /// The `width` bases centred on this interval, as signed coordinates (they may run past
    /// either chromosome end; callers clip or pad). For width W and center c the window is
    /// `[c - W/2, c - W/2 + W)`, so an odd-length interval's central base sits at index W/2.
    pub fn centered_window(&self, width: u64) -> (i64, i64) {
        let c = self.center() as i64;
        let s = c - (width / 2) as i64;
        (s, s + width as i64)
    }

    /// 1-based inclusive display with thousands separators, e.g. `chr1:1,000-2,000`.
    pub fn display(&self) -> String {
        format!("{}:{}-{}", self.chrom, group_thousands(self.start + 1), group_thousands(self.end))
    }

    /// The BED-style name used when a region has none: `chrom:start-end`, 0-based half-open
    /// (what bigWigAverageOverBed prints for unnamed regions).
    pub fn bed_name(&self) -> String {
        format!("{}:{}-{}", self.chrom, self.start, self.end)
    }

    pub fn overlaps(&self, other: &Locus) -> bool {
        self.chrom == other.chrom && self.start < other.end && other.start < self.end
    }
}

impl fmt::Display for Locus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

pub fn group_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// What a user typed in a goto box or on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocusQuery {
    /// `chr1:1,000-2,000` (1-based inclusive as typed; stored 0-based half-open)
    Range(Locus),
    /// `chr1:1500`: one base, stored 0-based
    Point { chrom: String, pos: u64 },
    /// A bare word: a chromosome name if a file has it, otherwise a gene or peak name.
    Word(String),
}

/// Parse `chr1:1,000-2,000`, `chr1:1000..2000`, `chr1:1500`, `chr1` or a gene name.
/// Commas, underscores and spaces inside numbers are ignored; `k`/`m` suffixes are not
/// accepted (ambiguous). Positions are 1-based inclusive as in IGV.
pub fn parse_locus(text: &str) -> Result<LocusQuery> {
    let t = text.trim();
    if t.is_empty() {
        bail!("empty locus: type chr:start-end (1-based, e.g. chr1:1,000-2,000), chr:pos, a chromosome or a gene name");
    }
    let Some((chrom, rest)) = t.rsplit_once(':') else {
        if t.contains(char::is_whitespace) {
            bail!("'{t}' is not a locus: no spaces allowed (expected chr:start-end, chr:pos, a chromosome or a gene name)");
        }
        return Ok(LocusQuery::Word(t.to_string()));
    };
    let chrom = chrom.trim();
    if chrom.is_empty() {
        bail!("'{t}': missing chromosome before ':'");
    }
    let rest: String = rest.chars().filter(|c| !matches!(c, ',' | '_' | ' ')).collect();
    let parse_pos = |s: &str, what: &str| -> Result<u64> { parse_position(s).map_err(|why| anyhow!("'{t}': {what} {why}")) };
    // `a..b`, or `a-b` split at the first '-' after the start's first character (so a
    // negative start `-5-10` is read as start -5 and explained, not as an empty start)
    let split = rest.split_once("..").or_else(|| rest.get(1..).and_then(|r| r.find('-')).map(|i| (&rest[..i + 1], &rest[i + 2..])));
    match split {
        Some((a, b)) => {
            let a = parse_pos(a, "start")?;
            let b = parse_pos(b, "end")?;
            if a == 0 {
                bail!("'{t}': positions are 1-based (the first base is 1), got start 0");
            }
            if b < a {
                bail!("'{t}': end {b} is before start {a}");
            }
            Ok(LocusQuery::Range(Locus::new(chrom, a - 1, b)))
        }
        None => {
            let p = parse_pos(&rest, "position")?;
            if p == 0 {
                bail!("'{t}': positions are 1-based (the first base is 1), got 0");
            }
            Ok(LocusQuery::Point { chrom: chrom.to_string(), pos: p - 1 })
        }
    }
}

/// A typed 1-based position, or why it is not one (the caller names the locus).
fn parse_position(s: &str) -> std::result::Result<u64, String> {
    const MAX: u64 = crate::genome::peaks::MAX_COORD;
    if s.is_empty() {
        return Err("is missing (expected chr:start-end with whole numbers, e.g. chr1:1,000-2,000)".into());
    }
    if let Some(n) = s.strip_prefix('-') {
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{s} is negative: positions are 1-based (the first base is 1)"));
        }
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return match s.parse::<u64>() {
            Ok(v) if v <= MAX => Ok(v),
            _ => Err(format!("{s} is larger than any chromosome")),
        };
    }
    let lower = s.to_ascii_lowercase();
    if lower.ends_with(['k', 'm', 'g']) && lower[..lower.len() - 1].parse::<f64>().is_ok() {
        return Err(format!("'{s}' uses a k/M/G suffix, which is not accepted (ambiguous): write the whole number, e.g. 1500 or 1,500"));
    }
    Err(format!("'{s}' is not a whole number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges_one_based_inclusive() {
        assert_eq!(parse_locus("chr1:1,000-2,000").unwrap(), LocusQuery::Range(Locus::new("chr1", 999, 2000)));
        assert_eq!(parse_locus(" 1:5..5 ").unwrap(), LocusQuery::Range(Locus::new("1", 4, 5)));
        // a one-base range has length 1
        if let LocusQuery::Range(l) = parse_locus("chrX:7-7").unwrap() {
            assert_eq!(l.len(), 1);
        } else {
            panic!()
        }
    }

    #[test]
    fn parses_points_words_and_names_with_colons() {
        assert_eq!(parse_locus("chr1:1500").unwrap(), LocusQuery::Point { chrom: "chr1".into(), pos: 1499 });
        assert_eq!(parse_locus("chr2").unwrap(), LocusQuery::Word("chr2".into()));
        assert_eq!(parse_locus("HNF4A").unwrap(), LocusQuery::Word("HNF4A".into()));
        // HLA-style contig names contain ':'; the last ':' splits
        assert_eq!(parse_locus("HLA-A*01:01:1-10").unwrap(), LocusQuery::Range(Locus::new("HLA-A*01:01", 0, 10)));
    }

    #[test]
    fn rejects_bad_input_with_reason() {
        for (s, frag) in [
            ("", "empty"),
            ("chr1:0-10", "1-based"),
            ("chr1:20-10", "before start"),
            ("chr1:abc-10", "not a whole number"),
            (":1-2", "missing chromosome"),
            ("chr1:0", "1-based"),
            ("chr1:-5-10", "start -5 is negative"),
            ("chr1:5--10", "end -10 is negative"),
            ("chr1:-10", "position -10 is negative"),
            ("chr1:5-", "end is missing"),
            ("chr1:", "position is missing"),
            ("chr1:1.5k-2k", "k/M/G suffix"),
            ("chr1:1-99999999999999999999999", "larger than any chromosome"),
            ("chr1:1-2000000000000", "larger than any chromosome"),
            ("chr1:x", "'x' is not a whole number"),
        ] {
            let e = parse_locus(s).unwrap_err().to_string();
            assert!(e.contains(frag), "{s}: {e}");
        }
    }

    #[test]
    fn display_round_trips() {
        let l = Locus::new("chr1", 999, 2000);
        assert_eq!(l.display(), "chr1:1,000-2,000");
        assert_eq!(parse_locus(&l.display()).unwrap(), LocusQuery::Range(l.clone()));
        assert_eq!(l.bed_name(), "chr1:999-2000");
        assert_eq!(Locus::new("c", 0, 1).display(), "c:1-1");
        assert_eq!(group_thousands(1234567), "1,234,567");
        assert_eq!(group_thousands(999), "999");
    }

    #[test]
    fn centered_windows() {
        // odd-length interval: central base at index W/2
        let l = Locus::new("c", 10, 13); // bases 10,11,12; center 11
        assert_eq!(l.center(), 11);
        assert_eq!(l.centered_window(4), (9, 13));
        assert_eq!(l.centered_window(5), (9, 14));
        // near the chromosome start the window goes negative (callers pad)
        assert_eq!(Locus::new("c", 0, 2).centered_window(10), (-4, 6));
    }
}
