//! Variants of the project's `[variants]` file in the UI: a row in the track panel (ticks at
//! the variants of the view, coloured by the strongest predicted |log2fc| across cell types
//! for the active model; counts per column at wide views) and the variant panel (`v`/`V`:
//! per cell type REF vs ALT prediction, sad and log2fc for the active and the compared
//! model, the measured allelic ratio and depth, the variant's peak, cluster and stratum).
//!
//! * **Reading.** A bgzipped VCF/BCF with a `.tbi`/`.csi` index is read by region queries on
//!   the track loader's thread, per view; any other file (plain VCF, allelic table) is read
//!   once on the index thread and kept, sorted. Both go through
//!   [`VariantReader`](crate::genome::variants::VariantReader), so REF mismatches and unknown
//!   chromosomes are skipped and counted (the status line says how many) as in
//!   `peakscope variants`.
//! * **Scoring.** The variants of a narrow view (at most [`SCORE_IN_VIEW`]) and the selected
//!   one are scored by the model server
//!   ([`ModelClient::variant_effects`](crate::jobs::remote::ModelClient::variant_effects)),
//!   which runs the one variant path of `peakscope variants`; newest request wins per model.
//! * **Wide views** never list more than [`LIST_IN_VIEW`] variants: the row shows counts per
//!   column (an indexed file is counted up to [`COUNT_BUDGET`] records per view).
use crate::config::ProjectConfig;
use crate::genome::variants::{has_index, is_table, Variant, VariantOptions, VariantReader};
use crate::genome::{ChromNames, Fasta, Locus};
use crate::jobs::remote::{ModelClient, VariantEffects};
use crate::jobs::variants::{Annotation, Annotator};
use crate::jobs::view::Reader;
use crate::jobs::worker::{Ctx, ReplyKind, Task};
use crate::model::variant_effect::effect;
use crate::tui::commands::Action;
use crate::tui::component::{Component, Event, Job, Outcome};
use crate::tui::shared::Shared;
use crate::tui::summary;
use crate::tui::view::{level, truncate, LABEL_W};
use anyhow::{anyhow, Result};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use std::any::Any;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Variants scored per view at most (the selected one is always scored).
pub const SCORE_IN_VIEW: usize = 200;
/// Variants listed per view at most; beyond, the row shows counts per column.
pub const LIST_IN_VIEW: usize = 5_000;
/// Records an indexed file is read for one wide view at most (columns past it show "?").
pub const COUNT_BUDGET: usize = 100_000;

/// Where the variants come from.
pub enum VariantSource {
    /// every variant of the file, sorted by chromosome (FASTA order), position and alleles
    Loaded { path: PathBuf, variants: Vec<Variant>, chroms: ChromNames },
    /// an indexed VCF/BCF, read by region
    Indexed { path: PathBuf, fasta: PathBuf, opts: VariantOptions, chroms: ChromNames },
}

/// Order of variants: chromosome (FASTA order), position, REF, ALT.
pub type Key = (usize, u64, Vec<u8>, Vec<u8>);

fn key_of(chroms: &ChromNames, v: &Variant) -> Key {
    (chroms.index(&v.chrom).unwrap_or(usize::MAX), v.pos, v.ref_allele.clone(), v.alt.clone())
}

/// Where a step starts: the selected variant, else the view's start (forward) or end (back).
pub fn step_origin(chroms: &ChromNames, selected: Option<&Variant>, view: &Locus, forward: bool) -> Key {
    match selected {
        Some(v) => key_of(chroms, v),
        // forward: variants at POS > start (in view); back: POS <= end
        None if forward => (chroms.index(&view.chrom).unwrap_or(0), view.start, vec![u8::MAX], vec![]),
        None => (chroms.index(&view.chrom).unwrap_or(0), view.end + 1, vec![], vec![]),
    }
}

