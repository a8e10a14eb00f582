//! The terminal UI without a terminal: state transitions driven by keys, and TestBackend
//! renders of the demo project.
use peakscope::config::ProjectConfig;
use peakscope::tui::app::{App, Mode, Request, Scale, LABEL_W};
use peakscope::tui::app_for;
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
    assert_eq!(app.locus.display(), "chr2:10,001-20,000");
    assert!(matches!(&reqs[0], Request::Tracks { locus, cols: 88, .. } if *locus == app.locus));
    // pan right a tenth, with a count prefix: 3l = 3 kb
    typed(&mut app, "3l");
    assert_eq!((app.locus.start, app.locus.end), (13_000, 23_000));
    app.on_key(key('H'));
    assert_eq!(app.locus.start, 3_000);
    // zoom keeps the centre
    app.on_key(key('+'));
    assert_eq!((app.locus.start, app.locus.end), (5_500, 10_500));
    app.on_key(key('-'));
    assert_eq!(app.locus.len(), 10_000);
    // pan past the chromosome start clamps at 0
    typed(&mut app, "50h");
    assert_eq!(app.locus.start, 0);
    // next peak selects it and centres the view; N goes back within the same cluster
    app.on_key(key('n'));
    let first = app.selected.unwrap();
    let label = app.peaks.get(first).unwrap().label.clone();
    app.on_key(key('n'));
    let second = app.selected.unwrap();
    assert_ne!(first, second);
    assert_eq!(app.peaks.get(second).unwrap().label, label, "n stays in the selected peak's cluster");
    app.on_key(key('N'));
    assert_eq!(app.selected, Some(first));
    // gene and peak names
    app.on_key(key('g'));
    typed(&mut app, "CD19");
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert!(app.status.contains("gene CD19"), "{}", app.status);
    app.on_key(key(':'));
    typed(&mut app, "peak10");
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(app.selected, app.peaks.find_name("peak10"));
    // bad input: explained, nothing moves
    let before = app.locus.clone();
    app.on_key(key(':'));
    typed(&mut app, "chrZ:1-10");
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(app.locus, before);
    assert!(app.status.contains("no chromosome 'chrZ'"), "{}", app.status);
    // scale, model, help, quit
    app.on_key(key('s'));
    assert_eq!(app.scale, Scale::PerTrack);
    app.on_key(key('m'));
    assert_eq!(app.model, 1);
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
    let old = app.generation;
    let old_locus = app.locus.clone();
    app.on_key(key('l'));
    app.on_tracks(old, old_locus, vec![None; 8]);
    assert!(app.data.is_none(), "a reply for a locus the user left is ignored");
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
        data.push(bw.binned(&app.locus.chrom, app.locus.start, app.locus.end, app.cols).unwrap());
    }
    let g = app.generation;
    app.on_tracks(g, app.locus.clone(), data);
    let lines = render(&app, 120, 32);
    assert!(lines[0].contains("chr1:1-7,622"), "{}", lines[0]);
    let row = |name: &str| lines.iter().find(|l| l.starts_with(name)).unwrap().clone();
    // the Myeloid-specific peak0 (chr1:2,387-2,858) is where Myeloid's signal is
    let peak = app.peaks.find_name("peak0").unwrap();
    let p = app.peaks.get(peak).unwrap().clone();
    let col = |pos: u64| LABEL_W as usize + (pos * app.cols as u64 / app.locus.len()) as usize;
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
    assert_eq!(app.on_key(key('i')), vec![], "no peak selected yet");
    assert!(app.status.contains("select a peak"));
    app.models_ready = true;
    app.on_key(key('n'));
    let peak = app.selected.unwrap();
    let reqs = app.on_key(key('i'));
    assert_eq!(reqs, vec![Request::Ism { model: 0, peak }]);
    assert_eq!(app.panel, peakscope::tui::app::Panel::Ism);
    // the predictor announces the plan, streams chunks, then labels the hot spot
    app.on_ism_started(peak, 0, 1000, b"ACGT".to_vec(), vec![(0, 1), (0, 2), (0, 3), (1, 0)]);
    let t = app.tracks.len();
    app.on_ism_chunk(peak, vec![1.0; t], 0, vec![]);
    app.on_ism_chunk(peak, vec![], 0, vec![vec![3.0; t], vec![0.5; t]]);
    let v = app.ism.as_ref().unwrap();
    assert_eq!(v.done, 2);
    assert_eq!(v.delta(0, 1, 0), Some(2.0));
    assert_eq!(v.delta(0, 2, 0), Some(-0.5));
    assert_eq!(v.delta(0, 3, 0), None, "not computed yet");
    assert_eq!(v.delta(0, 0, 0), None, "reference base");
    app.on_ism_done(peak, vec![Some("HNF4A 0.95 @ 1,001".into()); t]);
    let screen = render(&app, 120, 40).join("\n");
    assert!(screen.contains("2/4 mutants") && screen.contains("HNF4A 0.95"), "{screen}");
    // a reply for another peak is ignored
    app.on_ism_chunk(peak + 1, vec![9.0; t], 0, vec![vec![9.0; t]]);
    assert_eq!(app.ism.as_ref().unwrap().done, 2);

    // metrics: e starts, snapshots fill the table, e again stops
    assert_eq!(app.on_key(key('e')), vec![Request::EvalStart]);
    assert!(app.eval.running);
    let layout = peakscope::eval::stream::EvalLayout {
        tracks: app.tracks.clone(),
        models: vec![peakscope::eval::stream::ModelLayout {
            name: app.models[0].clone(),
            group: None,
            outputs: (0..t).map(Some).collect(),
            output_names: app.tracks.clone(),
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
    app.on_eval_progress(5, 10, Some(st.snapshot(false)), st.layout.strata.names().to_vec());
    let screen = render(&app, 120, 40).join("\n");
    assert!(screen.contains("5/10 peaks (50%)") && screen.contains("ubiquitous"), "{screen}");
    assert_eq!(app.on_key(key('e')), vec![Request::EvalStop]);
    app.on_eval_done(Ok(()));
    assert!(!app.eval.running);
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
    assert_eq!(app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)), vec![Request::SaveSession("/tmp/x.toml".into())]);
    app.on_key(key(':'));
    typed(&mut app, "export view.svg");
    assert_eq!(app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)), vec![Request::Export("view.svg".into())]);
    // save and restore into a fresh app
    let path = d.path().join("s.toml");
    let s = Session::of(&app, &cfg.source);
    s.save(&path).unwrap();
    let back = Session::load(&path).unwrap();
    assert_eq!(back, s);
    let mut fresh = app_for(&cfg).unwrap();
    fresh.resize(100, 30);
    back.apply(&mut fresh).unwrap();
    assert_eq!((fresh.locus.clone(), fresh.model, fresh.scale, fresh.ism_track, fresh.selected), (app.locus.clone(), 1, Scale::PerTrack, 1, app.selected));
    assert!(fresh.is_hidden(1) && !fresh.is_hidden(0), "hidden cell types come back");
    // exports: text has the header; SVG is well-formed enough to hold text cells
    let txt = d.path().join("v.txt");
    export_view(&app, 100, 30, &txt).unwrap();
    let t = std::fs::read_to_string(&txt).unwrap();
    assert!(t.lines().next().unwrap().contains(&app.locus.display()), "{t}");
    let svg = d.path().join("v.svg");
    export_view(&app, 100, 30, &svg).unwrap();
    let s = std::fs::read_to_string(&svg).unwrap();
    assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>") && s.contains("<text"));
    assert!(Session::load(&d.path().join("none.toml")).unwrap_err().to_string().contains("none.toml"));
}

