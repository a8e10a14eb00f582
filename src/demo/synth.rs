//! The demo dataset: a synthetic genome whose accessibility follows transcription-factor
//! motif content, per cell type.
//!
//! Design (from the biology, not tuned to a result):
//! * Background DNA with regional GC variation (100-kb segments, GC 36–52%) and CpG
//!   depletion; CpG-island promoters (GC 65%) at named genes.
//! * Eight cell types, each with a two-TF program of JASPAR motifs (e.g. PT: HNF4A + HNF1B;
//!   myeloid: SPI1 + CEBPB); CTCF, NRF1, SP1 and YY1 act in every cell type.
//! * Peaks: ubiquitous ones (CTCF sites and promoters, with ubiquitous motifs), cell
//!   type-specific ones (2–4 sites of one program; sometimes a site of another program that
//!   stays closed without its TFs), and a few shared by two programs.
//! * Height in cell type c = amplitude × Σ over sites of (TF active in c) × site quality² ×
//!   a chromatin-context factor that the local sequence does not encode. Context varies
//!   more for cell type-specific elements (log-normal σ 0.6, per cell type) than for
//!   ubiquitous ones (σ 0.25, mostly shared across cell types), and specific elements are
//!   weaker on average (amplitude 0.6 vs 1): the observation that they open in fewer cells
//!   and depend on distal context.
//! * Coverage: a Gaussian peak shape plus background, Poisson counts from two donors summed,
//!   written in 10-bp bins near peaks and 500-bp bins elsewhere; per-cell-type peak calls
//!   where the central 200 bp are enriched ≥ 4× over background.
//! * chr3 is held out for testing, like chr4/chr5 in the paper.
use crate::genome::motifs::{parse_meme, Motif};
use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Poisson};

pub const CELL_TYPES: [(&str, [&str; 2]); 8] = [
    ("PT", ["HNF4A", "HNF1B"]),
    ("DT", ["TFAP2B", "GRHL2"]),
    ("Podocyte", ["Wt1", "TEAD1"]),
    ("Endothelial", ["Erg", "ETV2"]),
    ("Myeloid", ["Spi1", "CEBPB"]),
    ("Stromal", ["SRF", "TCF21"]),
    ("Tcell", ["RUNX3", "TBX21"]),
    ("Bcell", ["PAX5", "EBF1"]),
];
pub const UBIQUITOUS_TFS: [&str; 4] = ["CTCF", "Nrf1", "SP1", "Yy1"];
pub const CHROMS: [(&str, usize); 3] = [("chr1", 1_000_000), ("chr2", 700_000), ("chr3", 500_000)];
pub const TEST_CHROMS: [&str; 1] = ["chr3"];
pub const UBIQUITOUS_LABEL: &str = "cluster0_Ubiquitous";
pub const SHARED_LABEL: &str = "cluster9_Shared";
const BACKGROUND: f64 = 0.3; // reads per base
const GENES: [&str; 44] = [
    "HNF4A", "LRP2", "SLC34A1", "CUBN", "UMOD", "SLC12A1", "CALB1", "NPHS1", "NPHS2", "PODXL", "PECAM1", "KDR", "FLT1", "EMCN", "CD68", "LYZ", "CSF1R", "CD14",
    "COL1A1", "PDGFRB", "ACTA2", "DCN", "CD3E", "CD8A", "IL7R", "GZMB", "CD19", "MS4A1", "CD79A", "PAX5", "ACTB", "GAPDH", "EEF1A1", "RPLP0", "TBP", "HPRT1",
    "PGK1", "B2M", "UBC", "YWHAZ", "SDHA", "GUSB", "TFRC", "POLR2A",
];

pub fn label_of(ct: usize) -> String {
    format!("cluster{}_{}", ct + 1, CELL_TYPES[ct].0)
}

#[derive(Debug, Clone)]
pub struct SynthGene {
    pub name: String,
    pub chrom: usize,
    pub start: usize,
    pub end: usize,
    pub strand: char,
}

#[derive(Debug, Clone)]
pub struct SynthPeak {
    pub chrom: usize,
    pub start: usize,
    pub end: usize,
    pub summit: usize,
    pub label: String,
    /// expected height (reads at the summit, before noise) per cell type
    pub height: Vec<f64>,
    /// the implanted motif sites
    pub sites: Vec<SynthSite>,
    /// per cell type: height = scale × Σ over active sites of quality²
    pub scale: Vec<f64>,
}

