//! Drawing: widgets only read the app state (`impl Widget for &App`).
use super::app::{App, Mode, Panel, Scale, LABEL_W};
use crate::genome::locus::group_thousands;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

const LEVELS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const PALETTE: [u8; 8] = [39, 208, 41, 199, 226, 51, 135, 160];

fn track_color(t: usize) -> Color {
    Color::Indexed(PALETTE[t % PALETTE.len()])
}

fn human_width(w: u64) -> String {
    match w {
        w if w >= 1_000_000 => format!("{:.2} Mb", w as f64 / 1e6),
        w if w >= 1_000 => format!("{:.1} kb", w as f64 / 1e3),
        w => format!("{w} bp"),
    }
}

fn level(v: f64, max: f64) -> char {
    // NaN (no data) and non-positive values draw nothing
    if v.is_nan() || max.is_nan() || v <= 0.0 || max <= 0.0 {
        return ' ';
    }
    LEVELS[((v / max * 8.0).ceil() as usize).clamp(1, 8)]
}

impl App {
    fn col_of(&self, pos: u64) -> usize {
        let w = self.locus.len().max(1);
        (((pos.saturating_sub(self.locus.start)) as u128 * self.cols as u128) / w as u128) as usize
    }

    fn transform(&self, v: f64) -> f64 {
        if self.scale == Scale::Log {
            (v.max(0.0) + 1.0).log2()
        } else {
            v
        }
    }

    /// Per-track column means of the measured data (transformed for the scale mode).
    fn measured_columns(&self) -> Vec<Vec<f64>> {
        match &self.data {
            Some((_, tracks)) => tracks
                .iter()
                .map(|t| match t {
                    Some(bins) => bins.iter().map(|b| self.transform(b.mean().unwrap_or(0.0))).collect(),
                    None => vec![0.0; self.cols],
                })
                .collect(),
            None => vec![],
        }
    }
}

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        // tracks on top; the ISM or metrics panel below when open and there is room
        let panel_h = if self.panel != Panel::None && area.height >= 18 { (area.height * 2 / 5).max(9) } else { 0 };
        let top = Rect::new(area.x, area.y, area.width, area.height - panel_h);
        self.render_tracks(top, buf);
        if panel_h > 0 {
            let r = Rect::new(area.x, area.y + top.height, area.width, panel_h);
            match self.panel {
                Panel::Ism => self.render_ism(r, buf),
                Panel::Metrics => self.render_metrics(r, buf),
                Panel::Peaks => self.render_peaks(r, buf),
                Panel::None => {}
            }
        }
        if self.mode == Mode::Help {
            let lines: Vec<String> = self.keymap.help().into_iter().map(|(k, d)| format!("{k:>12}  {d}")).collect();
            let w = area.width;
            let hw = (lines.iter().map(|l| l.chars().count()).max().unwrap_or(20) as u16 + 4).min(w);
            let hh = (lines.len() as u16 + 2).min(area.height);
            let r = Rect::new(area.x + (w.saturating_sub(hw)) / 2, area.y + (area.height.saturating_sub(hh)) / 2, hw, hh);
            Clear.render(r, buf);
            Paragraph::new(lines.join("\n")).block(Block::default().borders(Borders::ALL).title(" keys (any key closes) ")).render(r, buf);
        }
    }
}

