//! Variants in the terminal UI: the variants row, `v`/`V` and the variant panel, region
//! queries of an indexed VCF (equal to reading the file whole), the panel's REF/ALT through
//! the real model server equal to `peakscope variants`, and the metrics panel's variant view.
use peakscope::config::ProjectConfig;
use peakscope::genome::variants::{build_index, Variant};
use peakscope::jobs::variants::Annotator;
use peakscope::jobs::worker::ReplyKind;
use peakscope::tui::app::{App, Request, LABEL_W};
use peakscope::tui::app_for;
use peakscope::tui::components::metrics::{Metrics, MetricsEvent, VariantMetrics};
use peakscope::tui::components::variants::{step_origin, OpenTask, Opened, ScoreTask, VariantPanel, VariantSource, VariantsEvent};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn demo() -> (tempfile::TempDir, ProjectConfig) {
    let d = tempfile::tempdir().unwrap();
    let cfg_path = peakscope::demo::prepare(&d.path().join("demo"), false, false, &mut |_| {}).unwrap();
    (d, ProjectConfig::load(&cfg_path).unwrap())
}

fn render(app: &App, w: u16, h: u16) -> Vec<String> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| f.render_widget(app, f.area())).unwrap();
    let buf = t.backend().buffer().clone();
    (0..h).map(|y| (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect()).collect()
}

fn opened(cfg: &ProjectConfig) -> (Arc<Opened>, Option<String>) {
    let (source, skipped) = VariantSource::open(cfg).unwrap();
    (Arc::new(Opened { source, annotator: Annotator::new(cfg).unwrap() }), skipped)
}

/// The app on the demo with its variants opened (as the index thread would).
fn app_with_variants(cfg: &ProjectConfig) -> App {
    let mut app = app_for(cfg).unwrap();
    let reqs = app.resize(120, 40);
    assert!(reqs.iter().any(|r| r.task::<OpenTask>().is_some()), "the first refresh opens [variants]: {reqs:?}");
    let (o, skipped) = opened(cfg);
    app.deliver::<VariantPanel>(ReplyKind::Event(VariantsEvent::Opened(Ok(o), skipped)));
    app
}

fn selected(app: &App) -> Variant {
    app.component::<VariantPanel>().selected.as_ref().expect("a selected variant").0.clone()
}

/// Every variant of the demo, in file order (chromosome as in the FASTA, position).
fn all_variants(cfg: &ProjectConfig) -> Vec<Variant> {
    let (o, _) = opened(cfg);
    match &o.source {
        VariantSource::Loaded { variants, .. } => variants.clone(),
        VariantSource::Indexed { .. } => panic!("the demo's allelic table is read whole"),
    }
}

