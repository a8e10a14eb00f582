//! Exporting the current view (plain text or SVG) and sessions (TOML, versioned).
use super::app::App;
use super::components::tracks::{Scale, Tracks};
use anyhow::{anyhow, bail, Context, Result};
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

/// The session format this version writes; it reads formats 1 (no `version` key,
/// `ism_track`, `panel = "none"`) and 2.
pub const SESSION_VERSION: u32 = 2;

fn format_1() -> u32 {
    1
}

/// What `:w FILE` saves and `peakscope --session FILE` restores.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// format version (see [`SESSION_VERSION`])
    #[serde(default = "format_1")]
    pub version: u32,
    pub config: String,
    pub locus: String,
    pub model: Option<String>,
    /// the open panel, by component name (format 1 wrote "none" for no panel)
    pub panel: Option<String>,
    pub scale: Scale,
    #[serde(alias = "ism_track")]
    pub focused_track: Option<String>,
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
        let s = &app.shared;
        let tracks = app.component::<Tracks>();
        Session {
            version: SESSION_VERSION,
            config: std::fs::canonicalize(config).unwrap_or_else(|_| config.to_path_buf()).display().to_string(),
            locus: s.locus.display(),
            model: s.models.names.get(s.models.active).cloned(),
            panel: s.panel.map(str::to_string),
            scale: tracks.scale,
            focused_track: s.focused_name().map(str::to_string),
            selected_peak: s.selected.and_then(|i| s.peaks.get(i)).and_then(|p| p.name.clone()),
            hidden: s.tracks.iter().enumerate().filter(|(t, _)| tracks.is_hidden(*t)).map(|(_, n)| n.clone()).collect(),
            compare: s.models.compare.and_then(|c| s.models.names.get(c)).cloned(),
        }
    }

    pub fn to_toml(&self) -> Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        write_text(path, &self.to_toml()?)
    }

    /// Read a session; a file that is not one, or one from a newer peakscope, is refused
    /// with a message saying so.
    pub fn load(path: &Path) -> Result<Session> {
        let what = || format!("session {}", path.display());
        let text = std::fs::read_to_string(path).map_err(|e| anyhow!("{}: cannot read it ({e})", what()))?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| anyhow!("{}: not a peakscope session (not TOML: {e})", what()))?;
        if !(table.contains_key("config") && table.contains_key("locus")) {
            let keys: Vec<&str> = table.keys().map(String::as_str).take(5).collect();
            bail!(
                "{}: not a peakscope session (it has {}; a session has `config` and `locus` and is written with `:w FILE` in the UI){}",
                what(),
                if keys.is_empty() { "no keys".to_string() } else { format!("keys {}", keys.join(", ")) },
                if table.contains_key("genome") { " — this looks like a project config: open it with `peakscope FILE`" } else { "" }
            );
        }
        match table.get("version") {
            None => {}
            Some(toml::Value::Integer(v)) if (1..=SESSION_VERSION as i64).contains(v) => {}
            Some(toml::Value::Integer(v)) if *v > SESSION_VERSION as i64 => {
                bail!("{}: session format {v} was written by a newer peakscope; this one reads formats 1 to {SESSION_VERSION}", what())
            }
            Some(v) => bail!("{}: `version = {v}` is not a session format this peakscope knows (1 to {SESSION_VERSION})", what()),
        }
        let mut s: Session = toml::from_str(&text).map_err(|e| anyhow!("{}: {}", what(), e.to_string().trim_end()))?;
        if s.panel.as_deref() == Some("none") && s.version == 1 {
            s.panel = None;
        }
        Ok(s)
    }

    /// Restore into an app opened on the session's config. An unknown panel, model or cell
    /// type is an error naming it (the session belongs to another project).
    pub fn apply(&self, app: &mut App) -> Result<()> {
        app.goto(&self.locus).map_err(|e| anyhow!("session locus: {e}"))?;
        let panels = app.panels();
        let panel = match &self.panel {
            None => None,
            Some(p) => Some(*panels.iter().find(|&&q| q == p).ok_or_else(|| anyhow!("session: unknown panel '{p}' (panels: {})", panels.join(", ")))?),
        };
        let find = |list: &[String], name: &str, what: &str| -> Result<usize> {
            list.iter().position(|x| x == name).ok_or_else(|| anyhow!("session: this project has no {what} '{name}' (have {})", list.join(", ")))
        };
        let s = &mut app.shared;
        if let Some(m) = &self.model {
            s.models.active = find(&s.models.names, m, "model")?;
        }
        s.models.compare = self.compare.as_deref().map(|c| find(&s.models.names, c, "model")).transpose()?;
        if let Some(t) = &self.focused_track {
            s.focused_track = find(&s.tracks, t, "cell type")?;
        }
        for h in &self.hidden {
            find(&s.tracks, h, "cell type")?;
        }
        s.selected = self.selected_peak.as_ref().and_then(|n| s.peaks.find_name(n));
        s.panel = panel;
        let hidden = s.tracks.iter().map(|t| self.hidden.contains(t)).collect();
        let tracks = app.component_mut::<Tracks>();
        tracks.scale = self.scale;
        tracks.hidden = hidden;
        Ok(())
    }
}
