//! Input checks of the evaluation job, run before any model is loaded: the options, which
//! peaks to evaluate (requested chromosomes, chromosomes the FASTA lacks, peaks past a
//! chromosome end) and whether every track has data for them. Anything dropped is counted,
//! logged and returned in an [`InputReport`]; a track with no usable data is an error.
use crate::genome::chroms::canonical;
use crate::genome::peaks::PeakSet;
use crate::genome::{BigWig, Fasta};
use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// What the input checks found (also written to metrics.json).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct InputReport {
    /// peaks in the peak file
    pub peaks_in_file: usize,
    /// `--chroms`: peaks on each requested chromosome (before other filters)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peaks_per_requested_chrom: Option<BTreeMap<String, usize>>,
    /// peaks skipped because the FASTA lacks their chromosome
    pub skipped_not_in_fasta: usize,
    /// those chromosomes (at most 20 named)
    pub skipped_chroms: Vec<String>,
    /// selected peaks that run past their chromosome's end (windows padded with N)
    pub past_chrom_end: usize,
    /// per track: selected peaks on chromosomes its bigWig lacks (measured = NaN, so the
    /// peak is left out of that track's metrics)
    pub missing_in_bigwig: BTreeMap<String, usize>,
    /// evaluated peaks whose model window is more than half N (assembly gaps or padding
    /// past a chromosome end): the model sees mostly zeros there
    pub mostly_n_windows: usize,
}

/// How many of `seqs` are more than half N.
pub fn mostly_n(seqs: &[Vec<u8>]) -> usize {
    seqs.iter().filter(|s| 2 * s.iter().filter(|&&b| b == b'N').count() > s.len()).count()
}

/// Options that would produce a meaningless run.
pub fn check_limit(limit: Option<usize>) -> Result<()> {
    if limit == Some(0) {
        bail!("--limit 0 would evaluate no peak: give the number of peaks to evaluate (at least 1), or leave it out for all");
    }
    Ok(())
}

fn preview(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(6).map(String::as_str).collect();
    if names.len() > shown.len() {
        format!("{}, … ({} in all)", shown.join(", "), names.len())
    } else {
        shown.join(", ")
    }
}

/// The indices of `set` to evaluate, in file order.
///
/// `--chroms`: every requested chromosome (alias-aware) must be known: one that is in
/// neither the FASTA nor the peak set is an error (a typo such as `chrZ`); one the FASTA has
/// but without peaks is a warning with the count 0. Peaks on chromosomes the FASTA lacks are
/// skipped with a warning and counted (an error when that leaves none); peaks running past
/// the chromosome end are counted and warned about (their windows are padded with N).
pub fn select_peaks(set: &PeakSet, peaks_path: &Path, fasta: &Fasta, chroms: Option<&[String]>, report: &mut InputReport) -> Result<Vec<usize>> {
    report.peaks_in_file = set.len();
    let mut order: Vec<usize> = (0..set.len()).collect();
    if let Some(req) = chroms {
        let req: Vec<&String> = req.iter().filter(|c| !c.trim().is_empty()).collect();
        if req.is_empty() {
            bail!("--chroms is empty: give chromosome names, e.g. --chroms chr4,chr5");
        }
        let mut per = BTreeMap::new();
        for c in &req {
            let key = canonical(c);
            let n = set.peaks().iter().filter(|p| canonical(&p.chrom) == key).count();
            if n == 0 && fasta.chroms().index(c).is_none() {
                bail!(
                    "--chroms: chromosome '{c}' is in neither the FASTA {} ({}) nor the peak set {} ({}): a typo?",
                    fasta.path().display(),
                    fasta.chroms().preview(),
                    peaks_path.display(),
                    preview(set.chroms())
                );
            }
            if n == 0 {
                tracing::warn!("--chroms: no peak of {} lies on {c} (the FASTA has it); it contributes nothing", peaks_path.display());
            }
            per.insert(c.to_string(), n);
        }
        let keys: Vec<String> = req.iter().map(|c| canonical(c)).collect();
        order.retain(|&i| keys.contains(&canonical(&set.peaks()[i].chrom)));
        if order.is_empty() {
            bail!("no peak of {} lies on {}", peaks_path.display(), req.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","));
        }
        let counts: Vec<String> = per.iter().map(|(c, n)| format!("{c}: {n}")).collect();
        tracing::info!("--chroms: peaks per requested chromosome: {}", counts.join(", "));
        report.peaks_per_requested_chrom = Some(per);
    }
    // chromosomes the FASTA lacks: no sequence, so no prediction
    let before = order.len();
    let mut missing: Vec<String> = Vec::new();
    order.retain(|&i| {
        let c = &set.peaks()[i].chrom;
        let ok = fasta.chroms().index(c).is_some();
        if !ok && !missing.contains(c) {
            missing.push(c.clone());
        }
        ok
    });
    report.skipped_not_in_fasta = before - order.len();
    if order.is_empty() {
        bail!(
            "none of the {before} selected peaks of {} lies on a chromosome of the FASTA {} (peaks are on {}; the FASTA has {}): wrong assembly or chromosome naming?",
            peaks_path.display(),
            fasta.path().display(),
            preview(&missing),
            fasta.chroms().preview()
        );
    }
    if report.skipped_not_in_fasta > 0 {
        tracing::warn!(
            "skipped {} of {before} peaks of {}: their chromosomes are not in the FASTA {} ({})",
            report.skipped_not_in_fasta,
            peaks_path.display(),
            fasta.path().display(),
            preview(&missing)
        );
    }
    missing.truncate(20);
    report.skipped_chroms = missing;
    report.past_chrom_end = order.iter().filter(|&&i| set.peaks()[i].end > fasta.chroms().len_of(&set.peaks()[i].chrom).unwrap_or(u64::MAX)).count();
    if report.past_chrom_end > 0 {
        tracing::warn!(
            "{} selected peaks of {} run past their chromosome's end in the FASTA (another assembly?): their windows are padded with N",
            report.past_chrom_end,
            peaks_path.display()
        );
    }
    Ok(order)
}

/// Every track must have data for the selected peaks: a bigWig that has none of their
/// chromosomes (after alias matching) is an error, since each of its values would be NaN
/// and the track would silently drop out of the means. A bigWig lacking some of them is
/// warned about with the count of peaks affected.
pub fn check_tracks(names: &[String], bigwigs: &[BigWig], set: &PeakSet, order: &[usize], report: &mut InputReport) -> Result<()> {
    for (name, bw) in names.iter().zip(bigwigs) {
        let mut absent: Vec<String> = Vec::new();
        let mut missing = 0;
        for &i in order {
            let c = &set.peaks()[i].chrom;
            if bw.chroms().index(c).is_none() {
                missing += 1;
                if !absent.contains(c) {
                    absent.push(c.clone());
                }
            }
        }
        if missing == order.len() {
            bail!(
                "track {name}: its bigWig {} has none of the chromosomes of the {} selected peaks (peaks are on {}; the bigWig has {}), so it has no measured value for any peak: wrong assembly or chromosome naming?",
                bw.path().display(),
                order.len(),
                preview(&absent),
                bw.chroms().preview()
            );
        }
        if missing > 0 {
            tracing::warn!(
                "track {name}: its bigWig {} lacks {} ({missing} of {} selected peaks): those peaks have no measured value and are left out of {name}'s metrics",
                bw.path().display(),
                preview(&absent),
                order.len()
            );
        }
        report.missing_in_bigwig.insert(name.clone(), missing);
    }
    Ok(())
}
