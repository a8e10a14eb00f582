//! Metric functions with the conventions of scipy and scikit-learn, so numbers can be
//! recomputed from a per-peak table:
//!
//! * [`pearson`] = `scipy.stats.pearsonr(x, y)[0]`: NaN when n < 2 or either side is
//!   constant (R undefined); n = 2 gives ±1 as scipy does.
//! * [`spearman`] = `scipy.stats.spearmanr(x, y)[0]`: Pearson of average ranks (ties share
//!   the mean rank).
//! * [`auroc`] = `sklearn.metrics.roc_auc_score`: NaN unless both classes occur; ties in
//!   the score count one half.
//! * [`auprc`] = `sklearn.metrics.average_precision_score`: Σ (Rₙ − Rₙ₋₁) Pₙ over distinct
//!   score thresholds (no interpolation); NaN without positives.
//! * [`cv`] = `scipy.stats.variation` (population standard deviation / mean, ddof = 0).
//!
//! Non-finite inputs are the caller's business: these functions see finite numbers.

/// log2(x + 1), the paper's transform for peak heights.
#[inline]
pub fn log2p1(x: f64) -> f64 {
    (x + 1.0).log2()
}

/// Pearson correlation coefficient.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len());
    let n = x.len();
    if n < 2 {
        return f64::NAN;
    }
    if n == 2 {
        // scipy's special case: exactly ±1 (or NaN when a side is constant)
        let (dx, dy) = (x[1] - x[0], y[1] - y[0]);
        return if dx == 0.0 || dy == 0.0 { f64::NAN } else { dx.signum() * dy.signum() };
    }
    let mx = x.iter().sum::<f64>() / n as f64;
    let my = y.iter().sum::<f64>() / n as f64;
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return f64::NAN;
    }
    (sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0)
}

/// Average ranks (1-based), ties sharing their mean rank (scipy.stats.rankdata 'average').
pub fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman rank correlation.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    if x.len() < 2 {
        return f64::NAN;
    }
    pearson(&ranks(x), &ranks(y))
}

/// Area under the ROC curve of `score` for `label`.
pub fn auroc(score: &[f64], label: &[bool]) -> f64 {
    assert_eq!(score.len(), label.len());
    let npos = label.iter().filter(|&&l| l).count();
    let nneg = label.len() - npos;
    if npos == 0 || nneg == 0 {
        return f64::NAN;
    }
    // Mann-Whitney U from average ranks
    let r = ranks(score);
    let rank_sum: f64 = r.iter().zip(label).filter(|(_, &l)| l).map(|(r, _)| r).sum();
    let u = rank_sum - (npos * (npos + 1)) as f64 / 2.0;
    u / (npos as f64 * nneg as f64)
}

/// Average precision of `score` for `label`.
pub fn auprc(score: &[f64], label: &[bool]) -> f64 {
    assert_eq!(score.len(), label.len());
    let npos = label.iter().filter(|&&l| l).count();
    if npos == 0 {
        return f64::NAN;
    }
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let (mut tp, mut fp, mut prev_recall, mut ap) = (0usize, 0usize, 0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        // all items sharing this threshold enter together
        let mut j = i;
        while j < idx.len() && score[idx[j]] == score[idx[i]] {
            if label[idx[j]] {
                tp += 1;
            } else {
                fp += 1;
            }
            j += 1;
        }
        let recall = tp as f64 / npos as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
        i = j;
    }
    ap
}

/// Coefficient of variation (population sd / mean); NaN for an empty set or zero mean.
pub fn cv(x: &[f64]) -> f64 {
    if x.is_empty() {
        return f64::NAN;
    }
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    if m == 0.0 {
        return f64::NAN;
    }
    let var = x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n;
    var.sqrt() / m
}

/// Mean, median and population sd of the finite values; NaN when none.
pub fn summary(values: impl IntoIterator<Item = f64>) -> (f64, f64, f64, usize) {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN, 0);
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let mean = v.iter().sum::<f64>() / n as f64;
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    let sd = (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64).sqrt();
    (mean, median, sd, n)
}

/// Median of finite values in O(n) (selection), NaN when none.
pub fn median(values: &mut [f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    let (_, &mut hi, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        hi
    } else {
        let lo = v[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo + hi) / 2.0
    }
}

#[cfg(test)]
mod tests {
    //! Expected values computed with scipy 1.17.1 and scikit-learn on the same numbers:
    //!   x = [1, 2, 3, 4, 5, 6, 7, 8]
    //!   y = [2.5, 1.0, 4.0, 4.0, 7.5, 6.0, 9.0, 8.0]
    //!   pearsonr(x, y)[0], spearmanr(x, y)[0]
    //!   s = [0.1, 0.4, 0.35, 0.8, 0.4, 0.9, 0.2, 0.4], l = [0, 0, 1, 1, 0, 1, 0, 1]
    //!   roc_auc_score(l, s), average_precision_score(l, s)
    //!   variation([1.0, 2.0, 4.0])
    use super::*;

    const X: [f64; 8] = [1., 2., 3., 4., 5., 6., 7., 8.];
    const Y: [f64; 8] = [2.5, 1.0, 4.0, 4.0, 7.5, 6.0, 9.0, 8.0];
    const S: [f64; 8] = [0.1, 0.4, 0.35, 0.8, 0.4, 0.9, 0.2, 0.4];
    const L: [bool; 8] = [false, false, true, true, false, true, false, true];

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn pearson_and_spearman_match_scipy() {
        assert!(close(pearson(&X, &Y), 0.9072647087265546), "{}", pearson(&X, &Y));
        assert!(close(spearman(&X, &Y), 0.9221722216732094), "{}", spearman(&X, &Y));
        // constant side, n < 2: undefined; n = 2: scipy's ±1
        assert!(pearson(&[1., 2., 3.], &[5., 5., 5.]).is_nan());
        assert!(pearson(&[1.], &[2.]).is_nan());
        assert!(spearman(&[], &[]).is_nan());
        assert_eq!(pearson(&[1., 2.], &[3., 1.]), -1.0);
    }

    #[test]
    fn ranks_average_ties() {
        assert_eq!(ranks(&[10., 20., 10., 30., 20., 20.]), vec![1.5, 4.0, 1.5, 6.0, 4.0, 4.0]);
    }

    #[test]
    fn auroc_and_auprc_match_sklearn_with_ties() {
        assert!(close(auroc(&S, &L), 0.8125), "{}", auroc(&S, &L));
        assert!(close(auprc(&S, &L), 0.8166666666666667), "{}", auprc(&S, &L));
        assert!(auroc(&S, &[true; 8]).is_nan());
        assert!(auprc(&S, &[false; 8]).is_nan());
        assert_eq!(auroc(&[1., 2.], &[false, true]), 1.0);
        assert_eq!(auprc(&[1., 1.], &[false, true]), 0.5);
    }

    #[test]
    fn cv_summary_median() {
        assert!(close(cv(&[1., 2., 4.]), 0.5345224838248487));
        assert!(cv(&[0., 0.]).is_nan());
        let (mean, med, sd, n) = summary([3.0, f64::NAN, 1.0, 2.0, 10.0]);
        assert_eq!((mean, med, n), (4.0, 2.5, 4));
        assert!(close(sd, 3.5355339059327378));
        assert_eq!(median(&mut [5., 1., f64::NAN, 3.]), 3.0);
        assert_eq!(median(&mut [4., 1., 3., 2.]), 2.5);
        assert!(median(&mut []).is_nan());
    }
}
