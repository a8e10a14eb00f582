//! The UI at scale, without a terminal: the peak index on a small generated project (its
//! ranking equals `peakscope summarize`, partial rankings say so, the cache is reused and
//! rebuilt when an input changes), vertical scrolling through 32 tracks at 80×24, groups,
//! no data of one locus under another's label, wide-view summaries, `:eval`, and the
//! binary split (the `peakscope` binary links no libtorch).
mod common;

use common::{fasta, random_bigwig, write, Rng};
use peakscope::config::ProjectConfig;
use peakscope::genome::{BigWig, Peak, PeakSet};
use peakscope::jobs::view::Reader;
use peakscope::jobs::worker::{Reply, ReplyKind, TaskService, Worker};
use peakscope::tui::app::{App, Request};
use peakscope::tui::app_for;
use peakscope::tui::component::{AnyEvent, Job};
use peakscope::tui::components::metrics::{EvalTask, Metrics};
use peakscope::tui::components::peaks::{IndexState, PeakList, PeakSort, PeaksEvent};
use peakscope::tui::components::tracks::{Tracks, TracksEvent};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn special(k: KeyCode) -> KeyEvent {
    KeyEvent::new(k, KeyModifiers::NONE)
}

fn typed(app: &mut App, s: &str) -> Vec<Request> {
    s.chars().flat_map(|c| app.on_key(key(c))).collect()
}

fn render(app: &App, w: u16, h: u16) -> Vec<String> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| f.render_widget(app, f.area())).unwrap();
    let buf = t.backend().buffer().clone();
    (0..h).map(|y| (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>()).collect()
}

const CHROMS: [(&str, u32); 2] = [("chrA", 400_000), ("chrB", 150_000)];

/// A small project: 6 tracks (random signal, own calls), 3,000 peaks, genes.
fn small_project(dir: &Path, tracks: usize) -> PathBuf {
    let mut rng = Rng::new(5);
    let seqs: Vec<(&str, Vec<u8>)> = CHROMS.iter().map(|&(n, l)| (n, rng.dna(l as usize))).collect();
    let refs: Vec<(&str, &[u8])> = seqs.iter().map(|(n, s)| (*n, s.as_slice())).collect();
    fasta(dir, &refs);
    let mut peaks = String::new();
    for k in 0..3000 {
        let (c, len) = CHROMS[(k % 4 == 3) as usize];
        let s = rng.below(len as u64 - 1000);
        peaks += &format!("{c}\t{s}\t{}\tp{k}\tcluster{}\n", s + 150 + rng.below(400), k % 5);
    }
    write(&dir.join("peaks.bed"), &peaks);
    let mut genes = String::new();
    for k in 0..60 {
        let s = rng.below(380_000);
        genes += &format!("chrA\t{s}\t{}\tGENE{k}\t0\t{}\n", s + 2000 + rng.below(20_000), if k % 2 == 0 { "+" } else { "-" });
    }
    write(&dir.join("genes.bed"), &genes);
    let mut cfg = String::from("[genome]\nfasta = \"genome.fa\"\ngenes = \"genes.bed\"\n");
    for t in 0..tracks {
        random_bigwig(&dir.join(format!("T{t}.bw")), &CHROMS, 100 + t as u64);
        let calls: String = peaks.lines().filter(|_| rng.below(3) == 0).map(|l| l.split('\t').take(3).collect::<Vec<_>>().join("\t") + "\n").collect();
        write(&dir.join(format!("T{t}.bed")), &calls);
        cfg += &format!("[[tracks]]\nname = \"T{t}\"\nbigwig = \"T{t}.bw\"\npeaks = \"T{t}.bed\"\ngroup = \"{}\"\n", if t < 3 { "early" } else { "late" });
    }
    cfg += "[peaks]\nfile = \"peaks.bed\"\nlabel_column = 5\nubiquitous = [\"cluster0\"]\n[eval]\nchroms = [\"chrB\"]\nlimit = 500\n";
    let p = dir.join("project.toml");
    write(&p, &cfg);
    p
}