/// The column of 0-based position `p0` in a view of `cols` columns: the `c` with
/// `edge(c) <= p0 < edge(c + 1)` (the columns the per-column counts use).
pub fn column(locus: &Locus, cols: usize, p0: u64) -> usize {
    let (mut lo, mut hi) = (0usize, cols.max(1));
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if summary::edge(locus, cols, mid) <= p0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The variants of one view: listed (narrow views) and counted per column.
#[derive(Debug, Clone)]
pub struct ViewVariants {
    pub locus: Locus,
    pub cols: usize,
    /// the variants in view, when at most [`LIST_IN_VIEW`]
    pub variants: Vec<Variant>,
    /// variants per column (None: not counted, the budget ran out)
    pub counts: Vec<Option<u32>>,
    /// whether `variants` holds every variant of the view
    pub listed: bool,
    /// what the reader skipped in this view (REF mismatch, …), when anything
    pub skipped: Option<String>,
}

impl VariantSource {
    /// Open `[variants]` of a config: indexed VCF/BCF by region, anything else read whole.
    pub fn open(cfg: &ProjectConfig) -> Result<(VariantSource, Option<String>)> {
        let vc = cfg.variants.as_ref().ok_or_else(|| anyhow!("no [variants] in {}", cfg.source.display()))?;
        let path = vc.vcf.clone().or_else(|| vc.allelic.clone()).ok_or_else(|| anyhow!("[variants] names no file"))?;
        let fasta = Fasta::open(&cfg.genome.fasta)?;
        let opts = vc.options(&cfg.tracks);
        let chroms = fasta.chroms().clone();
        if !is_table(&path)? && has_index(&path) {
            // the header parses, and the index opens, before the first view asks
            VariantReader::open_region(&path, &fasta, opts.clone(), chroms.names().first().map(String::as_str).unwrap_or("chr1"), 0, 1)?;
            return Ok((VariantSource::Indexed { path, fasta: cfg.genome.fasta.clone(), opts, chroms }, None));
        }
        let mut r = VariantReader::open(&path, &fasta, opts)?;
        let mut variants = r.read_all()?;
        variants.sort_by_cached_key(|v| key_of(&chroms, v));
        let skipped = (r.skipped.total() > 0).then(|| format!("variants {}: {}", path.display(), r.skipped.summary()));
        Ok((VariantSource::Loaded { path, variants, chroms }, skipped))
    }

    pub fn path(&self) -> &std::path::Path {
        match self {
            VariantSource::Loaded { path, .. } | VariantSource::Indexed { path, .. } => path,
        }
    }

    /// Whether queries read files (then they run on the track loader's thread).
    pub fn is_indexed(&self) -> bool {
        matches!(self, VariantSource::Indexed { .. })
    }

    fn chroms(&self) -> &ChromNames {
        match self {
            VariantSource::Loaded { chroms, .. } | VariantSource::Indexed { chroms, .. } => chroms,
        }
    }

    /// Read `[start, end)` of `chrom` from an indexed file, at most `budget` variants
    /// (`f` gets each; false stops), with what was skipped.
    fn region(&self, chrom: &str, start: u64, end: u64, mut f: impl FnMut(Variant) -> bool) -> Result<Option<String>> {
        let VariantSource::Indexed { path, fasta, opts, .. } = self else { return Ok(None) };
        let fasta = Fasta::open(fasta)?;
        let mut r = VariantReader::open_region(path, &fasta, opts.clone(), chrom, start, end)?;
        while let Some(v) = r.next_variant()? {
            if !f(v) {
                break;
            }
        }
        Ok((r.skipped.total() > 0).then(|| format!("variants {}: {}", path.display(), r.skipped.summary())))
    }

    /// The variants of a view of `cols` columns.
    pub fn in_view(&self, locus: &Locus, cols: usize) -> Result<ViewVariants> {
        let cols = cols.max(1);
        let mut out = ViewVariants { locus: locus.clone(), cols, variants: vec![], counts: vec![Some(0); cols], listed: true, skipped: None };
        let in_locus = |v: &Variant| v.pos > locus.start && v.pos <= locus.end;
        match self {
            VariantSource::Loaded { variants, chroms, .. } => {
                let Some(ci) = chroms.index(&locus.chrom) else { return Ok(out) };
                let at = |pos: u64| variants.partition_point(|v| (chroms.index(&v.chrom).unwrap_or(usize::MAX), v.pos) < (ci, pos));
                // 1-based positions in (start, end]
                let (a, b) = (at(locus.start + 1), at(locus.end + 1));
                for c in 0..cols {
                    let (x, y) = (at(summary::edge(locus, cols, c) + 1), at(summary::edge(locus, cols, c + 1) + 1));
                    out.counts[c] = Some((y - x) as u32);
                }
                if b - a <= LIST_IN_VIEW {
                    out.variants = variants[a..b].to_vec();
                } else {
                    out.listed = false;
                }
            }
            VariantSource::Indexed { .. } => {
                let mut seen = 0usize;
                let mut last_col = 0usize;
                let mut list = Vec::new();
                out.skipped = self.region(&locus.chrom, locus.start, locus.end, |v| {
                    if !in_locus(&v) {
                        return true;
                    }
                    seen += 1;
                    let c = column(locus, cols, v.pos - 1);
                    last_col = c;
                    if let Some(n) = out.counts[c].as_mut() {
                        *n += 1;
                    }
                    if list.len() <= LIST_IN_VIEW {
                        list.push(v);
                    }
                    seen < COUNT_BUDGET
                })?;
                if seen >= COUNT_BUDGET {
                    // the last column reached may be partial, the rest unknown
                    for n in &mut out.counts[last_col..] {
                        *n = None;
                    }
                }
                out.listed = list.len() <= LIST_IN_VIEW && seen < COUNT_BUDGET;
                if out.listed {
                    out.variants = list;
                }
            }
        }
        Ok(out)
    }

    /// The variant `n` steps after (`forward`) or before `from` in file order, None past the
    /// last (first).
    pub fn step(&self, from: &Key, forward: bool, n: usize) -> Result<Option<Variant>> {
        let chroms = self.chroms();
        match self {
            VariantSource::Loaded { variants, .. } => {
                let i = variants.partition_point(|v| {
                    let k = key_of(chroms, v);
                    if forward {
                        k <= *from
                    } else {
                        k < *from
                    }
                });
                let j = if forward { i.checked_add(n - 1) } else { i.checked_sub(n) };
                Ok(j.and_then(|j| variants.get(j)).cloned())
            }
            VariantSource::Indexed { .. } => {
                let mut cur = from.clone();
                let mut found = None;
                for _ in 0..n {
                    match self.step_indexed(&cur, forward)? {
                        Some(v) => {
                            cur = key_of(chroms, &v);
                            found = Some(v);
                        }
                        None => return Ok(None),
                    }
                }
                Ok(found)
            }
        }
    }

    /// One step in an indexed file: windows of growing size from `from`, then the next
    /// (previous) chromosomes.
    fn step_indexed(&self, from: &Key, forward: bool) -> Result<Option<Variant>> {
        let chroms = self.chroms();
        let order: Vec<usize> =
            if forward { (from.0.min(chroms.len())..chroms.len()).collect() } else { (0..=from.0.min(chroms.len().saturating_sub(1))).rev().collect() };
        for ci in order {
            let (name, len) = (&chroms.names()[ci], chroms.lengths()[ci]);
            let mut w = 10_000u64;
            // 0-based window edges; on the start chromosome, from the origin
            let (mut lo, mut hi) = if ci == from.0 {
                (from.1.saturating_sub(1), from.1.saturating_sub(1))
            } else if forward {
                (0, 0)
            } else {
                (len, len)
            };
            loop {
                let (a, b) = if forward { (hi, (hi + w).min(len)) } else { (lo.saturating_sub(w), lo) };
                let mut best: Option<(Key, Variant)> = None;
                self.region(name, a, b, |v| {
                    let k = key_of(chroms, &v);
                    let ok = if forward { k > *from } else { k < *from };
                    let better = best.as_ref().is_none_or(|(bk, _)| if forward { k < *bk } else { k > *bk });
                    // a record reaching in from the left was (forward) or will be (back) seen in
                    // its own window
                    if ok && better && v.pos > a {
                        best = Some((k, v));
                    }
                    true
                })?;
                if let Some((_, v)) = best {
                    return Ok(Some(v));
                }
                if forward {
                    if b >= len {
                        break;
                    }
                    hi = b;
                } else {
                    if a == 0 {
                        break;
                    }
                    lo = a;
                }
                w = w.saturating_mul(4);
            }
        }
        Ok(None)
    }
}

/// The opened `[variants]` file with the project's peak annotation.
pub struct Opened {
    pub source: VariantSource,
    pub annotator: Annotator,
}

/// One column of the variants row.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct VariantCell {
    pub count: Option<u32>,
    /// strongest |log2fc| across cell types of the scored variants there (active model)
    pub effect: Option<f64>,
    pub selected: bool,
}

