//! The terminal UI without a terminal: state transitions driven by keys, and TestBackend
//! renders of the demo project.
use peakscope::config::ProjectConfig;
use peakscope::jobs::worker::ReplyKind;
use peakscope::tui::app::{App, Mode, Request, LABEL_W};
use peakscope::tui::app_for;
use peakscope::tui::components::ism::{Ism, IsmEvent, IsmTask};
use peakscope::tui::components::metrics::{EvalTask, Metrics, MetricsEvent};
use peakscope::tui::components::peaks::{HeightsTask, PeakList, PeakSort};
use peakscope::tui::components::tracks::{ColumnsTask, Scale, Tracks, TracksEvent};
use peakscope::tui::shared::PredictTask;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn typed(app: &mut App, s: &str) -> Vec<Request> {
    let mut out = Vec::new();
    for c in s.chars() {
        out = app.on_key(key(c));
    }
    out
}

fn demo_app() -> (tempfile::TempDir, App, ProjectConfig) {
    let d = tempfile::tempdir().unwrap();
    let cfg_path = peakscope::demo::prepare(&d.path().join("demo"), false, false, &mut |_| {}).unwrap();
    let cfg = ProjectConfig::load(&cfg_path).unwrap();
    let app = app_for(&cfg).unwrap();
    (d, app, cfg)
}

#[test]
fn navigation_by_keys() {
    let (_d, mut app, _) = demo_app();
    app.resize(100, 30);
    // goto a range (1-based inclusive display)
    app.on_key(key(':'));
    assert!(matches!(app.mode, Mode::Prompt { .. }));
    typed(&mut app, "chr2:10,001-20,000");
    let reqs = app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(app.shared.locus.display(), "chr2:10,001-20,000");
    assert!(reqs[0].task::<ColumnsTask>().is_some_and(|t| t.locus == app.shared.locus && t.cols == 88), "{reqs:?}");
    // pan right a tenth, with a count prefix: 3l = 3 kb
    typed(&mut app, "3l");
    assert_eq!((app.shared.locus.start, app.shared.locus.end), (13_000, 23_000));
    app.on_key(key('H'));
    assert_eq!(app.shared.locus.start, 3_000);
    // zoom keeps the centre
    app.on_key(key('+'));
    assert_eq!((app.shared.locus.start, app.shared.locus.end), (5_500, 10_500));
    app.on_key(key('-'));
    assert_eq!(app.shared.locus.len(), 10_000);
    // pan past the chromosome start clamps at 0
    typed(&mut app, "50h");
    assert_eq!(app.shared.locus.start, 0);
    // next peak selects it and centres the view; N goes back within the same cluster
    app.on_key(key('n'));
    let first = app.shared.selected.unwrap();
    let label = app.shared.peaks.get(first).unwrap().label.clone();
    app.on_key(key('n'));
    let second = app.shared.selected.unwrap();
    assert_ne!(first, second);
    assert_eq!(app.shared.peaks.get(second).unwrap().label, label, "n stays in the selected peak's cluster");
    app.on_key(key('N'));
    assert_eq!(app.shared.selected, Some(first));
    // gene and peak names
    app.on_key(key('g'));
    typed(&mut app, "CD19");
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert!(app.shared.status.contains("gene CD19"), "{}", app.shared.status);
    app.on_key(key(':'));
    typed(&mut app, "peak10");
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(app.shared.selected, app.shared.peaks.find_name("peak10"));
    // bad input: explained, nothing moves
    let before = app.shared.locus.clone();
    app.on_key(key(':'));
    typed(&mut app, "chrZ:1-10");
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(app.shared.locus, before);
    assert!(app.shared.status.contains("no chromosome 'chrZ'"), "{}", app.shared.status);
    // scale, model, help, quit
    app.on_key(key('s'));
    assert_eq!(app.component::<Tracks>().scale, Scale::PerTrack);
    app.on_key(key('m'));
    assert_eq!(app.shared.models.active, 1);
    app.on_key(key('?'));
    assert_eq!(app.mode, Mode::Help);
    app.on_key(key('x'));
    assert_eq!(app.mode, Mode::Normal);
    app.on_key(key('q'));
    assert!(app.quit);
}

#[test]
fn stale_track_data_is_dropped() {
    let (_d, mut app, _) = demo_app();
    app.resize(80, 24);
    let old = app.shared.generation;
    let old_locus = app.shared.locus.clone();
    app.on_key(key('l'));
    app.deliver::<Tracks>(ReplyKind::Event(TracksEvent::Columns { generation: old, locus: old_locus, data: vec![None; 8] }));
    assert!(app.component::<Tracks>().data.is_none(), "a reply for a locus the user left is ignored");
}

fn render(app: &App, w: u16, h: u16) -> Vec<String> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| f.render_widget(app, f.area())).unwrap();
    let buf = t.backend().buffer().clone();
    (0..h).map(|y| (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>()).collect()
}

#[test]
fn track_panel_renders_measured_rows_peaks_and_genes_in_place() {
    let (_d, mut app, cfg) = demo_app();
    app.resize(120, 32);
    app.goto("chr1:1-7,622").unwrap();
    // load what the track loader would, synchronously
    let mut data = Vec::new();
    for t in &cfg.tracks {
        let mut bw = peakscope::genome::BigWig::open(&t.bigwig).unwrap();
        let l = &app.shared.locus;
        data.push(bw.binned(&l.chrom, l.start, l.end, app.shared.cols).unwrap());
    }
    let (generation, locus) = (app.shared.generation, app.shared.locus.clone());
    app.deliver::<Tracks>(ReplyKind::Event(TracksEvent::Columns { generation, locus, data }));
    let lines = render(&app, 120, 32);
    assert!(lines[0].contains("chr1:1-7,622"), "{}", lines[0]);
    let row = |name: &str| lines.iter().find(|l| l.starts_with(name)).unwrap().clone();
    // the Myeloid-specific peak0 (chr1:2,387-2,858) is where Myeloid's signal is
    let peak = app.shared.peaks.find_name("peak0").unwrap();
    let p = app.shared.peaks.get(peak).unwrap().clone();
    let col = |pos: u64| LABEL_W as usize + (pos * app.shared.cols as u64 / app.shared.locus.len()) as usize;
    let peaks_row: Vec<char> = row("peaks").chars().collect();
    assert_eq!(peaks_row[col(p.start + (p.end - p.start) / 2)], '▬', "{}", row("peaks"));
    let myeloid: Vec<char> = row("Myeloid").chars().collect();
    let summit = col(p.start + (p.end - p.start) / 2);
    assert!(matches!(myeloid[summit], '▅' | '▆' | '▇' | '█'), "{}", row("Myeloid"));
    let pt: Vec<char> = row("PT").chars().collect();
    assert!(matches!(pt[summit], ' ' | '▁'), "PT is closed at a Myeloid-specific peak: {}", row("PT"));
    // at 80×24 it still draws the header, some tracks and the status line
    app.resize(80, 24);
    let small = render(&app, 80, 24);
    assert!(small[0].starts_with(" peakscope"));
    assert!(small[23].contains("help"), "{}", small[23]);
    // the help popup is generated from the keymap
    app.on_key(key('?'));
    let help = render(&app, 100, 30).join("\n");
    assert!(help.contains("pan left") && help.contains("next peak"), "{help}");
}

