//! Transcription-factor motifs as position probability matrices (MEME format, e.g. JASPAR),
//! with log-odds scanning on both strands and sampling of sites.
use anyhow::{anyhow, bail, Result};

#[derive(Debug, Clone)]
pub struct Motif {
    /// matrix id, e.g. MA0114.5
    pub id: String,
    /// TF name, e.g. HNF4A
    pub name: String,
    /// per position: probabilities of A, C, G, T
    pub probs: Vec<[f64; 4]>,
}

/// A motif hit: best log-odds score and where.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub score: f64,
    /// score / best possible score of the motif (≤ 1)
    pub relative: f64,
    /// 0-based start in the scanned sequence
    pub pos: usize,
    /// true when the hit is on the reverse strand
    pub reverse: bool,
}

/// Parse MEME v4 text ("MOTIF id name" + "letter-probability matrix" rows).
pub fn parse_meme(text: &str) -> Result<Vec<Motif>> {
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("MOTIF ") else { continue };
        let mut f = rest.split_whitespace();
        let id = f.next().ok_or_else(|| anyhow!("MOTIF line without an id"))?.to_string();
        let name = f.next().unwrap_or(&id).to_string();
        // find the matrix header
        let mut width = None;
        for l in lines.by_ref() {
            if l.starts_with("letter-probability matrix") {
                width = l.split("w=").nth(1).and_then(|s| s.split_whitespace().next()).and_then(|w| w.parse::<usize>().ok());
                break;
            }
            if l.starts_with("MOTIF ") {
                bail!("motif {id}: no letter-probability matrix");
            }
        }
        let w = width.ok_or_else(|| anyhow!("motif {id}: matrix header without w="))?;
        let mut probs = Vec::with_capacity(w);
        while probs.len() < w {
            let l = lines.next().ok_or_else(|| anyhow!("motif {id}: matrix ends early"))?;
            let v: Vec<f64> = l.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            if v.len() == 4 {
                probs.push([v[0], v[1], v[2], v[3]]);
            } else if !l.trim().is_empty() {
                bail!("motif {id}: bad matrix row '{l}'");
            }
        }
        out.push(Motif { id, name, probs });
    }
    if out.is_empty() {
        let first = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
        let hint = if first.starts_with('>') {
            " (this looks like JASPAR/FASTA-style matrices: convert with MEME's `jaspar2meme -pfm`, or download the MEME version from JASPAR)"
        } else if first.starts_with("AC ") || first.starts_with("ID ") || first.starts_with("DE ") {
            " (this looks like TRANSFAC: convert with MEME's `transfac2meme`)"
        } else {
            ""
        };
        bail!("no MOTIF found: expected MEME motif format (a `MEME version` header, then `MOTIF id name` and `letter-probability matrix` blocks){hint}");
    }
    for m in &out {
        if m.probs.is_empty() {
            bail!("motif {} ({}): width 0", m.id, m.name);
        }
        for (i, row) in m.probs.iter().enumerate() {
            let s: f64 = row.iter().sum();
            if row.iter().any(|&x| !x.is_finite() || x < 0.0) || !(0.9..=1.1).contains(&s) {
                bail!("motif {} ({}): matrix row {} ({row:?}) is not a probability row (non-negative, summing to 1; counts need converting to MEME probabilities)", m.id, m.name, i + 1);
            }
        }
    }
    Ok(out)
}

/// The JASPAR 2024 CORE vertebrate profiles shipped in `assets/motifs` (CC BY 4.0).
pub fn jaspar() -> Vec<Motif> {
    parse_meme(include_str!("../../assets/motifs/JASPAR2024_CORE_vertebrates_latest.meme")).expect("the shipped JASPAR file parses")
}

/// Read a MEME motif file, naming the file in every error (a file that is not text, or not
/// MEME, is refused with what it is).
pub fn read_meme(path: &std::path::Path) -> Result<Vec<Motif>> {
    let p = path.display();
    let kind = super::sniff::sniff(path).map_err(|e| anyhow!("motif file {p}: cannot read it ({e})"))?;
    if !kind.is_text() {
        bail!("motif file {p} is {}, not MEME motif text", kind.describe());
    }
    let text = std::fs::read_to_string(path).map_err(|e| anyhow!("motif file {p}: cannot read it as UTF-8 text ({e})"))?;
    parse_meme(&text).map_err(|e| anyhow!("motif file {p}: {e}"))
}

impl Motif {
    pub fn width(&self) -> usize {
        self.probs.len()
    }

    /// log2(p / 0.25) with a pseudocount, per position and base.
    pub fn log_odds(&self) -> Vec<[f64; 4]> {
        self.probs.iter().map(|p| p.map(|x| ((x + 0.01) / 1.04 / 0.25).log2())).collect()
    }

    pub fn max_score(&self) -> f64 {
        self.log_odds().iter().map(|r| r.iter().cloned().fold(f64::NEG_INFINITY, f64::max)).sum()
    }

    /// Best log-odds hit on either strand (N scores as the row's mean); None if shorter.
    pub fn scan(&self, seq: &[u8]) -> Option<Hit> {
        let lo = self.log_odds();
        let w = lo.len();
        if seq.len() < w || w == 0 {
            return None;
        }
        let max = self.max_score();
        let score_at = |bases: &mut dyn Iterator<Item = Option<usize>>| -> f64 {
            bases.zip(&lo).map(|(b, row)| b.map(|i| row[i]).unwrap_or(row.iter().sum::<f64>() / 4.0)).sum()
        };
        let idx = |c: u8| super::onehot::base_index(c);
        let mut best: Option<Hit> = None;
        for pos in 0..=seq.len() - w {
            let win = &seq[pos..pos + w];
            let f = score_at(&mut win.iter().map(|&c| idx(c)));
            let r = score_at(&mut win.iter().rev().map(|&c| idx(c).map(|i| 3 - i)));
            for (score, reverse) in [(f, false), (r, true)] {
                if best.is_none_or(|b| score > b.score) {
                    best = Some(Hit { score, relative: score / max, pos, reverse });
                }
            }
        }
        best
    }