/// What the track panel draws in its variants row.
#[derive(Debug, Clone)]
pub struct VariantRow {
    pub locus: Locus,
    pub cols: usize,
    pub cells: Vec<VariantCell>,
    /// counts per column (wide view) rather than ticks
    pub density: bool,
}

impl VariantRow {
    /// A row with nothing in it yet (the variants are loading).
    pub fn empty() -> VariantRow {
        VariantRow { locus: Locus::new("", 0, 0), cols: 0, cells: vec![], density: false }
    }
}

/// Colour of a tick by the strongest |log2fc| (None: not scored yet).
pub fn effect_color(e: Option<f64>) -> Color {
    match e {
        None => Color::Indexed(246),
        Some(x) if x < 0.05 => Color::Indexed(67),
        Some(x) if x < 0.2 => Color::Indexed(178),
        Some(x) if x < 0.5 => Color::Indexed(208),
        Some(_) => Color::Indexed(196),
    }
}

/// Draw the variants row at `y` (label in the first [`LABEL_W`] columns) for `locus`, the
/// locus on screen; a row of another locus (its variants still on the way) shows "…".
pub fn draw_row(buf: &mut Buffer, x: u16, y: u16, cols: usize, locus: &Locus, s: &Shared) {
    let dim = Style::default().fg(Color::Indexed(244));
    let Some(row) = s.variant_row.as_ref() else { return };
    buf.set_stringn(x, y, if row.density { "var/col" } else { "variants" }, LABEL_W as usize - 1, dim);
    if row.locus != *locus || row.cols < cols {
        buf.set_string(x + LABEL_W, y, "…", dim);
        return;
    }
    let max = row.cells.iter().filter_map(|c| c.count).max().unwrap_or(0) as f64;
    for (c, cell) in row.cells.iter().enumerate().take(cols) {
        let mut st = Style::default().fg(effect_color(cell.effect));
        if cell.selected {
            st = st.add_modifier(Modifier::BOLD | Modifier::REVERSED);
        }
        let ch = match cell.count {
            None => "?".to_string(),
            Some(0) if !cell.selected => continue,
            Some(n) if row.density => {
                let l = level(n as f64, max);
                if l == ' ' { '▁' } else { l }.to_string()
            }
            Some(_) => "┃".to_string(),
        };
        buf.set_string(x + LABEL_W + c as u16, y, ch, st);
    }
}