#[test]
fn ism_and_metrics_panels_fill_in_from_job_events() {
    let (_d, mut app, _) = demo_app();
    app.resize(120, 40);
    assert!(app.on_key(key('i')).is_empty(), "no peak selected yet");
    assert!(app.shared.status.contains("select a peak"));
    app.shared.models.ready = true;
    app.on_key(key('n'));
    let peak = app.shared.selected.unwrap();
    let reqs = app.on_key(key('i'));
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert!(reqs[0].task::<IsmTask>().is_some_and(|t| (t.model, t.peak) == (0, peak)), "{reqs:?}");
    assert_eq!(app.shared.panel, Some("ism"));
    // the predictor announces the plan, streams chunks, then labels the hot spot
    let ism = |app: &mut App, ev: IsmEvent| app.deliver::<Ism>(ReplyKind::Event(ev));
    ism(&mut app, IsmEvent::Started { peak, model: 0, region_start: 1000, seq: b"ACGT".to_vec(), mutants: vec![(0, 1), (0, 2), (0, 3), (1, 0)] });
    let t = app.shared.tracks.len();
    ism(&mut app, IsmEvent::Reference { peak, values: vec![1.0; t] });
    ism(&mut app, IsmEvent::Chunk { peak, first: 0, preds: vec![vec![3.0; t], vec![0.5; t]], deltas: vec![vec![2.0; t], vec![-0.5; t]] });
    let v = app.component::<Ism>().view.as_ref().unwrap();
    assert_eq!(v.done, 2);
    assert_eq!(v.delta(0, 1, 0), Some(2.0));
    assert_eq!(v.delta(0, 2, 0), Some(-0.5));
    assert_eq!(v.delta(0, 3, 0), None, "not computed yet");
    assert_eq!(v.delta(0, 0, 0), None, "reference base");
    ism(&mut app, IsmEvent::Done { peak, motifs: vec![Some("HNF4A 0.95 @ 1,001".into()); t] });
    let screen = render(&app, 120, 40).join("\n");
    assert!(screen.contains("2/4 mutants") && screen.contains("HNF4A 0.95"), "{screen}");
    // a reply for another peak is ignored
    ism(&mut app, IsmEvent::Reference { peak: peak + 1, values: vec![9.0; t] });
    ism(&mut app, IsmEvent::Chunk { peak: peak + 1, first: 0, preds: vec![vec![9.0; t]], deltas: vec![vec![8.0; t]] });
    assert_eq!(app.component::<Ism>().view.as_ref().unwrap().done, 2);

    // metrics: e starts, snapshots fill the table, e again stops
    let reqs = app.on_key(key('e'));
    assert!(matches!(&reqs[..], [r] if r.task::<EvalTask>().is_some()), "{reqs:?}");
    assert!(app.component::<Metrics>().eval.running);
    let layout = peakscope::eval::stream::EvalLayout {
        tracks: app.shared.tracks.clone(),
        models: vec![peakscope::eval::stream::ModelLayout {
            name: app.shared.models.names[0].clone(),
            group: None,
            outputs: (0..t).map(Some).collect(),
            output_names: app.shared.tracks.clone(),
        }],
        strata: peakscope::eval::strata::Strata::new(&[], &["u".into()], &[1], false),
        has_calls: false,
    };
    let mut st = peakscope::eval::stream::EvalState::new(layout, 10);
    for i in 0..5 {
        st.push(peakscope::eval::stream::PeakRow {
            peak: i,
            strata: st.layout.strata.assign(Some(if i % 2 == 0 { "u" } else { "x" }), None),
            measured: (0..t).map(|k| (i * k) as f64).collect(),
            predicted: vec![(0..t).map(|k| (i * k) as f64 * 0.5 + 1.0).collect()],
            called: vec![false; t],
        });
    }
    let strata = st.layout.strata.names().to_vec();
    app.deliver::<Metrics>(ReplyKind::Event(MetricsEvent::Snapshot { done: 5, total: 10, snapshot: Box::new(st.snapshot(false)), strata }));
    let screen = render(&app, 120, 40).join("\n");
    assert!(screen.contains("5/10 peaks (50%)") && screen.contains("ubiquitous"), "{screen}");
    let reqs = app.on_key(key('e'));
    assert!(matches!(&reqs[..], [r] if r.is_cancel()), "{reqs:?}");
    app.deliver::<Metrics>(ReplyKind::Finished { cancelled: false });
    assert!(!app.component::<Metrics>().eval.running);
}

