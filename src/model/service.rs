//! The one prediction path. Every command (predict, ism, eval, the UI through the model
//! worker) turns sequences into numbers here:
//!
//! * **windows and views**: a context sequence is the model input plus `shifts` bp on each
//!   side; each gives (2·shifts + 1) shifted windows, each also reverse-complemented with
//!   `rc` (N and IUPAC codes are all-zero one-hot columns, token 4);
//! * **heads** ([`super::engine`]): selection, layout, transform, the output→track mapping;
//! * **heights**: per query, the sum over the height head's bins (all, or those overlapping
//!   the query's interval: `bins = "center"`), accumulated in f64 on the device (a cumulative
//!   sum in f64, so no fp32 cancellation), then averaged over the views in f64;
//! * **profiles**: the profile head (or a binned height head) along the window, reverse
//!   strand flipped back and averaged;
//! * **planning over loci**: one centred window per peak, or, for `bins = "center"`, windows
//!   on a fixed grid so that one long window serves every peak whose central interval lies
//!   in its output ([`plan_heights`]); tiles over a locus for tracks ([`locus_track`]).
use super::desc::BinSelect;
use super::engine::{HeadGeom, Model};
use crate::genome::{Fasta, Locus};
use anyhow::{anyhow, bail, Context, Result};
use ndarray::Array3;
use tch::{Device, Kind, Tensor};

/// A height query: (context sequence index, interval [a, b) relative to that sequence's first
/// base whose overlapping bins are summed; None = every bin).
pub type Query = (usize, Option<(i64, i64)>);

/// Where a model's outputs sit in its windows: what planning needs, without the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub input_length: usize,
    pub shifts: u32,
    pub rc: bool,
    pub height: HeadGeom,
    pub bins: BinSelect,
    pub profile: Option<HeadGeom>,
}

impl Geometry {
    pub fn of(model: &Model) -> Geometry {
        Geometry {
            input_length: model.spec.input_length,
            shifts: model.spec.shifts,
            rc: model.spec.rc,
            height: model.height_geom(),
            bins: if model.height_geom().layout.is_binned() { model.spec.height.bins } else { BinSelect::All },
            profile: model.profile_geom(),
        }
    }

    pub fn context_length(&self) -> usize {
        self.input_length + 2 * self.shifts as usize
    }

    /// Views per context sequence: shifts × strands.
    pub fn views(&self) -> usize {
        (2 * self.shifts as usize + 1) * if self.rc { 2 } else { 1 }
    }

    /// Offset of a head's first output bin from its window's first base (outputs are
    /// centred in the input).
    pub fn margin(&self, head: &HeadGeom) -> i64 {
        if head.layout.is_binned() {
            (self.input_length as i64 - head.span() as i64) / 2
        } else {
            0
        }
    }

    /// View `v` of a context sequence: (shift index 0..=2k, reverse strand).
    pub fn view(&self, v: usize) -> (usize, bool) {
        if self.rc {
            (v / 2, v % 2 == 1)
        } else {
            (v, false)
        }
    }

    /// The height bins [b0, b1) that view `v` sums for `interval` (relative to the context
    /// start), in the model's output order (reverse-strand views mirrored).
    pub fn bin_range(&self, interval: Option<(i64, i64)>, v: usize) -> Result<(i64, i64)> {
        let h = &self.height;
        let b = h.bins as i64;
        let Some((a, e)) = interval.filter(|_| self.bins == BinSelect::Center && h.layout.is_binned()) else {
            return Ok((0, b));
        };
        let (sh, rc) = self.view(v);
        let o = sh as i64 + self.margin(h);
        let s = h.bin_size as i64;
        let b0 = (a - o).div_euclid(s).clamp(0, b);
        let b1 = (e - o + s - 1).div_euclid(s).clamp(0, b);
        if b0 >= b1 {
            bail!("the interval [{a}, {e}) of the context lies outside the model's output bins (view shift {})", sh as i64 - self.shifts as i64);
        }
        Ok(if rc { (b - b1, b - b0) } else { (b0, b1) })
    }
}

/// Sequence `of` of the same request with context position `pos` set to base `base` (0..4 =
/// A C G T): how the ALT window of an SNV is described next to its REF window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Substitution {
    pub of: usize,
    pub pos: usize,
    pub base: u8,
}

