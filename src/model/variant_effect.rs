//! Variant effects through the one prediction service: per variant, the REF window is the
//! window `predict --bed` runs for the REF allele's interval (an SNV: the 1-bp region
//! `[POS − 1, POS)`), planned by [`plan_heights`]; the ALT window is that window with the
//! allele replaced ([`alt_window`]: indels keep the window length and stay centred). Both
//! go to the model in one request, next to each other, so that they share a batch, and are
//! read with the same query (bins, views, heads, transform), so `ref_pred` equals `predict`.
use super::service::{fetch_windows, plan_heights, Geometry, HeightsOut, Query, Substitution};
use crate::genome::variants::{alt_window, Variant};
use crate::genome::Fasta;
use anyhow::Result;

/// Context sequences and queries for a chunk of variants: per variant, its REF query and its
/// ALT query (indices into `queries`).
#[derive(Debug, Clone, Default)]
pub struct VariantRequest {
    pub seqs: Vec<Vec<u8>>,
    pub queries: Vec<Query>,
    /// per variant: (REF query, ALT query)
    pub pairs: Vec<(usize, usize)>,
    /// per sequence: an SNV's ALT window as its REF window with one base substituted (what
    /// lets the model reuse the REF window's activations), else None
    pub subs: Vec<Option<Substitution>>,
}

/// Plan the REF and ALT windows of `variants` for a model of geometry `geom`.
pub fn plan_variants(fasta: &Fasta, geom: &Geometry, variants: &[Variant], center_width: u64) -> Result<VariantRequest> {
    let loci: Vec<_> = variants.iter().map(|v| v.locus()).collect();
    let plan = plan_heights(geom, &loci, center_width)?;
    let ctx = geom.context_length();
    let mut req = VariantRequest::default();
    // a REF window shared by several variants (long windows, bins = "center") runs once
    let mut placed: Vec<Option<usize>> = vec![None; plan.windows.len()];
    for (v, &(wi, interval)) in variants.iter().zip(&plan.queries) {
        let (chrom, start) = &plan.windows[wi];
        let r = match placed[wi] {
            Some(r) => r,
            None => {
                req.seqs.extend(fetch_windows(fasta, std::slice::from_ref(&plan.windows[wi]), ctx)?);
                req.subs.push(None);
                placed[wi] = Some(req.seqs.len() - 1);
                req.seqs.len() - 1
            }
        };
        debug_assert_eq!(&v.chrom, chrom);
        let alt = alt_window(fasta, v, &req.seqs[r], *start)?;
        req.subs.push(Substitution::between(r, &req.seqs[r], &alt));
        req.seqs.push(alt);
        req.queries.push((r, interval));
        req.queries.push((req.seqs.len() - 1, interval));
        req.pairs.push((req.queries.len() - 2, req.queries.len() - 1));
    }
    Ok(req)
}

/// REF and ALT heights of variants: per variant, per reported output.
#[derive(Debug, Clone, Default)]
pub struct VariantHeights {
    pub ref_pred: Vec<Vec<f64>>,
    pub alt_pred: Vec<Vec<f64>>,
    pub non_finite: u64,
}

/// Heights of the REF and ALT alleles of `variants` through one model; `run(seqs, queries,
/// subs)` is the model (`Model::heights_with`) or a request to the model worker.
pub fn variant_heights(
    fasta: &Fasta,
    geom: &Geometry,
    variants: &[Variant],
    center_width: u64,
    run: impl FnOnce(Vec<Vec<u8>>, Vec<Query>, Vec<Option<Substitution>>) -> Result<HeightsOut>,
) -> Result<VariantHeights> {
    let req = plan_variants(fasta, geom, variants, center_width)?;
    let out = run(req.seqs, req.queries, req.subs)?;
    let mut h = VariantHeights { non_finite: out.non_finite, ..Default::default() };
    for &(r, a) in &req.pairs {
        h.ref_pred.push(out.values[r].clone());
        h.alt_pred.push(out.values[a].clone());
    }
    Ok(h)
}

/// `sad = alt − ref` and `log2fc = log2((alt + 1) / (ref + 1))`.
pub fn effect(ref_pred: f64, alt_pred: f64) -> (f64, f64) {
    (alt_pred - ref_pred, ((alt_pred + 1.0) / (ref_pred + 1.0)).log2())
}
