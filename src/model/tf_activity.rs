//! Motif-insertion TF activity (a marginalisation experiment, as tangermeme's `marginalize`):
//! background sequences are drawn from the project's peaks (a window of the model's context
//! length centred on each) and dinucleotide-shuffled; a site of each motif (sampled from its
//! PWM, or its consensus) is written over each background's centre; a motif's activity for a
//! track is the mean over backgrounds of height(with site) − height(background), with its
//! standard error.
//!
//! Heights come from the one prediction service ([`super::service`], `Model::heights`, or the
//! model worker's `heights` request): the same views (rc, shifts), heads, transforms, f64 bin
//! sums and output→track mapping as `peakscope predict`. Backgrounds and inserted sequences go
//! through the same requests, in chunks, so the work streams, reports progress and stops
//! between chunks when cancelled.
use super::desc::BinSelect;
use super::service::{Geometry, HeightsOut, Query};
use crate::genome::motifs::Motif;
use crate::genome::shuffle::{dinucleotide_shuffle, insert_at_centre};
use crate::genome::{Fasta, Locus};
use anyhow::{bail, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::atomic::{AtomicBool, Ordering};

/// Default number of backgrounds.
pub const DEFAULT_BACKGROUNDS: usize = 1000;

/// A stable 64-bit mix of a seed and a stream index (splitmix64), so that every background
/// and every motif has its own reproducible random stream whatever else is in the run.
pub fn stream_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(0x6A09_E667_F3BC_C909);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

/// Which peaks the backgrounds come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackgroundPicks {
    /// per background, the index of its peak
    pub peaks: Vec<usize>,
    /// fewer peaks than backgrounds: drawn with replacement
    pub with_replacement: bool,
}

/// Draw `n` peaks of `n_peaks` (seeded): without replacement when there are enough, else
/// with replacement (`with_replacement` says so; callers warn).
pub fn pick_backgrounds(n_peaks: usize, n: usize, seed: u64) -> Result<BackgroundPicks> {
    if n == 0 {
        bail!("--backgrounds 0: the activity is a mean over background sequences, so at least 1 is needed (default {DEFAULT_BACKGROUNDS})");
    }
    if n_peaks == 0 {
        bail!("the peak set is empty: backgrounds are drawn from the project's peaks");
    }
    let mut rng = ChaCha8Rng::seed_from_u64(stream_seed(seed, 0));
    if n <= n_peaks {
        let mut peaks = rand::seq::index::sample(&mut rng, n_peaks, n).into_vec();
        peaks.sort_unstable();
        Ok(BackgroundPicks { peaks, with_replacement: false })
    } else {
        use rand::Rng;
        Ok(BackgroundPicks { peaks: (0..n).map(|_| rng.gen_range(0..n_peaks)).collect(), with_replacement: true })
    }
}

/// The background sequences: for each pick, the window of `context_length` bp centred on its
/// peak (N past chromosome ends), dinucleotide-shuffled with background `b`'s own stream.
pub fn backgrounds(fasta: &Fasta, peaks: &[Locus], picks: &BackgroundPicks, context_length: usize, seed: u64) -> Result<Vec<Vec<u8>>> {
    picks
        .peaks
        .iter()
        .enumerate()
        .map(|(b, &p)| {
            let (s, e) = peaks[p].centered_window(context_length as u64);
            let w = fasta.fetch(&peaks[p].chrom, s, e)?;
            let mut rng = ChaCha8Rng::seed_from_u64(stream_seed(seed, 1 + b as u64));
            Ok(dinucleotide_shuffle(&w, &mut rng))
        })
        .collect()
}

/// The `n` sites of a motif to insert: the consensus `n` times, or `n` draws from its PWM
/// with the motif's own stream (seeded by the run's seed and the motif's id and name).
pub fn motif_sites(motif: &Motif, n: usize, seed: u64, consensus: bool) -> Vec<Vec<u8>> {
    if consensus {
        return vec![motif.consensus(); n];
    }
    use rand::Rng;
    let mut rng = ChaCha8Rng::seed_from_u64(stream_seed(seed, fnv(&format!("{}\t{}", motif.id, motif.name))));
    (0..n).map(|_| motif.sample(|| rng.gen::<f64>())).collect()
}

