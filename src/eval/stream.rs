//! Streaming evaluation: per-peak rows arrive in batches; Pearson correlations are kept as
//! running co-moments (O(1) per snapshot), everything that needs ranks or medians is
//! computed from the stored rows when a snapshot asks for it.
use super::metrics::{auprc, auroc, cv, log2p1, median, spearman, summary};
use super::report::{OvercorrPair, ReplicateReport, Snapshot, StratumSummary, TargetMetrics};
use super::strata::Strata;
use std::collections::BTreeMap;

/// Running Pearson correlation via Welford co-moments (numerically stable, mergeable).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PearsonAcc {
    n: u64,
    mx: f64,
    my: f64,
    m2x: f64,
    m2y: f64,
    cxy: f64,
}

impl PearsonAcc {
    #[inline]
    pub fn push(&mut self, x: f64, y: f64) {
        self.n += 1;
        let n = self.n as f64;
        let dx = x - self.mx;
        self.mx += dx / n;
        let dy = y - self.my;
        self.my += dy / n;
        self.m2x += dx * (x - self.mx);
        self.m2y += dy * (y - self.my);
        self.cxy += dx * (y - self.my);
    }

    pub fn n(&self) -> u64 {
        self.n
    }

    /// Fold in another accumulator's points (Chan, Golub & LeVeque's pairwise update): the
    /// result is the accumulator of both point sets, up to rounding.
    pub fn merge(&mut self, o: &PearsonAcc) {
        if o.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *o;
            return;
        }
        let (na, nb) = (self.n as f64, o.n as f64);
        let n = na + nb;
        let (dx, dy) = (o.mx - self.mx, o.my - self.my);
        let w = na * nb / n;
        self.mx += dx * nb / n;
        self.my += dy * nb / n;
        self.m2x += o.m2x + dx * dx * w;
        self.m2y += o.m2y + dy * dy * w;
        self.cxy += o.cxy + dx * dy * w;
        self.n += o.n;
    }

    /// NaN when n < 2 or a side is constant (as scipy.stats.pearsonr).
    pub fn r(&self) -> f64 {
        if self.n < 2 || self.m2x == 0.0 || self.m2y == 0.0 {
            return f64::NAN;
        }
        if self.n == 2 {
            // as scipy: exactly ±1 for two points
            return self.cxy.signum();
        }
        (self.cxy / (self.m2x.sqrt() * self.m2y.sqrt())).clamp(-1.0, 1.0)
    }
}

/// What is being evaluated: tracks, models, their output → track mapping and replicates.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalLayout {
    pub tracks: Vec<String>,
    /// per model: name, replicate group, and for each output the track it predicts
    pub models: Vec<ModelLayout>,
    pub strata: Strata,
    /// whether per-track peak calls are known (for AUROC/AUPRC)
    pub has_calls: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelLayout {
    pub name: String,
    pub group: Option<String>,
    /// output index -> track index (None: an output with no measured track)
    pub outputs: Vec<Option<usize>>,
    pub output_names: Vec<String>,
}

/// Pairs of a model's outputs that both map to tracks: (output a, output b, track a, track b).
fn output_pairs(m: &ModelLayout) -> Vec<(usize, usize, usize, usize)> {
    let mapped: Vec<(usize, usize)> = m.outputs.iter().enumerate().filter_map(|(o, t)| t.map(|t| (o, t))).collect();
    let mut out = Vec::new();
    for i in 0..mapped.len() {
        for j in i + 1..mapped.len() {
            out.push((mapped[i].0, mapped[j].0, mapped[i].1, mapped[j].1));
        }
    }
    out
}

/// One evaluated peak.
#[derive(Debug, Clone)]
pub struct PeakRow {
    pub peak: usize,
    pub strata: Vec<usize>,
    /// measured height per track
    pub measured: Vec<f64>,
    /// predicted height per model, per output
    pub predicted: Vec<Vec<f64>>,
    /// per track: does its own peak call overlap this peak
    pub called: Vec<bool>,
}

