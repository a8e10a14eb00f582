//! Variant-effect accuracy, per model × track × stratum, with the conventions of
//! [`super::metrics`] (scipy/sklearn; NaN = null when undefined):
//!
//! * **allelic imbalance**: sites with REF + ALT reads ≥ `min_depth` in the track. `n` sites;
//!   `pearson` of the predicted log2fc (`log2((alt+1)/(ref+1))` of the heights) vs the
//!   measured `log2((alt_reads+0.5)/(ref_reads+0.5))` over all n; over the `n_imbalanced`
//!   sites with ALT reads ≠ REF reads, `auroc` of the predicted log2fc for "ALT is the more
//!   accessible allele" (ALT reads > REF reads) and `sign_accuracy`, the fraction whose
//!   predicted log2fc has the measured sign (a predicted 0 counts as wrong);
//! * **labelled variants**: `auroc`/`auprc` of |sad| (`alt − ref`) for positive vs negative
//!   labels, per track and for the mean |sad| over the model's tracks (`mean_abs_sad`);
//! * **summary**: per model and stratum, reference accuracy (mean Pearson over tracks, from
//!   the peak evaluation) next to the means over tracks of the variant metrics.
use super::metrics::{auprc, auroc, pearson};
use super::report::{fmt3, Snapshot};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

/// One scored variant as the metrics see it.
#[derive(Debug, Clone)]
pub struct VariantRow {
    /// strata (indices into the stratum names) the variant belongs to
    pub strata: Vec<usize>,
    pub label: Option<bool>,
    /// per project track: (REF reads, ALT reads)
    pub counts: Vec<Option<(u32, u32)>>,
    /// [model][output]: (ref_pred, alt_pred)
    pub pred: Vec<Vec<(f64, f64)>>,
}