#[test]
fn sessions_and_exports() {
    use peakscope::tui::export::{export_view, Session};
    let (d, mut app, cfg) = demo_app();
    app.resize(100, 30);
    app.goto("chr2:5,001-9,000").unwrap();
    app.on_key(key('m'));
    app.on_key(key('s'));
    app.on_key(key('c'));
    app.on_key(key('x'));
    app.on_key(key('n'));
    // ":w FILE" and ":export FILE" become requests for the runtime
    app.on_key(key(':'));
    typed(&mut app, "w /tmp/x.toml");
    let reqs = app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert!(matches!(&reqs[..], [Request::SaveSession(p)] if p.as_path() == std::path::Path::new("/tmp/x.toml")), "{reqs:?}");
    app.on_key(key(':'));
    typed(&mut app, "export view.svg");
    let reqs = app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert!(matches!(&reqs[..], [Request::Export(p)] if p.as_path() == std::path::Path::new("view.svg")), "{reqs:?}");
    // save and restore into a fresh app
    let path = d.path().join("s.toml");
    let s = Session::of(&app, &cfg.source);
    s.save(&path).unwrap();
    let back = Session::load(&path).unwrap();
    assert_eq!(back, s);
    let mut fresh = app_for(&cfg).unwrap();
    fresh.resize(100, 30);
    back.apply(&mut fresh).unwrap();
    assert_eq!(
        (fresh.shared.locus.clone(), fresh.shared.models.active, fresh.component::<Tracks>().scale, fresh.shared.focused_track, fresh.shared.selected),
        (app.shared.locus.clone(), 1, Scale::PerTrack, 1, app.shared.selected)
    );
    let hidden = |a: &App, t: usize| a.component::<Tracks>().is_hidden(t);
    assert!(hidden(&fresh, 1) && !hidden(&fresh, 0), "hidden cell types come back");
    // exports: text has the header; SVG is well-formed enough to hold text cells
    let txt = d.path().join("v.txt");
    export_view(&app, 100, 30, &txt).unwrap();
    let t = std::fs::read_to_string(&txt).unwrap();
    assert!(t.lines().next().unwrap().contains(&app.shared.locus.display()), "{t}");
    let svg = d.path().join("v.svg");
    export_view(&app, 100, 30, &svg).unwrap();
    let s = std::fs::read_to_string(&svg).unwrap();
    assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>") && s.contains("<text"));
    assert!(Session::load(&d.path().join("none.toml")).unwrap_err().to_string().contains("none.toml"));
}

#[test]
fn peak_list_sorts_scopes_and_jumps() {
    let (_d, mut app, _) = demo_app();
    app.resize(120, 40);
    app.goto("chr1:1-60,000").unwrap();
    fn list(a: &App) -> &PeakList {
        a.component::<PeakList>()
    }
    let in_view = list(&app).source(&app.shared);
    assert!(in_view.len() > 5);
    // tab three times: ISM, metrics, peaks; opening the list asks for heights
    app.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    app.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    let reqs = app.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    assert_eq!(app.shared.panel, Some("peaks"));
    assert!(reqs.iter().any(|r| r.task::<HeightsTask>().is_some_and(|h| h.peaks == in_view)), "{reqs:?}");
    // heights arrive: sorted by measured (track of the list), largest first
    let t = app.shared.tracks.len();
    let vals: Vec<Vec<f64>> = in_view.iter().enumerate().map(|(k, _)| vec![(k * 7 % 11) as f64; t]).collect();
    app.deliver::<PeakList>(ReplyKind::Event(peakscope::tui::components::peaks::PeaksEvent::Heights { peaks: in_view.clone(), values: vals }));
    let rows = list(&app).rows(&app.shared);
    let m: Vec<f64> = rows.iter().map(|&i| list(&app).values(&app.shared, i).0.unwrap()).collect();
    assert!(m.windows(2).all(|w| w[0] >= w[1]), "{m:?}");
    // r cycles the sort key; position order is the peak order
    for _ in 0..4 {
        app.on_key(key('r'));
    }
    assert_eq!(list(&app).sort, PeakSort::Position);
    assert_eq!(list(&app).rows(&app.shared), in_view);
    // j moves the cursor, enter jumps to that peak
    app.on_key(key('j'));
    app.on_key(key('j'));
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(app.shared.selected, Some(in_view[2]));
    // f lists the selected peak's whole cluster
    app.on_key(key('f'));
    let peaks = &app.shared.peaks;
    let label = peaks.get(in_view[2]).unwrap().label.clone();
    let source = list(&app).source(&app.shared);
    assert!(source.iter().all(|&i| peaks.get(i).unwrap().label == label));
    assert!(source.len() > in_view.iter().filter(|&&i| peaks.get(i).unwrap().label == label).count());
    let screen = render(&app, 120, 40).join("\n");
    assert!(screen.contains("selected peak's cluster") && screen.contains("sorted by position"), "{screen}");
}

#[test]
fn compare_models_hide_cell_types_and_show_jobs() {
    let (_d, mut app, _) = demo_app();
    app.resize(140, 50);
    app.shared.models.ready = true;
    app.goto("chr1:1-20,000").unwrap();
    // M adds a comparison model and asks for its predictions too
    let reqs = app.on_key(key('M'));
    assert_eq!(app.shared.models.compare, Some(1));
    assert!(reqs.iter().any(|r| r.task::<PredictTask<TracksEvent>>().is_some_and(|p| p.model == 1)), "{reqs:?}");
    let in_view = app.shared.in_view();
    let t = app.shared.tracks.len();
    for (model, v) in [(0, 100.0), (1, 50.0)] {
        let preds = peakscope::tui::shared::Preds { model, peaks: in_view.clone(), values: in_view.iter().map(|_| vec![v; t]).collect() };
        app.deliver::<Tracks>(ReplyKind::Event(TracksEvent::Preds(preds)));
    }
    let names = app.shared.models.names.clone();
    let screen = render(&app, 140, 50);
    assert!(screen[0].contains(&format!("vs {}", names[1])), "{}", screen[0]);
    assert!(screen.iter().any(|l| l.starts_with(&format!("  vs {}", &names[1][..6]))), "{}", screen.join("\n"));
    // cycling past the last model turns the comparison off
    for _ in 0..names.len() - 1 {
        app.on_key(key('M'));
    }
    assert_eq!(app.shared.models.compare, None);
    // c focuses a cell type, x hides it from the track panel
    app.on_key(key('c'));
    let hidden = app.shared.tracks[app.shared.focused_track].clone();
    app.on_key(key('x'));
    let row_label = format!("{hidden:<11}");
    let screen = render(&app, 140, 50);
    assert!(!screen.iter().any(|l| l.starts_with(&row_label)), "{hidden} hidden");
    app.on_key(key('x'));
    assert!(render(&app, 140, 50).iter().any(|l| l.starts_with(&row_label)));
    // running jobs appear in the header
    let eval = &mut app.component_mut::<Metrics>().eval;
    eval.running = true;
    eval.done = 50;
    eval.total = 200;
    // (the peak index job was asked for at launch and has not answered here)
    assert_eq!(app.jobs_line(), "eval 25% · index: opening");
    assert!(render(&app, 140, 50)[0].contains("eval 25%"));
}