/// The co-moment accumulators of an evaluation, the part of its state that shards add up.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Accumulators {
    /// [model][output][stratum]
    pub pearson: Vec<Vec<Vec<PearsonAcc>>>,
    /// [model][stratum][pair]: (predicted, measured)
    pub pairs: Vec<Vec<Vec<(PearsonAcc, PearsonAcc)>>>,
}

/// All accumulated state of a running evaluation.
pub struct EvalState {
    pub layout: EvalLayout,
    pub rows: Vec<PeakRow>,
    /// [model][output][stratum]: log2(measured+1) vs log2(pred+1)
    pearson: Vec<Vec<Vec<PearsonAcc>>>,
    /// [model]: pairs of mapped outputs (output a, output b, track a, track b)
    pairs: Vec<Vec<(usize, usize, usize, usize)>>,
    /// [model][stratum][pair]: (pred, measured) correlations between two tracks' heights
    pair_acc: Vec<Vec<Vec<(PearsonAcc, PearsonAcc)>>>,
    /// [group][stratum]: per-peak CVs across the group's models (one per peak × track)
    cvs: BTreeMap<String, Vec<Vec<f64>>>,
    /// replicate groups with their member models
    groups: Vec<(String, Vec<usize>)>,
    pub total: usize,
}

impl EvalState {
    pub fn new(layout: EvalLayout, total: usize) -> Self {
        let ns = layout.strata.len();
        let pearson = layout.models.iter().map(|m| vec![vec![PearsonAcc::default(); ns]; m.outputs.len()]).collect();
        let pairs: Vec<Vec<(usize, usize, usize, usize)>> = layout.models.iter().map(output_pairs).collect();
        let pair_acc = pairs.iter().map(|mp| vec![vec![(PearsonAcc::default(), PearsonAcc::default()); mp.len()]; ns]).collect();
        let mut cvs = BTreeMap::new();
        for m in &layout.models {
            if let Some(g) = &m.group {
                cvs.entry(g.clone()).or_insert_with(|| vec![Vec::new(); ns]);
            }
        }
        let groups = cvs
            .keys()
            .map(|g: &String| (g.clone(), (0..layout.models.len()).filter(|&i| layout.models[i].group.as_deref() == Some(g.as_str())).collect()))
            .collect();
        EvalState { layout, rows: Vec::new(), pearson, pairs, pair_acc, cvs, groups, total }
    }

    /// The co-moment state (what a shard writes for `peakscope merge`).
    pub fn accumulators(&self) -> Accumulators {
        Accumulators { pearson: self.pearson.clone(), pairs: self.pair_acc.clone() }
    }