/// A motif site implanted in a peak.
#[derive(Debug, Clone)]
pub struct SynthSite {
    pub tf: &'static str,
    /// first base on the chromosome
    pub start: usize,
    /// the site's bases as implanted (reverse complement when `reverse`)
    pub reverse: bool,
    /// relative motif score (0..1) of the implanted sequence
    pub quality: f64,
    /// per cell type: whether its TF acts there
    pub active: Vec<bool>,
}

pub struct DemoData {
    pub seqs: Vec<Vec<u8>>,
    pub genes: Vec<SynthGene>,
    pub peaks: Vec<SynthPeak>,
    /// sampled coverage per cell type, per chromosome, per base (reads)
    pub coverage: Vec<Vec<Vec<f32>>>,
    /// per cell type, the peaks it calls
    pub calls: Vec<Vec<usize>>,
}

pub fn demo_motifs() -> Vec<Motif> {
    parse_meme(include_str!("../../assets/motifs/demo_motifs.meme")).expect("shipped motifs parse")
}

fn background(rng: &mut ChaCha8Rng, len: usize) -> Vec<u8> {
    let mut s = Vec::with_capacity(len);
    let mut gc = 0.42;
    for i in 0..len {
        if i % 100_000 == 0 {
            gc = rng.gen_range(0.36..0.52);
        }
        let mut b = if rng.gen_bool(gc) {
            if rng.gen_bool(0.5) {
                b'G'
            } else {
                b'C'
            }
        } else if rng.gen_bool(0.5) {
            b'A'
        } else {
            b'T'
        };
        // CpG depletion: most CG dinucleotides mutate away (deamination of methyl-C)
        if b == b'G' && s.last() == Some(&b'C') && rng.gen_bool(0.75) {
            b = b'A';
        }
        s.push(b);
    }
    s
}

fn cpg_island(rng: &mut ChaCha8Rng, s: &mut [u8]) {
    for x in s.iter_mut() {
        *x = if rng.gen_bool(0.65) {
            if rng.gen_bool(0.5) {
                b'G'
            } else {
                b'C'
            }
        } else if rng.gen_bool(0.5) {
            b'A'
        } else {
            b'T'
        };
    }
}

fn revcomp(s: &[u8]) -> Vec<u8> {
    crate::genome::onehot::reverse_complement(s)
}