impl Substitution {
    /// `alt` as `reference` (sequence `of`) with one base substituted, if that is what it is
    /// (same length, exactly one position differs, the new base is A, C, G or T).
    pub fn between(of: usize, reference: &[u8], alt: &[u8]) -> Option<Substitution> {
        if reference.len() != alt.len() {
            return None;
        }
        let mut diff = reference.iter().zip(alt).enumerate().filter(|(_, (a, b))| a != b);
        let (pos, (_, &b)) = diff.next()?;
        if diff.next().is_some() {
            return None;
        }
        let base = crate::genome::onehot::base_index(b)? as u8;
        Some(Substitution { of, pos, base })
    }
}

/// Heights of queries, and the NaN/inf values met computing them.
#[derive(Debug, Clone, Default)]
pub struct HeightsOut {
    /// per query, per reported output
    pub values: Vec<Vec<f64>>,
    pub non_finite: u64,
}

/// Sequence bases as token indices (A C G T → 0..3, anything else 4).
fn tokens(s: &[u8]) -> Vec<i64> {
    s.iter()
        .map(|&c| match c {
            b'A' | b'a' => 0,
            b'C' | b'c' => 1,
            b'G' | b'g' => 2,
            b'T' | b't' => 3,
            _ => 4,
        })
        .collect()
}

/// One-hot (N, 4, L) float on the device from token indices (N, L) (token 4: all zero).
pub(crate) fn one_hot_from_tokens(idx: &Tensor) -> Tensor {
    let table = Tensor::cat(&[Tensor::eye(4, (Kind::Float, idx.device())), Tensor::zeros([1, 4], (Kind::Float, idx.device()))], 0);
    let s = idx.size();
    table.index_select(0, &idx.reshape([-1])).reshape([s[0], s[1], 4]).permute([0, 2, 1]).contiguous()
}

/// The view rows `i..j` (row = sequence × views + view) of context token rows (S, ctx) on
/// the device, as one-hot (j-i, 4, L): a fixed number of tensor operations per batch.
pub(crate) fn view_batch(ctx_tokens: &Tensor, geom: &Geometry, i: usize, j: usize) -> Tensor {
    let v = geom.views();
    let l = geom.input_length as i64;
    let device = ctx_tokens.device();
    if v == 1 {
        return one_hot_from_tokens(&ctx_tokens.narrow(0, i as i64, (j - i) as i64).narrow(1, 0, l));
    }
    let rows: Vec<(i64, i64, bool)> = (i..j)
        .map(|r| {
            let (sh, rc) = geom.view(r % v);
            ((r / v) as i64, sh as i64, rc)
        })
        .collect();
    let seq = Tensor::from_slice(&rows.iter().map(|r| r.0).collect::<Vec<_>>()).to_device(device);
    let sh = Tensor::from_slice(&rows.iter().map(|r| r.1).collect::<Vec<_>>()).to_device(device).unsqueeze(1);
    let rc = Tensor::from_slice(&rows.iter().map(|r| r.2).collect::<Vec<_>>()).to_device(device).unsqueeze(1);
    let pos = Tensor::arange(l, (Kind::Int64, device)).unsqueeze(0);
    // window position p reads context base sh + p, or sh + L - 1 - p on the reverse strand
    let idx = (&sh + &pos).where_self(&rc.logical_not(), &(&sh + (l - 1) - &pos));
    let tok = ctx_tokens.index_select(0, &seq).gather(1, &idx, false);
    let comp = Tensor::from_slice(&[3i64, 2, 1, 0, 4]).to_device(device);
    let s = tok.size();
    let tok = comp.index_select(0, &tok.reshape([-1])).reshape(s.as_slice()).where_self(&rc, &tok);
    one_hot_from_tokens(&tok)
}

/// Sum the height (n, B, T) over each (row, b0, b1) in f64 on the device; returns (entries × T)
/// on the host.
pub(crate) fn bin_sums(height: &Tensor, entries: &[(i64, i64, i64)]) -> Result<Vec<f64>> {
    if entries.is_empty() {
        return Ok(vec![]);
    }
    let (n, b, t) = height.size3()?;
    let device = height.device();
    let rows = Tensor::from_slice(&entries.iter().map(|e| e.0).collect::<Vec<_>>()).to_device(device);
    let sums = if entries.iter().all(|&(_, b0, b1)| b0 == 0 && b1 == b) {
        height.sum_dim_intlist([1i64].as_slice(), false, Kind::Double).index_select(0, &rows)
    } else {
        // prefix sums in f64: any bin range is c[b1] - c[b0], exact to ~1e-16 relative
        let c = Tensor::cat(&[Tensor::zeros([n, 1, t], (Kind::Double, device)), height.to_kind(Kind::Double).cumsum(1, Kind::Double)], 1);
        let b0 = Tensor::from_slice(&entries.iter().map(|e| e.1).collect::<Vec<_>>()).to_device(device);
        let b1 = Tensor::from_slice(&entries.iter().map(|e| e.2).collect::<Vec<_>>()).to_device(device);
        c.index(&[Some(&rows), Some(&b1)]) - c.index(&[Some(&rows), Some(&b0)])
    };
    let host = sums.to_device(Device::Cpu).contiguous().reshape([-1]);
    Vec::<f64>::try_from(host).context("copying heights to the host")
}