impl App {
    fn render_tracks(&self, area: Rect, buf: &mut Buffer) {
        let dim = Style::default().fg(Color::Indexed(244));
        let bold = Style::default().add_modifier(Modifier::BOLD);
        let w = area.width;
        let x0 = area.x + LABEL_W;
        let mut y = area.y;
        // header
        let model = self
            .models
            .get(self.model)
            .map(|m| format!("model {m}{}", if self.models_ready { "" } else { " (loading)" }))
            .unwrap_or_else(|| "no models".into());
        let jobs = self.jobs_line();
        let compare = self.compare.and_then(|c| self.models.get(c)).map(|c| format!(" vs {c}")).unwrap_or_default();
        let header = format!(
            " peakscope │ {} ({}) │ {}{} {} │ scale {:?}{}",
            self.locus.display(),
            human_width(self.locus.len()),
            model,
            compare,
            if self.device.is_empty() { String::new() } else { format!("on {}", self.device) },
            self.scale,
            if jobs.is_empty() { String::new() } else { format!(" │ {jobs}") }
        );
        buf.set_stringn(area.x, y, &header, w as usize, bold);
        y += 1;
        // chromosome position bar
        let len = self.chrom_len().max(1);
        let cols = self.cols.min(w.saturating_sub(LABEL_W) as usize);
        buf.set_stringn(area.x, y, format!("{:<width$}", self.locus.chrom, width = LABEL_W as usize), w as usize, dim);
        let (a, b) = ((self.locus.start as u128 * cols as u128 / len as u128) as usize, (self.locus.end as u128 * cols as u128 / len as u128) as usize);
        for c in 0..cols {
            let ch = if c >= a && c <= b.max(a) { '█' } else { '─' };
            buf.set_string(x0 + c as u16, y, ch.to_string(), if ch == '█' { Style::default().fg(Color::Indexed(250)) } else { dim });
        }
        y += 1;
        let bottom = area.y + area.height.saturating_sub(3); // peaks, genes, status
                                                             // tracks: a measured row and, with predictions, a predicted row
        let meas = self.measured_columns();
        let group_max = meas.iter().flatten().cloned().fold(0.0, f64::max);
        let in_view = self.peaks.overlapping(&self.locus.chrom, self.locus.start, self.locus.end);
        let pred_in =
            |m: usize, p: usize, t: usize| self.preds.get(&(m, p)).and_then(|v| v.get(t)).map(|&x| self.transform(x as f64)).filter(|x| x.is_finite());
        let shown: Vec<usize> = std::iter::once(self.model).chain(self.compare).collect();
        let pred_max =
            shown.iter().flat_map(|&m| in_view.iter().flat_map(move |&p| (0..self.tracks.len()).filter_map(move |t| pred_in(m, p, t)))).fold(0.0, f64::max);
        for (t, name) in self.tracks.iter().enumerate() {
            if y >= bottom {
                break;
            }
            if self.is_hidden(t) {
                continue;
            }
            let style = Style::default().fg(track_color(t));
            buf.set_stringn(area.x, y, format!("{name:<width$}", width = LABEL_W as usize - 1), LABEL_W as usize - 1, style);
            if let Some(row) = meas.get(t) {
                let max = if self.scale == Scale::PerTrack { row.iter().cloned().fold(0.0, f64::max) } else { group_max };
                for (c, v) in row.iter().take(cols).enumerate() {
                    buf.set_string(x0 + c as u16, y, level(*v, max).to_string(), style);
                }
            } else {
                buf.set_string(x0, y, "…", dim);
            }
            y += 1;
            for (k, &m) in shown.iter().enumerate() {
                if self.models.is_empty() || y >= bottom {
                    break;
                }
                let label = if k == 0 { "  pred".to_string() } else { format!("  vs {}", self.models[m]) };
                buf.set_stringn(area.x, y, &label, LABEL_W as usize - 1, dim);
                let row_max = if self.scale == Scale::PerTrack { in_view.iter().filter_map(|&p| pred_in(m, p, t)).fold(0.0, f64::max) } else { pred_max };
                let st = if k == 0 { style.add_modifier(Modifier::DIM) } else { Style::default().fg(Color::Indexed(250)) };
                for &p in &in_view {
                    let Some(v) = pred_in(m, p, t) else { continue };
                    let pk = self.peaks.get(p).unwrap();
                    let (c1, c2) = (self.col_of(pk.start), self.col_of(pk.end).max(self.col_of(pk.start) + 1));
                    for c in c1..c2.min(cols) {
                        buf.set_string(x0 + c as u16, y, level(v, row_max).to_string(), st);
                    }
                }
                y += 1;
            }
        }
        // peaks
        let py = bottom;
        buf.set_stringn(area.x, py, "peaks", LABEL_W as usize, dim);
        for &p in &in_view {
            let pk = self.peaks.get(p).unwrap();
            let color = if self.is_ubiquitous(pk.label.as_deref()) { Color::Indexed(41) } else { Color::Indexed(170) };
            let mut st = Style::default().fg(color);
            if self.selected == Some(p) {
                st = st.fg(Color::Indexed(226)).add_modifier(Modifier::BOLD | Modifier::REVERSED);
            }
            let (c1, c2) = (self.col_of(pk.start), self.col_of(pk.end).max(self.col_of(pk.start) + 1));
            for c in c1..c2.min(cols) {
                buf.set_string(x0 + c as u16, py, "▬", st);
            }
        }
        // genes
        let gy = py + 1;
        buf.set_stringn(area.x, gy, "genes", LABEL_W as usize, dim);
        if let Some(genes) = &self.genes {
            for g in genes.overlapping(&self.locus) {
                let (c1, c2) = (
                    self.col_of(g.locus.start.max(self.locus.start)),
                    self.col_of(g.locus.end.min(self.locus.end)).max(self.col_of(g.locus.start.max(self.locus.start)) + 1),
                );
                let arrow = if g.strand == Some('-') { "<" } else { ">" };
                for c in c1..c2.min(cols) {
                    buf.set_string(x0 + c as u16, gy, if c % 4 == 0 { arrow } else { "─" }, Style::default().fg(Color::Indexed(110)));
                }
                if c1 < cols {
                    buf.set_stringn(x0 + c1 as u16, gy, &g.name, cols - c1, Style::default().fg(Color::Indexed(110)).add_modifier(Modifier::BOLD));
                }
            }
        }
        // status / prompt
        let sy = gy + 1;
        let line = match &self.mode {
            Mode::Prompt { search, text } => format!("{}{text}▏", if *search { "/" } else { ":" }),
            _ => format!(
                "{}{}  │ {}-{}",
                self.count.map(|c| format!("{c} ")).unwrap_or_default(),
                self.status,
                group_thousands(self.locus.start + 1),
                group_thousands(self.locus.end)
            ),
        };
        buf.set_stringn(area.x, sy, &line, w as usize, Style::default().fg(Color::Indexed(252)));
    }