/// Generate the whole dataset from `seed`.
pub fn generate(seed: u64) -> Result<DemoData> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let motifs = demo_motifs();
    let find = |n: &str| motifs.iter().find(|m| m.name == n).unwrap_or_else(|| panic!("motif {n} shipped"));
    let mut seqs: Vec<Vec<u8>> = CHROMS.iter().map(|(_, l)| background(&mut rng, *l)).collect();
    // genes with CpG-island promoters
    let mut genes = Vec::new();
    let mut gi = 0;
    for (c, (_, len)) in CHROMS.iter().enumerate() {
        let n = (GENES.len() * len) / CHROMS.iter().map(|x| x.1).sum::<usize>() + usize::from(c == 0);
        let step = len / (n + 1);
        for k in 0..n {
            if gi >= GENES.len() {
                break;
            }
            let tss = step * (k + 1) + rng.gen_range(0..step / 4);
            let strand = if rng.gen_bool(0.5) { '+' } else { '-' };
            let glen = rng.gen_range(5_000..40_000);
            let (start, end) = if strand == '+' { (tss, (tss + glen).min(len - 1)) } else { (tss.saturating_sub(glen), tss) };
            cpg_island(&mut rng, &mut seqs[c][tss.saturating_sub(500)..(tss + 500).min(*len)]);
            genes.push(SynthGene { name: GENES[gi].to_string(), chrom: c, start, end, strand });
            gi += 1;
        }
    }
    // peak sites: promoters at every TSS, the rest along the chromosomes
    let mut sites: Vec<(usize, usize, Option<usize>)> = Vec::new(); // (chrom, summit, gene)
    for (i, g) in genes.iter().enumerate() {
        sites.push((g.chrom, if g.strand == '+' { g.start } else { g.end }, Some(i)));
    }
    for (c, (_, len)) in CHROMS.iter().enumerate() {
        let mut pos = 2_000;
        while pos + 2_000 < *len {
            pos += 400 + (rng.gen::<f64>().ln() * -400.0) as usize;
            if pos + 2_000 >= *len {
                break;
            }
            if !sites.iter().any(|&(sc, sp, _)| sc == c && sp.abs_diff(pos) < 1_000) {
                sites.push((c, pos, None));
            }
        }
    }
    sites.sort();
    let ctx_u = Normal::<f64>::new(0.0, 0.25).unwrap();
    let ctx_s = Normal::<f64>::new(0.0, 0.6).unwrap();
    let n_ct = CELL_TYPES.len();
    let depth: Vec<f64> = (0..n_ct).map(|_| rng.gen_range(0.7..1.3)).collect();
    let mut peaks = Vec::new();
    for (c, summit, gene) in sites {
        // choose the element's kind and its motif sites (tf name, active-in mask)
        let kind: usize = if gene.is_some() { 0 } else { [0, 1, 1, 1, 1, 1, 1, 1, 2][rng.gen_range(0..9)] };
        let mut inst: Vec<&'static str> = Vec::new();
        let label;
        let (amp, specific_ct): (f64, Vec<usize>) = match kind {
            0 => {
                label = UBIQUITOUS_LABEL.to_string();
                if gene.is_none() {
                    inst.push("CTCF");
                }
                for _ in 0..rng.gen_range(1..=3) {
                    inst.push(["Nrf1", "SP1", "Yy1"][rng.gen_range(0..3)]);
                }
                (1.0, vec![])
            }
            1 => {
                let ct = rng.gen_range(0..n_ct);
                label = label_of(ct);
                for _ in 0..rng.gen_range(2..=4) {
                    inst.push(CELL_TYPES[ct].1[rng.gen_range(0..2)]);
                }
                if rng.gen_bool(0.3) {
                    let other = (ct + rng.gen_range(1..n_ct)) % n_ct;
                    inst.push(CELL_TYPES[other].1[rng.gen_range(0..2)]); // closed without its TFs
                }
                (0.6, vec![ct])
            }
            _ => {
                let a = rng.gen_range(0..n_ct);
                let b = (a + rng.gen_range(1..n_ct)) % n_ct;
                label = SHARED_LABEL.to_string();
                for ct in [a, b] {
                    for _ in 0..rng.gen_range(1..=2) {
                        inst.push(CELL_TYPES[ct].1[rng.gen_range(0..2)]);
                    }
                }
                (0.6, vec![a, b])
            }
        };
        // implant sites around the summit
        let len = CHROMS[c].1;
        let mut used: Vec<(usize, usize)> = Vec::new();
        let mut site_q = Vec::new();
        for tf in &inst {
            let m = find(tf);
            let w = m.width();
            let mut tries = 0;
            loop {
                tries += 1;
                let off = summit - 100 + rng.gen_range(0..200 - w);
                if tries > 50 || !used.iter().any(|&(s, e)| off < e && s < off + w) {
                    let site = m.sample(|| rng.gen::<f64>());
                    let q = m.scan(&site).map(|h| h.relative.clamp(0.0, 1.0)).unwrap_or(0.0);
                    let reverse = rng.gen_bool(0.5);
                    let site = if reverse { revcomp(&site) } else { site };
                    if off + w < len {
                        seqs[c][off..off + w].copy_from_slice(&site);
                        used.push((off, off + w));
                        site_q.push((*tf, q, off, reverse));
                    }
                    break;
                }
            }
        }
        let shared_ctx = ctx_u.sample(&mut rng);
        let on = |tf: &str, ct: usize| UBIQUITOUS_TFS.contains(&tf) || (CELL_TYPES[ct].1.contains(&tf) && (kind == 0 || specific_ct.contains(&ct)));
        let mut height = vec![0.0; n_ct];
        let mut scale = vec![0.0; n_ct];
        for (ct, h) in height.iter_mut().enumerate() {
            let activity: f64 = site_q.iter().map(|&(tf, q, _, _)| if on(tf, ct) { q * q } else { 0.0 }).sum();
            let ctx = if kind == 0 { (0.8 * shared_ctx + 0.6 * ctx_u.sample(&mut rng)).exp() } else { ctx_s.sample(&mut rng).exp() };
            scale[ct] = 6.0 * amp * ctx * depth[ct];
            *h = scale[ct] * activity;
        }
        let sites = site_q
            .iter()
            .map(|&(tf, quality, start, reverse)| SynthSite { tf, start, reverse, quality, active: (0..n_ct).map(|ct| on(tf, ct)).collect() })
            .collect();
        let half = rng.gen_range(150..250);
        peaks.push(SynthPeak { chrom: c, start: summit - half, end: summit + half, summit, label, height, sites, scale });
    }
    // coverage: peak shapes + background, Poisson counts from two donors
    let mut coverage = Vec::with_capacity(n_ct);
    for ct in 0..n_ct {
        let mut per_chrom: Vec<Vec<f64>> = CHROMS.iter().map(|(_, l)| vec![BACKGROUND; *l]).collect();
        for p in &peaks {
            let h = p.height[ct];
            if h <= 0.0 {
                continue;
            }
            let lam = &mut per_chrom[p.chrom];
            for x in p.summit.saturating_sub(250)..(p.summit + 250).min(lam.len()) {
                let d = x as f64 - p.summit as f64;
                lam[x] += h * (-(d * d) / (2.0 * 60.0 * 60.0)).exp();
            }
        }
        let mut sampled = Vec::with_capacity(CHROMS.len());
        for lam in per_chrom {
            let mut out = vec![0f32; lam.len()];
            // 10-bp bins: counts drawn per bin (two donors), spread evenly over the bin
            for (b, chunk) in lam.chunks(10).enumerate() {
                let mu: f64 = chunk.iter().sum::<f64>() / 2.0;
                let k = Poisson::new(mu).map(|d| d.sample(&mut rng)).unwrap_or(0.0) + Poisson::new(mu).map(|d| d.sample(&mut rng)).unwrap_or(0.0);
                let v = (k / chunk.len() as f64) as f32;
                out[b * 10..b * 10 + chunk.len()].fill(v);
            }
            sampled.push(out);
        }
        coverage.push(sampled);
    }
    // peak calls: central 200 bp enriched ≥ 4× over background
    let calls = (0..n_ct)
        .map(|ct| {
            peaks
                .iter()
                .enumerate()
                .filter(|(_, p)| {
                    let cov = &coverage[ct][p.chrom];
                    let (s, e) = (p.summit - 100, (p.summit + 100).min(cov.len()));
                    let mean = cov[s..e].iter().map(|&x| x as f64).sum::<f64>() / (e - s) as f64;
                    mean >= 4.0 * BACKGROUND
                })
                .map(|(i, _)| i)
                .collect()
        })
        .collect();
    Ok(DemoData { seqs, genes, peaks, coverage, calls })
}