/// The UI runtime in miniature: run the app's track-loader and index jobs on real worker
/// threads and route their replies back, until nothing is left (model jobs are dropped).
fn run_jobs(app: &mut App, cfg: &ProjectConfig, reqs: Vec<Request>) {
    let (tx, rx) = crossbeam_channel::unbounded::<Reply<AnyEvent>>();
    let bigwigs: Vec<PathBuf> = cfg.tracks.iter().map(|t| t.bigwig.clone()).collect();
    let sink = |tx: &crossbeam_channel::Sender<Reply<AnyEvent>>| {
        let tx = tx.clone();
        move |r| {
            let _ = tx.send(r);
        }
    };
    let reader = Worker::<TaskService<Reader, AnyEvent>>::spawn("reader", move |_| Ok(TaskService::new(Reader::open(&bigwigs).0)), sink(&tx)).unwrap();
    let index = Worker::<TaskService<(), AnyEvent>>::spawn("index", |_| Ok(TaskService::new(())), sink(&tx)).unwrap();
    let mut open = 0usize;
    let submit = |reqs: Vec<Request>, open: &mut usize| {
        for r in reqs {
            if let Request::Job { component, job } = r {
                match job {
                    Job::Read(t) => {
                        reader.submit_tagged(component as u64, t);
                        *open += 1;
                    }
                    Job::Index(t) => {
                        index.submit_tagged(component as u64, t);
                        *open += 1;
                    }
                    _ => {}
                }
            }
        }
    };
    submit(reqs, &mut open);
    while open > 0 {
        let r = rx.recv_timeout(Duration::from_secs(60)).expect("a reply");
        if matches!(r.kind, ReplyKind::Finished { .. } | ReplyKind::Failed(_)) {
            open -= 1;
        }
        if let ReplyKind::Failed(e) = &r.kind {
            panic!("a job failed: {e}");
        }
        let more = app.on_reply(r.tag as usize, r.kind);
        submit(more, &mut open);
    }
}

/// `peakscope summarize --center-width W` of one track: (peak name, sum) per peak.
fn summarize(cfg: &ProjectConfig, track: usize) -> Vec<(String, f64)> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_peakscope"))
        .args(["summarize", "--bed"])
        .arg(&cfg.peaks.as_ref().unwrap().file)
        .arg("--bigwig")
        .arg(&cfg.tracks[track].bigwig)
        .args(["--center-width", &cfg.eval.center_width.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[1].to_string(), f[4].parse().unwrap())
        })
        .collect()
}

fn list(app: &App) -> &PeakList {
    app.component::<PeakList>()
}

#[test]
fn the_ranking_by_measured_height_is_summarizes_top_and_the_index_is_cached() {
    let d = tempfile::tempdir().unwrap();
    let p = small_project(d.path(), 6);
    let cfg = ProjectConfig::load(&p).unwrap();
    let mut app = app_for(&cfg).unwrap();
    let reqs = app.resize(120, 40);
    assert!(reqs.iter().any(|r| r.task::<peakscope::tui::components::peaks::IndexTask>().is_some()), "the index starts at launch: {reqs:?}");
    run_jobs(&mut app, &cfg, reqs);
    assert_eq!(list(&app).index, IndexState::Complete);
    let file = list(&app).index_file.clone().expect("the index was saved");
    if std::env::var_os("PEAKSCOPE_INDEX_DIR").is_none() {
        assert!(file.starts_with(d.path().join(".peakscope-index")), "beside the project: {}", file.display());
    }
    assert!(app.shared.specificity.iter().all(Option::is_some), "specificity of every peak");
    // the whole of chrA, focused on T4, the list sorted by measured height
    for _ in 0..4 {
        app.on_key(key('c'));
    }
    let reqs = {
        app.on_key(key(':'));
        typed(&mut app, "chrA");
        app.on_key(special(KeyCode::Enter))
    };
    run_jobs(&mut app, &cfg, reqs);
    for _ in 0..3 {
        app.on_key(special(KeyCode::Tab));
    }
    assert_eq!((app.shared.panel, list(&app).sort), (Some("peaks"), PeakSort::Measured));
    let rows = list(&app).rows(&app.shared);
    let truth = summarize(&cfg, 4);
    // summarize writes peaks in file order; the list indexes the sorted set: match by name
    let chrom: std::collections::HashMap<String, String> = app.shared.peaks.peaks().iter().map(|p| (p.display_name(), p.chrom.clone())).collect();
    let mut on_a: Vec<(String, f64)> = truth.into_iter().filter(|(n, _)| chrom[n] == "chrA").collect();
    assert_eq!(rows.len(), on_a.len());
    on_a.sort_by(|a, b| b.1.total_cmp(&a.1));
    let top: Vec<(String, f64)> =
        rows.iter().take(25).map(|&i| (app.shared.peaks.get(i).unwrap().display_name(), list(&app).values(&app.shared, i).0.unwrap())).collect();
    for (k, ((name, v), (tname, tv))) in top.iter().zip(&on_a).enumerate() {
        assert_eq!(v, tv, "rank {k}: the list's height is summarize's sum");
        let tie = on_a.iter().filter(|(_, x)| x == tv).count() > 1;
        assert!(tie || name == tname, "rank {k}: {name} vs {tname}");
    }
    let screen = render(&app, 120, 40).join("\n");
    assert!(screen.contains("ranked") && !screen.contains("partial"), "{screen}");

    // a second launch reads the index (identical heights); a changed bigWig rebuilds it
    let mut again = app_for(&cfg).unwrap();
    let reqs = again.resize(120, 40);
    run_jobs(&mut again, &cfg, reqs);
    assert_eq!(list(&again).index_file.as_deref(), Some(file.as_path()));
    let sample: Vec<usize> = (0..app.shared.peaks.len()).step_by(97).collect();
    for &i in &sample {
        for t in 0..6 {
            let (a, b) = (list(&app).heights.get(i, t).unwrap(), list(&again).heights.get(i, t).unwrap());
            assert!(a == b || (a.is_nan() && b.is_nan()));
        }
    }
    random_bigwig(&cfg.tracks[2].bigwig, &CHROMS, 999);
    let mut third = app_for(&cfg).unwrap();
    let reqs = third.resize(120, 40);
    run_jobs(&mut third, &cfg, reqs);
    assert_ne!(list(&third).index_file.as_deref(), Some(file.as_path()), "a new key for the changed inputs");
    let mut bw = BigWig::open(&cfg.tracks[2].bigwig).unwrap();
    let p = third.shared.peaks.get(7).unwrap().clone();
    let (s, e) = p.locus().centered_window(cfg.eval.center_width);
    let truth = bw.stats(&p.chrom, s.max(0) as u64, e as u64).unwrap().unwrap().sum;
    assert_eq!(list(&third).heights.get(7, 2), Some(truth), "rebuilt from the new file");
}

