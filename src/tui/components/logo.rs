//! The ISM panel's base-resolution view: the reference bases of the peak as letters whose
//! intensity and case follow their attribution (gradient × input of each cell type's
//! predicted height), one row per cell type, the active model's rows above the compared
//! model's, with the JASPAR motif hits of the sequence labelled under the letters. `[` and
//! `]` pan within the peak.
use crate::genome::Locus;
use crate::jobs::remote::ModelClient;
use crate::jobs::view::{GenomicHit, HIT_THRESHOLD};
use crate::tui::shared::Shared;
use crate::tui::view::LABEL_W;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};

/// Attributions of one peak for the active (and compared) model.
#[derive(Debug, Clone, PartialEq)]
pub struct LogoView {
    pub peak: usize,
    /// genomic 0-based start of the region
    pub region_start: i64,
    pub seq: Vec<u8>,
    /// (model, per track per base attribution; NaN rows: no output for that track)
    pub models: Vec<(usize, Vec<Vec<f32>>)>,
    /// JASPAR hits in the region
    pub hits: Vec<GenomicHit>,
}

/// Compute a [`LogoView`]: gradient × input for each model over the same region.
pub struct LogoTask {
    pub peak: usize,
    pub models: Vec<usize>,
    pub locus: Locus,
}

impl LogoTask {
    pub fn compute(&self, env: &mut ModelClient, cancelled: impl Fn() -> bool) -> Result<Option<LogoView>, String> {
        let mut view: Option<LogoView> = None;
        for &m in &self.models {
            if cancelled() {
                return Ok(None);
            }
            let len = view.as_ref().map(|v| v.seq.len() as u64);
            let (attr, hits) = env.region_attr(m, &self.locus, len).map_err(|e| format!("attributions ({}): {e:#}", m))?;
            match &mut view {
                None => view = Some(LogoView { peak: self.peak, region_start: attr.region_start, seq: attr.seq, models: vec![(m, attr.attr)], hits }),
                Some(v) if v.region_start == attr.region_start && v.seq.len() == attr.seq.len() => v.models.push((m, attr.attr)),
                Some(_) => return Err("the compared model's region does not line up with the active model's".into()),
            }
        }
        Ok(view)
    }
}

/// Letter style for attribution `a` of a row whose largest |attribution| is `max`: blue
/// raises the prediction, red lowers it; five intensity steps; upper case at ≥ 50 % of the
/// max, lower case below, `·` under 10 %.
pub fn letter(base: u8, a: f32, max: f32) -> (char, Style) {
    let b = base.to_ascii_uppercase() as char;
    if !a.is_finite() || max <= 0.0 {
        return (b.to_ascii_lowercase(), Style::default().fg(Color::Indexed(240)));
    }
    let r = (a.abs() / max).min(1.0);
    if r < 0.1 {
        return ('·', Style::default().fg(Color::Indexed(240)));
    }
    let k = ((r - 0.1) / 0.9 * 4.999) as usize;
    let fg = if a < 0.0 { [52u8, 88, 124, 160, 196][k.min(4)] } else { [24u8, 31, 38, 45, 51][k.min(4)] };
    let ch = if r >= 0.5 { b } else { b.to_ascii_lowercase() };
    let mut st = Style::default().fg(Color::Indexed(fg));
    if r >= 0.75 {
        st = st.add_modifier(Modifier::BOLD);
    }
    (ch, st)
}

/// Draw the logo view of `v` from base `offset` of the region.
pub fn draw(v: &LogoView, offset: usize, area: Rect, buf: &mut Buffer, s: &Shared) {
    let dim = Style::default().fg(Color::Indexed(244));
    let w = area.width as usize;
    let bottom = area.y + area.height;
    let n = v.seq.len();
    let cols = w.saturating_sub(LABEL_W as usize);
    let off = offset.min(n.saturating_sub(cols));
    let end = (off + cols).min(n);
    let name = s.peaks.get(v.peak).map(|p| p.display_name()).unwrap_or_default();
    let title = format!(
        "─ logo {name} · gradient × input · bases {}–{} of {n} ([ ] pan, b heatmap) · {}",
        off + 1,
        end,
        v.models.iter().map(|(m, _)| s.models.names.get(*m).cloned().unwrap_or_default()).collect::<Vec<_>>().join(" over ")
    );
    buf.set_stringn(area.x, area.y, &title, w, Style::default().add_modifier(Modifier::BOLD));
    let mut y = area.y + 1;
    // model labels: what tells the models apart (after their common prefix)
    let names: Vec<String> = v.models.iter().map(|(m, _)| s.models.names.get(*m).cloned().unwrap_or_default()).collect();
    let common = if names.len() > 1 { names[0].chars().zip(names[1].chars()).take_while(|(a, b)| a == b).count() } else { 0 };
    for (k, (_, rows)) in v.models.iter().enumerate() {
        let max = rows.iter().flatten().filter(|x| x.is_finite()).fold(0f32, |a, x| a.max(x.abs()));
        let mname: String = names[k].chars().skip(common.min(names[k].chars().count().saturating_sub(4))).take(5).collect();
        for (t, row) in rows.iter().enumerate() {
            if y >= bottom {
                return;
            }
            let tn: String = s.tracks.get(t).map(|n| n.chars().take(LABEL_W as usize - 7).collect()).unwrap_or_default();
            let focus = t == s.focused_track;
            buf.set_stringn(
                area.x,
                y,
                format!("{mname:<5} {tn}"),
                LABEL_W as usize - 1,
                if focus { Style::default().add_modifier(Modifier::BOLD) } else { dim },
            );
            for (c, p) in (off..end).enumerate() {
                let (ch, st) = letter(v.seq[p], row.get(p).copied().unwrap_or(f32::NAN), max);
                buf.set_string(area.x + LABEL_W + c as u16, y, ch.to_string(), st);
            }
            y += 1;
        }
        // motif hits under the active model's letters: a bar over the site, the TF name at its start
        if k == 0 && y < bottom {
            buf.set_stringn(area.x, y, "  motifs", LABEL_W as usize, dim);
            let mut used = vec![false; cols];
            for h in &v.hits {
                let a = (h.start - v.region_start).max(0) as usize;
                let b = (h.end - v.region_start).max(0) as usize;
                if b <= off || a >= end {
                    continue;
                }
                let (ca, cb) = (a.max(off) - off, b.min(end) - off);
                if used[ca..cb].iter().any(|&u| u) {
                    continue;
                }
                let label = format!("{}{}", h.name, if h.reverse { "-" } else { "+" });
                let span = cb - ca;
                let text: String = if label.chars().count() <= span { format!("{label:─<span$}") } else { "─".repeat(span) };
                buf.set_stringn(area.x + LABEL_W + ca as u16, y, &text, span, Style::default().fg(Color::Indexed(214)));
                used[ca..cb].fill(true);
            }
            y += 1;
        }
    }
    if y < bottom {
        buf.set_stringn(
            area.x,
            y,
            format!(
                "  letters: blue raises, red lowers the cell type's prediction; BOLD/UPPER ≥ 50% of the model's largest |attribution|, lower < 50%, · < 10%; motifs: JASPAR 2024 hits ≥ {:.0}% of the best score",
                HIT_THRESHOLD * 100.0
            ),
            w,
            dim,
        );
    }
}