/// A heterozygous demo variant with its true effect and allele-specific read counts.
#[derive(Debug, Clone)]
pub struct SynthVariant {
    pub chrom: usize,
    /// 1-based
    pub pos: usize,
    pub ref_base: u8,
    pub alt_base: u8,
    /// what it does: "break:TF", "strengthen:TF", "neutral" (in a peak, off its sites), "outside"
    pub kind: String,
    /// per cell type: true height of the REF and ALT allele at the variant's peak
    pub height: Vec<(f64, f64)>,
    /// per cell type: (REF reads, ALT reads), both donors summed
    pub counts: Vec<(u64, u64)>,
}

impl SynthVariant {
    /// The largest true |log2 (ALT + b) / (REF + b)| over cell types (b = background).
    pub fn true_effect(&self) -> f64 {
        self.height.iter().map(|(r, a)| ((a + BACKGROUND) / (r + BACKGROUND)).log2().abs()).fold(0.0, f64::max)
    }
}

/// Read depth factor: reads overlapping a base per unit of coverage, per donor and allele.
const READS_PER_COVERAGE: f64 = 3.0;

/// Heterozygous variants drawn from the ground truth (their own random stream: the genome,
/// peaks and coverage do not change). Designed from the biology, not from a result:
/// * in 60% of peaks, one SNV in one of its motif sites: half break the site (its most
///   conserved position becomes the base the motif likes least), half strengthen it (a
///   position where the implanted base is not the motif's favourite becomes the favourite).
///   The site's quality is re-scored, and the peak's true height changes only in the cell
///   types where that site's TF acts (height = scale × Σ active quality²);
/// * in 15% of peaks, one SNV off every site (no effect);
/// * 600 SNVs at least 2 kb from any peak summit (no effect, background depth).
///
/// Allele-specific counts: each allele carries half the reads; per donor (two, both
/// heterozygous) reads ~ Poisson(3 × (allele height × peak shape at the variant + background)
/// / 2), summed over donors.
pub fn variants(d: &DemoData, seed: u64) -> Vec<SynthVariant> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_0014);
    let motifs = demo_motifs();
    let n_ct = CELL_TYPES.len();
    let comp = |b: u8| match b {
        b'A' => b'T',
        b'C' => b'G',
        b'G' => b'C',
        _ => b'A',
    };
    let mut out = Vec::new();
    let counts = |rng: &mut ChaCha8Rng, h: &[(f64, f64)], shape: f64| -> Vec<(u64, u64)> {
        h.iter()
            .map(|&(r, a)| {
                let mut draw = |x: f64| {
                    let mu = READS_PER_COVERAGE * (x * shape + BACKGROUND) / 2.0;
                    (0..2).map(|_| Poisson::new(mu).map(|p| p.sample(rng)).unwrap_or(0.0) as u64).sum::<u64>()
                };
                (draw(r), draw(a))
            })
            .collect()
    };
    for p in &d.peaks {
        let u: f64 = rng.gen();
        let seq = &d.seqs[p.chrom];
        let shape_at = |pos0: usize| {
            let dd = pos0 as f64 - p.summit as f64;
            (-(dd * dd) / (2.0 * 60.0 * 60.0)).exp()
        };
        if u < 0.6 && !p.sites.is_empty() {
            let si = rng.gen_range(0..p.sites.len());
            let site = &p.sites[si];
            let Some(m) = motifs.iter().find(|m| m.name == site.tf) else { continue };
            let w = m.width();
            // the site in motif orientation
            let fwd: Vec<u8> = if site.reverse { revcomp(&seq[site.start..site.start + w]) } else { seq[site.start..site.start + w].to_vec() };
            let idx = |b: u8| b"ACGT".iter().position(|&x| x == b).unwrap_or(0);
            let info = |j: usize| m.probs[j].iter().map(|&q| if q > 0.0 { q * (4.0 * q).log2() } else { 0.0 }).sum::<f64>();
            let best = |j: usize| (0..4).max_by(|&a, &b| m.probs[j][a].total_cmp(&m.probs[j][b])).unwrap();
            let worst = |j: usize| (0..4).min_by(|&a, &b| m.probs[j][a].total_cmp(&m.probs[j][b])).unwrap();
            let weak: Vec<usize> = (0..w).filter(|&j| idx(fwd[j]) != best(j)).collect();
            let (j, new, kind) = if rng.gen_bool(0.5) || weak.is_empty() {
                let j = (0..w).max_by(|&a, &b| info(a).total_cmp(&info(b))).unwrap();
                (j, b"ACGT"[worst(j)], format!("break:{}", site.tf))
            } else {
                let j = weak[rng.gen_range(0..weak.len())];
                (j, b"ACGT"[best(j)], format!("strengthen:{}", site.tf))
            };
            if idx(fwd[j]) == idx(new) {
                continue;
            }
            let mut alt_site = fwd.clone();
            alt_site[j] = new;
            let q_alt = m.scan(&alt_site).map(|h| h.relative.clamp(0.0, 1.0)).unwrap_or(0.0);
            // genome position and base (forward strand)
            let (pos0, ref_b, alt_b) = if site.reverse { (site.start + w - 1 - j, comp(fwd[j]), comp(new)) } else { (site.start + j, fwd[j], new) };
            let height: Vec<(f64, f64)> = (0..n_ct)
                .map(|ct| {
                    let dq = if site.active[ct] { q_alt * q_alt - site.quality * site.quality } else { 0.0 };
                    (p.height[ct], (p.height[ct] + p.scale[ct] * dq).max(0.0))
                })
                .collect();
            let c = counts(&mut rng, &height, shape_at(pos0));
            out.push(SynthVariant { chrom: p.chrom, pos: pos0 + 1, ref_base: ref_b, alt_base: alt_b, kind, height, counts: c });
        } else if u < 0.75 {
            let pos0 = rng.gen_range(p.start..p.end);
            if p.sites.iter().any(|s| pos0 + 30 > s.start && pos0 < s.start + 60) {
                continue;
            }
            let ref_b = seq[pos0];
            let alt_b = *b"ACGT".iter().filter(|&&b| b != ref_b).nth(rng.gen_range(0..3)).unwrap();
            let height: Vec<(f64, f64)> = p.height.iter().map(|&h| (h, h)).collect();
            let c = counts(&mut rng, &height, shape_at(pos0));
            out.push(SynthVariant { chrom: p.chrom, pos: pos0 + 1, ref_base: ref_b, alt_base: alt_b, kind: "neutral".into(), height, counts: c });
        }
    }
    let mut n = 0;
    while n < 600 {
        let c = rng.gen_range(0..CHROMS.len());
        let pos0 = rng.gen_range(1_000..CHROMS[c].1 - 1_000);
        if d.peaks.iter().any(|p| p.chrom == c && p.summit.abs_diff(pos0) < 2_000) {
            continue;
        }
        let ref_b = d.seqs[c][pos0];
        let alt_b = *b"ACGT".iter().filter(|&&b| b != ref_b).nth(rng.gen_range(0..3)).unwrap();
        let height = vec![(0.0, 0.0); n_ct];
        let cn = counts(&mut rng, &height, 0.0);
        out.push(SynthVariant { chrom: c, pos: pos0 + 1, ref_base: ref_b, alt_base: alt_b, kind: "outside".into(), height, counts: cn });
        n += 1;
    }
    out.sort_by_key(|v| (v.chrom, v.pos));
    out.dedup_by_key(|v| (v.chrom, v.pos));
    out
}
