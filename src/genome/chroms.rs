//! Chromosome names as one file spells them, and alias resolution between files.
//!
//! Files disagree on naming: UCSC writes `chr1`, `chrM`; Ensembl writes `1`, `MT`. Every
//! reader keeps a [`ChromNames`] of its own spellings and resolves any query through
//! [`canonical`], so a bigWig with `1` and a FASTA with `chr1` work together.
use std::collections::HashMap;

/// The alias-free key of a chromosome name: without a leading `chr` (any case), with the
/// mitochondrion spelled `MT` (`chrM`, `M`, `chrMT`, `MT` all give `MT`).
pub fn canonical(name: &str) -> String {
    let n = name.trim();
    let stripped = if n.len() > 3 && n[..3].eq_ignore_ascii_case("chr") { &n[3..] } else { n };
    if stripped.eq_ignore_ascii_case("m") || stripped.eq_ignore_ascii_case("mt") {
        "MT".to_string()
    } else {
        stripped.to_string()
    }
}

/// The chromosomes of one file, in the file's order, with their lengths.
#[derive(Debug, Clone, Default)]
pub struct ChromNames {
    names: Vec<String>,
    lengths: Vec<u64>,
    exact: HashMap<String, usize>,
    by_key: HashMap<String, usize>,
}

impl ChromNames {
    pub fn new(entries: impl IntoIterator<Item = (String, u64)>) -> Self {
        let mut out = ChromNames::default();
        for (name, len) in entries {
            let i = out.names.len();
            out.exact.insert(name.clone(), i);
            out.by_key.entry(canonical(&name)).or_insert(i);
            out.names.push(name);
            out.lengths.push(len);
        }
        out
    }

    /// Index of `query` in this file: the exact spelling first, then any alias of it.
    pub fn index(&self, query: &str) -> Option<usize> {
        self.exact.get(query).or_else(|| self.by_key.get(&canonical(query))).copied()
    }

    /// This file's own spelling of `query`, if the file has that chromosome.
    pub fn resolve(&self, query: &str) -> Option<&str> {
        self.index(query).map(|i| self.names[i].as_str())
    }

    pub fn len_of(&self, query: &str) -> Option<u64> {
        self.index(query).map(|i| self.lengths[i])
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn lengths(&self) -> &[u64] {
        &self.lengths
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.names.iter().map(|s| s.as_str()).zip(self.lengths.iter().copied())
    }

    /// A short list of names for error messages ("chr1, chr2, chr3, … (25 in all)").
    pub fn preview(&self) -> String {
        let shown: Vec<&str> = self.names.iter().take(5).map(|s| s.as_str()).collect();
        if self.names.len() > 5 {
            format!("{}, … ({} in all)", shown.join(", "), self.names.len())
        } else {
            shown.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical("chr1"), "1");
        assert_eq!(canonical("1"), "1");
        assert_eq!(canonical("CHRX"), "X");
        assert_eq!(canonical("chrM"), "MT");
        assert_eq!(canonical("MT"), "MT");
        assert_eq!(canonical("chrMT"), "MT");
        assert_eq!(canonical("M"), "MT");
        // "chr" alone is a name, not an empty alias
        assert_eq!(canonical("chr"), "chr");
    }

    #[test]
    fn resolves_across_conventions() {
        let ucsc = ChromNames::new([("chr1".into(), 100), ("chrM".into(), 16), ("chr2_alt".into(), 5)]);
        assert_eq!(ucsc.resolve("1"), Some("chr1"));
        assert_eq!(ucsc.resolve("chr1"), Some("chr1"));
        assert_eq!(ucsc.resolve("MT"), Some("chrM"));
        assert_eq!(ucsc.resolve("2_alt"), Some("chr2_alt"));
        assert_eq!(ucsc.resolve("chr3"), None);
        assert_eq!(ucsc.len_of("M"), Some(16));
        let ens = ChromNames::new([("1".into(), 100), ("MT".into(), 16)]);
        assert_eq!(ens.resolve("chr1"), Some("1"));
        assert_eq!(ens.resolve("chrM"), Some("MT"));
    }

    #[test]
    fn exact_spelling_wins_over_alias() {
        // a file that (oddly) has both `1` and `chr1` keeps them apart
        let both = ChromNames::new([("chr1".into(), 10), ("1".into(), 20)]);
        assert_eq!(both.resolve("1"), Some("1"));
        assert_eq!(both.resolve("chr1"), Some("chr1"));
    }
}