#[test]
fn peak_list_sorts_scopes_and_jumps() {
    use peakscope::tui::app::{Panel, PeakSort};
    let (_d, mut app, _) = demo_app();
    app.resize(120, 40);
    app.goto("chr1:1-60,000").unwrap();
    let in_view = app.list_source();
    assert!(in_view.len() > 5);
    // tab three times: ISM, metrics, peaks; opening the list asks for heights
    app.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    app.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    let reqs = app.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    assert_eq!(app.panel, Panel::Peaks);
    assert!(reqs.iter().any(|r| matches!(r, Request::Heights { peaks } if *peaks == in_view)));
    // heights arrive: sorted by measured (track of the list), largest first
    let t = app.tracks.len();
    let vals: Vec<Vec<f64>> = in_view.iter().enumerate().map(|(k, _)| vec![(k * 7 % 11) as f64; t]).collect();
    app.on_heights(in_view.clone(), vals);
    let rows = app.list_rows();
    let m: Vec<f64> = rows.iter().map(|&i| app.list_values(i).0.unwrap()).collect();
    assert!(m.windows(2).all(|w| w[0] >= w[1]), "{m:?}");
    // r cycles the sort key; position order is the peak order
    for _ in 0..4 {
        app.on_key(key('r'));
    }
    assert_eq!(app.list.sort, PeakSort::Position);
    assert_eq!(app.list_rows(), in_view);
    // j moves the cursor, enter jumps to that peak
    app.on_key(key('j'));
    app.on_key(key('j'));
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(app.selected, Some(in_view[2]));
    // f lists the selected peak's whole cluster
    app.on_key(key('f'));
    let label = app.peaks.get(in_view[2]).unwrap().label.clone();
    assert!(app.list_source().iter().all(|&i| app.peaks.get(i).unwrap().label == label));
    assert!(app.list_source().len() > in_view.iter().filter(|&&i| app.peaks.get(i).unwrap().label == label).count());
    let screen = render(&app, 120, 40).join("\n");
    assert!(screen.contains("selected peak's cluster") && screen.contains("sorted by position"), "{screen}");
}