    fn render_ism(&self, area: Rect, buf: &mut Buffer) {
        let dim = Style::default().fg(Color::Indexed(244));
        let w = area.width as usize;
        let t = self.ism_track.min(self.tracks.len().saturating_sub(1));
        let Some(v) = &self.ism else {
            buf.set_stringn(area.x, area.y, "─ ISM ─ select a peak (n/N/enter) and press i", w, dim);
            return;
        };
        let name = self.peaks.get(v.peak).map(|p| p.display_name()).unwrap_or_default();
        let motif = v.motifs.get(t).cloned().flatten().map(|m| format!(" · hot spot motif {m}")).unwrap_or_default();
        let title = format!(
            "─ ISM {name} · {} · cell type {} (c) · {}/{} mutants{}{motif}",
            self.models.get(v.model).cloned().unwrap_or_default(),
            self.tracks.get(t).cloned().unwrap_or_default(),
            v.done,
            v.mutants.len(),
            if v.finished { "" } else { " …" }
        );
        buf.set_stringn(area.x, area.y, &title, w, Style::default().add_modifier(Modifier::BOLD));
        let n = v.seq.len();
        let cols = w.saturating_sub(LABEL_W as usize).max(1);
        let per_col = n.div_ceil(cols).max(1);
        let ncols = n.div_ceil(per_col);
        // strongest |delta| per column and base, signed
        let cell = |c: usize, base: usize| -> Option<f32> {
            (c * per_col..((c + 1) * per_col).min(n)).filter_map(|p| v.delta(p, base, t)).max_by(|a, b| a.abs().total_cmp(&b.abs()))
        };
        let max = (0..ncols).flat_map(|c| (0..4).filter_map(move |b| cell(c, b))).fold(0f32, |m, x| m.max(x.abs()));
        let reds = [52u8, 88, 124, 160, 196];
        let blues = [17u8, 18, 19, 20, 21];
        for (bi, base) in ['A', 'C', 'G', 'T'].iter().enumerate() {
            let y = area.y + 1 + bi as u16;
            if y >= area.y + area.height {
                break;
            }
            buf.set_stringn(area.x, y, format!("  {base} → ",), LABEL_W as usize, dim);
            for c in 0..ncols.min(cols) {
                let x = area.x + LABEL_W + c as u16;
                let is_ref = per_col == 1 && v.seq.get(c).is_some_and(|&r| r.to_ascii_uppercase() == *base as u8);
                let (sym, style) = match cell(c, bi) {
                    Some(d) if max > 0.0 => {
                        let k = ((d.abs() / max) * 4.999) as usize;
                        let bg = if d < 0.0 { reds[k.min(4)] } else { blues[k.min(4)] };
                        (" ", Style::default().bg(Color::Indexed(bg)))
                    }
                    _ if is_ref => ("·", dim),
                    _ => (" ", Style::default()),
                };
                buf.set_string(x, y, sym, style);
            }
        }
        // importance: attribution at the reference base (deltas mean-centred over bases)
        let y = area.y + 5;
        if y < area.y + area.height {
            buf.set_stringn(area.x, y, "  importance", LABEL_W as usize, dim);
            let attr = |p: usize| -> f32 {
                let r = crate::genome::onehot::base_index(v.seq[p]);
                match r {
                    Some(_) => -(0..4).filter_map(|b| v.delta(p, b, t)).sum::<f32>() / 4.0,
                    None => 0.0,
                }
            };
            let vals: Vec<f32> =
                (0..ncols).map(|c| (c * per_col..((c + 1) * per_col).min(n)).map(attr).max_by(|a, b| a.abs().total_cmp(&b.abs())).unwrap_or(0.0)).collect();
            let amax = vals.iter().fold(0f32, |m, x| m.max(x.abs()));
            for (c, a) in vals.iter().enumerate().take(cols) {
                let ch = level(a.abs() as f64, amax as f64);
                let color = if *a < 0.0 { Color::Indexed(196) } else { Color::Indexed(39) };
                buf.set_string(area.x + LABEL_W + c as u16, y, ch.to_string(), Style::default().fg(color));
            }
        }
        let y = area.y + 6;
        if y < area.y + area.height && per_col == 1 {
            buf.set_stringn(area.x, y, "  reference", LABEL_W as usize, dim);
            buf.set_stringn(area.x + LABEL_W, y, String::from_utf8_lossy(&v.seq[..n.min(cols)]), cols, dim);
        }
        let y = area.y + 7;
        if y < area.y + area.height {
            buf.set_stringn(
                area.x,
                y,
                format!(
                    "  {} bp from {}, {} bp per column; blue: mutation raises the prediction, red: lowers it",
                    n,
                    group_thousands((v.region_start + 1).max(0) as u64),
                    per_col
                ),
                w,
                dim,
            );
        }
    }