    /// The state of one run assembled from its shards: their accumulators merged in the
    /// order given, and all rows (in the single run's order) for the metrics that need
    /// ranks, medians or per-peak values. Checks that the accumulators match the layout and
    /// count exactly the finite rows of every stratum.
    pub fn from_shards(layout: EvalLayout, total: usize, shards: &[Accumulators], rows: Vec<PeakRow>) -> Result<Self, String> {
        let mut st = EvalState::new(layout, total);
        let shape = |a: &Accumulators| {
            (
                a.pearson.iter().map(|m| m.iter().map(|o| o.len()).collect::<Vec<_>>()).collect::<Vec<_>>(),
                a.pairs.iter().map(|m| m.iter().map(|s| s.len()).collect::<Vec<_>>()).collect::<Vec<_>>(),
            )
        };
        let want = shape(&st.accumulators());
        for (i, a) in shards.iter().enumerate() {
            if shape(a) != want {
                return Err(format!("the accumulators of shard {} do not fit the models × outputs × strata of the evaluation", i + 1));
            }
            for (mi, m) in a.pearson.iter().enumerate() {
                for (o, per) in m.iter().enumerate() {
                    for (s, acc) in per.iter().enumerate() {
                        st.pearson[mi][o][s].merge(acc);
                    }
                }
            }
            for (mi, m) in a.pairs.iter().enumerate() {
                for (s, per) in m.iter().enumerate() {
                    for (pi, (p, q)) in per.iter().enumerate() {
                        st.pair_acc[mi][s][pi].0.merge(p);
                        st.pair_acc[mi][s][pi].1.merge(q);
                    }
                }
            }
        }
        // what the merged moments must count: the finite (measured, predicted) pairs per stratum
        let mut counts: Vec<Vec<Vec<u64>>> = st.pearson.iter().map(|m| m.iter().map(|o| vec![0u64; o.len()]).collect()).collect();
        for row in rows {
            for (mi, m) in st.layout.models.iter().enumerate() {
                for (o, t) in m.outputs.iter().enumerate() {
                    let Some(t) = *t else { continue };
                    if log2p1(row.measured[t]).is_finite() && log2p1(row.predicted[mi][o]).is_finite() {
                        for &s in &row.strata {
                            counts[mi][o][s] += 1;
                        }
                    }
                }
            }
            st.push_rows_only(row);
        }
        for (mi, m) in counts.iter().enumerate() {
            for (o, per) in m.iter().enumerate() {
                for (s, &n) in per.iter().enumerate() {
                    if st.pearson[mi][o][s].n() != n {
                        return Err(format!(
                            "model {} output {} stratum {}: the shards' accumulators count {} peaks but their rows hold {n}",
                            st.layout.models[mi].name,
                            st.layout.models[mi].output_names[o],
                            st.layout.strata.names()[s],
                            st.pearson[mi][o][s].n()
                        ));
                    }
                }
            }
        }
        Ok(st)
    }

    /// Add one peak: O(models × outputs² × strata) accumulator updates.
    pub fn push(&mut self, row: PeakRow) {
        for (mi, m) in self.layout.models.iter().enumerate() {
            for (o, t) in m.outputs.iter().enumerate() {
                let Some(t) = *t else { continue };
                let (x, y) = (log2p1(row.measured[t]), log2p1(row.predicted[mi][o]));
                if !(x.is_finite() && y.is_finite()) {
                    continue;
                }
                for &s in &row.strata {
                    self.pearson[mi][o][s].push(x, y);
                }
            }
        }
        for (mi, mp) in self.pairs.iter().enumerate() {
            for (pi, &(oa, ob, ta, tb)) in mp.iter().enumerate() {
                let (pa, pb) = (log2p1(row.predicted[mi][oa]), log2p1(row.predicted[mi][ob]));
                let (ma, mb) = (log2p1(row.measured[ta]), log2p1(row.measured[tb]));
                if !(pa.is_finite() && pb.is_finite() && ma.is_finite() && mb.is_finite()) {
                    continue;
                }
                for &s in &row.strata {
                    let acc = &mut self.pair_acc[mi][s][pi];
                    acc.0.push(pa, pb);
                    acc.1.push(ma, mb);
                }
            }
        }
        self.push_rows_only(row);
    }

    /// The per-peak part of [`push`](Self::push): the row and its replicate CVs.
    fn push_rows_only(&mut self, row: PeakRow) {
        // replicate spread: CV across the group's models of the prediction for each track
        for (g, members) in &self.groups {
            if members.len() < 2 {
                continue;
            }
            for t in 0..self.layout.tracks.len() {
                let vals: Vec<f64> =
                    members.iter().filter_map(|&mi| self.layout.models[mi].outputs.iter().position(|&x| x == Some(t)).map(|o| row.predicted[mi][o])).collect();
                if vals.len() == members.len() {
                    let c = cv(&vals);
                    if c.is_finite() {
                        let per = self.cvs.get_mut(g).unwrap();
                        for &s in &row.strata {
                            per[s].push(c);
                        }
                    }
                }
            }
        }
        self.rows.push(row);
    }

