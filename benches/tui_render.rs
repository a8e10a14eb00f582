//! Frame render time of the track panel at 200×60 with 10 cell types × 2 models (measured
//! and predicted rows, 30 peaks in view, genes), into ratatui's TestBackend.
use criterion::{criterion_group, criterion_main, Criterion};
use peakscope::genome::bigwig::BinSummary;
use peakscope::genome::genes::{Gene, Genes};
use peakscope::genome::{ChromNames, Locus, Peak, PeakSet};
use peakscope::jobs::worker::ReplyKind;
use peakscope::tui::app::App;
use peakscope::tui::components::tracks::{Tracks, TracksEvent};
use peakscope::tui::shared::Preds;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn app() -> App {
    let tracks: Vec<String> = (0..10).map(|t| format!("celltype{t}")).collect();
    let peaks: Vec<Peak> = (0..30)
        .map(|i| Peak {
            chrom: "chr1".into(),
            start: 1_000 + i * 3_000,
            end: 1_400 + i * 3_000,
            name: Some(format!("p{i}")),
            label: Some(if i % 3 == 0 { "ubi".into() } else { "spec".into() }),
            summit: None,
        })
        .collect();
    let genes = Genes::from_genes(vec![Gene { name: "GENE1".into(), locus: Locus::new("chr1", 5_000, 60_000), strand: Some('+') }]);
    let mut app = App::new(
        tracks,
        vec!["mt".into(), "st".into()],
        ChromNames::new([("chr1".to_string(), 1_000_000u64)]),
        PeakSet::from_peaks(peaks),
        vec!["ubi".into()],
        Some(genes),
    );
    app.resize(200, 60);
    app.goto("chr1:1-100,000").unwrap();
    let cols = app.shared.cols;
    let data = (0..10).map(|t| Some((0..cols).map(|c| BinSummary { covered: 500.0, sum: ((c * (t + 1)) % 97) as f64 * 500.0, max: 50.0 }).collect())).collect();
    let (generation, locus) = (app.shared.generation, app.shared.locus.clone());
    app.deliver::<Tracks>(ReplyKind::Event(TracksEvent::Columns { generation, locus, data }));
    for model in 0..2 {
        let values = (0..30).map(|i| (0..10).map(|t| (i * t) as f32).collect()).collect();
        app.deliver::<Tracks>(ReplyKind::Event(TracksEvent::Preds(Preds { model, peaks: (0..30).collect(), values })));
    }
    app
}

fn bench(c: &mut Criterion) {
    let mut app = app();
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    c.bench_function("render_200x60_10_tracks_2_models", |b| {
        b.iter(|| {
            term.draw(|f| f.render_widget(&app, f.area())).unwrap();
        })
    });
    app.shared.panel = Some("metrics");
    c.bench_function("render_200x60_with_panel", |b| {
        b.iter(|| {
            term.draw(|f| f.render_widget(&app, f.area())).unwrap();
        })
    });
}

/// A key press to a drawn frame on the demo project, tiles cached: the pan, the track
/// loader's column summaries for 8 cell types, and the render.
fn key_to_frame(c: &mut Criterion) {
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let target =
        std::env::var("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or_else(|_| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let cfg_path = peakscope::demo::prepare(&target.join("bench-data").join("demo"), false, false, &mut |_| {}).unwrap();
    let cfg = peakscope::config::ProjectConfig::load(&cfg_path).unwrap();
    let mut app = peakscope::tui::app_for(&cfg).unwrap();
    app.resize(200, 60);
    app.goto("chr1:100,001-140,000").unwrap();
    let mut bws: Vec<_> = cfg.tracks.iter().map(|t| peakscope::genome::BigWig::open(&t.bigwig).unwrap()).collect();
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let mut flip = false;
    c.bench_function("key_to_frame_demo_cached", |b| {
        b.iter(|| {
            flip = !flip;
            let k = KeyEvent::new(KeyCode::Char(if flip { 'l' } else { 'h' }), KeyModifiers::NONE);
            let _ = app.on_key(k);
            let (locus, cols, generation) = (app.shared.locus.clone(), app.shared.cols, app.shared.generation);
            let data = bws.iter_mut().map(|bw| bw.binned(&locus.chrom, locus.start, locus.end, cols).unwrap()).collect();
            app.deliver::<Tracks>(ReplyKind::Event(TracksEvent::Columns { generation, locus, data }));
            term.draw(|f| f.render_widget(&app, f.area())).unwrap();
        })
    });
}

criterion_group!(benches, bench, key_to_frame);
criterion_main!(benches);