#[test]
fn v_and_shift_v_step_through_variants_across_views_and_the_panel_shows_the_selected_one() {
    let (_d, cfg) = demo();
    let all = all_variants(&cfg);
    assert!(all.len() > 20, "{}", all.len());
    let mut app = app_with_variants(&cfg);
    // a narrow view on the first chromosome's start
    app.shared.set_view(&all[0].chrom, 0, 2_000);
    app.refresh();
    let start = app.shared.locus.clone();
    // v: the first variant after the view's start
    app.on_key(key('v'));
    let first_after = all.iter().find(|v| v.chrom == start.chrom && v.pos > start.start).unwrap();
    assert_eq!(&selected(&app), first_after);
    assert_eq!(app.shared.panel, Some("variants"));
    // the view moved to it (keeping its width) when it was outside
    let l = &app.shared.locus;
    assert!(l.chrom == first_after.chrom && l.start < first_after.pos && first_after.pos <= l.end && l.len() == start.len(), "{l:?}");
    let i = all.iter().position(|v| v == first_after).unwrap();
    // 3v: three on; V: one back; a count on V too
    app.on_key(key('3'));
    app.on_key(key('v'));
    assert_eq!(selected(&app), all[i + 3]);
    app.on_key(key('V'));
    assert_eq!(selected(&app), all[i + 2]);
    app.on_key(key('2'));
    app.on_key(key('V'));
    assert_eq!(selected(&app), all[i]);
    // across a chromosome boundary: from the last variant of a chromosome to the next one's first
    if let Some(j) = (0..all.len() - 1).find(|&j| all[j].chrom != all[j + 1].chrom) {
        while selected(&app) != all[j] {
            let k = all.iter().position(|v| *v == selected(&app)).unwrap();
            app.command(if k < j { peakscope::tui::commands::Action::NextVariant } else { peakscope::tui::commands::Action::PrevVariant }, 1);
            assert_ne!(all.iter().position(|v| *v == selected(&app)).unwrap(), k, "a step moves");
        }
        app.on_key(key('v'));
        assert_eq!(selected(&app), all[j + 1]);
        assert_eq!(app.shared.locus.chrom, all[j + 1].chrom);
        app.on_key(key('V'));
        assert_eq!(selected(&app), all[j]);
    }
    // past the last: the selection stays, the status says so
    let n = all.len();
    app.command(peakscope::tui::commands::Action::NextVariant, n + 5);
    assert!(app.shared.status.contains("no next variant"), "{}", app.shared.status);
    // the panel and the row show the selected variant; the row has a tick at it
    let sel = selected(&app);
    let ann = &app.component::<VariantPanel>().selected.as_ref().unwrap().1;
    let screen = render(&app, 120, 40).join("\n");
    let title = format!("variant {}:{} ", sel.chrom, peakscope::genome::locus::group_thousands(sel.pos));
    assert!(screen.contains(&title), "{screen}");
    assert!(screen.contains(&format!("{}>{}", String::from_utf8_lossy(&sel.ref_allele), String::from_utf8_lossy(&sel.alt))), "{screen}");
    match &ann.peak {
        Some(p) => assert!(screen.contains(&format!("peak {p}")), "{screen}"),
        None => assert!(screen.contains("outside peaks"), "{screen}"),
    }
    // measured allelic ratio and depth of the first cell type with counts
    if let Some((t, (r, a))) = sel.counts.iter().enumerate().find_map(|(t, c)| c.filter(|(r, a)| r + a > 0).map(|c| (t, c))) {
        let line = screen.lines().skip_while(|l| !l.contains("─ variant ")).find(|l| l.starts_with(&app.shared.tracks[t])).unwrap();
        assert!(line.contains(&format!("{:.3}", a as f64 / (r + a) as f64)) && line.contains(&format!("{}", r + a)), "{line}");
    }
    let row = screen.lines().find(|l| l.starts_with("variants") || l.starts_with("var/col")).unwrap_or_else(|| panic!("a variants row: {screen}"));
    assert!(row.chars().skip(LABEL_W as usize).any(|c| c != ' '), "{row}");
    // zoomed in on it: a tick per variant, the selected one reversed
    app.shared.set_view(&sel.chrom, sel.pos as i64 - 50, 100);
    app.refresh();
    let screen = render(&app, 120, 40).join("\n");
    let row = screen.lines().find(|l| l.starts_with("variants ")).unwrap_or_else(|| panic!("a variants row: {screen}"));
    let in_view = all.iter().filter(|v| v.chrom == sel.chrom && v.pos > app.shared.locus.start && v.pos <= app.shared.locus.end).count();
    let ticks = row.chars().filter(|&c| c == '┃').count();
    assert!(ticks >= 1 && ticks <= in_view, "{ticks} ticks for {in_view} variants: {row}");
    let cells = &app.shared.variant_row.as_ref().unwrap().cells;
    assert_eq!(cells.iter().filter(|c| c.selected).count(), 1);
}