#[test]
fn a_partial_ranking_says_so_and_predicted_ranking_counts_predictions() {
    let d = tempfile::tempdir().unwrap();
    let p = small_project(d.path(), 3);
    let cfg = ProjectConfig::load(&p).unwrap();
    let mut app = app_for(&cfg).unwrap();
    app.resize(140, 40);
    app.goto("chrA").unwrap();
    for _ in 0..3 {
        app.on_key(special(KeyCode::Tab));
    }
    let n = app.shared.peaks.len();
    let in_view = list(&app).source(&app.shared).len();
    // the index has the first 1,000 peaks so far
    let values: Vec<f64> = (0..1000 * 3).map(|k| (k % 17) as f64).collect();
    app.deliver::<PeakList>(ReplyKind::Event(PeaksEvent::IndexHeights { first: 0, values }));
    app.deliver::<PeakList>(ReplyKind::Event(PeaksEvent::Index(IndexState::Heights { done: 1000, total: n })));
    let screen = render(&app, 140, 40);
    let known = (0..n).filter(|&i| i < 1000 && app.shared.peaks.get(i).unwrap().chrom == "chrA").count();
    let note =
        format!("ranking {} / {} (partial", peakscope::genome::locus::group_thousands(known as u64), peakscope::genome::locus::group_thousands(in_view as u64));
    assert!(screen.iter().any(|l| l.contains(&note)), "{note}\n{}", screen.join("\n"));
    assert!(screen[0].contains("index: heights 1,000 / 3,000"), "{}", screen[0]);
    // ranked peaks come first, the unknown after them
    let rows = list(&app).rows(&app.shared);
    assert!(rows[..known].iter().all(|&i| i < 1000) && rows[known..].iter().all(|&i| i >= 1000));
    // by prediction: how many have one, and P offers the rest
    app.on_key(key('r'));
    assert_eq!(list(&app).sort, PeakSort::Predicted);
    let screen = render(&app, 140, 40).join("\n");
    assert!(
        screen.contains(&format!("0 / {} predicted (partial; P predicts the rest)", peakscope::genome::locus::group_thousands(in_view as u64))),
        "{screen}"
    );
    // P asks for every listed peak once the models are loaded (a model as the UI lists it)
    app.shared.models.names = vec!["m".into()];
    app.shared.models.ready = true;
    let reqs = app.on_key(key('P'));
    let job = reqs.iter().find_map(|r| r.task::<peakscope::tui::shared::PredictTask<PeaksEvent>>()).expect("a prediction job");
    assert_eq!(job.peaks.len(), in_view);
    assert!(app.jobs_line().contains(&format!("predicting 0 / {}", peakscope::genome::locus::group_thousands(in_view as u64))), "{}", app.jobs_line());
    let reqs = app.on_key(key('P'));
    assert!(reqs.iter().any(|r| r.is_cancel()), "P again stops it");
}

