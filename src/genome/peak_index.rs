//! The peak index: for every peak of a peak set, its specificity (how many tracks' own calls
//! overlap it) and its measured height per track (the bigWig sum over the central `width`
//! bp, exactly as `peakscope summarize --center-width` computes it). Building it reads every
//! call set and every bigWig once; the result is kept in a sidecar file keyed by the sizes
//! and modification times of every input, so that it is rebuilt when any of them changes.
//!
//! File format (little-endian): magic `PSIDX\0\0\x01`, the 32-byte key, peaks (u64),
//! tracks (u64), has-specificity (u8), then specificity per peak (u16, `u16::MAX` = none
//! when the byte says so) and heights per peak, per track (f64; NaN = no data).
use super::bigwig::BigWig;
use super::peaks::{PeakReadOptions, PeakSet};
use super::Locus;
use anyhow::{anyhow, bail, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"PSIDX\0\0\x01";

/// What an index is built from.
#[derive(Debug, Clone)]
pub struct IndexInputs {
    /// the peak set
    pub peaks: PathBuf,
    /// per track: its bigWig and its own calls (specificity needs calls for every track)
    pub bigwigs: Vec<PathBuf>,
    pub calls: Vec<Option<PathBuf>>,
    /// measured height = sum over the central `width` bp
    pub width: u64,
}

impl IndexInputs {
    /// Key of the inputs: every path with its size and modification time, and the width.
    /// A file that cannot be read gives an error naming it.
    pub fn key(&self) -> Result<[u8; 32]> {
        let mut h = Sha256::new();
        h.update(MAGIC);
        h.update(self.width.to_le_bytes());
        let files = std::iter::once(&self.peaks).chain(&self.bigwigs).chain(self.calls.iter().flatten());
        for p in files {
            let m = std::fs::metadata(p).map_err(|e| anyhow!("{}: cannot read it ({e})", p.display()))?;
            let mtime = m.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_nanos()).unwrap_or(0);
            h.update(p.as_os_str().as_encoded_bytes());
            h.update([0]);
            h.update(m.len().to_le_bytes());
            h.update(mtime.to_le_bytes());
        }
        h.update([self.calls.iter().all(Option::is_some) as u8]);
        Ok(h.finalize().into())
    }

    /// The index file's name for a key.
    pub fn file_name(key: &[u8; 32]) -> String {
        let hex: String = key[..12].iter().map(|b| format!("{b:02x}")).collect();
        format!("peaks-{hex}.idx")
    }
}

/// A complete index.
#[derive(Debug, Clone, PartialEq)]
pub struct PeakIndex {
    pub tracks: usize,
    /// per peak (None: not every track has calls)
    pub specificity: Option<Vec<u32>>,
    /// per peak, per track (`i * tracks + t`); NaN where the bigWig has no data
    pub heights: Vec<f64>,
}

impl PeakIndex {
    pub fn peaks(&self) -> usize {
        self.heights.len().checked_div(self.tracks).unwrap_or(0)
    }

    /// Write atomically to `path` (its folder is created).
    pub fn save(&self, path: &Path, key: &[u8; 32]) -> Result<()> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(|e| anyhow!("cannot create {} ({e})", d.display()))?;
        }
        super::textio::write_atomic(path, |w| {
            let mut buf = Vec::with_capacity(64 + self.heights.len() * 8 + self.peaks() * 2);
            buf.extend_from_slice(MAGIC);
            buf.extend_from_slice(key);
            buf.extend_from_slice(&(self.peaks() as u64).to_le_bytes());
            buf.extend_from_slice(&(self.tracks as u64).to_le_bytes());
            buf.push(self.specificity.is_some() as u8);
            if let Some(s) = &self.specificity {
                for &v in s {
                    buf.extend_from_slice(&(v.min(u16::MAX as u32 - 1) as u16).to_le_bytes());
                }
            }
            for &v in &self.heights {
                buf.extend_from_slice(&v.to_le_bytes());
            }
            w.write_all(&buf)?;
            Ok(())
        })
    }

    /// Read an index written for `key` with `peaks` × `tracks` entries; `Ok(None)` when the
    /// file is absent or for other inputs (stale), an error when it is damaged.
    pub fn load(path: &Path, key: &[u8; 32], peaks: usize, tracks: usize) -> Result<Option<PeakIndex>> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => bail!("peak index {}: cannot read it ({e})", path.display()),
        };
        let damaged = || anyhow!("peak index {} is damaged (delete it; it is rebuilt)", path.display());
        let head = 8 + 32 + 8 + 8 + 1;
        if bytes.len() < head || &bytes[..8] != MAGIC {
            return Err(damaged());
        }
        if &bytes[8..40] != key {
            return Ok(None);
        }
        let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap_or_default()) as usize;
        let (n, t, has_spec) = (u64_at(40), u64_at(48), bytes[56] == 1);
        if (n, t) != (peaks, tracks) {
            return Ok(None);
        }
        let spec_len = if has_spec { 2 * n } else { 0 };
        if bytes.len() != head + spec_len + 8 * n * t {
            return Err(damaged());
        }
        let specificity = has_spec.then(|| bytes[head..head + spec_len].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]) as u32).collect());
        let heights = bytes[head + spec_len..].chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default())).collect();
        Ok(Some(PeakIndex { tracks, specificity, heights }))
    }
}