#[test]
fn the_row_colours_by_effect_counts_at_wide_views_and_scores_the_view_through_one_request_per_model() {
    let (_d, cfg) = demo();
    let all = all_variants(&cfg);
    let mut app = app_with_variants(&cfg);
    app.shared.models.ready = true;
    let v = all[all.len() / 2].clone();
    app.shared.set_view(&v.chrom, v.pos as i64 - 1_000, 2_000);
    let reqs = app.refresh();
    let in_view: Vec<&Variant> = all.iter().filter(|w| w.chrom == v.chrom && w.pos > app.shared.locus.start && w.pos <= app.shared.locus.end).collect();
    let score: Vec<&ScoreTask> = reqs.iter().filter_map(Request::task::<ScoreTask>).collect();
    assert_eq!(score.len(), 1, "the active model only: {reqs:?}");
    assert_eq!(score[0].variants.iter().collect::<Vec<_>>(), in_view);
    // scores arrive: the tick takes the colour of the strongest |log2fc|
    let t = app.shared.tracks.len();
    let keys: Vec<String> = score[0].variants.iter().map(Variant::key).collect();
    let n = keys.len();
    let effects = peakscope::jobs::remote::VariantEffects { ref_pred: vec![vec![1.0; t]; n], alt_pred: vec![vec![4.0; t]; n], errors: vec![] };
    app.deliver::<VariantPanel>(ReplyKind::Event(VariantsEvent::Scored { model: 0, keys, effects: Ok(effects) }));
    let row = app.shared.variant_row.clone().unwrap();
    let c = peakscope::tui::components::variants::column(&app.shared.locus, app.shared.cols, v.pos - 1);
    assert_eq!(row.cells[c].effect, Some(((4.0f64 + 1.0) / 2.0).log2()));
    // nothing is asked again for the same view
    assert!(app.refresh().iter().all(|r| r.task::<ScoreTask>().is_none()));
    // a whole chromosome: counts per column, nothing scored
    app.shared.set_view(&v.chrom, 0, u64::MAX / 8);
    let reqs = app.refresh();
    assert!(reqs.iter().all(|r| r.task::<ScoreTask>().is_none()));
    let row = app.shared.variant_row.clone().unwrap();
    let on_chrom = all.iter().filter(|w| w.chrom == v.chrom).count() as u32;
    assert_eq!(row.cells.iter().map(|c| c.count.unwrap()).sum::<u32>(), on_chrom);
    if on_chrom as usize > app.shared.cols {
        assert!(row.density);
        let screen = render(&app, 120, 40).join("\n");
        assert!(screen.lines().any(|l| l.starts_with("var/col")), "{screen}");
    }
}

fn keys(v: &[Variant]) -> Vec<String> {
    v.iter().map(Variant::key).collect()
}

fn bgzip(src: &Path, dst: &Path) {
    let mut w = rust_htslib::bgzf::Writer::from_path(dst).unwrap();
    w.write_all(&std::fs::read(src).unwrap()).unwrap();
}

/// The demo's variants as a VCF (plus one REF mismatch), plain and bgzipped + indexed.
fn demo_vcf(dir: &Path, cfg: &ProjectConfig, all: &[Variant]) -> (PathBuf, PathBuf) {
    let fa = peakscope::genome::Fasta::open(&cfg.genome.fasta).unwrap();
    let mut t = String::from("##fileformat=VCFv4.2\n##INFO=<ID=causal,Number=1,Type=String,Description=\"label\">\n");
    for (c, len) in fa.chroms().iter() {
        t += &format!("##contig=<ID={c},length={len}>\n");
    }
    t += "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n";
    // a record at a variant's position whose REF is another base
    let bad = &all[3];
    let wrong = if bad.ref_allele[0] == b'A' { 'C' } else { 'A' };
    let mut lines: Vec<(usize, u64, String)> = all
        .iter()
        .map(|v| {
            let ci = fa.chroms().index(&v.chrom).unwrap();
            (ci, v.pos, format!("{}\t{}\t.\t{}\t{}\t.\t.\t.\n", v.chrom, v.pos, String::from_utf8_lossy(&v.ref_allele), String::from_utf8_lossy(&v.alt)))
        })
        .collect();
    lines.push((fa.chroms().index(&bad.chrom).unwrap(), bad.pos, format!("{}\t{}\t.\t{wrong}\t{}\t.\t.\t.\n", bad.chrom, bad.pos, bad.ref_allele[0] as char)));
    lines.sort_by_key(|a| (a.0, a.1));
    for l in &lines {
        t += &l.2;
    }
    let plain = dir.join("v.vcf");
    std::fs::write(&plain, t).unwrap();
    let gz = dir.join("v.vcf.gz");
    bgzip(&plain, &gz);
    build_index(&gz).unwrap();
    (plain, gz)
}