fn many_tracks_app(n: usize) -> App {
    let names: Vec<String> = (0..n).map(|k| format!("cell{k:02}")).collect();
    let chroms = peakscope::genome::ChromNames::new([("chr1".to_string(), 1_000_000u64)]);
    let peaks = PeakSet::from_peaks(vec![Peak { chrom: "chr1".into(), start: 5_000, end: 5_400, name: Some("p0".into()), label: None, summit: None }]);
    let mut app = App::new(names, vec!["m".into()], chroms, peaks, vec![], None);
    let mut toml = String::from("[genome]\nfasta = \"g.fa\"\n");
    for k in 0..n {
        toml += &format!("[[tracks]]\nname = \"cell{k:02}\"\nbigwig = \"x.bw\"\ngroup = \"{}\"\n", if k < n / 2 { "myelo" } else { "lympho" });
    }
    app.shared.config = Some(std::sync::Arc::new(ProjectConfig::parse(&toml).unwrap()));
    app
}

fn deliver_columns(app: &mut App, fill: f64) {
    let (generation, locus, cols) = (app.shared.generation, app.shared.locus.clone(), app.shared.cols);
    let bins = vec![peakscope::genome::BinSummary { covered: 1.0, sum: fill, max: fill as f32 }; cols];
    let data = vec![Some(bins); app.shared.tracks.len()];
    app.deliver::<Tracks>(ReplyKind::Event(TracksEvent::Columns { generation, locus, data }));
}

#[test]
fn vertical_scrolling_reaches_the_last_of_32_tracks_at_80x24_also_with_a_panel_open() {
    let mut app = many_tracks_app(32);
    app.resize(80, 24);
    deliver_columns(&mut app, 3.0);
    let shows = |app: &App, name: &str| render(app, 80, 24).iter().any(|l| l.starts_with(name));
    assert!(shows(&app, "cell00") && !shows(&app, "cell31"));
    // J scrolls a row at a time; a count scrolls more; never past the end
    app.on_key(key('J'));
    assert!(!shows(&app, "cell00"));
    typed(&mut app, "200J");
    assert!(shows(&app, "cell31"), "{}", render(&app, 80, 24).join("\n"));
    let screen = render(&app, 80, 24);
    assert!(
        screen[1].starts_with("chr1") && screen[21].starts_with("peaks") && screen[22].starts_with("genes"),
        "fixed ruler, peak and gene rows:\n{}",
        screen.join("\n")
    );
    assert!(screen.iter().any(|l| l.chars().nth(11) == Some('┃')), "a scroll bar");
    typed(&mut app, "200K");
    assert!(shows(&app, "cell00"));
    // with the peak list open the area is smaller and still scrolls; focusing a cell type
    // (c) brings it into view
    app.on_key(special(KeyCode::Tab));
    app.on_key(special(KeyCode::Tab));
    app.on_key(special(KeyCode::Tab));
    assert_eq!(app.shared.panel, Some("peaks"));
    typed(&mut app, "31c");
    assert_eq!(app.shared.focused_track, 31);
    assert!(shows(&app, "cell31"), "{}", render(&app, 80, 24).join("\n"));
    // G collapses the focused cell type's group into one row
    app.on_key(key('G'));
    let screen = render(&app, 80, 24).join("\n");
    assert!(screen.contains("▸lympho 16") && !screen.contains("cell31"), "{screen}");
    app.on_key(key('c'));
    app.on_key(key('G'));
    assert!(render(&app, 80, 24).join("\n").contains("▸myelo 16"));
    assert_eq!(app.component::<Tracks>().rows(&app.shared).len(), 2, "both groups collapsed: two rows");
}

