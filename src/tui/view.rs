//! Drawing the App: the header and status line are the App's; the main view and the open
//! panel are drawn by their components. Any terminal size draws: below the smallest
//! usable size a "too small" line is shown instead.
use super::app::{App, Mode};
use crate::genome::locus::group_thousands;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

/// Label column width of the track panel.
pub const LABEL_W: u16 = 12;
/// The smallest terminal the layout draws in; smaller ones get a placeholder.
pub const MIN_W: u16 = LABEL_W + 18;
pub const MIN_H: u16 = 6;

/// Block characters for levels 0 (nothing) to 8 (full).
pub(crate) const LEVEL_CHARS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const PALETTE: [u8; 8] = [39, 208, 41, 199, 226, 51, 135, 160];

pub(crate) fn track_color(t: usize) -> Color {
    Color::Indexed(PALETTE[t % PALETTE.len()])
}

fn human_width(w: u64) -> String {
    match w {
        w if w >= 1_000_000 => format!("{:.2} Mb", w as f64 / 1e6),
        w if w >= 1_000 => format!("{:.1} kb", w as f64 / 1e3),
        w => format!("{w} bp"),
    }
}

/// The block character for `v` on a 0..`max` scale.
pub(crate) fn level(v: f64, max: f64) -> char {
    // NaN (no data) and non-positive values draw nothing
    if v.is_nan() || max.is_nan() || v <= 0.0 || max <= 0.0 {
        return ' ';
    }
    LEVEL_CHARS[((v / max * 8.0).ceil() as usize).clamp(1, 8)]
}

pub(crate) fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n.saturating_sub(1)).collect::<String>() + "…"
    }
}

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.width < MIN_W || area.height < MIN_H {
            let msg = format!("terminal too small ({}×{}); peakscope needs {MIN_W}×{MIN_H}", area.width, area.height);
            if area.height > 0 && area.width > 0 {
                buf.set_stringn(area.x, area.y, msg, area.width as usize, Style::default().fg(Color::Indexed(252)));
            }
            return;
        }
        let s = &self.shared;
        // tracks on top; the open panel below when there is room
        let open = s.panel.and_then(|p| self.components().find(|c| c.name() == p));
        let panel_h = if open.is_some() && area.height >= 18 { (area.height * 2 / 5).max(9) } else { 0 };
        let top_h = area.height - panel_h;
        self.render_header(Rect::new(area.x, area.y, area.width, 1), buf);
        if let Some(main) = self.components().find(|c| !c.is_panel()) {
            main.draw(Rect::new(area.x, area.y + 1, area.width, top_h - 2), buf, s);
        }
        self.render_status(Rect::new(area.x, area.y + top_h - 1, area.width, 1), buf);
        if let Some(p) = open.filter(|_| panel_h > 0) {
            p.draw(Rect::new(area.x, area.y + top_h, area.width, panel_h), buf, s);
        }
        if self.mode == Mode::Help {
            self.render_help(area, buf);
        }
    }
}

impl App {
    fn render_header(&self, area: Rect, buf: &mut Buffer) {
        let s = &self.shared;
        let model = s
            .models
            .names
            .get(s.models.active)
            .map(|m| format!("model {m}{}", if s.models.ready { "" } else { " (loading)" }))
            .unwrap_or_else(|| "no models".into());
        let jobs = self.jobs_line();
        let compare = s.models.compare.and_then(|c| s.models.names.get(c)).map(|c| format!(" vs {c}")).unwrap_or_default();
        let tracks = self.component::<super::components::tracks::Tracks>();
        let scale = tracks.scale;
        // the locus on screen: until the new one's data arrive, the old one, and where to
        let place = match tracks.shown_locus() {
            Some(l) if *l == s.locus => format!("{} ({})", l.display(), human_width(l.len())),
            Some(l) => format!("{} ({}) → loading {} ({})", l.display(), human_width(l.len()), s.locus.display(), human_width(s.locus.len())),
            None => format!("{} ({}) loading", s.locus.display(), human_width(s.locus.len())),
        };
        let header = format!(
            " peakscope │ {} │ {}{} {} │ scale {}{}",
            place,
            model,
            compare,
            if s.models.device_label.is_empty() { String::new() } else { format!("on {}", s.models.device_label) },
            scale.label(),
            if jobs.is_empty() { String::new() } else { format!(" │ {jobs}") }
        );
        buf.set_stringn(area.x, area.y, &header, area.width as usize, Style::default().add_modifier(Modifier::BOLD));
    }

    /// The status line, or the prompt while typing (its end stays in sight).
    fn render_status(&self, area: Rect, buf: &mut Buffer) {
        let s = &self.shared;
        let w = area.width as usize;
        let line = match &self.mode {
            Mode::Prompt { search, text } => {
                let shown: String = {
                    let n = text.chars().count();
                    let room = w.saturating_sub(2);
                    if n > room {
                        text.chars().skip(n - room).collect()
                    } else {
                        text.clone()
                    }
                };
                format!("{}{shown}▏", if *search { "/" } else { ":" })
            }
            _ => format!(
                "{}{}  │ {}-{}",
                self.count.map(|c| format!("{c} ")).unwrap_or_default(),
                s.status,
                group_thousands(s.locus.start + 1),
                group_thousands(s.locus.end)
            ),
        };
        buf.set_stringn(area.x, area.y, &line, w, Style::default().fg(Color::Indexed(252)));
    }

    /// The key help, generated from the keymap (which comes from the command table).
    fn render_help(&self, area: Rect, buf: &mut Buffer) {
        let lines: Vec<String> =
            self.keymap.help_lines().into_iter().map(|l| format!("{:>12} {} {}", l.keys, if l.count { "N" } else { " " }, l.describe)).collect();
        let w = area.width;
        let hw = (lines.iter().map(|l| l.chars().count()).max().unwrap_or(20) as u16 + 4).min(w);
        let hh = (lines.len() as u16 + 2).min(area.height);
        let r = Rect::new(area.x + (w.saturating_sub(hw)) / 2, area.y + (area.height.saturating_sub(hh)) / 2, hw, hh);
        Clear.render(r, buf);
        Paragraph::new(lines.join("\n"))
            .block(Block::default().borders(Borders::ALL).title(" keys (N: takes a count, e.g. 10l · any key closes) "))
            .render(r, buf);
    }
}