    /// The most probable base at each position (ties: the first of A C G T).
    pub fn consensus(&self) -> Vec<u8> {
        self.probs
            .iter()
            .map(|p| {
                let mut best = 0;
                for i in 1..4 {
                    if p[i] > p[best] {
                        best = i;
                    }
                }
                b"ACGT"[best]
            })
            .collect()
    }

    /// Every hit on either strand whose score is at least `min_relative` of the best possible
    /// score, strongest first, overlapping hits of the same motif dropped (N scores as the
    /// row's mean).
    pub fn hits(&self, seq: &[u8], min_relative: f64) -> Vec<Hit> {
        let lo = self.log_odds();
        let w = lo.len();
        if seq.len() < w || w == 0 {
            return vec![];
        }
        let max = self.max_score();
        let mean: Vec<f64> = lo.iter().map(|r| r.iter().sum::<f64>() / 4.0).collect();
        let idx: Vec<Option<usize>> = seq.iter().map(|&c| super::onehot::base_index(c)).collect();
        let mut all = Vec::new();
        for pos in 0..=seq.len() - w {
            let mut f = 0.0;
            let mut r = 0.0;
            for k in 0..w {
                f += idx[pos + k].map(|i| lo[k][i]).unwrap_or(mean[k]);
                r += idx[pos + w - 1 - k].map(|i| lo[k][3 - i]).unwrap_or(mean[k]);
            }
            for (score, reverse) in [(f, false), (r, true)] {
                if score >= min_relative * max {
                    all.push(Hit { score, relative: score / max, pos, reverse });
                }
            }
        }
        all.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut kept: Vec<Hit> = Vec::new();
        for h in all {
            if kept.iter().all(|k| h.pos + w <= k.pos || k.pos + w <= h.pos) {
                kept.push(h);
            }
        }
        kept
    }

    /// Draw a site from the matrix; `u` yields uniform numbers in [0, 1).
    pub fn sample(&self, mut u: impl FnMut() -> f64) -> Vec<u8> {
        self.probs
            .iter()
            .map(|p| {
                let mut x = u() * p.iter().sum::<f64>();
                for (i, &q) in p.iter().enumerate() {
                    if x < q {
                        return b"ACGT"[i];
                    }
                    x -= q;
                }
                b'T'
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEME: &str = "MEME version 4\n\nALPHABET= ACGT\n\nMOTIF MA9999.1 TOY\nletter-probability matrix: alength= 4 w= 3 nsites= 20 E= 0\n 1.0 0.0 0.0 0.0\n 0.0 1.0 0.0 0.0\n 0.0 0.0 0.0 1.0\n\nMOTIF MA9998.1 TWO\nletter-probability matrix: alength= 4 w= 1\n 0.25 0.25 0.25 0.25\n";

    #[test]
    fn parses_scans_both_strands_and_samples() {
        let m = parse_meme(MEME).unwrap();
        assert_eq!((m.len(), m[0].name.as_str(), m[0].width()), (2, "TOY", 3));
        let toy = &m[0];
        let hit = toy.scan(b"GGGACTGGG").unwrap();
        assert_eq!((hit.pos, hit.reverse), (3, false));
        assert!((hit.relative - 1.0).abs() < 1e-12);
        // reverse complement of ACT is AGT
        let hit = toy.scan(b"GGAGTGG").unwrap();
        assert_eq!((hit.pos, hit.reverse), (2, true));
        assert!(toy.scan(b"AC").is_none());
        let mut x = 0.0;
        assert_eq!(
            toy.sample(|| {
                x += 0.1;
                x % 1.0
            }),
            b"ACT"
        );
        assert!(parse_meme("nothing").is_err());
        assert_eq!(toy.consensus(), b"ACT");
        let hits = toy.hits(b"ACTGGAGTACT", 0.99);
        assert_eq!(hits.iter().map(|h| (h.pos, h.reverse)).collect::<Vec<_>>().len(), 3);
        assert!(hits.iter().any(|h| h.pos == 5 && h.reverse) && hits.iter().any(|h| h.pos == 0 && !h.reverse));
        let e = parse_meme(">MA0001.1 X\nA [ 1 2 ]\n").unwrap_err().to_string();
        assert!(e.contains("MEME") && e.contains("jaspar2meme"), "{e}");
        let e = parse_meme("MOTIF A B\nletter-probability matrix: w= 1\n 3 4 5 6\n").unwrap_err().to_string();
        assert!(e.contains("not a probability row"), "{e}");
    }

    #[test]
    fn the_full_shipped_jaspar_file_parses() {
        let m = jaspar();
        assert_eq!(m.len(), 879);
        assert!(m.iter().any(|x| x.name.eq_ignore_ascii_case("SPI1")));
    }

    #[test]
    fn reads_the_shipped_jaspar_subset() {
        let m = parse_meme(include_str!("../../assets/motifs/demo_motifs.meme")).unwrap();
        assert!(m.iter().any(|x| x.name == "HNF4A") && m.iter().any(|x| x.name == "CTCF"));
        for x in &m {
            for row in &x.probs {
                assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-3, "{} rows sum to 1", x.name);
            }
        }
    }
}