#[test]
fn the_view_never_shows_one_locus_data_under_anothers_label() {
    let mut app = many_tracks_app(3);
    app.resize(100, 20);
    app.goto("chr1:1-10,000").unwrap();
    deliver_columns(&mut app, 5.0);
    let first = app.shared.locus.clone();
    let screen = render(&app, 100, 20);
    let place = |l: &str| l.split('│').nth(1).unwrap_or_default().trim().to_string();
    assert_eq!(place(&screen[0]), "chr1:1-10,000 (10.0 kb)", "{}", screen[0]);
    // pan: the screen keeps the old locus under its own label until the new data arrive
    app.on_key(key('L'));
    let second = app.shared.locus.clone();
    assert_ne!(first, second);
    let screen = render(&app, 100, 20);
    assert!(screen[0].contains(&format!("{} (10.0 kb) → loading {}", first.display(), second.display())), "{}", screen[0]);
    assert_eq!(app.component::<Tracks>().shown_locus(), Some(&first));
    // a late reply for the old view changes nothing; the new one takes over
    let old_gen = app.shared.generation - 1;
    app.deliver::<Tracks>(ReplyKind::Event(TracksEvent::Columns { generation: old_gen, locus: first.clone(), data: vec![None; 3] }));
    assert_eq!(app.component::<Tracks>().shown_locus(), Some(&first));
    deliver_columns(&mut app, 1.0);
    let screen = render(&app, 100, 20);
    assert_eq!(place(&screen[0]), format!("{} (10.0 kb)", second.display()), "{}", screen[0]);
    assert_eq!(app.component::<Tracks>().frame.as_ref().map(|f| &f.locus), Some(&second));
}

#[test]
fn wide_views_show_counts_per_column_labelled_and_the_locus_column_fits() {
    let d = tempfile::tempdir().unwrap();
    let p = small_project(d.path(), 2);
    let cfg = ProjectConfig::load(&p).unwrap();
    let mut app = app_for(&cfg).unwrap();
    app.resize(100, 30);
    app.goto("chrA").unwrap();
    app.shared.models.names = vec!["m".into()];
    app.shared.models.ready = true;
    let reqs = app.refresh();
    // one representative peak per column is predicted, not the first 200
    let want = reqs.iter().find_map(|r| r.task::<peakscope::tui::shared::PredictTask<TracksEvent>>()).expect("predictions for the view");
    assert!(want.peaks.len() <= app.shared.cols && want.peaks.len() > app.shared.cols / 2, "{}", want.peaks.len());
    let last = app.shared.peaks.get(*want.peaks.last().unwrap()).unwrap().start;
    assert!(last > 300_000, "spread over the view, not the first peaks: {last}");
    let preds = peakscope::tui::shared::Preds { model: 0, peaks: want.peaks.clone(), values: want.peaks.iter().map(|&i| vec![i as f32, 1.0]).collect() };
    app.deliver::<Tracks>(ReplyKind::Event(TracksEvent::Preds(preds)));
    deliver_columns(&mut app, 2.0);
    let screen = render(&app, 100, 30);
    let row = |name: &str| screen.iter().find(|l| l.starts_with(name)).cloned().unwrap_or_else(|| panic!("no {name} row:\n{}", screen.join("\n")));
    assert!(row("peaks/col").chars().skip(12).filter(|c| "▁▂▃▄▅▆▇█".contains(*c)).count() > 80, "{}", row("peaks/col"));
    assert!(row("  pred max").chars().skip(12).filter(|c| "▁▂▃▄▅▆▇█".contains(*c)).count() > 40, "{}", row("  pred max"));
    assert!(row("genes/col").chars().skip(12).any(|c| "▁▂▃▄▅▆▇█".contains(c)), "{}", row("genes/col"));
    // the peak list's locus column holds the longest locus of this genome
    for _ in 0..3 {
        app.on_key(special(KeyCode::Tab));
    }
    let screen = render(&app, 130, 30);
    let header = screen.iter().find(|l| l.contains("  name")).unwrap();
    let (locus_at, cluster_at) = (header.find("locus").unwrap(), header.find("cluster").unwrap());
    assert!(cluster_at - locus_at > "chrA:400,000-400,000".len(), "{header}");
}