/// Per sequence, the queries on it; per query, the bin range each view sums.
type QueryRanges = (Vec<Vec<usize>>, Vec<Vec<(i64, i64)>>);

fn query_ranges(geom: &Geometry, n_seqs: usize, queries: &[Query]) -> Result<QueryRanges> {
    let mut by_seq: Vec<Vec<usize>> = vec![Vec::new(); n_seqs];
    let mut ranges = Vec::with_capacity(queries.len());
    for (q, &(s, interval)) in queries.iter().enumerate() {
        if s >= n_seqs {
            bail!("query {q} refers to sequence {s} of {n_seqs}");
        }
        by_seq[s].push(q);
        ranges.push((0..geom.views()).map(|vi| geom.bin_range(interval, vi)).collect::<Result<Vec<_>>>()?);
    }
    Ok((by_seq, ranges))
}

impl Model {
    pub fn geometry(&self) -> Geometry {
        Geometry::of(self)
    }

    fn context_tokens<S: AsRef<[u8]>>(&self, seqs: &[S]) -> Result<Tensor> {
        let ctx = self.spec.context_length();
        let mut host = Vec::with_capacity(seqs.len() * ctx);
        for (i, s) in seqs.iter().enumerate() {
            let s = s.as_ref();
            if s.len() != ctx {
                bail!(
                    "sequence {i} has length {} but model {} needs {ctx} (input {} + 2 × shifts {})",
                    s.len(),
                    self.spec.name,
                    self.spec.input_length,
                    self.spec.shifts
                );
            }
            host.extend(tokens(s));
        }
        Ok(Tensor::from_slice(&host).reshape([seqs.len() as i64, ctx as i64]).to_device(self.device()))
    }

    /// Per query the accumulated heights, and the NaN/inf count since the run began (warned).
    fn finish_heights(&mut self, acc: Vec<f64>, t: usize, n_seqs: usize) -> HeightsOut {
        let non_finite = self.take_non_finite();
        if non_finite > 0 {
            tracing::warn!("model {}: {non_finite} predicted value(s) were NaN or infinite ({n_seqs} sequence(s))", self.spec.name);
        }
        HeightsOut { values: acc.chunks(t.max(1)).map(|c| c.to_vec()).collect(), non_finite }
    }

    /// Heights of `queries` over context-length sequences (input + 2 × shifts): per query and
    /// reported output, the sum over the selected height bins, averaged over the views, all in
    /// f64. NaN/inf values are counted (and warned about).
    pub fn heights<S: AsRef<[u8]>>(&mut self, seqs: &[S], queries: &[Query]) -> Result<HeightsOut> {
        let geom = self.geometry();
        let v = geom.views();
        let t = self.n_targets();
        let x = self.context_tokens(seqs)?;
        let (by_seq, ranges) = query_ranges(&geom, seqs.len(), queries)?;
        let mut acc = vec![0f64; queries.len() * t];
        self.take_non_finite();
        self.run_batched(
            seqs.len() * v,
            |i, j| Ok(view_batch(&x, &geom, i, j)),
            |i, out| {
                let n = out.height.size()[0] as usize;
                let mut entries = Vec::new();
                let mut targets = Vec::new();
                for r in i..i + n {
                    for &q in &by_seq[r / v] {
                        let (b0, b1) = ranges[q][r % v];
                        entries.push(((r - i) as i64, b0, b1));
                        targets.push(q);
                    }
                }
                let sums = bin_sums(&out.height, &entries)?;
                for (k, &q) in targets.iter().enumerate() {
                    for o in 0..t {
                        acc[q * t + o] += sums[k * t + o] / v as f64;
                    }
                }
                Ok(())
            },
        )?;
        Ok(self.finish_heights(acc, t, seqs.len()))
    }

