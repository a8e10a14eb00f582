//! Exporting the current view (plain text or SVG) and sessions (TOML).
use super::app::{App, Panel, Scale};
use anyhow::{anyhow, Context, Result};
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Plain text of a rendered buffer, one line per row, trailing spaces trimmed.
pub fn to_text(buf: &Buffer) -> String {
    let a = buf.area;
    let mut out = String::new();
    for y in a.y..a.y + a.height {
        let line: String = (a.x..a.x + a.width).map(|x| buf[(x, y)].symbol().to_string()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// xterm-256 colour index to RGB.
fn rgb(c: Color) -> Option<(u8, u8, u8)> {
    let idx = |i: u8| -> (u8, u8, u8) {
        const BASE: [(u8, u8, u8); 16] = [
            (0, 0, 0),
            (205, 0, 0),
            (0, 205, 0),
            (205, 205, 0),
            (0, 0, 238),
            (205, 0, 205),
            (0, 205, 205),
            (229, 229, 229),
            (127, 127, 127),
            (255, 0, 0),
            (0, 255, 0),
            (255, 255, 0),
            (92, 92, 255),
            (255, 0, 255),
            (0, 255, 255),
            (255, 255, 255),
        ];
        match i {
            0..=15 => BASE[i as usize],
            16..=231 => {
                let v = i - 16;
                let s = |x: u8| if x == 0 { 0 } else { 55 + 40 * x };
                (s(v / 36), s((v / 6) % 6), s(v % 6))
            }
            _ => {
                let g = 8 + 10 * (i - 232);
                (g, g, g)
            }
        }
    };
    match c {
        Color::Reset => None,
        Color::Indexed(i) => Some(idx(i)),
        Color::Rgb(r, g, b) => Some((r, g, b)),
        Color::Black => Some(idx(0)),
        Color::Red => Some(idx(1)),
        Color::Green => Some(idx(2)),
        Color::Yellow => Some(idx(3)),
        Color::Blue => Some(idx(4)),
        Color::Magenta => Some(idx(5)),
        Color::Cyan => Some(idx(6)),
        Color::Gray => Some(idx(7)),
        Color::DarkGray => Some(idx(8)),
        Color::White => Some(idx(15)),
        _ => Some(idx(7)),
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// An SVG of a rendered buffer: one monospace text cell per terminal cell, with colours.
pub fn to_svg(buf: &Buffer) -> String {
    let a = buf.area;
    let (cw, ch) = (8.4, 17.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"DejaVu Sans Mono,monospace\" font-size=\"14\">\n<rect width=\"100%\" height=\"100%\" fill=\"#101010\"/>\n",
        a.width as f64 * cw,
        a.height as f64 * ch
    );
    for y in a.y..a.y + a.height {
        for x in a.x..a.x + a.width {
            let cell = &buf[(x, y)];
            let (px, py) = ((x - a.x) as f64 * cw, (y - a.y) as f64 * ch);
            if let Some((r, g, b)) = rgb(cell.bg) {
                s += &format!("<rect x=\"{px:.1}\" y=\"{py:.1}\" width=\"{cw}\" height=\"{ch}\" fill=\"rgb({r},{g},{b})\"/>\n");
            }
            let sym = cell.symbol();
            if sym.trim().is_empty() {
                continue;
            }
            let (r, g, b) = rgb(cell.fg).unwrap_or((220, 220, 220));
            s += &format!("<text x=\"{px:.1}\" y=\"{:.1}\" fill=\"rgb({r},{g},{b})\">{}</text>\n", py + ch * 0.8, esc(sym));
        }
    }
    s + "</svg>\n"
}

/// Render `app` at `w`×`h` as SVG (for a `.svg` path) or plain text (anything else).
pub fn render_view(app: &App, w: u16, h: u16, path: &Path) -> Result<String> {
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h))?;
    term.draw(|f| f.render_widget(app, f.area()))?;
    let buf = term.backend().buffer().clone();
    Ok(if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg")) { to_svg(&buf) } else { to_text(&buf) })
}

/// Write text atomically, naming the file in any error.
pub fn write_text(path: &Path, text: &str) -> Result<()> {
    crate::genome::textio::write_atomic(path, |wr| Ok(wr.write_all(text.as_bytes())?)).with_context(|| format!("writing {}", path.display()))
}

/// Render and write the view (used by tests and scripts; the UI writes on a thread).
pub fn export_view(app: &App, w: u16, h: u16, path: &Path) -> Result<()> {
    write_text(path, &render_view(app, w, h, path)?)
}

/// What `:w FILE` saves and `peakscope --session FILE` restores.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Session {
    pub config: String,
    pub locus: String,
    pub model: Option<String>,
    pub panel: String,
    pub scale: String,
    pub ism_track: Option<String>,
    pub selected_peak: Option<String>,
    /// cell types hidden from the track panel
    #[serde(default)]
    pub hidden: Vec<String>,
    /// comparison model, if any
    #[serde(default)]
    pub compare: Option<String>,
}

impl Session {
    pub fn of(app: &App, config: &Path) -> Session {
        Session {
            config: std::fs::canonicalize(config).unwrap_or_else(|_| config.to_path_buf()).display().to_string(),
            locus: app.locus.display(),
            model: app.models.get(app.model).cloned(),
            panel: format!("{:?}", app.panel).to_lowercase(),
            scale: format!("{:?}", app.scale).to_lowercase(),
            ism_track: app.tracks.get(app.ism_track).cloned(),
            selected_peak: app.selected.and_then(|i| app.peaks.get(i)).and_then(|p| p.name.clone()),
            hidden: app.tracks.iter().enumerate().filter(|(t, _)| app.is_hidden(*t)).map(|(_, n)| n.clone()).collect(),
            compare: app.compare.and_then(|c| app.models.get(c)).cloned(),
        }
    }

    pub fn to_toml(&self) -> Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        write_text(path, &self.to_toml()?)
    }

    pub fn load(path: &Path) -> Result<Session> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow!("session {}: cannot read it ({e})", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow!("session {}: {e}", path.display()))
    }

    /// Restore into an app opened on the session's config.
    pub fn apply(&self, app: &mut App) -> Result<()> {
        app.goto(&self.locus).map_err(|e| anyhow!("session locus: {e}"))?;
        if let Some(m) = &self.model {
            app.model = app.models.iter().position(|x| x == m).unwrap_or(0);
        }
        app.panel = match self.panel.as_str() {
            "ism" => Panel::Ism,
            "metrics" => Panel::Metrics,
            "peaks" => Panel::Peaks,
            _ => Panel::None,
        };
        app.scale = match self.scale.as_str() {
            "pertrack" => Scale::PerTrack,
            "log" => Scale::Log,
            _ => Scale::Group,
        };
        if let Some(t) = &self.ism_track {
            app.ism_track = app.tracks.iter().position(|x| x == t).unwrap_or(0);
        }
        app.selected = self.selected_peak.as_ref().and_then(|n| app.peaks.find_name(n));
        app.hidden = app.tracks.iter().map(|t| self.hidden.contains(t)).collect();
        app.compare = self.compare.as_ref().and_then(|c| app.models.iter().position(|m| m == c));
        Ok(())
    }
}