/// Motifs that do not fit a window of `input_length` bp, as an error naming them.
pub fn check_motif_widths(motifs: &[Motif], input_length: usize, model: &str) -> Result<()> {
    let long: Vec<String> = motifs.iter().filter(|m| m.width() > input_length).map(|m| format!("{} {} ({} bp)", m.id, m.name, m.width())).collect();
    if !long.is_empty() {
        bail!(
            "{} motif(s) are longer than model {model}'s {input_length} bp input window: {}; leave them out of the motif file",
            long.len(),
            long.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}

/// The interval whose bins a synthetic sequence's height sums: for `bins = "center"`, the
/// central `center_width` bp of the context (as for a peak centred in its window); else all.
pub fn centre_interval(geom: &Geometry, center_width: u64) -> Option<(i64, i64)> {
    if geom.bins != BinSelect::Center || !geom.height.layout.is_binned() {
        return None;
    }
    let ctx = geom.context_length() as i64;
    let w = center_width.max(1) as i64;
    let a = ctx / 2 - w / 2;
    Some((a, a + w))
}

/// One model's activity: per motif and track, mean, standard error and n.
#[derive(Debug, Clone, Default)]
pub struct ModelActivity {
    pub n_tracks: usize,
    pub n_backgrounds: usize,
    /// (motif × track)
    pub mean: Vec<f64>,
    /// (motif × track) standard error of the mean (sample sd / √n; 0 for n = 1)
    pub se: Vec<f64>,
    /// heights of the backgrounds (background × track)
    pub background: Vec<f64>,
    /// with `keep_deltas`: (motif × background × track) inserted − background
    pub deltas: Option<Vec<f64>>,
    pub non_finite: u64,
}

impl ModelActivity {
    pub fn mean(&self, motif: usize, track: usize) -> f64 {
        self.mean[motif * self.n_tracks + track]
    }
    pub fn se(&self, motif: usize, track: usize) -> f64 {
        self.se[motif * self.n_tracks + track]
    }
}

/// What to run through one model.
pub struct ActivityInput<'a> {
    pub backgrounds: &'a [Vec<u8>],
    /// per motif, one site per background
    pub sites: &'a [Vec<Vec<u8>>],
    /// heights sum the bins over this interval of each sequence (None: all)
    pub interval: Option<(i64, i64)>,
    /// sequences per request
    pub chunk: usize,
    pub keep_deltas: bool,
}

impl ActivityInput<'_> {
    /// Sequences this input runs: the backgrounds, then one per motif and background.
    pub fn total(&self) -> usize {
        self.backgrounds.len() * (1 + self.sites.len())
    }
}

/// Run one model's marginalisation: sequence `k` of the stream is background `k` for
/// `k < B`, else motif `(k − B) / B` inserted into background `(k − B) % B`. `run` computes
/// heights (the model, or the model worker); `progress(done, total)` follows each chunk;
/// `cancel` stops between chunks with an error "cancelled".
pub fn run_activity(
    input: &ActivityInput,
    cancel: &AtomicBool,
    mut progress: impl FnMut(usize, usize),
    mut run: impl FnMut(Vec<Vec<u8>>, Vec<Query>) -> Result<HeightsOut>,
) -> Result<ModelActivity> {
    let nb = input.backgrounds.len();
    let nm = input.sites.len();
    if nb == 0 {
        bail!("no background sequences");
    }
    for (m, s) in input.sites.iter().enumerate() {
        if s.len() != nb {
            bail!("motif {m} has {} sites for {nb} backgrounds", s.len());
        }
    }
    let total = input.total();
    let chunk = input.chunk.max(1);
    let mut background = Vec::new();
    let mut t = 0;
    // Welford accumulators per (motif, track)
    let mut mean = Vec::new();
    let mut m2 = Vec::new();
    let mut count = vec![0usize; nm];
    let mut deltas = Vec::new();
    let mut non_finite = 0;
    let mut k = 0;
    while k < total {
        if cancel.load(Ordering::Relaxed) {
            bail!("cancelled");
        }
        let end = (k + chunk).min(total);
        let seqs: Vec<Vec<u8>> = (k..end)
            .map(|i| {
                if i < nb {
                    input.backgrounds[i].clone()
                } else {
                    insert_at_centre(&input.backgrounds[(i - nb) % nb], &input.sites[(i - nb) / nb][(i - nb) % nb])
                }
            })
            .collect();
        let queries: Vec<Query> = (0..seqs.len()).map(|i| (i, input.interval)).collect();
        let out = run(seqs, queries)?;
        non_finite += out.non_finite;
        for (j, h) in out.values.iter().enumerate() {
            let i = k + j;
            if t == 0 {
                t = h.len();
                mean = vec![0f64; nm * t];
                m2 = vec![0f64; nm * t];
                if input.keep_deltas {
                    deltas = vec![0f64; nm * nb * t];
                }
            }
            if i < nb {
                background.extend_from_slice(h);
                continue;
            }
            let (m, b) = ((i - nb) / nb, (i - nb) % nb);
            count[m] += 1;
            let n = count[m] as f64;
            for (o, &v) in h.iter().enumerate() {
                let d = v - background[b * t + o];
                if input.keep_deltas {
                    deltas[(m * nb + b) * t + o] = d;
                }
                let x = &mut mean[m * t + o];
                let e = d - *x;
                *x += e / n;
                m2[m * t + o] += e * (d - *x);
            }
        }
        k = end;
        progress(k, total);
    }
    let se = (0..nm * t)
        .map(|i| {
            let n = count[i / t] as f64;
            if n > 1.0 {
                (m2[i] / (n - 1.0)).sqrt() / n.sqrt()
            } else {
                0.0
            }
        })
        .collect();
    Ok(ModelActivity { n_tracks: t, n_backgrounds: nb, mean, se, background, deltas: input.keep_deltas.then_some(deltas), non_finite })
}