    /// [`Model::heights`] where some sequences are others with one base substituted (the
    /// ALT window of an SNV next to its REF window): `subs[s]` says sequence `s` is sequence
    /// `of` with context position `pos` set to `base`. When the model has a fast path (see
    /// [`super::fast_ism`]) each REF window's prefix runs once and serves both alleles: the
    /// ALT views recompute only the positions the changed base reaches. Otherwise, or with
    /// `--alt-path naive`, every sequence runs through the whole model. Same numbers either
    /// way, to float32 rounding.
    // `vi` indexes views: rows, view geometry and each query's bin ranges
    #[allow(clippy::needless_range_loop)]
    pub fn heights_with<S: AsRef<[u8]>>(&mut self, seqs: &[S], queries: &[Query], subs: &[Option<Substitution>]) -> Result<HeightsOut> {
        use super::fast_ism::{alt_path, for_model, IsmPath};
        let path = alt_path();
        if subs.iter().all(Option::is_none) || path == IsmPath::Naive {
            return self.heights(seqs, queries);
        }
        if subs.len() != seqs.len() {
            bail!("{} substitutions for {} sequences", subs.len(), seqs.len());
        }
        for (s, sub) in subs.iter().enumerate() {
            if let Some(u) = sub {
                let (of, p) = (u.of, u.pos);
                let ok = of < seqs.len()
                    && subs[of].is_none()
                    && u.base < 4
                    && p < seqs[s].as_ref().len()
                    && seqs[s].as_ref().len() == seqs[of].as_ref().len()
                    && seqs[s].as_ref()[p].to_ascii_uppercase() == b"ACGT"[u.base as usize]
                    && seqs[s].as_ref().iter().zip(seqs[of].as_ref()).enumerate().all(|(i, (x, y))| i == p || x == y);
                if !ok {
                    bail!("sequence {s} is not sequence {of} with one base substituted at {p} (internal error)");
                }
            }
        }
        let fast = for_model(self);
        let checked = match fast.as_ref() {
            Ok(f) => f.alt_check(self).map(|d| (f, d)),
            Err(why) => Err(format!("the model has no fast path: {why}")),
        };
        if !self.alt_path_logged.replace(true) {
            match &checked {
                Ok((_, d)) => tracing::info!(
                    "model {}: SNV ALT windows reuse their REF window's activations (check batch: within {d:.1e} of the whole model)",
                    self.spec.name
                ),
                Err(why) => tracing::info!("model {}: SNV ALT windows run through the whole model ({why})", self.spec.name),
            }
        }
        let fast = match checked {
            Ok((f, _)) => f,
            Err(why) if path == IsmPath::Fast => bail!("model {}: --alt-path fast, but {why}", self.spec.name),
            Err(_) => return self.heights(seqs, queries),
        };
        let geom = self.geometry();
        let v = geom.views();
        let l = geom.input_length as i64;
        let t = self.n_targets();
        // the sequences that run whole (REF windows), and each one's substituted copies
        let base: Vec<usize> = (0..seqs.len()).filter(|&s| subs[s].is_none()).collect();
        let mut derived: Vec<Vec<usize>> = vec![Vec::new(); seqs.len()];
        for (s, sub) in subs.iter().enumerate() {
            if let Some(u) = sub {
                derived[u.of].push(s);
            }
        }
        let base_seqs: Vec<&[u8]> = base.iter().map(|&s| seqs[s].as_ref()).collect();
        let x = self.context_tokens(&base_seqs)?;
        let (by_seq, ranges) = query_ranges(&geom, seqs.len(), queries)?;
        let mut acc = vec![0f64; queries.len() * t];
        self.take_non_finite();
        let workers = if self.device() == Device::Cpu { super::engine::cpu_workers() } else { 1 };
        let mut per = (self.batch_size() * workers / v).max(1);
        let mut i = 0;
        while i < base.len() {
            let j = (i + per).min(base.len());
            let refs = view_batch(&x, &geom, i * v, j * v);
            // mutant rows: per substituted copy, per view whose window holds the changed base
            // (a view that does not hold it is its REF view's output)
            let (mut ri, mut pos, mut alt) = (Vec::new(), Vec::new(), Vec::new());
            let mut ref_entries = Vec::new();
            let mut ref_targets = Vec::new();
            let mut mut_entries = Vec::new();
            let mut mut_targets = Vec::new();
            for (bi, &b) in base.iter().enumerate().take(j).skip(i) {
                for vi in 0..v {
                    let row = ((bi - i) * v + vi) as i64;
                    for &q in &by_seq[b] {
                        let (b0, b1) = ranges[q][vi];
                        ref_entries.push((row, b0, b1));
                        ref_targets.push(q);
                    }
                }
                for &d in &derived[b] {
                    let u = subs[d].expect("derived");
                    for vi in 0..v {
                        let row = ((bi - i) * v + vi) as i64;
                        let (sh, rc) = geom.view(vi);
                        let w = u.pos as i64 - sh as i64;
                        let inside = (0..l).contains(&w);
                        if inside {
                            ri.push(row);
                            pos.push(if rc { l - 1 - w } else { w });
                            alt.push(if rc { 3 - u.base as i64 } else { u.base as i64 });
                        }
                        for &q in &by_seq[d] {
                            let (b0, b1) = ranges[q][vi];
                            if inside {
                                mut_entries.push((ri.len() as i64 - 1, b0, b1));
                                mut_targets.push(q);
                            } else {
                                ref_entries.push((row, b0, b1));
                                ref_targets.push(q);
                            }
                        }
                    }
                }
            }
            let out = {
                let _g = tch::no_grad_guard();
                fast.refs_and_mutants(self, &refs, &ri, &pos, &alt)
            };
            let (ref_out, mut_out) = match out {
                Ok(o) => o,
                Err(e) if per > 1 && format!("{e:#}").contains("out of memory") => {
                    per /= 2;
                    tracing::warn!("model {}: out of memory on the fast path; {per} REF windows per batch", self.spec.name);
                    continue;
                }
                Err(e) => return Err(e),
            };
            for (heads, entries, targets) in [(Some(&ref_out), &ref_entries, &ref_targets), (mut_out.as_ref(), &mut_entries, &mut_targets)] {
                let Some(heads) = heads else { continue };
                let sums = bin_sums(&heads.height, entries)?;
                for (k, &q) in targets.iter().enumerate() {
                    for o in 0..t {
                        acc[q * t + o] += sums[k * t + o] / v as f64;
                    }
                }
            }
            i = j;
        }
        Ok(self.finish_heights(acc, t, seqs.len()))
    }