#[test]
fn eval_takes_held_out_chromosomes_and_a_limit_from_the_config_or_the_prompt() {
    let d = tempfile::tempdir().unwrap();
    let p = small_project(d.path(), 2);
    let cfg = ProjectConfig::load(&p).unwrap();
    let mut app = app_for(&cfg).unwrap();
    app.shared.models.names = vec!["m".into()];
    app.resize(120, 40);
    let reqs = app.on_key(key('e'));
    let t = reqs.iter().find_map(|r| r.task::<EvalTask>()).expect("an evaluation");
    assert_eq!((t.chroms.clone(), t.limit), (vec!["chrB".to_string()], Some(500)), "[eval] chroms and limit");
    assert!(app.shared.status.contains("up to 500 peaks on chrB"), "{}", app.shared.status);
    app.deliver::<Metrics>(ReplyKind::Finished { cancelled: true });
    // :eval chooses: chromosomes (aliases resolve), a limit, `all`, `none`
    app.on_key(key(':'));
    typed(&mut app, "eval A 2000");
    let reqs = app.on_key(special(KeyCode::Enter));
    let t = reqs.iter().find_map(|r| r.task::<EvalTask>()).expect("an evaluation");
    assert_eq!((t.chroms.clone(), t.limit), (vec!["chrA".to_string()], Some(2000)));
    app.deliver::<Metrics>(ReplyKind::Finished { cancelled: true });
    app.on_key(key(':'));
    typed(&mut app, "eval all none");
    let reqs = app.on_key(special(KeyCode::Enter));
    let t = reqs.iter().find_map(|r| r.task::<EvalTask>()).unwrap();
    assert_eq!((t.chroms.clone(), t.limit), (vec![], None));
    app.deliver::<Metrics>(ReplyKind::Finished { cancelled: true });
    app.on_key(key(':'));
    typed(&mut app, "eval chrZ");
    assert!(app.on_key(special(KeyCode::Enter)).is_empty());
    assert!(app.shared.status.contains("no chromosome 'chrZ'"), "{}", app.shared.status);
}

#[test]
fn the_tile_cache_stays_within_its_byte_budget() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("a.bw");
    random_bigwig(&p, &[("chr1", 2_000_000)], 3);
    let mut bw = BigWig::open(&p).unwrap();
    bw.set_cache_budget(200_000);
    for k in 0..60u64 {
        bw.binned("chr1", k * 30_000, k * 30_000 + 20_000, 100).unwrap();
        assert!(bw.cached_bytes() <= 200_000 || bw.cached_tiles() == 1, "{} bytes in {} tiles", bw.cached_bytes(), bw.cached_tiles());
    }
    assert!(bw.cached_tiles() > 1);
    // what is cached reads back the same
    let a = bw.binned("chr1", 1_700_000, 1_720_000, 100).unwrap();
    let mut fresh = BigWig::open(&p).unwrap();
    assert_eq!(a, fresh.binned("chr1", 1_700_000, 1_720_000, 100).unwrap());
}

/// `peakscope` starts without libtorch; model commands run in `peakscope-torch` through
/// exec, with their exit codes and messages.
#[test]
fn the_peakscope_binary_links_no_libtorch_and_execs_the_torch_binary_for_models() {
    let bin = env!("CARGO_BIN_EXE_peakscope");
    let out = std::process::Command::new("readelf").args(["-d", bin]).output().expect("readelf (binutils) to read the binary's dynamic section");
    let needed: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.contains("NEEDED")).map(str::to_string).collect();
    assert!(!needed.is_empty() && !needed.iter().any(|l| l.contains("torch") || l.contains("c10")), "{needed:?}");
    let torch = Path::new(bin).with_file_name("peakscope-torch");
    let out = std::process::Command::new("readelf").arg("-d").arg(&torch).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("libtorch_cpu"), "the torch binary links libtorch");
    // a usage error of a model command: clap's exit code 2
    let out = std::process::Command::new(bin).args(["predict", "--nonsense"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--nonsense"));
    // a failing model command: exit 1 and its message
    let out = std::process::Command::new(bin).args(["eval", "--config", "/nonexistent/p.toml", "-o", "/tmp/x.json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/p.toml"), "{}", String::from_utf8_lossy(&out.stderr));
    // doctor without --models runs in the light binary
    let out = std::process::Command::new(bin).arg("doctor").output().unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("loaded only for models"), "{}", String::from_utf8_lossy(&out.stdout));
    // a missing torch binary is explained
    let d = tempfile::tempdir().unwrap();
    let lone = d.path().join("peakscope");
    std::fs::copy(bin, &lone).unwrap();
    let out = std::process::Command::new(&lone).args(["make-model", "count", "-o", "x.pt"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("peakscope-torch is missing"), "{}", String::from_utf8_lossy(&out.stderr));
}
