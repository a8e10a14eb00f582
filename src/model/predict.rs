//! Predictions over regions: one centred window per region, or tiles over a locus.
use crate::genome::onehot::n_fraction;
use crate::genome::{Fasta, Locus};
use anyhow::{bail, Result};
use ndarray::Array3;

/// The model context window (input + shift margins) centred on `center`.
pub fn window_around(fasta: &Fasta, chrom: &str, center: i64, context: usize) -> Result<Vec<u8>> {
    let s = center - (context / 2) as i64;
    fasta.fetch(chrom, s, s + context as i64)
}

/// Check a region against the FASTA: known chromosome, inside it.
pub fn check_region(fasta: &Fasta, r: &Locus) -> Result<()> {
    let (_, len) = fasta.resolve(&r.chrom)?;
    if r.start >= len || r.end > len {
        bail!("region {} runs past the end of {} (length {len})", r.display(), r.chrom);
    }
    Ok(())
}

/// Sequences of the `ctx`-bp windows centred on each region. Windows may run past
/// chromosome ends (padded with N); a window with more than `max_n` N is refused with the
/// region named.
pub fn windows_for_context(fasta: &Fasta, regions: &[Locus], ctx: usize, max_n: f64) -> Result<Vec<Vec<u8>>> {
    let mut seqs = Vec::with_capacity(regions.len());
    let mut n_rich = Vec::new();
    for r in regions {
        check_region(fasta, r)?;
        let (s, e) = r.centered_window(ctx as u64);
        let seq = fasta.fetch(&r.chrom, s, e)?;
        let nf = n_fraction(&seq);
        if nf > max_n {
            n_rich.push(format!("{} ({:.0}% N)", r.display(), nf * 100.0));
        }
        seqs.push(seq);
    }
    if !n_rich.is_empty() {
        bail!(
            "{} window(s) are more than {:.0}% N (assembly gaps?), e.g. {}: predictions there mean little; raise --max-n to accept them",
            n_rich.len(),
            max_n * 100.0,
            n_rich.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(seqs)
}

/// One model window of a tiling: where it is centred and which output bins it gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    pub center: i64,
    /// genomic start of the first output bin
    pub out_start: u64,
}

/// Tile `region` so that every base is covered by exactly one output bin: for a binned
/// model (B bins of `bin` bp, assumed centred in the input) windows step by B×bin; for a
/// per-sequence model (B = 1) `bin` is the step and each window's value covers the `bin`
/// bp around its centre.
pub fn tile(region: &Locus, n_bins: usize, bin: u64) -> Vec<Tile> {
    let span = n_bins as u64 * bin;
    let mut out = Vec::new();
    let mut s = region.start;
    while s < region.end {
        out.push(Tile { center: (s + span / 2) as i64, out_start: s });
        s += span;
    }
    out
}

/// Predictions tiled over a locus: (start, end, value per target) rows covering `region`,
/// clipped to it. `predict` maps context-length sequences to (N, B, T) predictions (a
/// model, or a request to the model worker).
pub fn predict_locus_with(
    fasta: &Fasta,
    region: &Locus,
    step: u64,
    n_bins: usize,
    bin_size: Option<u32>,
    ctx: usize,
    mut predict: impl FnMut(Vec<Vec<u8>>) -> Result<Array3<f32>>,
) -> Result<Vec<(u64, u64, Vec<f32>)>> {
    check_region(fasta, region)?;
    let (n_bins, bin) = match bin_size {
        Some(b) if n_bins > 1 => (n_bins, b as u64),
        _ => (1, step.max(1)),
    };
    let tiles = tile(region, n_bins, bin);
    let mut rows = Vec::new();
    for chunk in tiles.chunks(1024) {
        let seqs = chunk.iter().map(|t| window_around(fasta, &region.chrom, t.center, ctx)).collect::<Result<Vec<_>>>()?;
        let pred = predict(seqs)?;
        for (k, t) in chunk.iter().enumerate() {
            for b in 0..n_bins {
                let s = t.out_start + b as u64 * bin;
                if s >= region.end {
                    break;
                }
                let e = (s + bin).min(region.end);
                rows.push((s, e, pred.slice(ndarray::s![k, b, ..]).to_vec()));
            }
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_every_base_once() {
        let r = Locus::new("c", 100, 1000);
        for (nb, bin) in [(1usize, 50u64), (8, 32), (1, 1000), (3, 7)] {
            let tiles = tile(&r, nb, bin);
            let mut covered = vec![0u32; 900];
            for t in &tiles {
                for b in 0..nb as u64 {
                    let s = t.out_start + b * bin;
                    for p in s..(s + bin).min(1000) {
                        if p >= 100 {
                            covered[(p - 100) as usize] += 1;
                        }
                    }
                }
                // output bins sit centred on the window
                assert_eq!(t.center, (t.out_start + nb as u64 * bin / 2) as i64);
            }
            assert!(covered.iter().all(|&c| c == 1), "nb={nb} bin={bin}");
        }
    }
}