/// How cell type-specific a motif's activity is across tracks: the largest activity minus the
/// mean of the others, over the spread of all (0 when flat). Rows of the TF heatmap sort by it.
pub fn specificity(row: &[f64]) -> f64 {
    let n = row.len();
    if n < 2 {
        return 0.0;
    }
    let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let min = row.iter().cloned().fold(f64::INFINITY, f64::min);
    let rest = (row.iter().sum::<f64>() - max) / (n - 1) as f64;
    let scale = max.abs().max(min.abs());
    if !scale.is_finite() || scale == 0.0 {
        0.0
    } else {
        (max - rest) / scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_without_then_with_replacement() {
        let p = pick_backgrounds(10, 4, 1).unwrap();
        assert!(!p.with_replacement && p.peaks.len() == 4);
        let mut u = p.peaks.clone();
        u.dedup();
        assert_eq!(u.len(), 4);
        assert_eq!(p, pick_backgrounds(10, 4, 1).unwrap());
        let p = pick_backgrounds(3, 10, 1).unwrap();
        assert!(p.with_replacement && p.peaks.len() == 10 && p.peaks.iter().all(|&i| i < 3));
        assert!(pick_backgrounds(3, 0, 1).unwrap_err().to_string().contains("--backgrounds 0"));
        assert!(pick_backgrounds(0, 5, 1).unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn activity_is_the_mean_delta_with_its_standard_error() {
        // a fake model: height = number of G bases, and (number of C) for a second track
        let bgs: Vec<Vec<u8>> = vec![b"AAAAAAAA".to_vec(), b"AAGAAAAA".to_vec(), b"TTTTTTTT".to_vec()];
        let sites = vec![vec![b"GG".to_vec(), b"GG".to_vec(), b"GC".to_vec()]];
        let run = |seqs: Vec<Vec<u8>>, q: Vec<Query>| -> Result<HeightsOut> {
            assert_eq!(seqs.len(), q.len());
            Ok(HeightsOut {
                values: seqs.iter().map(|s| vec![s.iter().filter(|&&c| c == b'G').count() as f64, s.iter().filter(|&&c| c == b'C').count() as f64]).collect(),
                non_finite: 0,
            })
        };
        let mut seen = vec![];
        let input = ActivityInput { backgrounds: &bgs, sites: &sites, interval: None, chunk: 2, keep_deltas: true };
        let a = run_activity(&input, &AtomicBool::new(false), |d, t| seen.push((d, t)), run).unwrap();
        assert_eq!(seen, vec![(2, 6), (4, 6), (6, 6)]);
        // deltas G: 2, 2 (AAGAAAAA: centre 3..5 → AAGGGAAA? centre_start(8,2)=3: AAG + GG + AAA = 3 G, minus 1 = 2), 1
        assert_eq!(a.deltas.as_ref().unwrap(), &vec![2.0, 0.0, 2.0, 0.0, 1.0, 1.0]);
        let m: f64 = 5.0 / 3.0;
        let sd = (((2.0 - m).powi(2) * 2.0 + (1.0 - m).powi(2)) / 2.0f64).sqrt();
        assert!((a.mean(0, 0) - m).abs() < 1e-12 && (a.se(0, 0) - sd / 3f64.sqrt()).abs() < 1e-12);
        assert!((a.mean(0, 1) - 1.0 / 3.0).abs() < 1e-12);
        let cancel = AtomicBool::new(true);
        assert!(run_activity(&input, &cancel, |_, _| {}, |_, _| unreachable!()).unwrap_err().to_string().contains("cancelled"));
    }

    #[test]
    fn specificity_orders_peaked_rows_first() {
        assert!(specificity(&[5.0, 0.1, 0.0, 0.2]) > specificity(&[1.0, 1.0, 1.0, 1.1]));
        assert_eq!(specificity(&[0.0, 0.0]), 0.0);
    }
}