    /// Metrics so far. Pearson and over-correlation come from the running accumulators;
    /// with `ranked`, Spearman, AUROC/AUPRC (sorts) are computed from the stored rows too.
    pub fn snapshot(&self, ranked: bool) -> Snapshot {
        let ns = self.layout.strata.len();
        let names = self.layout.strata.names();
        // rows of each stratum, for the ranked metrics
        let members: Vec<Vec<usize>> = if ranked {
            let mut m = vec![Vec::new(); ns];
            for (i, r) in self.rows.iter().enumerate() {
                for &s in &r.strata {
                    m[s].push(i);
                }
            }
            m
        } else {
            vec![Vec::new(); ns]
        };
        let mut models = BTreeMap::new();
        for (mi, m) in self.layout.models.iter().enumerate() {
            let mut targets: BTreeMap<String, BTreeMap<String, TargetMetrics>> = BTreeMap::new();
            for (o, t) in m.outputs.iter().enumerate() {
                let Some(t) = *t else { continue };
                let per_stratum = targets.entry(self.layout.tracks[t].clone()).or_default();
                for s in 0..ns {
                    let acc = &self.pearson[mi][o][s];
                    let mut tm = TargetMetrics { n: acc.n(), pearson: acc.r(), ..Default::default() };
                    if ranked && !members[s].is_empty() {
                        let rows: Vec<&PeakRow> = members[s].iter().map(|&i| &self.rows[i]).collect();
                        let (x, y): (Vec<f64>, Vec<f64>) =
                            rows.iter().map(|r| (log2p1(r.measured[t]), log2p1(r.predicted[mi][o]))).filter(|(a, b)| a.is_finite() && b.is_finite()).unzip();
                        tm.spearman = Some(spearman(&x, &y));
                        if self.layout.has_calls {
                            let score: Vec<f64> = rows.iter().map(|r| r.predicted[mi][o]).collect();
                            let label: Vec<bool> = rows.iter().map(|r| r.called[t]).collect();
                            tm.n_called = Some(label.iter().filter(|&&l| l).count() as u64);
                            tm.auroc = Some(auroc(&score, &label));
                            tm.auprc = Some(auprc(&score, &label));
                        }
                    }
                    per_stratum.insert(names[s].clone(), tm);
                }
            }
            // per-stratum summaries over targets
            let mut summary_map = BTreeMap::new();
            let mp = &self.pairs[mi];
            let mut overcorr = BTreeMap::new();
            for s in 0..ns {
                let ps: Vec<f64> = targets.values().map(|v| v[&names[s]].pearson).collect();
                let (mean, med, _, n_t) = summary(ps);
                let (sp_mean, _, _, _) = summary(targets.values().filter_map(|v| v[&names[s]].spearman));
                let (roc_mean, _, _, _) = summary(targets.values().filter_map(|v| v[&names[s]].auroc));
                let (pr_mean, _, _, _) = summary(targets.values().filter_map(|v| v[&names[s]].auprc));
                let n = targets.values().map(|v| v[&names[s]].n).max().unwrap_or(0);
                let pairs: Vec<OvercorrPair> = mp
                    .iter()
                    .enumerate()
                    .map(|(pi, &(_, _, ta, tb))| {
                        let (p, mm) = &self.pair_acc[mi][s][pi];
                        OvercorrPair {
                            a: self.layout.tracks[ta].clone(),
                            b: self.layout.tracks[tb].clone(),
                            pred_r: p.r(),
                            measured_r: mm.r(),
                            diff: p.r() - mm.r(),
                        }
                    })
                    .collect();
                let (oc_mean, _, _, _) = summary(pairs.iter().map(|p| p.diff));
                summary_map.insert(
                    names[s].clone(),
                    StratumSummary {
                        n,
                        targets: n_t,
                        mean_pearson: mean,
                        median_pearson: med,
                        mean_spearman: if ranked { Some(sp_mean) } else { None },
                        mean_auroc: if ranked && self.layout.has_calls { Some(roc_mean) } else { None },
                        mean_auprc: if ranked && self.layout.has_calls { Some(pr_mean) } else { None },
                        overcorrelation: oc_mean,
                    },
                );
                overcorr.insert(names[s].clone(), pairs);
            }
            models.insert(m.name.clone(), super::report::ModelReport { group: m.group.clone(), targets, summary: summary_map, overcorrelation: overcorr });
        }
        // replicates
        let mut replicates = BTreeMap::new();
        for (g, per) in &self.cvs {
            let member_names: Vec<String> = self.layout.models.iter().filter(|m| m.group.as_deref() == Some(g.as_str())).map(|m| m.name.clone()).collect();
            let mut strata = BTreeMap::new();
            for s in 0..ns {
                let mut v = per[s].clone();
                let med = median(&mut v);
                // mean ± sd across replicates of each track's Pearson R
                let mut per_track = BTreeMap::new();
                for (t, tn) in self.layout.tracks.iter().enumerate() {
                    let rs: Vec<f64> = self
                        .layout
                        .models
                        .iter()
                        .enumerate()
                        .filter(|(_, m)| m.group.as_deref() == Some(g.as_str()))
                        .filter_map(|(mi, m)| m.outputs.iter().position(|&x| x == Some(t)).map(|o| self.pearson[mi][o][s].r()))
                        .collect();
                    let (mean, _, sd, n) = summary(rs);
                    if n > 0 {
                        per_track.insert(tn.clone(), (mean, sd));
                    }
                }
                strata.insert(names[s].clone(), ReplicateReport { n_cv: per[s].len() as u64, median_cv: med, pearson_mean_sd: per_track });
            }
            replicates.insert(g.clone(), super::report::GroupReport { models: member_names, strata });
        }
        Snapshot { done: self.rows.len(), total: self.total, ranked, models, replicates }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::metrics::pearson;

    #[test]
    fn running_pearson_equals_two_pass() {
        let mut x = Vec::new();
        let mut y = Vec::new();
        let mut acc = PearsonAcc::default();
        let mut s = 12345u64;
        for i in 0..1000 {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let a = (s >> 33) as f64 / 2f64.powi(31) * 1e3 + 1e6; // large offset: stability
            let b = a * 0.3 + ((s >> 13) & 0xffff) as f64 + i as f64;
            x.push(a);
            y.push(b);
            acc.push(a, b);
        }
        assert!((acc.r() - pearson(&x, &y)).abs() < 1e-9, "{} vs {}", acc.r(), pearson(&x, &y));
        let mut c = PearsonAcc::default();
        c.push(1.0, 2.0);
        assert!(c.r().is_nan());
        c.push(1.0, 3.0);
        assert!(c.r().is_nan(), "constant x");
    }

    #[test]
    fn merged_accumulators_equal_one_pass() {
        let mut s = 99u64;
        let pts: Vec<(f64, f64)> = (0..500)
            .map(|i| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let a = (s >> 33) as f64 / 2f64.powi(31) * 10.0 + 3.0;
                (a, a * 0.7 + ((s >> 17) & 0xff) as f64 / 64.0 + i as f64 * 1e-3)
            })
            .collect();
        let mut whole = PearsonAcc::default();
        pts.iter().for_each(|&(x, y)| whole.push(x, y));
        for parts in [1usize, 2, 3, 7, 499] {
            let mut accs = vec![PearsonAcc::default(); parts];
            for (i, &(x, y)) in pts.iter().enumerate() {
                accs[i % parts].push(x, y);
            }
            let mut m = PearsonAcc::default();
            accs.iter().for_each(|a| m.merge(a));
            assert_eq!(m.n(), whole.n());
            assert!((m.r() - whole.r()).abs() < 1e-13, "{parts}: {} vs {}", m.r(), whole.r());
            let (x, y): (Vec<f64>, Vec<f64>) = pts.iter().copied().unzip();
            assert!((m.r() - pearson(&x, &y)).abs() < 1e-12);
        }
        // empty sides
        let mut e = PearsonAcc::default();
        e.merge(&PearsonAcc::default());
        assert_eq!(e.n(), 0);
        e.merge(&whole);
        assert_eq!(e, whole);
    }