    /// The height head bin by bin for context-length sequences: (N, B, T), averaged over the
    /// views (reverse-strand outputs flipped back along the bins), accumulated in f64.
    pub fn predict_seqs<S: AsRef<[u8]>>(&mut self, seqs: &[S]) -> Result<Array3<f32>> {
        self.head_bins(seqs, false)
    }

    /// The profile head (N, Bp, T) for context-length sequences, reverse strand flipped back
    /// and averaged (profiles use the unshifted window). Models without a profile head give
    /// their height head bin by bin.
    pub fn profiles<S: AsRef<[u8]>>(&mut self, seqs: &[S]) -> Result<Array3<f32>> {
        self.head_bins(seqs, self.profile_geom().is_some())
    }

    fn head_bins<S: AsRef<[u8]>>(&mut self, seqs: &[S], profile: bool) -> Result<Array3<f32>> {
        let mut geom = self.geometry();
        let x = self.context_tokens(seqs)?;
        let (b, t) = if profile { (self.profile_geom().map(|p| p.bins).unwrap_or(0), self.n_targets()) } else { (self.n_bins(), self.n_targets()) };
        // profiles: the centre window only (shifted outputs do not line up bin for bin)
        let x = if profile && geom.shifts > 0 {
            let k = geom.shifts as i64;
            geom.shifts = 0;
            x.narrow(1, k, geom.input_length as i64)
        } else {
            x
        };
        let v = geom.views();
        let mut acc = vec![0f64; seqs.len() * b * t];
        self.take_non_finite();
        self.run_batched(
            seqs.len() * v,
            |i, j| Ok(view_batch(&x, &geom, i, j)),
            |i, out| {
                let o = if profile { out.profile.ok_or_else(|| anyhow!("the model has no profile head"))? } else { out.height };
                let o = o.to_device(Device::Cpu).contiguous();
                let vals: Vec<f32> = Vec::<f32>::try_from(o.reshape([-1])).context("copying predictions to the host")?;
                for (r, k) in (i..i + vals.len() / (b * t)).enumerate() {
                    let (row, (_, rc)) = (k / v, geom.view(k % v));
                    for bi in 0..b {
                        let src = if rc { b - 1 - bi } else { bi };
                        for ti in 0..t {
                            acc[(row * b + bi) * t + ti] += vals[(r * b + src) * t + ti] as f64 / v as f64;
                        }
                    }
                }
                Ok(())
            },
        )?;
        let non_finite = self.take_non_finite();
        if non_finite > 0 {
            tracing::warn!("model {}: {non_finite} predicted value(s) were NaN or infinite", self.spec.name);
        }
        Ok(Array3::from_shape_vec((seqs.len(), b, t), acc.into_iter().map(|x| x as f32).collect())?)
    }
}

