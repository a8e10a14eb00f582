//! Keys as data: the default vim-like map, overridable from TOML (`[keys] h = "pan_left"`).
use anyhow::{anyhow, bail, Result};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Everything a key can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    PanLeft,
    PanRight,
    PanScreenLeft,
    PanScreenRight,
    ZoomIn,
    ZoomOut,
    NextPeak,
    PrevPeak,
    SelectPeak,
    Goto,
    Search,
    CycleModel,
    ToggleScale,
    Help,
    Quit,
    Ism,
    Eval,
    NextPanel,
    CycleTrack,
    ListUp,
    ListDown,
    SortPeaks,
    ListScope,
    ToggleTrack,
    CompareModel,
}

impl Action {
    pub const ALL: [Action; 25] = [
        Action::PanLeft,
        Action::PanRight,
        Action::PanScreenLeft,
        Action::PanScreenRight,
        Action::ZoomIn,
        Action::ZoomOut,
        Action::NextPeak,
        Action::PrevPeak,
        Action::SelectPeak,
        Action::Goto,
        Action::Search,
        Action::CycleModel,
        Action::ToggleScale,
        Action::Help,
        Action::Quit,
        Action::Ism,
        Action::Eval,
        Action::NextPanel,
        Action::CycleTrack,
        Action::ListUp,
        Action::ListDown,
        Action::SortPeaks,
        Action::ListScope,
        Action::ToggleTrack,
        Action::CompareModel,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::PanLeft => "pan_left",
            Action::PanRight => "pan_right",
            Action::PanScreenLeft => "pan_screen_left",
            Action::PanScreenRight => "pan_screen_right",
            Action::ZoomIn => "zoom_in",
            Action::ZoomOut => "zoom_out",
            Action::NextPeak => "next_peak",
            Action::PrevPeak => "prev_peak",
            Action::SelectPeak => "select_peak",
            Action::Goto => "goto",
            Action::Search => "search",
            Action::CycleModel => "cycle_model",
            Action::ToggleScale => "toggle_scale",
            Action::Help => "help",
            Action::Quit => "quit",
            Action::Ism => "ism",
            Action::Eval => "eval",
            Action::NextPanel => "next_panel",
            Action::CycleTrack => "cycle_track",
            Action::ListUp => "list_up",
            Action::ListDown => "list_down",
            Action::SortPeaks => "sort_peaks",
            Action::ListScope => "list_scope",
            Action::ToggleTrack => "toggle_track",
            Action::CompareModel => "compare_model",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Action::PanLeft => "pan left a tenth of the view (count: 10h)",
            Action::PanRight => "pan right a tenth of the view",
            Action::PanScreenLeft => "pan left a whole view",
            Action::PanScreenRight => "pan right a whole view",
            Action::ZoomIn => "zoom in 2x",
            Action::ZoomOut => "zoom out 2x",
            Action::NextPeak => "next peak (in the selected peak's cluster)",
            Action::PrevPeak => "previous peak (in the selected peak's cluster)",
            Action::SelectPeak => "select the peak nearest the centre",
            Action::Goto => "go to chr:start-end, a chromosome, gene or peak name",
            Action::Search => "search a gene or peak name",
            Action::CycleModel => "next model (the active one)",
            Action::ToggleScale => "scale: group / per track / log",
            Action::Help => "this help",
            Action::Quit => "quit",
            Action::Ism => "in-silico mutagenesis of the selected peak (ISM panel)",
            Action::Eval => "start / stop the evaluation (metrics panel)",
            Action::NextPanel => "panel: none / ISM / metrics / peak list",
            Action::CycleTrack => "focus the next cell type (ISM panel, peak list, x)",
            Action::ListUp => "peak list: move up (enter jumps to it)",
            Action::ListDown => "peak list: move down",
            Action::SortPeaks => "peak list: sort by measured / predicted / error / specificity / position",
            Action::ListScope => "peak list: peaks in view / in the selected peak's cluster",
            Action::ToggleTrack => "hide / show the focused cell type (c picks it)",
            Action::CompareModel => "compare: show a second model's predictions (cycles; off after the last)",
        }
    }

    pub fn from_name(s: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.name() == s)
    }
}

