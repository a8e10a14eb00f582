//! `peakscope summarize`: bigWigAverageOverBed-style statistics per (track, region).
use crate::genome::peaks::{read_regions, PeakReadOptions};
use crate::genome::textio::{check_optional_outputs, Output};
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

/// Per track, what happened to the regions that got no row or a partial one.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SkipCounts {
    /// summarised (one output row each)
    pub summarised: usize,
    /// skipped: on a chromosome the bigWig does not have
    pub missing_chrom: usize,
    /// summarised, but lying entirely past the chromosome end (no data)
    pub past_end: usize,
    /// summarised, running partly past either chromosome end
    pub clipped: usize,
    /// summarised with no covered base
    pub uncovered: usize,
}

/// Count per reason what [`summarize`] did with each region of one track.
pub fn skip_counts(r: &TrackSummary, regions: &[(String, i64, i64)], chrom_len: impl Fn(&str) -> Option<u64>) -> SkipCounts {
    let mut c = SkipCounts::default();
    for (st, (chrom, s, e)) in r.stats.iter().zip(regions) {
        let Some(st) = st else {
            c.missing_chrom += 1;
            continue;
        };
        c.summarised += 1;
        let len = chrom_len(chrom).unwrap_or(0) as i64;
        if *s >= len {
            c.past_end += 1;
        } else if *s < 0 || *e > len {
            c.clipped += 1;
        }
        if st.covered == 0 {
            c.uncovered += 1;
        }
    }
    c
}

/// A few distinct chromosome names, with their count when there are more, for messages.
fn example_chroms<'a>(regions: impl Iterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    let mut n = 0;
    for c in regions {
        if !seen.contains(&c) {
            n += 1;
            if seen.len() < 4 {
                seen.push(c);
            }
        }
    }
    if n > seen.len() {
        format!("{}, … ({n} in all)", seen.join(", "))
    } else {
        seen.join(", ")
    }
}

pub fn run(a: SummarizeArgs) -> Result<()> {
    if let Some(n) = a.threads {
        rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build_global().ok();
    }
    if a.center_width == Some(0) {
        bail!("--center-width must be > 0 (bp centred on each region; leave it out to summarise whole regions)");
    }
    let tracks: Vec<TrackArg> = a.bigwigs.iter().map(|s| parse_track_arg(s)).collect();
    let mut inputs: Vec<&std::path::Path> = vec![a.bed.as_path()];
    inputs.extend(tracks.iter().map(|t| t.path.as_path()));
    check_optional_outputs([Output::file_opt("-o/--output", a.output.as_deref())], &inputs)?;
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
    // open every file up front so a bad track fails before any work, and refuse a track
    // that shares no chromosome with the regions (it would only produce a header)
    let mut chrom_sets = Vec::with_capacity(tracks.len());
    for t in &tracks {
        let bw = BigWig::open(&t.path)?;
        let usable = regions.iter().filter(|r| bw.chroms().index(&r.0).is_some()).count();
        if usable == 0 {
            bail!(
                "track {} ({}): none of the {} regions of {} lies on a chromosome of the bigWig (regions are on {}; the bigWig has {}): wrong assembly or chromosome naming?",
                t.name,
                t.path.display(),
                regions.len(),
                a.bed.display(),
                example_chroms(regions.iter().map(|r| r.0.as_str())),
                bw.chroms().preview()
            );
        }
        chrom_sets.push(bw.chroms().clone());
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
    let counts: Vec<SkipCounts> = results.iter().zip(&chrom_sets).map(|(r, cs)| skip_counts(r, &regions, |c| cs.len_of(c))).collect();
    if counts.iter().all(|c| c.summarised == 0) {
        bail!("nothing was summarised: no region lies on a chromosome of any bigWig");
    }
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
    for ((r, c), cs) in results.iter().zip(&counts).zip(&chrom_sets) {
        let p = r.track.path.display();
        if c.missing_chrom > 0 {
            let missing = example_chroms(regions.iter().map(|x| x.0.as_str()).filter(|x| cs.index(x).is_none()));
            eprintln!("warning: {p}: skipped {} of {} region(s): on chromosomes the file lacks ({missing})", c.missing_chrom, regions.len());
        }
        if c.past_end > 0 {
            eprintln!("warning: {p}: {} region(s) lie entirely past their chromosome's end (no data; another assembly?)", c.past_end);
        }
        if c.clipped > 0 {
            eprintln!("warning: {p}: {} region(s) run past a chromosome end; the part outside counts as no data", c.clipped);
        }
        if c.uncovered == c.summarised {
            eprintln!("warning: {p}: none of its {} summarised region(s) has any data (covered = 0 everywhere)", c.summarised);
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
