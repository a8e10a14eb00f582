//! `peakscope summarize`: bigWigAverageOverBed-style statistics per (track, region).
use crate::genome::peaks::{read_regions, PeakReadOptions};
use crate::genome::{BigWig, IntervalStats};
use anyhow::{bail, Result};
use clap::Args;
use rayon::prelude::*;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SummarizeArgs {
    /// regions: BED3+ / narrowPeak (gzip allowed) or bigBed
    #[arg(long)]
    pub bed: PathBuf,
    /// signal track; repeat for several. `NAME=PATH` sets the track name (default: file stem)
    #[arg(long = "bigwig", required = true)]
    pub bigwigs: Vec<String>,
    /// summarise the W bp centred on each region instead of the whole region
    #[arg(long)]
    pub center_width: Option<u64>,
    /// output TSV (written atomically); stdout when absent
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// worker threads (default: all cores)
    #[arg(long)]
    pub threads: Option<usize>,
}

/// A track to summarise: display name and file.
#[derive(Debug, Clone)]
pub struct TrackArg {
    pub name: String,
    pub path: PathBuf,
}

pub fn parse_track_arg(s: &str) -> TrackArg {
    if let Some((name, path)) = s.split_once('=') {
        if !name.is_empty() && !name.contains('/') {
            return TrackArg { name: name.to_string(), path: PathBuf::from(path) };
        }
    }
    let path = PathBuf::from(s);
    let name = path.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_else(|| s.to_string());
    let name = ["bigWig", "bigwig", "bw"].iter().find_map(|ext| name.strip_suffix(&format!(".{ext}")).map(str::to_string)).unwrap_or(name);
    TrackArg { name, path }
}

/// Result rows of one track, in region order; `None` where the track lacks the chromosome.
pub struct TrackSummary {
    pub track: TrackArg,
    pub stats: Vec<Option<IntervalStats>>,
    pub clipped: usize,
}

/// Summarise every region in every track, tracks in parallel.
pub fn summarize(tracks: &[TrackArg], regions: &[(String, i64, i64)], progress: &indicatif::ProgressBar) -> Result<Vec<TrackSummary>> {
    const BATCH: usize = 8192;
    // sorted order, so each batch covers a contiguous stretch of the genome
    let mut order: Vec<usize> = (0..regions.len()).collect();
    order.sort_by(|&a, &b| (&regions[a].0, regions[a].1).cmp(&(&regions[b].0, regions[b].1)));
    tracks
        .par_iter()
        .map(|t| -> Result<TrackSummary> {
            let mut bw = BigWig::open(&t.path)?;
            let mut stats = vec![None; regions.len()];
            let mut clipped = 0;
            for batch in order.chunks(BATCH) {
                let q: Vec<(&str, u64, u64)> = batch
                    .iter()
                    .map(|&k| {
                        let (c, s, e) = &regions[k];
                        (c.as_str(), (*s).max(0) as u64, (*e).max(0) as u64)
                    })
                    .collect();
                let got = bw.stats_many(&q)?;
                for (&k, st) in batch.iter().zip(got) {
                    let (c, s, e) = &regions[k];
                    stats[k] = st.map(|mut st| {
                        // the region's own size, also where it runs off either end
                        st.size = (e - s) as u64;
                        st
                    });
                    if stats[k].is_some() {
                        let len = bw.chroms().len_of(c).unwrap_or(0) as i64;
                        if *s < 0 || *e > len {
                            clipped += 1;
                        }
                    }
                }
                progress.inc(batch.len() as u64);
            }
            Ok(TrackSummary { track: t.clone(), stats, clipped })
        })
        .collect()
}

fn fmt_f(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else {
        format!("{x}")
    }
}

pub fn run(a: SummarizeArgs) -> Result<()> {
    if let Some(n) = a.threads {
        rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build_global().ok();
    }
    if a.center_width == Some(0) {
        bail!("--center-width must be > 0");
    }
    let tracks: Vec<TrackArg> = a.bigwigs.iter().map(|s| parse_track_arg(s)).collect();
    let peaks = read_regions(&a.bed, &PeakReadOptions::default())?;
    let names: Vec<String> = peaks.iter().map(|p| p.display_name()).collect();
    let regions: Vec<(String, i64, i64)> = peaks
        .iter()
        .map(|p| match a.center_width {
            Some(w) => {
                let (s, e) = p.locus().centered_window(w);
                (p.chrom.clone(), s, e)
            }
            None => (p.chrom.clone(), p.start as i64, p.end as i64),
        })
        .collect();
    // open every file up front so a bad track fails before any work
    for t in &tracks {
        BigWig::open(&t.path)?;
    }
    let total = (regions.len() * tracks.len()) as u64;
    let pb = if total >= 50_000 {
        indicatif::ProgressBar::new(total)
            .with_style(indicatif::ProgressStyle::with_template("{spinner} summarize {bar:30} {pos}/{len} regions×tracks {per_sec} eta {eta}").unwrap())
    } else {
        indicatif::ProgressBar::hidden()
    };
    let results = summarize(&tracks, &regions, &pb)?;
    pb.finish_and_clear();
    let write_rows = |w: &mut dyn Write| -> Result<()> {
        writeln!(w, "track\tname\tsize\tcovered\tsum\tmean0\tmean")?;
        for r in &results {
            for (k, st) in r.stats.iter().enumerate() {
                let Some(st) = st else { continue };
                writeln!(
                    w,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    r.track.name,
                    names[k],
                    st.size,
                    st.covered,
                    fmt_f(st.sum),
                    fmt_f(st.mean0()),
                    fmt_f(st.mean().unwrap_or(0.0))
                )?;
            }
        }
        Ok(())
    };
    super::emit(a.output.as_deref(), write_rows)?;
    for r in &results {
        let missing = r.stats.iter().filter(|s| s.is_none()).count();
        if missing > 0 {
            let mut example: Vec<&str> = r.stats.iter().zip(&regions).filter(|(s, _)| s.is_none()).map(|(_, r)| r.0.as_str()).collect();
            example.dedup();
            example.truncate(3);
            eprintln!("warning: {}: skipped {missing} region(s) on chromosomes the file lacks (e.g. {})", r.track.path.display(), example.join(", "));
        }
        if r.clipped > 0 {
            eprintln!("warning: {}: {} region(s) run past a chromosome end; the part outside counts as no data", r.track.path.display(), r.clipped);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_names() {
        let t = parse_track_arg("data/PT.bw");
        assert_eq!((t.name.as_str(), t.path.as_path()), ("PT", std::path::Path::new("data/PT.bw")));
        let t = parse_track_arg("Podocyte=x/y.bigWig");
        assert_eq!(t.name, "Podocyte");
        let t = parse_track_arg("./a=b/c.bw"); // '=' inside a path is not a name
        assert_eq!(t.name, "c");
    }
}
