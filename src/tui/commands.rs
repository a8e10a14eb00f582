//! Commands declared once. The [`commands!`](crate::commands) table gives each command its
//! name (used in `keys.toml`), default keys, whether it takes a count prefix (`10l`) and its
//! description; the enum, the default keymap, TOML rebinding, name lookup and the help popup
//! all derive from that one list, so a command cannot be left out of any of them.
//!
//! To add a command: add one line to the table below and handle the new `Action` variant in
//! the component that owns it (or in `App::app_command` for shared navigation).

/// One declared command.
#[derive(Debug)]
pub struct Command<A: 'static> {
    pub action: A,
    /// snake_case name, as written in `keys.toml`
    pub name: &'static str,
    /// default keys, in the syntax of [`Key::parse`](super::keymap::Key::parse)
    pub keys: &'static [&'static str],
    /// a count prefix (`10l`) repeats or scales it
    pub count: bool,
    pub describe: &'static str,
}

/// A set of commands declared with [`commands!`](crate::commands).
pub trait CommandSet: Copy + Eq + std::fmt::Debug + 'static {
    const ALL: &'static [Command<Self>];

    fn spec(self) -> &'static Command<Self> {
        Self::ALL.iter().find(|c| c.action == self).expect("every variant is declared in the table")
    }
    fn name(self) -> &'static str {
        self.spec().name
    }
    fn describe(self) -> &'static str {
        self.spec().describe
    }
    fn takes_count(self) -> bool {
        self.spec().count
    }
    fn from_name(s: &str) -> Option<Self> {
        Self::ALL.iter().find(|c| c.name == s).map(|c| c.action)
    }
}

/// Declare a command set: an enum and its table, in one place.
///
/// ```
/// peakscope::commands! {
///     pub enum Demo {
///         Hello = "hello", keys ["h", "ctrl+h"], counted, "say hello (count: repeat)";
///         Bye = "bye", keys ["q"], once, "leave";
///     }
/// }
/// use peakscope::tui::commands::CommandSet;
/// assert_eq!(Demo::from_name("bye"), Some(Demo::Bye));
/// assert!(Demo::Hello.takes_count());
/// ```
#[macro_export]
macro_rules! commands {
    (@count counted) => { true };
    (@count once) => { false };
    ($(#[$meta:meta])* $vis:vis enum $enum:ident {
        $( $(#[$vmeta:meta])* $variant:ident = $name:literal, keys [$($key:literal),* $(,)?], $count:ident, $describe:literal; )*
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $enum { $( $(#[$vmeta])* $variant, )* }

        impl $crate::tui::commands::CommandSet for $enum {
            const ALL: &'static [$crate::tui::commands::Command<Self>] = &[
                $( $crate::tui::commands::Command {
                    action: $enum::$variant,
                    name: $name,
                    keys: &[$($key),*],
                    count: $crate::commands!(@count $count),
                    describe: $describe,
                }, )*
            ];
        }
    };
}

commands! {
    /// Everything a key can do in the UI.
    pub enum Action {
        PanLeft = "pan_left", keys ["h", "left"], counted, "pan left a tenth of the view (count: 10h)";
        PanRight = "pan_right", keys ["l", "right"], counted, "pan right a tenth of the view";
        PanScreenLeft = "pan_screen_left", keys ["H"], counted, "pan left a whole view";
        PanScreenRight = "pan_screen_right", keys ["L"], counted, "pan right a whole view";
        ZoomIn = "zoom_in", keys ["+", "z"], counted, "zoom in 2x";
        ZoomOut = "zoom_out", keys ["-", "o"], counted, "zoom out 2x";
        NextPeak = "next_peak", keys ["n"], counted, "next peak (in the selected peak's cluster)";
        PrevPeak = "prev_peak", keys ["N"], counted, "previous peak (in the selected peak's cluster)";
        SelectPeak = "select_peak", keys ["enter"], once, "select the peak nearest the centre (peak list: jump to the row)";
        Goto = "goto", keys [":", "g"], once, "go to chr:start-end, a chromosome, gene or peak name (:w FILE saves a session, :export FILE the view)";
        Search = "search", keys ["/"], once, "search a gene or peak name";
        CycleModel = "cycle_model", keys ["m"], once, "next model (the active one)";
        ToggleScale = "toggle_scale", keys ["s"], once, "scale: group / per track / log";
        Help = "help", keys ["?"], once, "this help";
        Quit = "quit", keys ["q", "ctrl+c"], once, "quit";
        Ism = "ism", keys ["i"], once, "in-silico mutagenesis of the selected peak (ISM panel)";
        Eval = "eval", keys ["e"], once, "start / stop the evaluation (metrics panel)";
        NextPanel = "next_panel", keys ["tab"], once, "panel: none / ISM / metrics / peak list / TF activity / variant";
        CycleTrack = "cycle_track", keys ["c"], counted, "focus the next cell type (ISM panel, peak list, x)";
        ListUp = "list_up", keys ["up", "k"], counted, "peak list: move up (enter jumps to it)";
        ListDown = "list_down", keys ["down", "j"], counted, "peak list: move down";
        SortPeaks = "sort_peaks", keys ["r"], once, "peak list: sort by measured / predicted / error / specificity / position";
        ListScope = "list_scope", keys ["f"], once, "peak list: peaks in view / in the selected peak's cluster";
        ToggleTrack = "toggle_track", keys ["x"], once, "hide / show the focused cell type (c picks it)";
        CompareModel = "compare_model", keys ["M"], once, "compare: show a second model's predictions (cycles; off after the last)";
        TfActivity = "tf_activity", keys ["t"], once, "TF activity panel: motif insertion per cell type, active and compared model (/ finds a TF, enter highlights its hits)";
        Logo = "logo", keys ["b"], once, "ISM panel: base-resolution logo (letters by attribution, every cell type, both models) / heatmap";
        LogoLeft = "logo_left", keys ["["], counted, "logo view: pan left within the peak";
        LogoRight = "logo_right", keys ["]"], counted, "logo view: pan right within the peak";
        PredictRest = "predict_rest", keys ["P"], once, "peak list: predict every listed peak without a prediction (P again stops)";
        ScrollTracksDown = "scroll_tracks_down", keys ["J", "ctrl+d"], counted, "tracks: scroll down a row (count: rows)";
        ScrollTracksUp = "scroll_tracks_up", keys ["K", "ctrl+u"], counted, "tracks: scroll up a row";
        ToggleGroup = "toggle_group", keys ["G"], once, "tracks: collapse / expand the focused cell type's group ([[tracks]] group)";
        NextVariant = "next_variant", keys ["v"], counted, "next variant of [variants] (opens the variant panel: ref vs alt per cell type)";
        PrevVariant = "prev_variant", keys ["V"], counted, "previous variant";
        VariantMetrics = "variant_metrics", keys ["a"], once, "metrics panel: reference accuracy / variant accuracy (allelic imbalance, labelled variants; after the peaks)";
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::keymap::Key;

    #[test]
    fn the_table_is_consistent() {
        let mut names: Vec<&str> = Action::ALL.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len(), "command names are unique");
        let mut keys = Vec::new();
        for c in Action::ALL {
            assert_eq!(c.action.spec().name, c.name);
            assert!(!c.describe.is_empty());
            for k in c.keys {
                keys.push(Key::parse(k).unwrap_or_else(|e| panic!("{}: {e}", c.name)));
            }
        }
        let n = keys.len();
        keys.sort_by_key(|k| k.label());
        keys.dedup();
        assert_eq!(keys.len(), n, "no key is bound to two commands by default");
    }
}