#[test]
fn an_indexed_vcf_is_read_by_region_and_equals_reading_it_whole() {
    let (d, cfg) = demo();
    let all = all_variants(&cfg);
    let (plain, gz) = demo_vcf(d.path(), &cfg, &all);
    let with = |p: &Path| {
        let mut c = cfg.clone();
        c.variants.as_mut().unwrap().vcf = Some(p.to_path_buf());
        c
    };
    let (whole, skipped) = VariantSource::open(&with(&plain)).unwrap();
    assert!(!whole.is_indexed());
    assert!(skipped.unwrap().contains("1 REF mismatch"), "the mismatching record is counted, not read");
    let (indexed, _) = VariantSource::open(&with(&gz)).unwrap();
    assert!(indexed.is_indexed());
    let fa = peakscope::genome::Fasta::open(&cfg.genome.fasta).unwrap();
    let chroms = fa.chroms().clone();
    // views: narrow ones around variants, and a whole chromosome
    let mut loci: Vec<peakscope::genome::Locus> =
        all.iter().step_by(7).map(|v| peakscope::genome::Locus::new(v.chrom.clone(), (v.pos - 1).saturating_sub(700), v.pos + 300)).collect();
    loci.push(peakscope::genome::Locus::new(all[0].chrom.clone(), 0, chroms.len_of(&all[0].chrom).unwrap()));
    loci.push(peakscope::genome::Locus::new(all[3].chrom.clone(), all[3].pos - 1, all[3].pos));
    let mut mismatch_seen = false;
    for l in &loci {
        let (a, b) = (whole.in_view(l, 88).unwrap(), indexed.in_view(l, 88).unwrap());
        // (the line numbers differ: an index query counts records from its region)
        assert_eq!((keys(&a.variants), &a.counts, a.listed), (keys(&b.variants), &b.counts, b.listed), "{l:?}");
        mismatch_seen |= b.skipped.as_deref().is_some_and(|s| s.contains("mismatch"));
    }
    assert!(mismatch_seen, "a view over the bad record says it skipped it");
    // steps from views and from variants, both ways, with counts
    for (k, v) in all.iter().enumerate().step_by(5) {
        for (fwd, n) in [(true, 1), (false, 1), (true, 4), (false, 3)] {
            let from = step_origin(&chroms, Some(v), &loci[0], fwd);
            let want = if fwd { all.get(k + n) } else { k.checked_sub(n).and_then(|j| all.get(j)) };
            let want = want.map(Variant::key);
            assert_eq!(whole.step(&from, fwd, n).unwrap().map(|v| v.key()), want, "{} fwd {fwd} n {n}", v.key());
            assert_eq!(indexed.step(&from, fwd, n).unwrap().map(|v| v.key()), want, "indexed: {} fwd {fwd} n {n}", v.key());
        }
    }
    let view = peakscope::genome::Locus::new(all[0].chrom.clone(), all[0].pos + 10, all[0].pos + 20_000);
    for fwd in [true, false] {
        let from = step_origin(&chroms, None, &view, fwd);
        assert_eq!(whole.step(&from, fwd, 1).unwrap().map(|v| v.key()), indexed.step(&from, fwd, 1).unwrap().map(|v| v.key()));
    }
    // a VCF that is not a VCF: a clear error naming the file, the UI keeps running
    let junk = d.path().join("junk.vcf");
    std::fs::write(&junk, "##fileformat=VCFv4.2\n#CHROM\tPOS\nchr1\tnot_a_number\n").unwrap();
    let mut app = app_for(&with(&junk)).unwrap();
    app.resize(100, 30);
    let e = VariantSource::open(&with(&junk)).map(|_| ()).unwrap_err();
    app.deliver::<VariantPanel>(ReplyKind::Event(VariantsEvent::Opened(Err(format!("{e:#}")), None)));
    assert!(app.shared.status.contains("junk.vcf"), "{}", app.shared.status);
    app.on_key(key('v'));
    assert!(app.shared.status.contains("junk.vcf"), "v says why there are no variants: {}", app.shared.status);
    render(&app, 100, 30);
}

