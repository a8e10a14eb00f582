//! Drawing: widgets only read the app state (`impl Widget for &App`).
use super::app::{App, Mode, Scale, LABEL_W};
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
    if !(v > 0.0) || !(max > 0.0) {
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
        if self.scale == Scale::Log { (v.max(0.0) + 1.0).log2() } else { v }
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
        let dim = Style::default().fg(Color::Indexed(244));
        let bold = Style::default().add_modifier(Modifier::BOLD);
        let w = area.width;
        let x0 = area.x + LABEL_W;
        let mut y = area.y;
        // header
        let model = self.models.get(self.model).map(|m| format!("model {m}{}", if self.models_ready { "" } else { " (loading)" })).unwrap_or_else(|| "no models".into());
        let header = format!(
            " peakscope │ {} ({}) │ {} {} │ scale {:?}",
            self.locus.display(),
            human_width(self.locus.len()),
            model,
            if self.device.is_empty() { String::new() } else { format!("on {}", self.device) },
            self.scale
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
        let pred_of = |p: usize, t: usize| self.preds.get(&(self.model, p)).and_then(|v| v.get(t)).map(|&x| self.transform(x as f64));
        let pred_max = in_view.iter().flat_map(|&p| (0..self.tracks.len()).filter_map(move |t| pred_of(p, t))).fold(0.0, f64::max);
        for (t, name) in self.tracks.iter().enumerate() {
            if y >= bottom {
                break;
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
            if !self.models.is_empty() && y < bottom {
                buf.set_stringn(area.x, y, "  pred", LABEL_W as usize, dim);
                let row_max = if self.scale == Scale::PerTrack {
                    in_view.iter().filter_map(|&p| pred_of(p, t)).fold(0.0, f64::max)
                } else {
                    pred_max
                };
                for &p in &in_view {
                    let Some(v) = pred_of(p, t) else { continue };
                    let pk = self.peaks.get(p).unwrap();
                    let (c1, c2) = (self.col_of(pk.start), self.col_of(pk.end).max(self.col_of(pk.start) + 1));
                    for c in c1..c2.min(cols) {
                        buf.set_string(x0 + c as u16, y, level(v, row_max).to_string(), style.add_modifier(Modifier::DIM));
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
                let (c1, c2) = (self.col_of(g.locus.start.max(self.locus.start)), self.col_of(g.locus.end.min(self.locus.end)).max(self.col_of(g.locus.start.max(self.locus.start)) + 1));
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
        if self.mode == Mode::Help {
            let lines: Vec<String> = self.keymap.help().into_iter().map(|(k, d)| format!("{k:>12}  {d}")).collect();
            let hw = (lines.iter().map(|l| l.chars().count()).max().unwrap_or(20) as u16 + 4).min(w);
            let hh = (lines.len() as u16 + 2).min(area.height);
            let r = Rect::new(area.x + (w.saturating_sub(hw)) / 2, area.y + (area.height.saturating_sub(hh)) / 2, hw, hh);
            Clear.render(r, buf);
            Paragraph::new(lines.join("\n")).block(Block::default().borders(Borders::ALL).title(" keys (any key closes) ")).render(r, buf);
        }
    }
}