/// Specificity of every peak from every track's calls, reading one call set at a time
/// (`progress(k)` after the k-th). `None` when some track has no calls.
pub fn specificity(peaks: &PeakSet, calls: &[Option<PathBuf>], mut progress: impl FnMut(usize) -> bool) -> Result<Option<Vec<u32>>> {
    if calls.is_empty() || calls.iter().any(Option::is_none) {
        return Ok(None);
    }
    let mut counts = vec![0u32; peaks.len()];
    for (k, p) in calls.iter().flatten().enumerate() {
        let set = PeakSet::read(p, &PeakReadOptions::default())?;
        for (c, pk) in counts.iter_mut().zip(peaks.peaks()) {
            *c += set.any_overlap(&pk.chrom, pk.start, pk.end) as u32;
        }
        if !progress(k + 1) {
            bail!("cancelled");
        }
    }
    Ok(Some(counts))
}

/// Measured heights of `loci` in every track (locus-major): the sum over the central
/// `width` bp, NaN where a bigWig has no data (a chromosome it lacks, or a failed file).
/// Tracks are read in parallel. The one definition of a measured height in the UI (the
/// peak index, and the view's requests before the index is complete).
pub fn heights(bigwigs: &mut [Option<BigWig>], loci: &[Locus], width: u64) -> Vec<f64> {
    let regions: Vec<(&str, u64, u64)> = loci
        .iter()
        .map(|l| {
            let (s, e) = l.centered_window(width);
            (l.chrom.as_str(), s.max(0) as u64, e.max(0) as u64)
        })
        .collect();
    let t = bigwigs.len();
    let mut out = vec![f64::NAN; loci.len() * t];
    let per_track: Vec<Vec<f64>> = {
        use rayon::prelude::*;
        bigwigs
            .par_iter_mut()
            .map(|f| match f {
                Some(bw) => match bw.stats_many(&regions) {
                    Ok(v) => v.into_iter().map(|s| s.map(|s| s.sum).unwrap_or(f64::NAN)).collect(),
                    Err(e) => {
                        tracing::warn!("{e:#}");
                        vec![f64::NAN; regions.len()]
                    }
                },
                None => vec![f64::NAN; regions.len()],
            })
            .collect()
    };
    for (ti, col) in per_track.into_iter().enumerate() {
        for (i, v) in col.into_iter().enumerate() {
            out[i * t + ti] = v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_round_trip_and_stale_keys() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/x.idx");
        let idx = PeakIndex { tracks: 2, specificity: Some(vec![0, 2, 1]), heights: vec![1.0, f64::NAN, 3.5, 0.0, -1.0, 2.0] };
        let key = [7u8; 32];
        idx.save(&p, &key).unwrap();
        let back = PeakIndex::load(&p, &key, 3, 2).unwrap().unwrap();
        assert_eq!(back.specificity, idx.specificity);
        assert!(back.heights[1].is_nan() && back.heights[2] == 3.5 && back.heights[4] == -1.0);
        assert!(PeakIndex::load(&p, &[8u8; 32], 3, 2).unwrap().is_none(), "another key: stale");
        assert!(PeakIndex::load(&p, &key, 4, 2).unwrap().is_none(), "another peak count: stale");
        assert!(PeakIndex::load(&d.path().join("none.idx"), &key, 3, 2).unwrap().is_none());
        std::fs::write(&p, b"PSIDX\0\0\x01short").unwrap();
        assert!(PeakIndex::load(&p, &key, 3, 2).unwrap_err().to_string().contains("damaged"));
    }

    #[test]
    fn the_key_changes_with_a_file() {
        let d = tempfile::tempdir().unwrap();
        let f = |n: &str, t: &str| {
            let p = d.path().join(n);
            std::fs::write(&p, t).unwrap();
            p
        };
        let inputs = IndexInputs { peaks: f("p.bed", "chr1\t1\t2\n"), bigwigs: vec![f("a.bw", "x")], calls: vec![None], width: 100 };
        let k1 = inputs.key().unwrap();
        assert_eq!(k1, inputs.key().unwrap());
        f("a.bw", "xy");
        assert_ne!(k1, inputs.key().unwrap(), "size changed");
        let w = IndexInputs { width: 200, ..inputs.clone() };
        assert_ne!(w.key().unwrap(), inputs.key().unwrap());
        let missing = IndexInputs { bigwigs: vec![d.path().join("gone.bw")], ..inputs };
        assert!(missing.key().unwrap_err().to_string().contains("gone.bw"));
    }
}