#[test]
fn the_panel_shows_the_model_server_s_ref_and_alt_equal_to_peakscope_variants() {
    let (d, cfg) = demo();
    let all = all_variants(&cfg);
    std::env::set_var("PEAKSCOPE_TORCH_BIN", env!("CARGO_BIN_EXE_peakscope-torch"));
    let mut client = peakscope::jobs::remote::ModelClient::spawn(&cfg.source, "cpu", std::process::Stdio::inherit()).unwrap();
    let mut app = app_with_variants(&cfg);
    app.shared.models.ready = true;
    app.shared.models.compare = Some(1.min(cfg.models.len() - 1));
    app.shared.set_view(&all[0].chrom, 0, 2_000);
    app.refresh();
    app.on_key(key('v'));
    app.on_key(key('v'));
    let sel = selected(&app);
    // what the panel asks the model server for, run through the real one
    let reqs = app.refresh();
    let tasks: Vec<&ScoreTask> = reqs.iter().filter_map(Request::task::<ScoreTask>).collect();
    assert!(tasks.iter().all(|t| t.variants.contains(&sel)), "{reqs:?}");
    let mut replies = Vec::new();
    for t in &tasks {
        let e = client.variant_effects(t.model, &t.variants).unwrap();
        assert!(e.errors.is_empty(), "{:?}", e.errors);
        replies.push(VariantsEvent::Scored { model: t.model, keys: t.variants.iter().map(Variant::key).collect(), effects: Ok(e) });
    }
    for r in replies {
        app.deliver::<VariantPanel>(ReplyKind::Event(r));
    }
    // `peakscope variants` on a VCF of the selected variant
    let fa = peakscope::genome::Fasta::open(&cfg.genome.fasta).unwrap();
    let vcf = d.path().join("sel.vcf");
    let contigs: String = fa.chroms().iter().map(|(c, l)| format!("##contig=<ID={c},length={l}>\n")).collect();
    let body = format!("{}\t{}\t.\t{}\t{}\t.\t.\t.\n", sel.chrom, sel.pos, String::from_utf8_lossy(&sel.ref_allele), String::from_utf8_lossy(&sel.alt));
    std::fs::write(&vcf, format!("##fileformat=VCFv4.2\n##INFO=<ID=causal,Number=1,Type=String,Description=\"label\">\n{contigs}#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n{body}")).unwrap();
    let out = d.path().join("scores.tsv");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_peakscope"))
        .args(["variants", "--config"])
        .arg(&cfg.source)
        .arg("--vcf")
        .arg(&vcf)
        .args(["--device", "cpu", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let tsv = std::fs::read_to_string(&out).unwrap();
    let panel = app.component::<VariantPanel>();
    let mut checked = 0;
    for line in tsv.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f[0] != sel.chrom || f[1] != sel.pos.to_string() || f[3].as_bytes() != sel.alt {
            continue;
        }
        let m = cfg.models.iter().position(|m| m.name == f[4]).unwrap();
        let Some(t) = app.shared.tracks.iter().position(|x| x == f[5]) else { continue };
        if Some(m) != Some(app.shared.models.active) && Some(m) != app.shared.models.compare {
            continue;
        }
        let (r, a) = panel.score(m, &sel).expect("scored");
        let (want_r, want_a): (f64, f64) = (f[6].parse().unwrap(), f[7].parse().unwrap());
        // the same computation; batches of other sizes may round differently in the last bits
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-6 * (1.0 + y.abs());
        assert!(close(r[t], want_r) && close(a[t], want_a), "{line}: panel {} {}", r[t], a[t]);
        checked += 1;
    }
    assert!(checked >= app.shared.tracks.len(), "{} of {} rows compared ({})", checked, app.shared.tracks.len(), sel.key());
    // the panel prints them
    let screen = render(&app, 160, 40).join("\n");
    let (r, a) = panel.score(app.shared.models.active, &sel).unwrap();
    let line = screen.lines().skip_while(|l| !l.contains("─ variant ")).find(|l| l.starts_with(&app.shared.tracks[0])).unwrap();
    assert!(line.contains(&format!("{:.3}", r[0])) && line.contains(&format!("{:.3}", a[0])), "{line}");
    // a variant whose window runs off the chromosome fails alone, with its reason
    let len = fa.chroms().len_of(&sel.chrom).unwrap();
    let base = fa.fetch(&sel.chrom, len as i64 - 2, len as i64 - 1).unwrap();
    let edge = Variant { pos: len - 1, ref_allele: base.clone(), alt: if base[0] == b'A' { b"C".to_vec() } else { b"A".to_vec() }, ..sel.clone() };
    let e = client.variant_effects(0, &[sel.clone(), edge]).unwrap();
    assert_eq!(e.errors.len(), 1, "{:?}", e.errors);
    assert!(e.errors[0].0 == 1 && e.errors[0].1.contains("runs off"), "{:?}", e.errors);
    assert_eq!(e.ref_pred[0], client.variant_effects(0, std::slice::from_ref(&sel)).unwrap().ref_pred[0]);
}

#[test]
fn the_metrics_panel_shows_variant_accuracy_from_the_evaluation_s_frames() {
    use peakscope::eval::variants::{report, VariantModel, VariantRow};
    let (_d, cfg) = demo();
    let mut app = app_for(&cfg).unwrap();
    app.resize(130, 40);
    let t = app.shared.tracks.len();
    let models: Vec<VariantModel> = app
        .shared
        .models
        .names
        .iter()
        .map(|n| VariantModel { name: n.clone(), outputs: app.shared.tracks.clone(), tracks: (0..t).map(Some).collect() })
        .collect();
    let strata: Vec<String> = ["all", "ubiquitous", "specific", "outside_peaks"].iter().map(|s| s.to_string()).collect();
    let rows: Vec<VariantRow> = (0..40)
        .map(|i| VariantRow {
            strata: vec![0, 1 + i % 3],
            label: Some(i % 4 == 0),
            counts: (0..t).map(|k| Some((10 + (i * 7 + k) as u32 % 13, 10 + (i * 3 + k) as u32 % 17))).collect(),
            pred: models
                .iter()
                .enumerate()
                .map(|(m, _)| (0..t).map(|k| (1.0 + (i + k) as f64 * 0.1, 1.0 + ((i * 5 + k + m) % 9) as f64 * 0.2)).collect())
                .collect(),
        })
        .collect();
    let rep = report(&rows, &models, &strata, 10, None);
    app.on_key(key('a'));
    assert_eq!(app.shared.panel, Some("metrics"));
    let screen = render(&app, 130, 40).join("\n");
    assert!(screen.contains("variant metrics") && screen.contains("press e"), "{screen}");
    app.component_mut::<Metrics>().eval.running = true;
    app.deliver::<Metrics>(ReplyKind::Event(MetricsEvent::Variants(Box::new(VariantMetrics {
        scored: 40,
        strata: strata.clone(),
        report: rep.clone(),
        finished: false,
    }))));
    let screen = render(&app, 130, 40).join("\n");
    assert!(screen.contains("40 variants scored (running"), "{screen}");
    let m0 = &app.shared.models.names[0];
    for st in ["all", "ubiquitous", "specific"] {
        let x = &rep[m0].summary[st];
        let line =
            screen.lines().find(|l| l.starts_with(&m0[..m0.len().min(15)]) && l.contains(&format!(" {st} "))).unwrap_or_else(|| panic!("{st}: {screen}"));
        for v in [x.allelic_auroc, x.allelic_sign_accuracy, x.allelic_pearson, x.labelled_auroc] {
            assert!(line.contains(&peakscope::eval::report::fmt3(v)), "{line}");
        }
        assert!(line.contains(&x.allelic_n.to_string()), "{line}");
    }
    // a back to the reference table
    app.on_key(key('a'));
    assert!(!render(&app, 130, 40).join("\n").contains("variant metrics"));
}

#[test]
fn the_evaluation_process_streams_variant_metrics_after_the_peaks() {
    let (_d, cfg) = demo();
    std::env::set_var("PEAKSCOPE_TORCH_BIN", env!("CARGO_BIN_EXE_peakscope-torch"));
    let mut p = peakscope::jobs::remote::EvalProcess::spawn(&cfg.source, "cpu", &[], Some(50), std::process::Stdio::inherit()).unwrap();
    let mut last = None;
    loop {
        match p.next(std::time::Duration::from_secs(600)).unwrap() {
            Some(peakscope::jobs::remote::EvalFrame::Variants { scored, strata, report, finished }) => last = Some((scored, strata, report, finished)),
            Some(peakscope::jobs::remote::EvalFrame::Done { cancelled }) => {
                assert!(!cancelled);
                break;
            }
            Some(peakscope::jobs::remote::EvalFrame::Failed(e)) => panic!("{e}"),
            _ => {}
        }
    }
    let (scored, strata, report, finished) = last.expect("variant metrics after the peaks");
    assert!(finished && scored > 0 && strata.iter().any(|s| s == "outside_peaks"));
    assert_eq!(report.len(), cfg.models.len());
    for r in report.values() {
        let all = &r.summary["all"];
        assert!(all.allelic_n > 0 && all.reference_pearson.is_finite() && all.allelic_auroc.is_finite(), "{all:?}");
    }
}