/// The windows (chromosome, context start) to run and, per peak, its query.
#[derive(Debug, Clone, PartialEq)]
pub struct HeightPlan {
    pub windows: Vec<(String, i64)>,
    /// per peak: (window index, interval relative to the window's context start)
    pub queries: Vec<Query>,
    /// whether peaks share windows (long-context models with `bins = "center"`)
    pub grouped: bool,
}

/// Plan the windows for peak heights. With `bins = "all"` (or a per-sequence head) each peak
/// gets the window centred on it. With `bins = "center"` each peak's height is the sum over
/// the bins overlapping its central `center_width` bp, and windows sit on a fixed grid
/// (output starts at multiples of a stride of whole bins, stride ≤ output span −
/// center_width), so that one forward pass serves every peak whose interval falls in its
/// output; the window chosen for a peak is the grid window whose output start is the last one
/// at or before the interval's start. When the output is too short for a grid (span <
/// center_width + bin size), each peak gets its own centred window.
pub fn plan_heights(geom: &Geometry, peaks: &[Locus], center_width: u64) -> Result<HeightPlan> {
    let ctx = geom.context_length() as i64;
    let k = geom.shifts as i64;
    let mut plan = HeightPlan { windows: Vec::new(), queries: Vec::with_capacity(peaks.len()), grouped: false };
    let h = &geom.height;
    let centered = |p: &Locus| p.centered_window(ctx as u64).0;
    if geom.bins != BinSelect::Center || !h.layout.is_binned() {
        for p in peaks {
            plan.queries.push((plan.windows.len(), None));
            plan.windows.push((p.chrom.clone(), centered(p)));
        }
        return Ok(plan);
    }
    let w = center_width.max(1) as i64;
    let span = h.span() as i64;
    let s = h.bin_size as i64;
    if span < w {
        bail!(
            "bins = \"center\" sums the bins covering the central {w} bp ([eval] center_width), but the model's output covers only {span} bp: \
             use bins = \"all\" or a smaller center_width"
        );
    }
    let stride = (span - w) / s * s;
    let margin = geom.margin(h);
    if stride < s {
        for p in peaks {
            let c0 = centered(p);
            let (a, _) = p.centered_window(w as u64);
            plan.queries.push((plan.windows.len(), Some((a - c0, a - c0 + w))));
            plan.windows.push((p.chrom.clone(), c0));
        }
        return Ok(plan);
    }
    plan.grouped = true;
    let mut index: std::collections::HashMap<(String, i64), usize> = std::collections::HashMap::new();
    for p in peaks {
        let (a, _) = p.centered_window(w as u64);
        let j = a.div_euclid(stride);
        let out_start = j * stride;
        let ctx_start = out_start - margin - k;
        let wi = *index.entry((p.chrom.clone(), j)).or_insert_with(|| {
            plan.windows.push((p.chrom.clone(), ctx_start));
            plan.windows.len() - 1
        });
        plan.queries.push((wi, Some((a - ctx_start, a - ctx_start + w))));
    }
    Ok(plan)
}

/// The context sequences of planned windows (N-padded past chromosome ends).
pub fn fetch_windows(fasta: &Fasta, windows: &[(String, i64)], ctx: usize) -> Result<Vec<Vec<u8>>> {
    windows.iter().map(|(c, s)| fasta.fetch(c, *s, *s + ctx as i64)).collect()
}

/// Heights of peaks, with how many windows served them.
#[derive(Debug, Clone, Default)]
pub struct PeakHeights {
    /// per peak, per reported output
    pub values: Vec<Vec<f64>>,
    /// windows run (forward passes = windows × views)
    pub windows: usize,
    pub views: usize,
    pub non_finite: u64,
}

impl PeakHeights {
    /// Forward passes avoided by sharing windows, against one window per peak.
    pub fn passes_avoided(&self) -> usize {
        self.values.len().saturating_sub(self.windows) * self.views
    }
}

/// Heights of `peaks` through one model: plan the windows, fetch them, run them with `run`
/// (the model, or a request to the model worker), hand each peak its query's value.
pub fn peak_heights(
    fasta: &Fasta,
    geom: &Geometry,
    peaks: &[Locus],
    center_width: u64,
    mut run: impl FnMut(Vec<Vec<u8>>, Vec<Query>) -> Result<HeightsOut>,
) -> Result<PeakHeights> {
    let plan = plan_heights(geom, peaks, center_width)?;
    let seqs = fetch_windows(fasta, &plan.windows, geom.context_length())?;
    let out = run(seqs, plan.queries.clone())?;
    Ok(PeakHeights { values: out.values, windows: plan.windows.len(), views: geom.views(), non_finite: out.non_finite })
}