#[test]
fn any_terminal_size_draws() {
    let (_d, mut app, cfg) = demo_app();
    app.shared.models.ready = true;
    app.goto("chr1:1-20,000").unwrap();
    let mut data = Vec::new();
    for t in &cfg.tracks {
        let mut bw = peakscope::genome::BigWig::open(&t.bigwig).unwrap();
        data.push(bw.binned("chr1", 0, 20_000, 200).unwrap());
    }
    let in_view = app.shared.in_view();
    let t = app.shared.tracks.len();
    app.on_key(key('n'));
    let peak = app.shared.selected.unwrap();
    app.deliver::<Ism>(ReplyKind::Event(IsmEvent::Started { peak, model: 0, region_start: 10, seq: b"ACGTN".to_vec(), mutants: vec![(0, 1), (4, 0)] }));
    app.deliver::<Ism>(ReplyKind::Event(IsmEvent::Chunk { peak, first: 0, preds: vec![vec![2.0; t]], deltas: vec![vec![1.0; t]] }));
    app.shared.models.preds.extend(in_view.iter().map(|&p| ((0, p), vec![1.0; t])));
    // every panel, the help popup and a long prompt, at every size from 0×0 up, and after
    // a resize to each
    let panels: Vec<Option<&'static str>> = std::iter::once(None).chain(app.panels().into_iter().map(Some)).collect();
    for panel in panels {
        app.shared.panel = panel;
        for mode in [Mode::Normal, Mode::Help, Mode::Prompt { search: false, text: "x".repeat(300) }] {
            app.mode = mode;
            for w in (0..=45).chain([80, 121, 200]) {
                for h in (0..=20).chain([24, 50]) {
                    app.resize(w, h);
                    let (generation, locus) = (app.shared.generation, app.shared.locus.clone());
                    let cols = app.shared.cols;
                    let data = data.iter().map(|d| d.as_ref().map(|v| v.iter().cycle().take(cols).cloned().collect())).collect();
                    app.deliver::<Tracks>(ReplyKind::Event(TracksEvent::Columns { generation, locus, data }));
                    let lines = render(&app, w, h);
                    if (w, h) == (20, 4) {
                        assert!(lines[0].starts_with("terminal too small"), "{lines:?}");
                    }
                }
            }
        }
    }
    // a 2-row terminal keeps a readable message
    app.mode = Mode::Normal;
    assert!(render(&app, 80, 2)[0].starts_with("terminal too small (80×2)"));
}

#[test]
fn paste_goes_into_the_prompt_and_a_good_goto_clears_an_old_error() {
    let (_d, mut app, _) = demo_app();
    app.resize(100, 30);
    app.on_key(key(':'));
    typed(&mut app, "chrZ:1-10");
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert!(app.shared.status.contains("no chromosome 'chrZ'"));
    // a 10 kB paste is text in the prompt; Enter answers at once
    app.on_key(key(':'));
    let junk = "chr1:1-1000\n".repeat(900);
    assert!(junk.len() > 10_000);
    assert!(app.on_paste(&junk).is_empty());
    assert!(matches!(&app.mode, Mode::Prompt { text, .. } if text.len() == junk.len() && !text.contains('\n')));
    let screen = render(&app, 100, 30);
    assert!(screen[29].starts_with(":") && screen[29].contains("chr1:1-1000"), "the prompt shows the end of what was typed: {}", screen[29]);
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(app.mode, Mode::Normal);
    // Esc answers at once too
    app.on_key(key(':'));
    app.on_paste(&junk);
    app.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    assert_eq!(app.mode, Mode::Normal);
    // a paste in normal mode opens the goto prompt with it
    app.on_paste("chr2:5,001-9,000");
    let reqs = app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(app.shared.locus.display(), "chr2:5,001-9,000");
    assert!(!reqs.is_empty(), "the new view asks for its data");
    assert!(!app.shared.status.contains("chrZ"), "the old error is gone: {}", app.shared.status);
}

#[test]
fn ctrl_c_quits_from_any_mode() {
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    for setup in [":", "?", ""] {
        let (_d, mut app, _) = demo_app();
        // even with q and ctrl+c rebound
        app.keymap = peakscope::tui::keymap::Keymap::with_overrides("[keys]\nq = \"help\"\n\"ctrl+c\" = \"help\"\n").unwrap();
        typed(&mut app, setup);
        app.on_key(ctrl_c);
        assert!(app.quit, "after '{setup}'");
    }
}

#[test]
fn every_command_is_handled_by_a_component_or_the_app() {
    use peakscope::tui::commands::{Action, CommandSet};
    let (_d, _, cfg) = demo_app();
    for c in Action::ALL {
        let mut app = app_for(&cfg).unwrap();
        app.resize(120, 40);
        app.shared.models.ready = true;
        app.goto("chr1:1-60,000").unwrap();
        app.on_key(key('n'));
        // list commands act on the open peak list
        app.shared.panel = Some("peaks");
        assert!(app.command(c.action, 1).is_some(), "nobody handles {}", c.name);
    }
}

