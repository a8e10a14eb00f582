//! Gene annotations from BED/BED12 (name in column 4, strand in column 6), for gene-name
//! search and the gene row.
use super::textio::data_lines;
use super::Locus;
use anyhow::{anyhow, bail, Result};
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub struct Gene {
    pub name: String,
    pub locus: Locus,
    pub strand: Option<char>,
}

#[derive(Debug, Clone, Default)]
pub struct Genes {
    genes: Vec<Gene>,
}

impl Genes {
    pub fn read(path: &Path) -> Result<Self> {
        let mut genes = Vec::new();
        for (lineno, line) in data_lines(path, "gene file")? {
            let f: Vec<&str> = line.split('\t').collect();
            let bad = |why: &str| anyhow!("gene file {} line {lineno}: {why}", path.display());
            if f.len() < 4 {
                return Err(bad("expected BED with a name column (chrom start end name ...)"));
            }
            let (chrom, s, e) = super::peaks::parse_interval(f[0], f[1], f[2]).map_err(|why| bad(&why))?;
            let name = f[3].trim();
            if name.is_empty() {
                return Err(bad("the gene name (column 4) is empty"));
            }
            let strand = f.get(5).and_then(|x| x.trim().chars().next()).filter(|c| *c == '+' || *c == '-');
            genes.push(Gene { name: name.to_string(), locus: Locus::new(chrom, s, e), strand });
        }
        if genes.is_empty() {
            bail!("gene file {} lists no genes", path.display());
        }
        Ok(Genes { genes })
    }

    pub fn from_genes(genes: Vec<Gene>) -> Self {
        Genes { genes }
    }

    pub fn all(&self) -> &[Gene] {
        &self.genes
    }

    /// Exact name match (case-insensitive) first; otherwise the unique prefix match.
    pub fn find(&self, query: &str) -> Option<&Gene> {
        if let Some(g) = self.genes.iter().find(|g| g.name.eq_ignore_ascii_case(query)) {
            return Some(g);
        }
        let q = query.to_ascii_lowercase();
        let mut hits = self.genes.iter().filter(|g| g.name.to_ascii_lowercase().starts_with(&q));
        let first = hits.next()?;
        hits.next().is_none().then_some(first)
    }

    /// Names starting with `prefix` (case-insensitive), for completion; at most `limit`.
    pub fn complete(&self, prefix: &str, limit: usize) -> Vec<&str> {
        let q = prefix.to_ascii_lowercase();
        self.genes.iter().filter(|g| g.name.to_ascii_lowercase().starts_with(&q)).take(limit).map(|g| g.name.as_str()).collect()
    }

    pub fn overlapping<'a>(&'a self, l: &'a Locus) -> impl Iterator<Item = &'a Gene> + 'a {
        self.genes
            .iter()
            .filter(move |g| super::chroms::canonical(&g.locus.chrom) == super::chroms::canonical(&l.chrom) && g.locus.start < l.end && l.start < g.locus.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exact_then_unique_prefix() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("g.bed");
        std::fs::write(&p, "chr1\t10\t20\tHNF4A\t0\t+\nchr1\t30\t40\tHNF1B\t0\t-\nchr2\t5\t9\tSPI1\n").unwrap();
        let g = Genes::read(&p).unwrap();
        assert_eq!(g.find("hnf4a").unwrap().locus, Locus::new("chr1", 10, 20));
        assert_eq!(g.find("SP").unwrap().name, "SPI1");
        assert!(g.find("HNF").is_none(), "ambiguous prefix");
        assert_eq!(g.complete("hnf", 10), vec!["HNF4A", "HNF1B"]);
        assert_eq!(g.find("HNF1B").unwrap().strand, Some('-'));
        assert_eq!(g.overlapping(&Locus::new("1", 15, 35)).count(), 2);
    }
}
