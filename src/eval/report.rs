//! Snapshot of evaluation metrics: serialisable to metrics.json (NaN becomes null = n/a)
//! and printable as a compact table.
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TargetMetrics {
    /// peaks with finite measured and predicted heights
    pub n: u64,
    /// Pearson R of log2(measured + 1) vs log2(predicted + 1)
    pub pearson: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spearman: Option<f64>,
    /// peaks this track calls (the positives for AUROC/AUPRC)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_called: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auroc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auprc: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StratumSummary {
    pub n: u64,
    /// targets with a defined Pearson R
    pub targets: usize,
    pub mean_pearson: f64,
    pub median_pearson: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_spearman: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_auroc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_auprc: Option<f64>,
    /// mean over track pairs of (R between predicted heights − R between measured heights)
    pub overcorrelation: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OvercorrPair {
    pub a: String,
    pub b: String,
    pub pred_r: f64,
    pub measured_r: f64,
    pub diff: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelReport {
    pub group: Option<String>,
    /// track -> stratum -> metrics
    pub targets: BTreeMap<String, BTreeMap<String, TargetMetrics>>,
    /// stratum -> summary over targets
    pub summary: BTreeMap<String, StratumSummary>,
    /// stratum -> track pairs
    pub overcorrelation: BTreeMap<String, Vec<OvercorrPair>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplicateReport {
    /// (peak, track) pairs with a defined CV
    pub n_cv: u64,
    /// median over peaks and tracks of the CV of predictions across the group's models
    pub median_cv: f64,
    /// track -> (mean, population sd) of Pearson R across the group's models
    pub pearson_mean_sd: BTreeMap<String, (f64, f64)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupReport {
    pub models: Vec<String>,
    pub strata: BTreeMap<String, ReplicateReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    /// peaks evaluated so far, of `total`
    pub done: usize,
    pub total: usize,
    /// whether Spearman/AUROC/AUPRC were computed for this snapshot
    pub ranked: bool,
    pub models: BTreeMap<String, ModelReport>,
    pub replicates: BTreeMap<String, GroupReport>,
}

/// "n/a" for undefined numbers, else 3 decimals.
pub fn fmt3(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "n/a".into()
    }
}

fn opt3(x: Option<f64>) -> String {
    x.map(fmt3).unwrap_or_else(|| "-".into())
}

impl Snapshot {
    /// A compact human table: per model and stratum, n and the summaries over targets.
    pub fn table(&self, strata_order: &[String]) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<16} {:<22} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
            "model", "stratum", "n", "pearson", "median", "spearman", "auroc", "auprc", "overcorr"
        );
        for (name, m) in &self.models {
            for st in strata_order {
                let Some(x) = m.summary.get(st) else { continue };
                if x.n == 0 {
                    continue;
                }
                let _ = writeln!(
                    s,
                    "{:<16} {:<22} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
                    name,
                    st,
                    x.n,
                    fmt3(x.mean_pearson),
                    fmt3(x.median_pearson),
                    opt3(x.mean_spearman),
                    opt3(x.mean_auroc),
                    opt3(x.mean_auprc),
                    fmt3(x.overcorrelation)
                );
            }
        }
        for (g, r) in &self.replicates {
            for st in strata_order {
                if let Some(x) = r.strata.get(st) {
                    if x.n_cv > 0 {
                        let _ = writeln!(s, "replicates {g:<8} {st:<22} median CV {} over {} (peak, track) pairs", fmt3(x.median_cv), x.n_cv);
                    }
                }
            }
        }
        s
    }
}