#[test]
fn sessions_are_versioned_and_foreign_files_are_refused_clearly() {
    use peakscope::tui::export::{Session, SESSION_VERSION};
    let (d, mut app, cfg) = demo_app();
    app.resize(100, 30);
    let write = |name: &str, text: &str| {
        let p = d.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    // a session written before sessions had a version still opens
    let v1 = write(
        "v1.toml",
        &format!(
            "config = \"{}\"\nlocus = \"chr2:5,001-9,000\"\nmodel = \"{}\"\npanel = \"none\"\nscale = \"pertrack\"\nism_track = \"{}\"\nhidden = []\n",
            cfg.source.display(),
            app.shared.models.names[1],
            app.shared.tracks[2]
        ),
    );
    let s = Session::load(&v1).unwrap();
    assert_eq!((s.version, s.panel.as_deref(), s.scale), (1, None, Scale::PerTrack));
    s.apply(&mut app).unwrap();
    assert_eq!((app.shared.models.active, app.shared.focused_track, app.component::<Tracks>().scale), (1, 2, Scale::PerTrack));
    // what this version writes says its version and reads back the same
    app.shared.panel = Some("metrics");
    let now = Session::of(&app, &cfg.source);
    let text = now.to_toml().unwrap();
    assert!(text.contains(&format!("version = {SESSION_VERSION}")) && text.contains("scale = \"per_track\"") && text.contains("panel = \"metrics\""), "{text}");
    assert_eq!(Session::load(&write("v2.toml", &text)).unwrap(), now);
    // a project config given as a session
    let err = Session::load(&cfg.source).unwrap_err().to_string();
    assert!(err.contains("not a peakscope session") && err.contains("project config"), "{err}");
    // not TOML at all, a newer format, an unknown field, an unknown panel, another project's model
    let err = Session::load(&write("bin.toml", "\u{1}\u{2}binary")).unwrap_err().to_string();
    assert!(err.contains("not a peakscope session (not TOML"), "{err}");
    let err = Session::load(&write("v9.toml", &text.replace(&format!("version = {SESSION_VERSION}"), "version = 9"))).unwrap_err().to_string();
    assert!(err.contains("format 9 was written by a newer peakscope"), "{err}");
    let err = Session::load(&write("extra.toml", &format!("{text}\nzoom = 3\n"))).unwrap_err().to_string();
    assert!(err.contains("unknown field `zoom`"), "{err}");
    let bad_panel = Session::load(&write("panel.toml", &text.replace("\"metrics\"", "\"splicing\""))).unwrap();
    let err = bad_panel.apply(&mut app).unwrap_err().to_string();
    assert!(err.contains("unknown panel 'splicing' (panels: ism, metrics, peaks, tf, variants)"), "{err}");
    let other = Session { model: Some("enformer".into()), ..now.clone() };
    assert!(other.apply(&mut app).unwrap_err().to_string().contains("no model 'enformer'"));
}

#[test]
fn help_lists_every_command_from_the_table() {
    use peakscope::tui::commands::{Action, CommandSet};
    let (_d, mut app, _) = demo_app();
    app.on_key(key('?'));
    let help = render(&app, 160, 40).join("\n");
    for c in Action::ALL {
        assert!(help.contains(&c.describe[..c.describe.len().min(60)]), "{} is missing from help:\n{help}", c.name);
    }
    assert!(help.contains("h ← N pan left"), "counted commands are marked: {help}");
}

/// The ISM panel's numbers are `peakscope ism`'s, including the strand averaging of an
/// `rc = true` model (it used to run forward-only while its reference averaged both strands).
#[test]
fn ism_panel_equals_the_ism_command_for_a_strand_averaging_model() {
    use peakscope::jobs::view::{IsmUpdate, Predictor};
    use std::collections::HashMap;
    let (_d, _, cfg) = demo_app();
    let ism_of = |rc: bool| -> HashMap<(u64, char, String), f32> {
        let mut c = cfg.clone();
        c.models.truncate(1);
        c.models[0].rc = rc;
        let p = Predictor::open(&c, tch::Device::Cpu).unwrap();
        let (mut start, mut mutants, mut alt) = (0i64, vec![], HashMap::new());
        let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = p
            .ism(0, &peakscope::genome::Locus::new("chr1", 2_000, 2_040), cancel, |u| match u {
                IsmUpdate::Plan { region_start, mutants: m, .. } => (start, mutants) = (region_start, m),
                IsmUpdate::Reference(_) => {}
                IsmUpdate::Chunk { first, deltas, .. } => alt.extend(deltas.into_iter().enumerate().map(|(k, v)| (first + k, v))),
            })
            .unwrap();
        assert!(!s.cancelled && s.done == 120, "{}", s.done);
        let mut out = HashMap::new();
        for (k, &(o, a)) in mutants.iter().enumerate() {
            for (t, name) in c.tracks.iter().enumerate() {
                out.insert(((start + o as i64) as u64, b"ACGT"[a as usize] as char, name.name.clone()), alt[&k][t] as f32);
            }
        }
        out
    };
    let ui = ism_of(true);
    // the command on a config whose model averages the strands
    let text = std::fs::read_to_string(&cfg.source).unwrap();
    let mut table: toml::Table = toml::from_str(&text).unwrap();
    table["models"].as_array_mut().unwrap()[0].as_table_mut().unwrap().insert("rc".into(), toml::Value::Boolean(true));
    // next to the original: its relative paths resolve against its folder
    let rc_cfg = cfg.source.parent().unwrap().join("rc.toml");
    std::fs::write(&rc_cfg, toml::to_string(&table).unwrap()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_peakscope"))
        .args(["ism", "--config"])
        .arg(&rc_cfg)
        .args(["--model", &cfg.models[0].name, "--region", "chr1:2,001-2,040", "--device", "cpu"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tsv = String::from_utf8(out.stdout).unwrap();
    let mut n = 0;
    for line in tsv.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let key = (f[0].parse::<u64>().unwrap(), f[2].chars().next().unwrap(), f[3].to_string());
        let cli: f32 = f[6].parse().unwrap();
        let got = ui[&key];
        assert!((got - cli).abs() <= 1e-5 * (1.0 + cli.abs()), "{key:?}: panel {got} vs ism {cli}");
        n += 1;
    }
    assert_eq!(n, ui.len());
    // and the strand averaging matters here: forward-only deltas differ
    let fwd = ism_of(false);
    let most = ui.iter().map(|(k, v)| (v - fwd[k]).abs()).fold(0f32, f32::max);
    assert!(most > 1e-3, "rc and forward-only ISM agree to {most}: the comparison would not catch a missing rc");
}

#[test]
fn tf_panel_heatmap_sorts_finds_and_highlights() {
    use peakscope::jobs::view::GenomicHit;
    use peakscope::tui::components::tf::{HitsTask, TfEvent, TfPanel, TfTask};
    let (_d, mut app, _) = demo_app();
    app.resize(140, 40);
    assert!(app.on_key(key('t')).is_empty(), "models not loaded yet");
    assert!(app.shared.status.contains("loading"), "{}", app.shared.status);
    app.shared.models.ready = true;
    app.on_key(key('M')); // compare with the second model
    let cmp = app.shared.models.compare.expect("a compared model");
    let reqs = app.on_key(key('t'));
    assert_eq!(app.shared.panel, Some("tf"));
    let task = reqs.iter().find_map(|r| r.task::<TfTask>()).expect("a TF activity task");
    assert_eq!(task.models, vec![0, cmp], "active and compared model");
    assert_eq!(task.peaks.len(), peakscope::tui::components::tf::UI_BACKGROUNDS);
    // a second t while it runs asks for nothing new
    assert!(app.on_key(key('t')).iter().all(|r| r.task::<TfTask>().is_none()));
    let t = app.shared.tracks.len();
    let tf = |app: &mut App, ev: TfEvent| app.deliver::<TfPanel>(ReplyKind::Event(ev));
    tf(&mut app, TfEvent::Motifs(vec![("M1".into(), "FLAT".into()), ("M2".into(), "SPI1".into()), ("M3".into(), "SRF".into())]));
    // FLAT: same everywhere; SPI1: Myeloid only; SRF: Stromal mostly
    let row = |hot: Option<usize>, v: f32| {
        (0..t)
            .map(|k| {
                if Some(k) == hot {
                    v
                } else if hot.is_some() {
                    0.1
                } else {
                    1.0
                }
            })
            .collect::<Vec<f32>>()
    };
    let myeloid = app.shared.tracks.iter().position(|x| x == "Myeloid").unwrap();
    let stromal = app.shared.tracks.iter().position(|x| x == "Stromal").unwrap();
    tf(&mut app, TfEvent::Rows { model: 0, first: 0, rows: vec![row(None, 0.0), row(Some(myeloid), 12.0), row(Some(stromal), 3.0)] });
    tf(&mut app, TfEvent::Rows { model: cmp, first: 0, rows: vec![row(None, 0.0), row(None, 0.0), row(None, 0.0)] });
    let p = app.component::<TfPanel>();
    let order: Vec<&str> = p.order(0).iter().map(|&m| p.motifs[m].1.as_str()).collect();
    assert_eq!(order[2], "FLAT", "the flat TF sorts last: {order:?}");
    let screen = render(&app, 140, 40).join("\n");
    assert!(screen.contains("TF activity") && screen.contains("SPI1") && screen.contains("Myel") && screen.contains("12"), "{screen}");
    assert!(screen.contains("compared"), "{screen}");
    // / finds a TF (not a gene or locus) while the panel is open, and asks for its hits in view
    app.on_key(key('/'));
    typed(&mut app, "srf");
    let reqs = app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let p = app.component::<TfPanel>();
    assert_eq!(p.selected, Some(2));
    assert_eq!(p.order(0)[p.cursor], 2, "the cursor is on SRF");
    let h = reqs.iter().find_map(|r| r.task::<HitsTask>()).expect("a hits task");
    assert_eq!((h.motif, &h.locus), (2, &app.shared.locus));
    let locus = app.shared.locus.clone();
    let start = locus.start as i64 + 10;
    tf(
        &mut app,
        TfEvent::Hits { motif: 2, locus: locus.clone(), hits: vec![GenomicHit { name: "SRF".into(), start, end: start + 12, reverse: false, relative: 0.9 }] },
    );
    assert!(app.shared.status.contains("1 motif hit"), "{}", app.shared.status);
    let screen = render(&app, 140, 40).join("\n");
    assert!(screen.contains("SRF hits") && screen.contains('▶'), "{screen}");
    // an unknown TF is explained
    app.on_key(key('/'));
    typed(&mut app, "NOPE");
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert!(app.shared.status.contains("no TF or motif named 'NOPE'"), "{}", app.shared.status);
    // j/k move the cursor, enter toggles the highlight of the TF under it
    app.on_key(key('k'));
    app.on_key(key('k'));
    assert_eq!(app.component::<TfPanel>().cursor, 0);
    let reqs = app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let first = app.component::<TfPanel>().order(0)[0];
    assert_eq!(app.component::<TfPanel>().selected, Some(first));
    assert!(reqs.iter().any(|r| r.task::<HitsTask>().is_some_and(|h| h.motif == first)));
    // moving the view asks for the hits there
    let reqs = app.on_key(key('l'));
    assert!(reqs.iter().any(|r| r.task::<HitsTask>().is_some_and(|h| h.locus == app.shared.locus)), "{reqs:?}");
}

#[test]
fn ism_logo_view_draws_letters_for_every_cell_type_and_both_models() {
    use peakscope::jobs::view::GenomicHit;
    use peakscope::tui::components::logo::{letter, LogoTask, LogoView};
    let (_d, mut app, _) = demo_app();
    app.resize(120, 40);
    app.shared.models.ready = true;
    app.on_key(key('n'));
    let peak = app.shared.selected.unwrap();
    app.on_key(key('M'));
    let cmp = app.shared.models.compare.unwrap();
    let reqs = app.on_key(key('b'));
    assert_eq!(app.shared.panel, Some("ism"));
    let task = reqs.iter().find_map(|r| r.task::<LogoTask>()).expect("a logo task");
    assert_eq!((task.peak, task.models.clone()), (peak, vec![0, cmp]));
    let t = app.shared.tracks.len();
    let n = 300;
    let seq: Vec<u8> = (0..n).map(|i| b"ACGT"[i % 4]).collect();
    // model 0: a strong positive site at 150..156 in the first cell type only; compared: in all
    let attr = |all: bool| -> Vec<Vec<f32>> {
        (0..t)
            .map(|k| {
                (0..n)
                    .map(|p| {
                        if (150..156).contains(&p) && (all || k == 0) {
                            1.0
                        } else if p == 10 {
                            -0.6
                        } else {
                            0.01
                        }
                    })
                    .collect()
            })
            .collect()
    };
    let v = LogoView {
        peak,
        region_start: 5000,
        seq,
        models: vec![(0, attr(false)), (cmp, attr(true))],
        hits: vec![GenomicHit { name: "HNF4A".into(), start: 5150, end: 5156, reverse: false, relative: 0.92 }],
    };
    app.deliver::<Ism>(ReplyKind::Event(IsmEvent::Logo(v)));
    let ism = app.component::<Ism>();
    assert_eq!(ism.logo_offset, (n - app.shared.cols) / 2, "starts centred");
    let screen = render(&app, 120, 40);
    let text = screen.join("\n");
    assert!(text.contains("logo") && text.contains("gradient × input"), "{text}");
    // one row per cell type per model, labelled
    let rows_with = |s: &str| screen.iter().filter(|l| l.contains(s)).count();
    assert!(rows_with(&app.shared.tracks[1][..3.min(app.shared.tracks[1].len())]) >= 2, "{text}");
    assert!(text.contains("HNF4A"), "motif hit labelled: {text}");
    // the site: upper case letters in the first cell type's row of model 0
    assert!(text.contains("GTACGT") || text.contains("CGTACG") || text.contains("ACGTAC") || text.contains("TACGTA"), "{text}");
    // pan within the peak, clamped
    app.on_key(key(']'));
    app.on_key(key(']'));
    app.on_key(key(']'));
    assert_eq!(app.component::<Ism>().logo_offset, n - app.shared.cols);
    app.on_key(key('['));
    assert!(app.component::<Ism>().logo_offset < n - app.shared.cols);
    // letters: sign and strength
    let (c, _) = letter(b'a', 1.0, 1.0);
    assert_eq!(c, 'A');
    assert_eq!(letter(b'G', 0.3, 1.0).0, 'g');
    assert_eq!(letter(b'G', 0.01, 1.0).0, '·');
    assert_ne!(letter(b'G', -1.0, 1.0).1, letter(b'G', 1.0, 1.0).1, "negative and positive differ");
    // b again: back to the heatmap
    app.on_key(key('b'));
    assert!(!app.component::<Ism>().logo_mode);
}

#[test]
fn predictor_tf_activity_and_logo_attributions_equal_the_commands() {
    use peakscope::jobs::view::Predictor;
    let (_d, _, cfg) = demo_app();
    let mut c = cfg.clone();
    let st = c.models.iter().position(|m| m.name == "single_task").unwrap_or(c.models.len() - 1);
    c.models = vec![c.models[st].clone()];
    let name = c.models[0].name.clone();
    let p = Predictor::open(&c, tch::Device::Cpu).unwrap();
    // logo attributions of a 40-bp region equal `peakscope attr --method grad`
    let locus = peakscope::genome::Locus::new("chr1", 2_000, 2_040);
    let (attr, _hits) = p.region_attr(0, &locus, None).unwrap();
    assert_eq!((attr.region_start, attr.seq.len(), attr.attr.len()), (2_000, 40, c.tracks.len()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_peakscope"))
        .args(["attr", "--config"])
        .arg(&cfg.source)
        .args(["--model", &name, "--region", "chr1:2,001-2,040", "--method", "grad", "--device", "cpu"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tsv = String::from_utf8(out.stdout).unwrap();
    let mut n = 0;
    for line in tsv.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let pos: i64 = f[0].parse().unwrap();
        let t = c.tracks.iter().position(|x| x.name == f[2]).unwrap();
        let cli: f32 = f[3].parse().unwrap();
        let got = attr.attr[t][(pos - 2_000) as usize];
        assert!((got - cli).abs() <= 1e-6 * (1.0 + cli.abs()), "{pos} {}: panel {got} vs attr {cli}", f[2]);
        n += 1;
    }
    assert_eq!(n, 40 * c.tracks.len());
    // TF activity rows: one finite value per cell type for each motif
    let peaks: Vec<_> = (0..4).map(|i| peakscope::genome::Locus::new("chr1", 10_000 + i * 5_000, 10_300 + i * 5_000)).collect();
    let rows = p.tf_activity(0, 0..3, &peaks, 1, &std::sync::atomic::AtomicBool::new(false)).unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.len() == c.tracks.len() && r.iter().all(|x| x.is_finite())), "{rows:?}");
    // the UI runs them in its model server (`peakscope-torch serve-models`): the same values
    std::env::set_var("PEAKSCOPE_TORCH_BIN", env!("CARGO_BIN_EXE_peakscope-torch"));
    let mut client = peakscope::jobs::remote::ModelClient::spawn(&cfg.source, "cpu", std::process::Stdio::inherit()).unwrap();
    let cancel = std::sync::atomic::AtomicBool::new(false);
    assert_eq!(client.tf_activity(st, 0..3, &peaks, 1, &cancel).unwrap(), rows);
    let (rattr, rhits) = client.region_attr(st, &locus, None).unwrap();
    assert_eq!((rattr.region_start, &rattr.seq, &rattr.attr), (attr.region_start, &attr.seq, &attr.attr));
    assert_eq!(rhits, _hits);
    assert_eq!(client.motif_names().unwrap(), p.motif_names());
    let view = peakscope::genome::Locus::new("chr1", 0, 50_000);
    let m = (0..p.motif_names().len()).find(|&m| !p.motif_hits(m, &view).unwrap().is_empty()).expect("a motif with hits");
    assert_eq!(client.motif_hits(m, &view).unwrap(), p.motif_hits(m, &view).unwrap());
    assert_eq!(client.predict_tracks(st, std::slice::from_ref(&locus)).unwrap(), p.predict_tracks(0, std::slice::from_ref(&locus)).unwrap());
    // a bad request fails with its reason and the server keeps serving
    assert!(format!("{:#}", client.motif_hits(usize::MAX, &view).unwrap_err()).contains("no motif"));
    assert_eq!(client.motif_names().unwrap().len(), p.motif_names().len());
}

#[test]
fn binned_models_draw_their_predicted_signal_along_the_view() {
    use peakscope::genome::Locus;
    use peakscope::jobs::view::{Along, Predictor};
    use peakscope::tui::components::tracks::AlongTask;
    use std::sync::atomic::AtomicBool;
    let (_d, _, cfg) = demo_app();
    // a binned model: per 32-bp bin, the count of each base (A, C, G, T → four cell types)
    let dir = cfg.source.parent().unwrap();
    peakscope::model::zoo::save(&peakscope::model::zoo::binned_count(1024, 32).unwrap(), &dir.join("models/bincount.pt")).unwrap();
    let mut text = std::fs::read_to_string(&cfg.source).unwrap();
    text.push_str(
        "\n[[models]]\nname = \"bincount\"\npath = \"models/bincount.pt\"\ntargets = [\"PT\", \"DT\", \"Podocyte\", \"Endothelial\"]\ninput_length = 1024\n[models.height]\nlayout = \"bins-targets\"\nbin_size = 32\n",
    );
    std::fs::write(&cfg.source, text).unwrap();
    let cfg = ProjectConfig::load(&cfg.source).unwrap();
    let bm = cfg.models.len() - 1;
    let p = Predictor::open(&cfg, tch::Device::Cpu).unwrap();
    let cancel = AtomicBool::new(false);
    // one column per bin: each base's fraction of the bin, read from the FASTA
    let locus = Locus::new("chr1", 9_984, 12_032);
    let signal = p.along_view(bm, &locus, 64, &cancel).unwrap();
    let Along::Signal { values, bin_size, windows, computed } = &signal else { panic!("{signal:?}") };
    assert_eq!((*bin_size, *windows, *computed), (32, 3, 3), "windows on the 1,024-bp grid from 9,216");
    let seq = peakscope::genome::Fasta::open(&cfg.genome.fasta).unwrap().fetch("chr1", 9_984, 12_032).unwrap();
    for c in 0..64 {
        for (t, base) in b"ACGT".iter().enumerate() {
            let n = seq[c * 32..(c + 1) * 32].iter().filter(|b| b.to_ascii_uppercase() == *base).count();
            assert!((values[t][c] - n as f32 / 32.0).abs() < 1e-6, "column {c}, {}: {} vs {n}/32", cfg.tracks[t].name, values[t][c]);
        }
        assert!(values[4..].iter().all(|row| row[c].is_nan()), "cell types without an output are NaN");
    }
    // again: from the cache; panning computes only the new window
    // (NaN rows: compared as printed)
    let again = p.along_view(bm, &locus, 64, &cancel).unwrap();
    assert!(matches!(again, Along::Signal { computed: 0, .. }) && format!("{:?}", signal_values(&again)) == format!("{values:?}"));
    assert!(matches!(p.along_view(bm, &Locus::new("chr1", 10_500, 12_548), 64, &cancel).unwrap(), Along::Signal { computed: 1, .. }));
    // per-sequence models, and views wider than 64 windows, have none
    assert_eq!(p.along_view(0, &locus, 64, &cancel).unwrap(), Along::PerPeak);
    assert!(matches!(p.along_view(bm, &Locus::new("chr1", 0, 200_000), 64, &cancel).unwrap(), Along::TooWide(w) if w.contains("65,536")));
    // the model server answers the same
    std::env::set_var("PEAKSCOPE_TORCH_BIN", env!("CARGO_BIN_EXE_peakscope-torch"));
    let mut client = peakscope::jobs::remote::ModelClient::spawn(&cfg.source, "cpu", std::process::Stdio::inherit()).unwrap();
    assert_eq!(
        format!("{:?}", client.along_view(bm, &locus, 64, &cancel).unwrap()),
        format!("{:?}", Along::Signal { values: values.clone(), bin_size: 32, windows: 3, computed: 3 })
    );

    // the UI asks for it for the shown models and draws it as the predicted row
    let mut app = app_for(&cfg).unwrap();
    app.resize(140, 50);
    app.shared.models.ready = true;
    app.shared.models.active = bm;
    typed(&mut app, ":chr1:9,985-12,032");
    let reqs = app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let (view, cols) = (app.shared.locus.clone(), app.shared.cols);
    assert!(reqs.iter().any(|r| r.task::<AlongTask>().is_some_and(|a| a.model == bm && a.locus == view && a.cols == cols)), "{reqs:?}");
    let data: Vec<_> =
        cfg.tracks.iter().map(|t| peakscope::genome::BigWig::open(&t.bigwig).unwrap().binned(&view.chrom, view.start, view.end, cols).unwrap()).collect();
    let generation = app.shared.generation;
    app.deliver::<Tracks>(ReplyKind::Event(TracksEvent::Columns { generation, locus: view.clone(), data }));
    let along = p.along_view(bm, &view, cols, &cancel).unwrap();
    app.deliver::<Tracks>(ReplyKind::Event(TracksEvent::Along { model: bm, locus: view.clone(), cols, along }));
    let screen = render(&app, 140, 50);
    let rows: Vec<&String> = screen.iter().filter(|l| l.starts_with("  pred ~")).collect();
    assert_eq!(rows.len(), cfg.tracks.len(), "{}", screen.join("\n"));
    assert!(rows[0].chars().skip(LABEL_W as usize).any(|c| c != ' '), "PT (A) is drawn: {}", rows[0]);
    assert!(rows[5].chars().skip(LABEL_W as usize).all(|c| c == ' '), "Stromal has no output: {}", rows[5]);
    // a per-sequence model says so once and is not asked again
    app.shared.models.active = 0;
    app.deliver::<Tracks>(ReplyKind::Event(TracksEvent::Along { model: 0, locus: view.clone(), cols, along: Along::PerPeak }));
    let reqs = app.on_key(key('l'));
    assert!(!reqs.iter().any(|r| r.task::<AlongTask>().is_some_and(|a| a.model == 0)), "{reqs:?}");
}

fn signal_values(a: &peakscope::jobs::view::Along) -> &Vec<Vec<f32>> {
    match a {
        peakscope::jobs::view::Along::Signal { values, .. } => values,
        other => panic!("{other:?}"),
    }
}