/// A model's outputs and the project track each is compared with.
#[derive(Debug, Clone)]
pub struct VariantModel {
    pub name: String,
    pub outputs: Vec<String>,
    /// per output: the project track index of the same name
    pub tracks: Vec<Option<usize>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AllelicMetrics {
    pub n: usize,
    pub n_imbalanced: usize,
    pub auroc: f64,
    pub sign_accuracy: f64,
    pub pearson: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LabelledMetrics {
    pub n: usize,
    pub n_positive: usize,
    pub auroc: f64,
    pub auprc: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VariantSummary {
    /// reference accuracy: mean Pearson over tracks of the peak evaluation
    pub reference_pearson: f64,
    pub allelic_auroc: f64,
    pub allelic_sign_accuracy: f64,
    pub allelic_pearson: f64,
    /// allelic sites summed over tracks
    pub allelic_n: usize,
    /// labelled AUROC of the mean |sad| over tracks
    pub labelled_auroc: f64,
    pub labelled_n: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VariantModelReport {
    /// track → stratum → allelic-imbalance metrics
    pub allelic: BTreeMap<String, BTreeMap<String, AllelicMetrics>>,
    /// track (or `mean_abs_sad`) → stratum → labelled-variant metrics
    pub labelled: BTreeMap<String, BTreeMap<String, LabelledMetrics>>,
    /// stratum → reference vs variant accuracy
    pub summary: BTreeMap<String, VariantSummary>,
}

/// Measured allelic log2 ratio with the 0.5 pseudocount.
pub fn measured_log2(r: u32, a: u32) -> f64 {
    ((a as f64 + 0.5) / (r as f64 + 0.5)).log2()
}

/// Predicted log2 fold change of ALT over REF heights.
pub fn predicted_log2fc(r: f64, a: f64) -> f64 {
    ((a + 1.0) / (r + 1.0)).log2()
}

pub fn allelic(pred_lfc: &[f64], counts: &[(u32, u32)]) -> AllelicMetrics {
    let meas: Vec<f64> = counts.iter().map(|&(r, a)| measured_log2(r, a)).collect();
    let (mut score, mut label) = (Vec::new(), Vec::new());
    let mut right = 0usize;
    for (&p, &(r, a)) in pred_lfc.iter().zip(counts) {
        if r != a {
            score.push(p);
            label.push(a > r);
            right += ((p > 0.0 && a > r) || (p < 0.0 && a < r)) as usize;
        }
    }
    AllelicMetrics {
        n: counts.len(),
        n_imbalanced: score.len(),
        auroc: auroc(&score, &label),
        sign_accuracy: if score.is_empty() { f64::NAN } else { right as f64 / score.len() as f64 },
        pearson: pearson(pred_lfc, &meas),
    }
}

pub fn labelled(abs_sad: &[f64], label: &[bool]) -> LabelledMetrics {
    LabelledMetrics { n: label.len(), n_positive: label.iter().filter(|&&l| l).count(), auroc: auroc(abs_sad, label), auprc: auprc(abs_sad, label) }
}

fn mean_finite(v: impl IntoIterator<Item = f64>) -> f64 {
    let v: Vec<f64> = v.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Variant metrics of every model; `reference` supplies the reference accuracy of the summary.
pub fn report(
    rows: &[VariantRow],
    models: &[VariantModel],
    strata: &[String],
    min_depth: u32,
    reference: Option<&Snapshot>,
) -> BTreeMap<String, VariantModelReport> {
    let mut out = BTreeMap::new();
    for (mi, m) in models.iter().enumerate() {
        let mut rep = VariantModelReport::default();
        for (s, sname) in strata.iter().enumerate() {
            let in_s: Vec<&VariantRow> = rows.iter().filter(|r| r.strata.contains(&s)).collect();
            if in_s.is_empty() {
                continue;
            }
            for (o, oname) in m.outputs.iter().enumerate() {
                if let Some(t) = m.tracks[o] {
                    let (mut p, mut c) = (Vec::new(), Vec::new());
                    for r in &in_s {
                        let (rp, ap) = r.pred[mi][o];
                        let lfc = predicted_log2fc(rp, ap);
                        if let Some((rc, ac)) = r.counts[t] {
                            if rc + ac >= min_depth && lfc.is_finite() {
                                p.push(lfc);
                                c.push((rc, ac));
                            }
                        }
                    }
                    if !c.is_empty() {
                        rep.allelic.entry(oname.clone()).or_default().insert(sname.clone(), allelic(&p, &c));
                    }
                }
                let (mut x, mut l) = (Vec::new(), Vec::new());
                for r in &in_s {
                    let (rp, ap) = r.pred[mi][o];
                    if let (Some(lab), true) = (r.label, (ap - rp).is_finite()) {
                        x.push((ap - rp).abs());
                        l.push(lab);
                    }
                }
                if !l.is_empty() {
                    rep.labelled.entry(oname.clone()).or_default().insert(sname.clone(), labelled(&x, &l));
                }
            }
            let (mut x, mut l) = (Vec::new(), Vec::new());
            for r in &in_s {
                let v = r.pred[mi].iter().map(|(rp, ap)| (ap - rp).abs()).sum::<f64>() / r.pred[mi].len().max(1) as f64;
                if let (Some(lab), true) = (r.label, v.is_finite()) {
                    x.push(v);
                    l.push(lab);
                }
            }
            if !l.is_empty() {
                rep.labelled.entry("mean_abs_sad".into()).or_default().insert(sname.clone(), labelled(&x, &l));
            }
            let al: Vec<&AllelicMetrics> = rep.allelic.values().filter_map(|by| by.get(sname)).collect();
            let lab = rep.labelled.get("mean_abs_sad").and_then(|by| by.get(sname));
            rep.summary.insert(
                sname.clone(),
                VariantSummary {
                    reference_pearson: reference
                        .and_then(|r| r.models.get(&m.name))
                        .and_then(|r| r.summary.get(sname))
                        .map(|s| s.mean_pearson)
                        .unwrap_or(f64::NAN),
                    allelic_auroc: mean_finite(al.iter().map(|a| a.auroc)),
                    allelic_sign_accuracy: mean_finite(al.iter().map(|a| a.sign_accuracy)),
                    allelic_pearson: mean_finite(al.iter().map(|a| a.pearson)),
                    allelic_n: al.iter().map(|a| a.n).sum(),
                    labelled_auroc: lab.map(|x| x.auroc).unwrap_or(f64::NAN),
                    labelled_n: lab.map(|x| x.n).unwrap_or(0),
                },
            );
        }
        out.insert(m.name.clone(), rep);
    }
    out
}

/// The paper's table: reference vs variant accuracy per model for all, ubiquitous and
/// specific variants (and outside peaks).
pub fn table(reports: &BTreeMap<String, VariantModelReport>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}", table_header());
    for (name, r) in reports {
        for st in ["all", "ubiquitous", "specific", "outside_peaks"] {
            let Some(x) = r.summary.get(st) else { continue };
            let _ = writeln!(s, "{}", table_row(name, st, x));
        }
    }
    s
}

/// The header of [`table`] (the UI's variant metrics view draws the same table).
pub fn table_header() -> String {
    format!("{:<16} {:<14} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8}", "model", "stratum", "ref_r", "ai_n", "ai_auroc", "ai_sign", "ai_r", "lab_auroc", "lab_n")
}

/// One row of [`table`]: a model's reference vs variant accuracy in one stratum.
pub fn table_row(model: &str, stratum: &str, x: &VariantSummary) -> String {
    format!(
        "{:<16} {:<14} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8}",
        model,
        stratum,
        fmt3(x.reference_pearson),
        x.allelic_n,
        fmt3(x.allelic_auroc),
        fmt3(x.allelic_sign_accuracy),
        fmt3(x.allelic_pearson),
        fmt3(x.labelled_auroc),
        x.labelled_n
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allelic_metrics_by_hand() {
        // sites: (ref, alt) reads; predictions
        let c = [(10, 20), (30, 5), (8, 8), (1, 40)];
        let p = [0.5, -0.2, 0.1, -0.1];
        let m = allelic(&p, &c);
        assert_eq!((m.n, m.n_imbalanced), (4, 3));
        // alt-higher sites 0 and 3 (scores 0.5, -0.1) vs site 1 (-0.2): both above → 1
        assert_eq!(m.auroc, 1.0);
        assert!((m.sign_accuracy - 2.0 / 3.0).abs() < 1e-15);
        assert!(m.pearson.is_finite());
        let l = labelled(&[0.1, 0.5, 0.3], &[false, true, false]);
        assert_eq!((l.auroc, l.auprc, l.n_positive), (1.0, 1.0, 1));
    }
}