/// Per model (index in the config), per variant key: REF and ALT per track.
pub type Scores = HashMap<(usize, String), (Vec<f64>, Vec<f64>)>;

#[derive(Default)]
pub struct VariantPanel {
    pub opened: Option<Arc<Opened>>,
    /// loading, or why there are no variants
    pub state: Option<String>,
    pub view: Option<ViewVariants>,
    pub scores: Scores,
    /// the selected variant with its place among the peaks
    pub selected: Option<(Variant, Annotation)>,
}

pub enum VariantsEvent {
    Opened(Result<Arc<Opened>, String>, Option<String>),
    InView { generation: u64, view: Result<ViewVariants, String> },
    Stepped { forward: bool, found: Result<Option<Variant>, String> },
    Scored { model: usize, keys: Vec<String>, effects: Result<VariantEffects, String> },
}

/// Open `[variants]` (index thread): an indexed file is only opened, any other read whole.
pub struct OpenTask {
    pub config: Arc<ProjectConfig>,
}

impl Task<(), VariantsEvent> for OpenTask {
    fn run(self: Box<Self>, _: &mut (), ctx: &Ctx<VariantsEvent>) -> Result<(), String> {
        let r = (|| -> Result<(Opened, Option<String>)> {
            let (source, skipped) = VariantSource::open(&self.config)?;
            Ok((Opened { source, annotator: Annotator::new(&self.config)? }, skipped))
        })();
        ctx.emit_even_if_stale(match r {
            Ok((o, skipped)) => VariantsEvent::Opened(Ok(Arc::new(o)), skipped),
            Err(e) => VariantsEvent::Opened(Err(format!("{e:#}")), None),
        });
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Region queries of an indexed file (track loader's thread): the view, or a step.
pub enum QueryTask {
    View { opened: Arc<Opened>, generation: u64, locus: Locus, cols: usize },
    Step { opened: Arc<Opened>, from: Key, forward: bool, n: usize },
}

impl Task<Reader, VariantsEvent> for QueryTask {
    fn key(&self) -> u64 {
        // a lane apart from the track loader's column reads
        (1 << 40) | matches!(self, QueryTask::Step { .. }) as u64
    }
    fn run(self: Box<Self>, _: &mut Reader, ctx: &Ctx<VariantsEvent>) -> Result<(), String> {
        match *self {
            QueryTask::View { opened, generation, locus, cols } => {
                ctx.emit(VariantsEvent::InView { generation, view: opened.source.in_view(&locus, cols).map_err(|e| format!("{e:#}")) });
            }
            QueryTask::Step { opened, from, forward, n } => {
                ctx.emit_even_if_stale(VariantsEvent::Stepped { forward, found: opened.source.step(&from, forward, n).map_err(|e| format!("{e:#}")) });
            }
        }
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Score variants with one model in the model server; newest wins per model.
pub struct ScoreTask {
    pub model: usize,
    pub variants: Vec<Variant>,
}

impl Task<ModelClient, VariantsEvent> for ScoreTask {
    fn key(&self) -> u64 {
        self.model as u64
    }
    fn run(self: Box<Self>, env: &mut ModelClient, ctx: &Ctx<VariantsEvent>) -> Result<(), String> {
        let keys = self.variants.iter().map(Variant::key).collect();
        let effects = env.variant_effects(self.model, &self.variants).map_err(|e| format!("variant effects: {e:#}"));
        // scores stay valid for their variants after the view moved on
        ctx.emit_even_if_stale(VariantsEvent::Scored { model: self.model, keys, effects });
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl VariantPanel {
    /// REF and ALT of the selected (or any) variant for a model, when scored.
    pub fn score(&self, model: usize, v: &Variant) -> Option<&(Vec<f64>, Vec<f64>)> {
        self.scores.get(&(model, v.key())).filter(|(r, _)| !r.is_empty())
    }

    /// Strongest |log2fc| across cell types of a variant for a model.
    pub fn strongest(&self, model: usize, v: &Variant) -> Option<f64> {
        let (r, a) = self.score(model, v)?;
        r.iter().zip(a).map(|(&r, &a)| effect(r, a).1.abs()).filter(|x| x.is_finite()).max_by(f64::total_cmp)
    }

    /// Rebuild the track panel's variants row from the view's variants and the scores.
    fn update_row(&self, s: &mut Shared) {
        let Some(v) = &self.view else {
            s.variant_row = self.opened.as_ref().map(|_| VariantRow::empty());
            return;
        };
        let mut cells: Vec<VariantCell> = v.counts.iter().map(|&count| VariantCell { count, ..Default::default() }).collect();
        if v.listed {
            for var in &v.variants {
                let c = column(&v.locus, v.cols, var.pos - 1);
                let e = self.strongest(s.models.active, var);
                let cell = &mut cells[c];
                cell.effect = match (cell.effect, e) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        if let Some((sel, _)) = &self.selected {
            if sel.chrom == v.locus.chrom && sel.pos > v.locus.start && sel.pos <= v.locus.end {
                cells[column(&v.locus, v.cols, sel.pos - 1)].selected = true;
            }
        }
        let density = !v.listed || v.variants.len() > v.cols;
        s.variant_row = Some(VariantRow { locus: v.locus.clone(), cols: v.cols, cells, density });
    }

    /// Score jobs for the listed variants of a narrow view and the selected one, per shown
    /// model, for those not scored yet.
    fn score_jobs(&self, s: &Shared) -> Vec<Job<VariantsEvent>> {
        if !s.models.ready || s.models.names.is_empty() {
            return vec![];
        }
        let sel = self.selected.as_ref().map(|(v, _)| v);
        let listed = self.view.as_ref().filter(|v| v.listed && v.variants.len() <= SCORE_IN_VIEW).map(|v| &v.variants[..]).unwrap_or(&[]);
        let mut jobs = Vec::new();
        for m in std::iter::once(s.models.active).chain(s.models.compare) {
            let mut want: Vec<Variant> = Vec::new();
            for v in sel.into_iter().chain(listed) {
                if !self.scores.contains_key(&(m, v.key())) && !want.iter().any(|w| w.key() == v.key()) {
                    want.push(v.clone());
                }
            }
            if !want.is_empty() {
                jobs.push(Job::Model(Box::new(ScoreTask { model: m, variants: want }) as Box<dyn Task<_, _>>));
            }
        }
        jobs
    }

    /// Select a variant: centre the view on it (keeping the width) and open the panel.
    fn select(&mut self, v: Variant, s: &mut Shared) {
        let ann = self.opened.as_ref().map(|o| o.annotator.annotate(&v)).unwrap_or_default();
        let w = s.locus.len();
        s.set_view(&v.chrom, (v.pos - 1) as i64 - (w / 2) as i64, w);
        s.panel = Some(Self::NAME);
        s.status = format!(
            "variant {} {}{}",
            v.key(),
            if v.id != "." { format!("{} ", v.id) } else { String::new() },
            ann.peak.as_deref().map(|p| format!("in peak {p}")).unwrap_or_else(|| "outside peaks".into())
        );
        self.selected = Some((v, ann));
    }

    fn view_jobs(&mut self, s: &mut Shared) -> Vec<Job<VariantsEvent>> {
        let Some(o) = self.opened.clone() else { return vec![] };
        if self.view.as_ref().is_some_and(|v| v.locus == s.locus && v.cols == s.cols) {
            self.update_row(s);
            return self.score_jobs(s);
        }
        if o.source.is_indexed() {
            return vec![Job::Read(Box::new(QueryTask::View { opened: o, generation: s.generation, locus: s.locus.clone(), cols: s.cols }))];
        }
        let r = o.source.in_view(&s.locus, s.cols).map_err(|e| format!("{e:#}"));
        self.on_view(r, s)
    }

    fn on_view(&mut self, r: Result<ViewVariants, String>, s: &mut Shared) -> Vec<Job<VariantsEvent>> {
        match r {
            Ok(v) => {
                if let Some(sk) = &v.skipped {
                    s.status = sk.clone();
                }
                self.view = Some(v);
                self.update_row(s);
                self.score_jobs(s)
            }
            Err(e) => {
                s.status = e;
                vec![]
            }
        }
    }

    fn on_step(&mut self, forward: bool, found: Result<Option<Variant>, String>, s: &mut Shared) {
        match found {
            Ok(Some(v)) => self.select(v, s),
            Ok(None) => {
                s.status = format!(
                    "no {} variant in {}",
                    if forward { "next" } else { "previous" },
                    self.opened.as_ref().map(|o| o.source.path().display().to_string()).unwrap_or_default()
                )
            }
            Err(e) => s.status = e,
        }
    }
}

impl Component for VariantPanel {
    type Event = VariantsEvent;
    const NAME: &'static str = "variants";
    const PANEL: bool = true;

    fn update(&mut self, ev: Event<VariantsEvent>, s: &mut Shared) -> Outcome<VariantsEvent> {
        match ev {
            Event::Command(a @ (Action::NextVariant | Action::PrevVariant), n) => {
                let forward = a == Action::NextVariant;
                let Some(o) = self.opened.clone() else {
                    s.status = self.state.clone().unwrap_or_else(|| "no [variants] in this project (vcf = \"…\" or allelic = \"…\")".into());
                    return Outcome::none();
                };
                let from = step_origin(o.source.chroms(), self.selected.as_ref().map(|(v, _)| v), &s.locus, forward);
                if o.source.is_indexed() {
                    s.status = "finding the variant…".into();
                    return Outcome::one(Job::Read(Box::new(QueryTask::Step { opened: o, from, forward, n: n.max(1) })));
                }
                let found = o.source.step(&from, forward, n.max(1)).map_err(|e| format!("{e:#}"));
                self.on_step(forward, found, s);
                Outcome::none()
            }
            Event::Command(..) => Outcome::Ignored,
            Event::Refresh => {
                if self.opened.is_none() && self.state.is_none() {
                    let Some(config) = s.config.clone().filter(|c| c.variants.is_some()) else { return Outcome::none() };
                    self.state = Some("variants loading…".into());
                    s.variant_row = Some(VariantRow::empty());
                    return Outcome::one(Job::Index(Box::new(OpenTask { config })));
                }
                Outcome::Done(self.view_jobs(s))
            }
            Event::Reply(ReplyKind::Event(e)) => match e {
                VariantsEvent::Opened(Ok(o), skipped) => {
                    self.state = None;
                    self.opened = Some(o);
                    if let Some(sk) = skipped {
                        s.status = sk;
                    }
                    Outcome::Done(self.view_jobs(s))
                }
                VariantsEvent::Opened(Err(e), _) => {
                    s.status = e.clone();
                    self.state = Some(e);
                    s.variant_row = None;
                    Outcome::none()
                }
                VariantsEvent::InView { generation, view } => {
                    if generation != s.generation || view.as_ref().is_ok_and(|v| v.locus != s.locus) {
                        return Outcome::none();
                    }
                    Outcome::Done(self.on_view(view, s))
                }
                VariantsEvent::Stepped { forward, found } => {
                    self.on_step(forward, found, s);
                    Outcome::none()
                }
                VariantsEvent::Scored { model, keys, effects } => {
                    match effects {
                        Ok(e) => {
                            for (k, key) in keys.into_iter().enumerate() {
                                let r = e.ref_pred.get(k).cloned().unwrap_or_default();
                                let a = e.alt_pred.get(k).cloned().unwrap_or_default();
                                self.scores.insert((model, key), (r, a));
                            }
                            if let Some((_, first)) = e.errors.first() {
                                s.status = format!("{} variant(s) could not be scored: {first}", e.errors.len());
                            }
                        }
                        Err(e) => {
                            // not asked again for this view: the reason stays on the status line
                            for key in keys {
                                self.scores.insert((model, key), (vec![], vec![]));
                            }
                            s.status = e;
                        }
                    }
                    self.update_row(s);
                    Outcome::none()
                }
            },
            Event::Reply(ReplyKind::Failed(e)) => {
                s.status = e;
                Outcome::none()
            }
            Event::Reply(ReplyKind::Progress { .. } | ReplyKind::Finished { .. }) => Outcome::none(),
        }
    }

    fn draw(&self, area: Rect, buf: &mut Buffer, s: &Shared) {
        let dim = Style::default().fg(Color::Indexed(244));
        let bold = Style::default().add_modifier(Modifier::BOLD);
        let w = area.width as usize;
        let bottom = area.y + area.height;
        let Some((v, ann)) = &self.selected else {
            let msg = match (&self.opened, &self.state) {
                (Some(o), _) => format!(
                    "─ variants · {} · {} in view · v/V: next/previous variant",
                    o.source.path().display(),
                    self.view.as_ref().map(|v| v.counts.iter().map(|c| c.unwrap_or(0) as u64).sum::<u64>()).unwrap_or(0)
                ),
                (None, Some(st)) => format!("─ variants · {st}"),
                (None, None) => "─ variants · no [variants] in this project".into(),
            };
            buf.set_stringn(area.x, area.y, msg, w, bold);
            return;
        };
        let title = format!(
            "─ variant {}:{} {}>{}{} · {} · cluster {} · {} · specificity {} · v/V next/prev",
            v.chrom,
            crate::genome::locus::group_thousands(v.pos),
            String::from_utf8_lossy(&v.ref_allele),
            String::from_utf8_lossy(&v.alt),
            if v.id != "." { format!(" {}", v.id) } else { String::new() },
            ann.peak.as_deref().map(|p| format!("peak {p}")).unwrap_or_else(|| "outside peaks".into()),
            ann.cluster.as_deref().unwrap_or("-"),
            ann.stratum.as_deref().unwrap_or("-"),
            ann.specificity.map(|x| x.to_string()).unwrap_or_else(|| "-".into()),
        );
        buf.set_stringn(area.x, area.y, title, w, bold);
        if area.height < 3 {
            return;
        }
        let models: Vec<usize> = std::iter::once(s.models.active).chain(s.models.compare).filter(|&m| m < s.models.names.len()).collect();
        let cw = 9usize;
        let mut header = format!("{:<14}", "cell type");
        for &m in &models {
            header += &format!("│{:<w$}", truncate(&s.models.names[m], 4 * cw - 1), w = 4 * cw);
        }
        header += "│ measured";
        buf.set_stringn(area.x, area.y + 1, header, w, dim);
        let mut sub = format!("{:<14}", "");
        for _ in &models {
            sub += &format!("│{:>cw$}{:>cw$}{:>cw$}{:>cw$}", "ref", "alt", "sad", "log2fc");
        }
        sub += "│ alt/(ref+alt)  depth";
        if area.height > 3 {
            buf.set_stringn(area.x, area.y + 2, sub, w, dim);
        }
        let num = |x: f64| if x.is_finite() { format!("{x:.3}") } else { "-".into() };
        for (t, name) in s.tracks.iter().enumerate() {
            let y = area.y + 3 + t as u16;
            if y >= bottom {
                break;
            }
            let mut line = format!("{:<14}", truncate(name, 13));
            let mut strongest = 0.0f64;
            for &m in &models {
                match self.score(m, v).map(|(r, a)| (r.get(t).copied().unwrap_or(f64::NAN), a.get(t).copied().unwrap_or(f64::NAN))) {
                    Some((r, a)) => {
                        let (sad, lfc) = effect(r, a);
                        if m == s.models.active && lfc.is_finite() {
                            strongest = lfc.abs();
                        }
                        line += &format!("│{:>cw$}{:>cw$}{:>cw$}{:>cw$}", num(r), num(a), num(sad), num(lfc));
                    }
                    None => line += &format!("│{:>w$}", if s.models.ready { "scoring…" } else { "models loading" }, w = 4 * cw),
                }
            }
            match v.counts.get(t).copied().flatten() {
                Some((r, a)) if r + a > 0 => line += &format!("│ {:>13.3}{:>7}", a as f64 / (r + a) as f64, r + a),
                Some((r, a)) => line += &format!("│ {:>13}{:>7}", "-", r + a),
                None => line += "│ -",
            }
            let st = if self.score(s.models.active, v).is_some() { Style::default().fg(effect_color(Some(strongest))) } else { Style::default() };
            buf.set_stringn(area.x, y, line, w, st);
        }
    }
}