    fn render_metrics(&self, area: Rect, buf: &mut Buffer) {
        let dim = Style::default().fg(Color::Indexed(244));
        let w = area.width as usize;
        let e = &self.eval;
        let state = if e.running {
            "running (e stops)"
        } else if e.snapshot.is_some() {
            "done"
        } else {
            "press e to evaluate"
        };
        let pct = if e.total > 0 { 100.0 * e.done as f64 / e.total as f64 } else { 0.0 };
        buf.set_stringn(
            area.x,
            area.y,
            format!("─ metrics · {state} · {}/{} peaks ({pct:.0}%) · mean Pearson of log2(x+1) over cell types", e.done, e.total),
            w,
            Style::default().add_modifier(Modifier::BOLD),
        );
        let Some(snap) = &e.snapshot else { return };
        let models: Vec<&String> = snap.models.keys().collect();
        let colw = 13usize;
        let mut header = format!("{:<24}{:>7}", "stratum", "n");
        for m in &models {
            header += &format!("{:>w$}", truncate(m, colw - 1), w = colw);
        }
        header += &format!("{:>11}{:>9}{:>9}{:>9}", "overcorr*", "auroc*", "auprc*", "cv*");
        buf.set_stringn(area.x, area.y + 1, &header, w, dim);
        let active = self.models.get(self.model);
        let strata: Vec<&String> =
            if e.strata.is_empty() { snap.models.values().next().map(|m| m.summary.keys().collect()).unwrap_or_default() } else { e.strata.iter().collect() };
        let mut y = area.y + 2;
        for st in strata {
            if y >= area.y + area.height {
                break;
            }
            let n = snap.models.values().next().and_then(|m| m.summary.get(st)).map(|s| s.n).unwrap_or(0);
            if n == 0 {
                continue;
            }
            let mut line = format!("{:<24}{:>7}", truncate(st, 23), n);
            for m in &models {
                let p = snap.models[*m].summary.get(st).map(|s| s.mean_pearson).unwrap_or(f64::NAN);
                line += &format!("{:>w$}", crate::eval::report::fmt3(p), w = colw);
            }
            let am = active.and_then(|a| snap.models.get(a));
            let summ = am.and_then(|m| m.summary.get(st));
            let oc = summ.map(|s| s.overcorrelation).unwrap_or(f64::NAN);
            let roc = summ.and_then(|s| s.mean_auroc).map(crate::eval::report::fmt3).unwrap_or_else(|| "-".into());
            let prc = summ.and_then(|s| s.mean_auprc).map(crate::eval::report::fmt3).unwrap_or_else(|| "-".into());
            let cv = am
                .and_then(|m| m.group.as_ref())
                .and_then(|g| snap.replicates.get(g))
                .and_then(|r| r.strata.get(st))
                .map(|r| crate::eval::report::fmt3(r.median_cv))
                .unwrap_or_else(|| "-".into());
            line += &format!("{:>11}{:>9}{:>9}{:>9}", crate::eval::report::fmt3(oc), roc, prc, cv);
            buf.set_stringn(area.x, y, &line, w, Style::default());
            y += 1;
        }
        if y < area.y + area.height {
            buf.set_stringn(
                area.x,
                y,
                format!(
                    "  * active model ({}): over-correlation, AUROC/AUPRC (at the end of the run), median CV across its replicate group",
                    active.cloned().unwrap_or_default()
                ),
                w,
                dim,
            );
        }
        // per cell type, for the active model: Pearson at ubiquitous vs specific peaks, as bars
        let table_w = 24 + 7 + models.len() * colw + 38;
        if let Some(m) = active.and_then(|a| snap.models.get(a)) {
            if w > table_w + 34 {
                let x = area.x + table_w as u16 + 2;
                let bw = 10usize;
                buf.set_stringn(x, area.y + 1, format!("{:<12}{:<w$} {:<w$}", "cell type", "ubiquitous", "specific", w = bw + 6), w - table_w - 2, dim);
                for (k, (track, per)) in m.targets.iter().enumerate() {
                    let yy = area.y + 2 + k as u16;
                    if yy >= area.y + area.height {
                        break;
                    }
                    let bar = |st: &str| -> String {
                        let r = per.get(st).map(|t| t.pearson).unwrap_or(f64::NAN);
                        let n = if r.is_finite() { (r.max(0.0) * bw as f64).round() as usize } else { 0 };
                        format!("{:<bw$}{:>6}", "█".repeat(n.min(bw)), crate::eval::report::fmt3(r), bw = bw)
                    };
                    buf.set_stringn(x, yy, format!("{:<12}{} {}", truncate(track, 11), bar("ubiquitous"), bar("specific")), w - table_w - 2, Style::default());
                }
            }
        }
    }
}