/// Which head a locus track shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackSource {
    /// the profile head (ChromBPNet profile × counts, ...)
    Profile,
    /// a binned height head, bin by bin
    HeightBins,
    /// a per-sequence head, one window every `step` bp
    Windows,
}

impl Geometry {
    pub fn track_source(&self) -> TrackSource {
        if self.profile.is_some() {
            TrackSource::Profile
        } else if self.height.layout.is_binned() {
            TrackSource::HeightBins
        } else {
            TrackSource::Windows
        }
    }
}

/// A predicted track over `region`: (start, end, value per reported output) rows covering it,
/// from tiled windows (binned heads: windows step by the output span so every base falls in
/// exactly one bin; per-sequence heads: one window every `step` bp, its value covering the
/// `step` bp around its centre). `run(seqs, profile)` returns (N, B, T) for context-length
/// sequences: the profile head when `profile`, else the height head bin by bin.
pub fn locus_track(
    fasta: &Fasta,
    geom: &Geometry,
    region: &Locus,
    step: u64,
    mut run: impl FnMut(Vec<Vec<u8>>, bool) -> Result<Array3<f32>>,
) -> Result<Vec<(u64, u64, Vec<f32>)>> {
    let source = geom.track_source();
    let (bins, bin) = match source {
        TrackSource::Profile => {
            let p = geom.profile.expect("profile head");
            (p.bins, p.bin_size as u64)
        }
        TrackSource::HeightBins => (geom.height.bins, geom.height.bin_size as u64),
        TrackSource::Windows => (1, step.max(1)),
    };
    super::predict::predict_locus_with(fasta, region, step, bins, Some(bin as u32), geom.context_length(), |seqs| run(seqs, source == TrackSource::Profile))
}