#[test]
fn compare_models_hide_cell_types_and_show_jobs() {
    let (_d, mut app, _) = demo_app();
    app.resize(140, 50);
    app.models_ready = true;
    app.goto("chr1:1-20,000").unwrap();
    // M adds a comparison model and asks for its predictions too
    let reqs = app.on_key(key('M'));
    assert_eq!(app.compare, Some(1));
    assert!(reqs.iter().any(|r| matches!(r, Request::Predict { model: 1, .. })));
    let in_view = app.peaks.overlapping(&app.locus.chrom, app.locus.start, app.locus.end);
    let t = app.tracks.len();
    app.on_preds(0, in_view.clone(), in_view.iter().map(|_| vec![100.0; t]).collect());
    app.on_preds(1, in_view.clone(), in_view.iter().map(|_| vec![50.0; t]).collect());
    let screen = render(&app, 140, 50);
    assert!(screen[0].contains(&format!("vs {}", app.models[1])), "{}", screen[0]);
    assert!(screen.iter().any(|l| l.starts_with(&format!("  vs {}", &app.models[1][..6]))), "{}", screen.join("\n"));
    // cycling past the last model turns the comparison off
    for _ in 0..app.models.len() - 1 {
        app.on_key(key('M'));
    }
    assert_eq!(app.compare, None);
    // c focuses a cell type, x hides it from the track panel
    app.on_key(key('c'));
    let hidden = app.tracks[app.ism_track].clone();
    app.on_key(key('x'));
    let row_label = format!("{hidden:<11}");
    let screen = render(&app, 140, 50);
    assert!(!screen.iter().any(|l| l.starts_with(&row_label)), "{hidden} hidden");
    app.on_key(key('x'));
    assert!(render(&app, 140, 50).iter().any(|l| l.starts_with(&row_label)));
    // running jobs appear in the header
    app.eval.running = true;
    app.eval.done = 50;
    app.eval.total = 200;
    assert_eq!(app.jobs_line(), "eval 25%");
    assert!(render(&app, 140, 50)[0].contains("eval 25%"));
}