impl App {
    fn render_peaks(&self, area: Rect, buf: &mut Buffer) {
        let dim = Style::default().fg(Color::Indexed(244));
        let w = area.width as usize;
        let rows = self.list_rows();
        let track = self.tracks.get(self.ism_track).cloned().unwrap_or_default();
        let scope = if self.list.in_cluster { "selected peak's cluster" } else { "in view" };
        buf.set_stringn(
            area.x,
            area.y,
            format!(
                "─ peaks {scope} ({}) · sorted by {} (r) · {track} (c) · ↑↓ move, enter jumps, f scope",
                rows.len(),
                format!("{:?}", self.list.sort).to_lowercase()
            ),
            w,
            Style::default().add_modifier(Modifier::BOLD),
        );
        buf.set_stringn(
            area.x,
            area.y + 1,
            format!("  {:<14}{:<26}{:<22}{:>5}{:>11}{:>11}{:>8}", "name", "locus", "cluster", "spec", "measured", "predicted", "error"),
            w,
            dim,
        );
        let visible = area.height.saturating_sub(2) as usize;
        let first = self.list.cursor.saturating_sub(visible.saturating_sub(1));
        for (k, &i) in rows.iter().enumerate().skip(first).take(visible) {
            let p = self.peaks.get(i).unwrap();
            let (m, pr) = self.list_values(i);
            let err = match (m, pr) {
                (Some(m), Some(p)) => format!("{:+.2}", (p + 1.0).log2() - (m + 1.0).log2()),
                _ => "…".into(),
            };
            let f = |x: Option<f64>| x.map(|v| format!("{v:.1}")).unwrap_or_else(|| "…".into());
            let line = format!(
                "{}{:<14}{:<26}{:<22}{:>5}{:>11}{:>11}{:>8}",
                if k == self.list.cursor { "▶ " } else { "  " },
                truncate(&p.display_name(), 13),
                p.locus().display(),
                truncate(p.label.as_deref().unwrap_or("-"), 21),
                self.specificity.get(i).copied().flatten().map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                f(m),
                f(pr),
                err
            );
            let mut st = Style::default();
            if k == self.list.cursor {
                st = st.add_modifier(Modifier::REVERSED);
            }
            if self.selected == Some(i) {
                st = st.fg(Color::Indexed(226));
            }
            buf.set_stringn(area.x, area.y + 2 + (k - first) as u16, &line, w, st);
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n.saturating_sub(1)).collect::<String>() + "…"
    }
}