/// A key as written in a keymap: `h`, `H`, `+`, `enter`, `tab`, `ctrl+c`, `:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    pub fn parse(s: &str) -> Result<Key> {
        let (ctrl, rest) = match s.strip_prefix("ctrl+") {
            Some(r) => (true, r),
            None => (false, s),
        };
        let code = match rest {
            "enter" => KeyCode::Enter,
            "tab" => KeyCode::Tab,
            "esc" => KeyCode::Esc,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            x if x.chars().count() == 1 => KeyCode::Char(x.chars().next().unwrap()),
            x => bail!("unknown key '{x}' (use a single character, enter, tab, esc, arrows, ctrl+X)"),
        };
        Ok(Key { code, ctrl })
    }

    pub fn label(&self) -> String {
        let k = match self.code {
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Enter => "enter".into(),
            KeyCode::Tab => "tab".into(),
            KeyCode::Esc => "esc".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            other => format!("{other:?}"),
        };
        if self.ctrl {
            format!("ctrl+{k}")
        } else {
            k
        }
    }

    fn matches(&self, ev: &KeyEvent) -> bool {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        ctrl == self.ctrl && ev.code == self.code
    }
}

#[derive(Debug, Clone)]
pub struct Keymap {
    pub bindings: Vec<(Key, Action)>,
}

impl Default for Keymap {
    fn default() -> Self {
        let pairs = [
            ("h", Action::PanLeft),
            ("left", Action::PanLeft),
            ("l", Action::PanRight),
            ("right", Action::PanRight),
            ("H", Action::PanScreenLeft),
            ("L", Action::PanScreenRight),
            ("+", Action::ZoomIn),
            ("z", Action::ZoomIn),
            ("-", Action::ZoomOut),
            ("o", Action::ZoomOut),
            ("n", Action::NextPeak),
            ("N", Action::PrevPeak),
            ("enter", Action::SelectPeak),
            (":", Action::Goto),
            ("g", Action::Goto),
            ("/", Action::Search),
            ("m", Action::CycleModel),
            ("s", Action::ToggleScale),
            ("?", Action::Help),
            ("q", Action::Quit),
            ("i", Action::Ism),
            ("e", Action::Eval),
            ("tab", Action::NextPanel),
            ("c", Action::CycleTrack),
            ("up", Action::ListUp),
            ("k", Action::ListUp),
            ("down", Action::ListDown),
            ("j", Action::ListDown),
            ("r", Action::SortPeaks),
            ("f", Action::ListScope),
            ("x", Action::ToggleTrack),
            ("M", Action::CompareModel),
            ("ctrl+c", Action::Quit),
        ];
        Keymap { bindings: pairs.iter().map(|(k, a)| (Key::parse(k).unwrap(), *a)).collect() }
    }
}

impl Keymap {
    /// The default map with `[keys]` overrides from TOML: `key = "action"` rebinds a key.
    pub fn with_overrides(toml_text: &str) -> Result<Keymap> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            keys: std::collections::BTreeMap<String, String>,
        }
        let f: File = toml::from_str(toml_text).map_err(|e| anyhow!("keymap: {e}"))?;
        let mut map = Keymap::default();
        for (k, a) in f.keys {
            let key = Key::parse(&k)?;
            let action = Action::from_name(&a).ok_or_else(|| {
                let names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
                anyhow!("keymap: unknown action '{a}' for key '{k}' (actions: {})", names.join(", "))
            })?;
            map.bindings.retain(|(b, _)| *b != key);
            map.bindings.push((key, action));
        }
        Ok(map)
    }

    pub fn action(&self, ev: &KeyEvent) -> Option<Action> {
        self.bindings.iter().find(|(k, _)| k.matches(ev)).map(|(_, a)| *a)
    }

    /// Help lines generated from the bindings: keys grouped per action.
    pub fn help(&self) -> Vec<(String, &'static str)> {
        Action::ALL
            .iter()
            .filter_map(|a| {
                let keys: Vec<String> = self.bindings.iter().filter(|(_, b)| b == a).map(|(k, _)| k.label()).collect();
                (!keys.is_empty()).then(|| (keys.join(" "), a.describe()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    #[test]
    fn defaults_overrides_and_help() {
        let m = Keymap::default();
        assert_eq!(m.action(&ev('h')), Some(Action::PanLeft));
        assert_eq!(m.action(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(Action::Quit));
        assert_eq!(m.action(&ev('x')), Some(Action::ToggleTrack));
        assert_eq!(m.action(&ev('y')), None);
        let o = Keymap::with_overrides("[keys]\nx = \"quit\"\nh = \"zoom_in\"\n").unwrap();
        assert_eq!(o.action(&ev('x')), Some(Action::Quit));
        assert_eq!(o.action(&ev('h')), Some(Action::ZoomIn));
        assert!(Keymap::with_overrides("[keys]\nx = \"fly\"\n").unwrap_err().to_string().contains("unknown action 'fly'"));
        let help = m.help();
        assert!(help.iter().any(|(k, d)| k == "h ←" && d.contains("pan left")));
    }
}