/// The mean per-bp value of a binned signal in each column of a view: `rows` are (start,
/// end, value per output) bins (a bin's value spread evenly over its bp, as a bigWig's
/// per-base coverage is), the columns are `locus` cut into `cols` (the edges the measured
/// rows use). Per output, per column; NaN where no bin covers the column.
pub fn columns_of_rows(rows: &[(u64, u64, Vec<f32>)], locus: &Locus, cols: usize, n_out: usize) -> Vec<Vec<f32>> {
    let edge = |c: usize| locus.start + ((c as u128 * locus.len() as u128) / cols.max(1) as u128) as u64;
    let col_of = |pos: u64| ((((pos.max(locus.start) - locus.start) as u128 * cols as u128) / locus.len().max(1) as u128) as usize).min(cols.saturating_sub(1));
    let mut sum = vec![vec![0f64; cols]; n_out];
    let mut covered = vec![0u64; cols];
    for (s, e, v) in rows {
        let (a, b) = ((*s).max(locus.start), (*e).min(locus.end));
        if a >= b || cols == 0 {
            continue;
        }
        let width = (e - s) as f64;
        for c in col_of(a)..=col_of(b - 1) {
            let overlap = b.min(edge(c + 1)).saturating_sub(a.max(edge(c)));
            if overlap == 0 {
                continue;
            }
            covered[c] += overlap;
            for (o, x) in v.iter().enumerate().take(n_out) {
                sum[o][c] += *x as f64 / width * overlap as f64;
            }
        }
    }
    sum.into_iter().map(|row| row.iter().zip(&covered).map(|(s, &n)| if n == 0 { f32::NAN } else { (s / n as f64) as f32 }).collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::desc::Layout;

    fn geom(bins: usize, bin_size: u32, l: usize, shifts: u32, rc: bool) -> Geometry {
        Geometry {
            input_length: l,
            shifts,
            rc,
            height: HeadGeom { layout: Layout::BinsTargets, bins, bin_size, targets: 1 },
            bins: BinSelect::Center,
            profile: None,
        }
    }

    #[test]
    fn bin_ranges_cover_the_interval_on_both_strands() {
        // 8 bins of 10 bp centred in 100 bp: output [10, 90)
        let g = geom(8, 10, 100, 0, true);
        assert_eq!(g.bin_range(Some((45, 55)), 0).unwrap(), (3, 5));
        // reverse strand: mirrored
        assert_eq!(g.bin_range(Some((45, 55)), 1).unwrap(), (3, 5));
        assert_eq!(g.bin_range(Some((10, 21)), 0).unwrap(), (0, 2));
        assert_eq!(g.bin_range(Some((10, 21)), 1).unwrap(), (6, 8));
        assert!(g.bin_range(Some((0, 5)), 0).is_err());
        // with shifts, view 0 is the window starting at context offset 0
        let g = geom(8, 10, 100, 2, false);
        assert_eq!(g.bin_range(Some((47, 57)), 2).unwrap(), (3, 5)); // unshifted: output starts at 12
        assert_eq!(g.bin_range(Some((47, 57)), 0).unwrap(), (3, 5)); // output starts at 10
        assert_eq!(g.bin_range(Some((41, 51)), 0).unwrap(), (3, 5));
        assert_eq!(g.bin_range(Some((41, 51)), 4).unwrap(), (2, 4)); // output starts at 14
    }

    #[test]
    fn view_batches_are_the_shifted_windows_and_their_reverse_complements() {
        use crate::genome::onehot::{one_hot, reverse_complement};
        let ctx: Vec<Vec<u8>> = vec![b"ACGTNACCGTTAGG".to_vec(), b"TTGACNNGTACGAT".to_vec()];
        let g = geom(1, 10, 10, 2, true);
        let x = Tensor::from_slice(&ctx.iter().flat_map(|s| tokens(s)).collect::<Vec<_>>()).reshape([2, 14]);
        let v = g.views();
        let got = view_batch(&x, &g, 1, 2 * v);
        for r in 1..2 * v {
            let (sh, rc) = g.view(r % v);
            let w = &ctx[r / v][sh..sh + 10];
            let w = if rc { reverse_complement(w) } else { w.to_vec() };
            let want = Tensor::from_slice(one_hot(&w).as_slice().unwrap()).reshape([4, 10]);
            assert!(got.get((r - 1) as i64).equal(&want), "row {r}");
        }
    }

    #[test]
    fn grid_windows_serve_every_peak_inside_their_output() {
        let g = geom(100, 10, 2000, 0, false); // output span 1000, margin 500
        let peaks: Vec<Locus> = (0..50).map(|i| Locus::new("c", 10_000 + i * 97, 10_000 + i * 97 + 300)).collect();
        let plan = plan_heights(&g, &peaks, 200).unwrap();
        assert!(plan.grouped);
        assert!(plan.windows.len() < peaks.len() / 3, "{} windows", plan.windows.len());
        for (p, &(wi, iv)) in peaks.iter().zip(&plan.queries) {
            let (a, b) = iv.unwrap();
            let ctx_start = plan.windows[wi].1;
            assert_eq!(ctx_start + a, p.centered_window(200).0);
            assert_eq!(b - a, 200);
            // inside the output [500, 1500) of the window
            assert!(a >= 500 && b <= 1500, "{a} {b}");
            // bins start on a global grid of whole bins
            assert_eq!((ctx_start + 500).rem_euclid(10), 0);
        }
        // bins = all: one centred window per peak
        let mut all = g;
        all.bins = BinSelect::All;
        let plan = plan_heights(&all, &peaks, 200).unwrap();
        assert_eq!(plan.windows.len(), peaks.len());
        assert!(plan.queries.iter().all(|q| q.1.is_none()));
        // output shorter than the central width: refused with the fix
        let e = plan_heights(&geom(10, 10, 200, 0, false), &peaks, 200).unwrap_err().to_string();
        assert!(e.contains("center_width") && e.contains("bins = \"all\""), "{e}");
    }

    #[test]
    fn columns_average_bins_per_bp_over_their_overlap() {
        // bins of 10 bp: values 10, 20, 30 (1, 2, 3 per bp) over [100, 130)
        let rows = vec![(100, 110, vec![10.0, 0.0]), (110, 120, vec![20.0, 5.0]), (120, 130, vec![30.0, 0.0])];
        // 3 columns of 10 bp on the bins: the per-bp values
        let c = columns_of_rows(&rows, &Locus::new("c", 100, 130), 3, 2);
        assert_eq!(c[0], vec![1.0, 2.0, 3.0]);
        assert_eq!(c[1], vec![0.0, 0.5, 0.0]);
        // 2 columns of 15 bp: (10·1 + 5·2)/15 and (5·2 + 10·3)/15
        let c = columns_of_rows(&rows, &Locus::new("c", 100, 130), 2, 1);
        assert!((c[0][0] - 20.0 / 15.0).abs() < 1e-6 && (c[0][1] - 40.0 / 15.0).abs() < 1e-6, "{c:?}");
        // columns narrower than a bin, and a view reaching past the last bin
        let c = columns_of_rows(&rows, &Locus::new("c", 115, 135), 4, 1);
        assert_eq!(c[0][..3], [2.0, 3.0, 3.0]);
        assert!(c[0][3].is_nan());
    }
}
