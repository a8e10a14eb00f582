//! Keys as data: the default map comes from the command table ([`super::commands`]), and
//! `~/.config/peakscope/keys.toml` rebinds keys (`[keys] h = "pan_left"`).
pub use super::commands::{Action, CommandSet};
use anyhow::{anyhow, bail, Result};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

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

/// Bindings of keys to the commands of a set (the UI's [`Action`] by default).
#[derive(Debug, Clone)]
pub struct Keymap<A: CommandSet = Action> {
    pub bindings: Vec<(Key, A)>,
}

impl<A: CommandSet> Default for Keymap<A> {
    /// Every command's default keys, from its declaration.
    fn default() -> Self {
        let bindings =
            A::ALL.iter().flat_map(|c| c.keys.iter().map(move |k| (Key::parse(k).unwrap_or_else(|e| panic!("command {}: {e}", c.name)), c.action))).collect();
        Keymap { bindings }
    }
}

/// One line of the help popup.
#[derive(Debug, Clone, PartialEq)]
pub struct HelpLine {
    /// the bound keys, space-separated
    pub keys: String,
    pub describe: &'static str,
    /// takes a count prefix
    pub count: bool,
}

impl<A: CommandSet> Keymap<A> {
    /// The default map with `[keys]` overrides from TOML: `key = "command"` rebinds a key.
    pub fn with_overrides(toml_text: &str) -> Result<Keymap<A>> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            keys: std::collections::BTreeMap<String, String>,
        }
        let f: File = toml::from_str(toml_text).map_err(|e| anyhow!("keymap: {e}"))?;
        let mut map = Keymap::default();
        for (k, a) in f.keys {
            let key = Key::parse(&k)?;
            let action = A::from_name(&a).ok_or_else(|| {
                let names: Vec<&str> = A::ALL.iter().map(|c| c.name).collect();
                anyhow!("keymap: unknown action '{a}' for key '{k}' (actions: {})", names.join(", "))
            })?;
            map.bindings.retain(|(b, _)| *b != key);
            map.bindings.push((key, action));
        }
        Ok(map)
    }

    pub fn action(&self, ev: &KeyEvent) -> Option<A> {
        self.bindings.iter().find(|(k, _)| k.matches(ev)).map(|(_, a)| *a)
    }

    /// The help popup's lines, in declaration order: each command with its keys.
    pub fn help_lines(&self) -> Vec<HelpLine> {
        A::ALL
            .iter()
            .filter_map(|c| {
                let keys: Vec<String> = self.bindings.iter().filter(|(_, b)| *b == c.action).map(|(k, _)| k.label()).collect();
                (!keys.is_empty()).then(|| HelpLine { keys: keys.join(" "), describe: c.describe, count: c.count })
            })
            .collect()
    }

    /// Help as (keys, description) pairs.
    pub fn help(&self) -> Vec<(String, &'static str)> {
        self.help_lines().into_iter().map(|l| (l.keys, l.describe)).collect()
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
        let m = Keymap::<Action>::default();
        assert_eq!(m.action(&ev('h')), Some(Action::PanLeft));
        assert_eq!(m.action(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(Action::Quit));
        assert_eq!(m.action(&ev('x')), Some(Action::ToggleTrack));
        assert_eq!(m.action(&ev('y')), None);
        let o = Keymap::<Action>::with_overrides("[keys]\nx = \"quit\"\nh = \"zoom_in\"\n").unwrap();
        assert_eq!(o.action(&ev('x')), Some(Action::Quit));
        assert_eq!(o.action(&ev('h')), Some(Action::ZoomIn));
        assert!(Keymap::<Action>::with_overrides("[keys]\nx = \"fly\"\n").unwrap_err().to_string().contains("unknown action 'fly'"));
        let help = m.help();
        assert!(help.iter().any(|(k, d)| k == "h ←" && d.contains("pan left")));
        // every declared command is reachable by default, so it is in help
        assert_eq!(help.len(), Action::ALL.len());
    }

    crate::commands! {
        /// A command set with a command the UI does not have: everything about it comes
        /// from this one declaration.
        enum Probe {
            Pan = "pan", keys ["h"], counted, "pan";
            ShowLogo = "show_logo", keys ["ctrl+l", "L"], once, "base-level logo of the focused peak";
        }
    }

    #[test]
    fn a_new_command_reaches_help_and_rebinding_from_its_declaration() {
        let m = Keymap::<Probe>::default();
        assert_eq!(m.action(&KeyEvent::new(KeyCode::Char('l'), KeyModifiers::CONTROL)), Some(Probe::ShowLogo));
        assert_eq!(m.action(&ev('L')), Some(Probe::ShowLogo));
        let help = m.help_lines();
        assert_eq!(help[1], HelpLine { keys: "ctrl+l L".into(), describe: "base-level logo of the focused peak", count: false });
        assert!(help[0].count);
        // rebinding by its declared name
        let o = Keymap::<Probe>::with_overrides("[keys]\nh = \"show_logo\"\n").unwrap();
        assert_eq!(o.action(&ev('h')), Some(Probe::ShowLogo));
        assert!(o.help_lines().iter().all(|l| l.describe != "pan"), "pan lost its only key");
        assert!(o.help().iter().any(|(k, d)| k == "ctrl+l L h" && d.starts_with("base-level logo")));
        let err = Keymap::<Probe>::with_overrides("[keys]\nh = \"zoom_in\"\n").unwrap_err().to_string();
        assert!(err.contains("(actions: pan, show_logo)"), "{err}");
        assert_eq!(Probe::from_name("show_logo"), Some(Probe::ShowLogo));
    }
}