    fn layout() -> EvalLayout {
        EvalLayout {
            tracks: vec!["A".into(), "B".into()],
            models: vec![
                ModelLayout { name: "m1".into(), group: Some("g".into()), outputs: vec![Some(0), Some(1)], output_names: vec!["A".into(), "B".into()] },
                ModelLayout { name: "m2".into(), group: Some("g".into()), outputs: vec![Some(1), Some(0)], output_names: vec!["B".into(), "A".into()] },
            ],
            strata: Strata::new(&["u".into(), "s".into()], &["u".into()], &[1, 2], true),
            has_calls: true,
        }
    }

    #[test]
    fn snapshots_cheap_and_ranked() {
        let mut st = EvalState::new(layout(), 6);
        let data = [(1.0, 2.0, 1.5, 2.5), (3.0, 1.0, 2.0, 1.0), (5.0, 4.0, 6.0, 3.0), (2.0, 2.0, 2.5, 2.5), (8.0, 1.0, 7.0, 0.5), (0.0, 6.0, 0.5, 5.0)];
        for (i, &(ma, mb, pa, pb)) in data.iter().enumerate() {
            let label = if i % 2 == 0 { "u" } else { "s" };
            st.push(PeakRow {
                peak: i,
                strata: st.layout.strata.assign(Some(label), Some(1 + (i % 2) as u32)),
                measured: vec![ma, mb],
                // m2's outputs are in B, A order
                predicted: vec![vec![pa, pb], vec![pb * 1.1, pa * 0.9]],
                called: vec![ma > 2.0, mb > 2.0],
            });
        }
        let cheap = st.snapshot(false);
        assert_eq!(cheap.done, 6);
        let a_all = &cheap.models["m1"].targets["A"]["all"];
        let (x, y): (Vec<f64>, Vec<f64>) = data.iter().map(|d| (log2p1(d.0), log2p1(d.2))).unzip();
        assert!((a_all.pearson - pearson(&x, &y)).abs() < 1e-12);
        assert!(a_all.spearman.is_none() && a_all.auroc.is_none(), "cheap snapshots skip ranked metrics");
        assert_eq!(cheap.models["m1"].targets["A"]["ubiquitous"].n, 3);
        // m2 maps its outputs by name: its "A" is output 1
        let (x2, y2): (Vec<f64>, Vec<f64>) = data.iter().map(|d| (log2p1(d.0), log2p1(d.2 * 0.9))).unzip();
        assert!((cheap.models["m2"].targets["A"]["all"].pearson - pearson(&x2, &y2)).abs() < 1e-12);
        let ranked = st.snapshot(true);
        let a = &ranked.models["m1"].targets["A"]["all"];
        assert!(a.spearman.is_some() && a.auroc.is_some() && a.auprc.is_some());
        assert_eq!(a.n_called, Some(3));
        // replicate spread: CV of (m1, m2) predictions per peak and track
        let mut cvs = Vec::new();
        for d in &data {
            cvs.push(cv(&[d.2, d.2 * 0.9]));
            cvs.push(cv(&[d.3, d.3 * 1.1]));
        }
        let r = &ranked.replicates["g"].strata["all"];
        assert_eq!(r.n_cv, 12);
        assert!((r.median_cv - median(&mut cvs)).abs() < 1e-12);
        let (mean, sd) = r.pearson_mean_sd["A"];
        assert!((mean - (a.pearson + ranked.models["m2"].targets["A"]["all"].pearson) / 2.0).abs() < 1e-12 && sd >= 0.0);
        // over-correlation: one pair (A, B) per model
        let pairs = &ranked.models["m1"].overcorrelation["all"];
        assert_eq!(pairs.len(), 1);
        let (pa, pb): (Vec<f64>, Vec<f64>) = data.iter().map(|d| (log2p1(d.2), log2p1(d.3))).unzip();
        let (ma, mb): (Vec<f64>, Vec<f64>) = data.iter().map(|d| (log2p1(d.0), log2p1(d.1))).unzip();
        assert!((pairs[0].diff - (pearson(&pa, &pb) - pearson(&ma, &mb))).abs() < 1e-12);
        assert!(ranked.table(st.layout.strata.names()).contains("m1"));
    }
}
