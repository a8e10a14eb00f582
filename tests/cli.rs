//! The binary end to end: summarize, doctor, predict/ism errors, exit codes, atomic output.
mod common;
use common::*;

fn setup_tracks(d: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, Vec<(String, Vec<f32>)>) {
    let a = d.join("PT.bw");
    let b = d.join("DT.bw");
    let truth_a = random_bigwig(&a, &[("chr1", 50_000), ("chr2", 20_000)], 31);
    // the second track uses Ensembl-style names: aliases must bridge them
    random_bigwig(&b, &[("1", 50_000), ("2", 20_000)], 32);
    (a, b, truth_a)
}

fn naive_sum(t: &[f32], s: i64, e: i64) -> (u64, f64) {
    let (mut c, mut sum) = (0, 0.0);
    for p in s.max(0)..e {
        if let Some(v) = t.get(p as usize) {
            if !v.is_nan() {
                c += 1;
                sum += *v as f64;
            }
        }
    }
    (c, sum)
}

#[test]
fn summarize_matches_bigwigaverageoverbed_semantics() {
    let d = tempfile::tempdir().unwrap();
    let (a, b, truth) = setup_tracks(d.path());
    let bed = d.path().join("r.bed");
    write(&bed, "track name=x\nchr1\t100\t600\tpeakA\t0\t+\nchr2\t19990\t20010\nchrUn\t0\t10\tlost\nchr1\t0\t1\tfirst\n");
    let out = d.path().join("out.tsv");
    let (ok, _, err) = peakscope(&[
        "summarize",
        "--bed",
        bed.to_str().unwrap(),
        "--bigwig",
        a.to_str().unwrap(),
        "--bigwig",
        &format!("Distal={}", b.display()),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(err.contains("skipped 1 of 4 region(s)") && err.contains("chrUn"), "{err}");
    assert!(err.contains("past a chromosome end"), "{err}");
    let text = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows[0], ["track", "name", "size", "covered", "sum", "mean0", "mean"]);
    assert_eq!(rows.len(), 1 + 2 * 3, "3 regions per track; the chrUn one skipped");
    // PT, peakA
    let (cov, sum) = naive_sum(&truth[0].1, 100, 600);
    assert_eq!(rows[1][..4], ["PT", "peakA", "500", &cov.to_string()]);
    let got_sum: f64 = rows[1][4].parse().unwrap();
    assert!((got_sum - sum).abs() <= 1e-9 * sum.abs().max(1.0));
    let mean0: f64 = rows[1][5].parse().unwrap();
    let mean: f64 = rows[1][6].parse().unwrap();
    assert!((mean0 - sum / 500.0).abs() < 1e-9 && (mean - sum / cov as f64).abs() < 1e-9);
    // unnamed region: chrom:start-end; size counts the part past the end
    assert_eq!(rows[2][1], "chr2:19990-20010");
    assert_eq!(rows[2][2], "20");
    let (cov2, _) = naive_sum(&truth[1].1, 19990, 20010);
    assert_eq!(rows[2][3], cov2.to_string());
    // the aliased track got rows too, under its given name
    assert!(rows.iter().any(|r| r[0] == "Distal" && r[1] == "peakA"));
}

#[test]
fn summarize_center_width() {
    let d = tempfile::tempdir().unwrap();
    let (a, _, truth) = setup_tracks(d.path());
    let bed = d.path().join("r.bed");
    write(&bed, "chr1\t1000\t1501\tp\nchr1\t10\t20\tedge\n");
    let (ok, out, err) = peakscope(&["summarize", "--bed", bed.to_str().unwrap(), "--bigwig", a.to_str().unwrap(), "--center-width", "192"]);
    assert!(ok, "{err}");
    let rows: Vec<Vec<String>> = out.lines().skip(1).map(|l| l.split('\t').map(String::from).collect()).collect();
    // centre = 1000 + 501/2 = 1250; window [1250-96, 1250+96)
    let (cov, sum) = naive_sum(&truth[0].1, 1154, 1346);
    assert_eq!(rows[0][2], "192");
    assert_eq!(rows[0][3], cov.to_string());
    assert!((rows[0][4].parse::<f64>().unwrap() - sum).abs() < 1e-9 * sum.abs().max(1.0));
    // near the start the window is clipped at 0 but keeps its size
    let (cov, _) = naive_sum(&truth[0].1, 0, 15 + 96);
    assert_eq!(rows[1][2], "192");
    assert_eq!(rows[1][3], cov.to_string());
}

#[test]
fn bad_inputs_fail_with_clear_messages() {
    let d = tempfile::tempdir().unwrap();
    let (a, _, _) = setup_tracks(d.path());
    let bed = d.path().join("r.bed");
    write(&bed, "chr1\t10\t20\nchr1\tten\t30\n");
    let (ok, _, err) = peakscope(&["summarize", "--bed", bed.to_str().unwrap(), "--bigwig", a.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("line 2") && err.contains("'ten'"), "{err}");

    let good = d.path().join("g.bed");
    write(&good, "chr1\t10\t20\n");
    let bad_bw = d.path().join("bad.bw");
    std::fs::write(&bad_bw, b"\x00\x01\x02\x03").unwrap();
    let out = d.path().join("keep.tsv");
    std::fs::write(&out, "previous results\n").unwrap();
    let (ok, _, err) = peakscope(&["summarize", "--bed", good.to_str().unwrap(), "--bigwig", bad_bw.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("bad.bw"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous results\n", "a failed run leaves the old output");

    let empty = d.path().join("empty.bed");
    write(&empty, "");
    let (ok, _, err) = peakscope(&["summarize", "--bed", empty.to_str().unwrap(), "--bigwig", a.to_str().unwrap()]);
    assert!(!ok && err.contains("no peaks"), "{err}");

    // unindexed FASTA and a missing model, through predict
    let fa = d.path().join("plain.fa");
    write(&fa, ">chr1\nACGT\n");
    let (ok, _, err) = peakscope(&["predict", "--model", "x.pt", "--input-length", "4", "--fasta", fa.to_str().unwrap(), "--bed", good.to_str().unwrap()]);
    assert!(!ok && err.contains("not indexed") && err.contains("peakscope faidx"), "{err}");
    let (ok, _, err) = peakscope(&["predict", "--model", "/nope/m.pt", "--fasta", fa.to_str().unwrap(), "--bed", good.to_str().unwrap()]);
    assert!(!ok && err.contains("--input-length is required"), "{err}");
    let (ok, _, err) = peakscope(&["ism", "--model", "m.pt", "--input-length", "10", "--fasta", fa.to_str().unwrap(), "--region", "chr1:5-1"]);
    assert!(!ok && err.contains("before start"), "{err}");
}

#[test]
fn predict_and_ism_through_the_cli() {
    let d = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(40);
    let mut chrom = rng.dna(2000);
    chrom[1000..1010].fill(b'N');
    let fa = fasta(d.path(), &[("chr1", &chrom)]);
    let model = d.path().join("count.pt");
    let (ok, _, err) = peakscope(&["make-model", "count", "--input-length", "100", "-o", model.to_str().unwrap()]);
    assert!(ok, "{err}");
    let bed = d.path().join("r.bed");
    write(&bed, "chr1\t500\t510\tx\nchr1\t0\t10\tedge\n");
    let base = ["--model", model.to_str().unwrap(), "--input-length", "100", "--fasta", fa.to_str().unwrap(), "--device", "cpu"];
    let mut args = vec!["predict"];
    args.extend(base);
    args.extend(["--bed", bed.to_str().unwrap(), "--targets", "A,C,G,T"]);
    let (ok, out, err) = peakscope(&args);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "chrom\tstart\tend\tname\tA\tC\tG\tT");
    // window of 100 centred on 505: [455, 555)
    let win = &chrom[455..555];
    let count = |b: u8| win.iter().filter(|&&c| c == b).count().to_string();
    let want = format!("chr1\t500\t510\tx\t{}\t{}\t{}\t{}", count(b'A'), count(b'C'), count(b'G'), count(b'T'));
    assert_eq!(lines[1], want);
    // the edge region's window is half N padding: 55 real bases counted
    let edge: f32 = lines[2].split('\t').skip(4).map(|v| v.parse::<f32>().unwrap()).sum();
    assert_eq!(edge, 55.0);

    // ISM: region 1-based chr1:1,001-1,012 covers the 10 Ns and 2 bases
    let out_path = d.path().join("ism.tsv");
    let mut args = vec!["ism"];
    args.extend(base);
    args.extend(["--region", "chr1:1,001-1,012", "-o", out_path.to_str().unwrap()]);
    let (ok, _, err) = peakscope(&args);
    assert!(ok, "{err}");
    let text = std::fs::read_to_string(&out_path).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().skip(1).map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), (10 * 4 + 2 * 3) * 4, "4 alts at N, 3 at bases; 4 targets");
    assert_eq!(rows[0][..4], ["1000", "N", "A", "t0"]);
    assert_eq!(rows[0][6], "1", "an N -> A edit adds one A");
    let mut args = vec!["ism"];
    args.extend(base);
    args.extend(["--region", "chr1:1,011-1,012", "--format", "attr"]);
    let (ok, out, err) = peakscope(&args);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1 + 2 * 4);
    // region past the chromosome end
    let mut args = vec!["ism"];
    args.extend(base);
    args.extend(["--region", "chr1:1,995-2,010"]);
    let (ok, _, err) = peakscope(&args);
    assert!(!ok && err.contains("past the end"), "{err}");
}

#[test]
fn doctor_checks_each_file_of_a_config() {
    let d = tempfile::tempdir().unwrap();
    let (_, _, _) = setup_tracks(d.path());
    let chrom1 = Rng::new(50).dna(50_000);
    let chrom2 = Rng::new(51).dna(20_000);
    fasta(d.path(), &[("chr1", &chrom1), ("chr2", &chrom2)]);
    write(&d.path().join("peaks.bed"), "chr1\t100\t200\tubi\nchr1\t300\t400\tPT_specific\n");
    let model = d.path().join("count.pt");
    assert!(peakscope(&["make-model", "count", "--input-length", "100", "-o", model.to_str().unwrap()]).0);
    let cfg = r#"
[genome]
fasta = "genome.fa"
[[tracks]]
name = "PT"
bigwig = "PT.bw"
[[tracks]]
name = "DT"
bigwig = "DT.bw"
[peaks]
file = "peaks.bed"
ubiquitous = ["ubi"]
[[models]]
name = "counts"
path = "count.pt"
targets = ["PT", "DT"]
input_length = 100
"#;
    let p = d.path().join("project.toml");
    write(&p, cfg);
    let (ok, out, err) = peakscope(&["doctor", p.to_str().unwrap(), "--models"]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("OK    track DT bigwig"), "{out}");
    assert!(out.contains("2 shared with the FASTA"), "{out}");
    assert!(out.contains("loads;") && out.contains("4 output(s)"), "{out}");
    // break things: a missing bigWig and an unknown ubiquitous label; every line still runs
    write(&p, &cfg.replace("DT.bw", "missing.bw").replace("[\"ubi\"]", "[\"Ubiquitous\"]"));
    let (ok, out, err) = peakscope(&["doctor", p.to_str().unwrap()]);
    assert!(!ok);
    assert!(out.contains("FAIL  track DT bigwig") && out.contains("missing.bw"), "{out}");
    assert!(out.contains("FAIL  peaks") && out.contains("'Ubiquitous' never occurs"), "{out}");
    assert!(out.contains("OK    track PT bigwig"), "{out}");
    assert!(err.contains("2 of"), "{err}");
    // unknown key: names the key and line
    write(&p, &cfg.replace("input_length = 100", "input_len = 100"));
    let (ok, _, err) = peakscope(&["doctor", p.to_str().unwrap()]);
    assert!(!ok && err.contains("input_len") && err.contains("line 17"), "{err}");
}

#[test]
fn predict_tiles_a_locus_into_tsv_and_bigwigs() {
    let d = tempfile::tempdir().unwrap();
    let chrom = Rng::new(60).dna(3000);
    let fa = fasta(d.path(), &[("chr1", &chrom)]);
    let model = d.path().join("binned.pt");
    assert!(peakscope(&["make-model", "binned-count", "--input-length", "128", "-o", model.to_str().unwrap()]).0);
    let base = [
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--input-length",
        "128",
        "--fasta",
        fa.to_str().unwrap(),
        "--output-layout",
        "bins-targets",
        "--bin-size",
        "32",
        "--device",
        "cpu",
        "--region",
        "chr1:1,001-1,300",
    ];
    let (ok, out, err) = peakscope(&base);
    assert!(ok, "{err}");
    let rows: Vec<Vec<&str>> = out.lines().skip(1).map(|l| l.split('\t').collect()).collect();
    // 300 bp in 32-bp bins: 9 full bins and a 12-bp remainder, contiguous from 1000
    assert_eq!(rows.len(), 10);
    assert_eq!((rows[0][1], rows[0][2]), ("1000", "1032"));
    assert_eq!((rows[9][1], rows[9][2]), ("1288", "1300"));
    for w in rows.windows(2) {
        assert_eq!(w[0][2], w[1][1]);
    }
    // the 4-bin model's output bins are its input's bins: counts of the bases under each
    for r in &rows[..9] {
        let s: usize = r[1].parse().unwrap();
        let bin = &chrom[s..s + 32];
        for (t, b) in b"ACGT".iter().enumerate() {
            assert_eq!(r[3 + t].parse::<f32>().unwrap() as usize, bin.iter().filter(|&&c| c == *b).count());
        }
    }
    // the same as one bigWig per target
    let dir = d.path().join("bw");
    let mut args = base.to_vec();
    args.extend(["--bigwig-out", dir.to_str().unwrap()]);
    let (ok, _, err) = peakscope(&args);
    assert!(ok, "{err}");
    let mut bw = peakscope::genome::BigWig::open(dir.join("binned.t2.bw")).unwrap();
    let v = bw.values("chr1", 1000, 1300).unwrap().unwrap();
    assert_eq!(v[0], rows[0][5].parse::<f32>().unwrap());
    assert_eq!(v[299], rows[9][5].parse::<f32>().unwrap());
    assert!(bw.values("chr1", 999, 1000).unwrap().unwrap()[0].is_nan(), "nothing outside the region");
}

#[test]
fn summarize_refuses_tracks_without_usable_data_and_counts_what_it_skips() {
    let d = tempfile::tempdir().unwrap();
    let bed = d.path().join("r.bed");
    write(&bed, "chr1\t100\t200\ta\nchr2\t10\t20\tb\nchr1\t60000\t60010\tpast\n");
    let out = d.path().join("out.tsv");
    // chromosome names that match nothing, even through aliases: an error, no output
    let scaffolds = d.path().join("scaffolds.bw");
    random_bigwig(&scaffolds, &[("scaffold_1", 50_000)], 3);
    let (ok, _, err) = peakscope(&["summarize", "--bed", bed.to_str().unwrap(), "--bigwig", scaffolds.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(!ok, "{err}");
    assert!(err.contains("track scaffolds") && err.contains("none of the 3 regions") && err.contains("scaffold_1") && err.contains("chr1, chr2"), "{err}");
    assert!(!out.exists(), "no header-only table");
    // a bigWig with chr1 only: rows for chr1, the chr2 region counted as skipped, the region
    // past the end counted too
    let chr1 = d.path().join("chr1only.bw");
    random_bigwig(&chr1, &[("chr1", 50_000)], 4);
    let (ok, _, err) = peakscope(&["summarize", "--bed", bed.to_str().unwrap(), "--bigwig", chr1.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(err.contains("skipped 1 of 3 region(s)") && err.contains("(chr2)"), "{err}");
    assert!(err.contains("1 region(s) lie entirely past"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 1 + 2);
    // --center-width 0 is refused, not turned into 1
    let (ok, _, err) = peakscope(&["summarize", "--bed", bed.to_str().unwrap(), "--bigwig", chr1.to_str().unwrap(), "--center-width", "0"]);
    assert!(!ok && err.contains("--center-width must be > 0"), "{err}");
}

#[test]
fn careless_bed_files_read_or_fail_clearly() {
    let d = tempfile::tempdir().unwrap();
    let bw = d.path().join("PT.bw");
    let truth = random_bigwig(&bw, &[("chr1", 50_000)], 8);
    let run = |text: &[u8]| {
        let bed = d.path().join("in.bed");
        std::fs::write(&bed, text).unwrap();
        peakscope(&["summarize", "--bed", bed.to_str().unwrap(), "--bigwig", bw.to_str().unwrap()])
    };
    // a spreadsheet export: BOM, column names, a track line, CRLF, "1" for chr1, spaces
    let (ok, out, err) = run(b"\xef\xbb\xbfchrom\tstart\tend\tname\r\ntrack name=x\r\n1\t100\t200\tp1\r\nchr1 300 400 p2\r\n");
    assert!(ok, "{err}");
    let rows: Vec<Vec<&str>> = out.lines().skip(1).map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert_eq!(rows[0][1], "p1");
    assert_eq!(rows[1][1], "p2");
    let (cov, _) = naive_sum(&truth[0].1, 300, 400);
    assert_eq!(rows[1][3], cov.to_string());
    // binary data: line and byte, not "corrupt gzip"
    let (ok, _, err) = run(b"chr1\t1\t2\n\x00\x9f\x92\x96binary");
    assert!(!ok && err.contains("not a text BED file") && err.contains("line 2") && err.contains("byte 9") && !err.contains("corrupt gzip"), "{err}");
    // negative and non-numeric coordinates, end before start, nothing but comments
    let (ok, _, err) = run(b"chr1\t-5\t10\n");
    assert!(!ok && err.contains("line 1") && err.contains("start -5 is negative"), "{err}");
    let (ok, _, err) = run(b"chr1\t10\t5\n");
    assert!(!ok && err.contains("not after start"), "{err}");
    let (ok, _, err) = run(b"# only a comment\n\n");
    assert!(!ok && err.contains("no peaks"), "{err}");
    // a region past the chromosome end is summarised with its size and warned about
    let (ok, out, err) = run(b"chr1\t49990\t50010\tedge\n");
    assert!(ok && err.contains("past a chromosome end"), "{err}");
    assert!(out.contains("edge\t20\t"), "{out}");
}

#[test]
fn outputs_are_checked_before_any_work() {
    let d = tempfile::tempdir().unwrap();
    let (a, _, _) = setup_tracks(d.path());
    let bed = d.path().join("r.bed");
    write(&bed, "chr1\t10\t20\n");
    let fa = fasta(d.path(), &[("chr1", &Rng::new(1).dna(1000))]);
    let missing_dir = d.path().join("no/such/folder/out.tsv");
    let m = missing_dir.to_str().unwrap();
    // summarize: a missing folder, a folder as the file, the input as the output
    let (ok, _, err) = peakscope(&["summarize", "--bed", bed.to_str().unwrap(), "--bigwig", a.to_str().unwrap(), "-o", m]);
    assert!(!ok && err.contains("-o/--output") && err.contains("does not exist"), "{err}");
    let (ok, _, err) = peakscope(&["summarize", "--bed", bed.to_str().unwrap(), "--bigwig", a.to_str().unwrap(), "-o", d.path().to_str().unwrap()]);
    assert!(!ok && err.contains("is an existing folder"), "{err}");
    let (ok, _, err) = peakscope(&["summarize", "--bed", bed.to_str().unwrap(), "--bigwig", a.to_str().unwrap(), "-o", bed.to_str().unwrap()]);
    assert!(!ok && err.contains("also an input"), "{err}");
    // predict/ism/make-model: the check comes before the model is even looked at (the model
    // path is bogus, yet the error is about the output)
    let base = ["--model", "/nope/m.pt", "--input-length", "100", "--fasta", fa.to_str().unwrap()];
    let mut args = vec!["predict"];
    args.extend(base);
    args.extend(["--region", "chr1:1-100", "--bigwig-out", bed.to_str().unwrap()]);
    let (ok, _, err) = peakscope(&args);
    assert!(!ok && err.contains("--bigwig-out") && err.contains("not a folder"), "{err}");
    let mut args = vec!["ism"];
    args.extend(base);
    args.extend(["--region", "chr1:1-10", "-o", m]);
    let (ok, _, err) = peakscope(&args);
    assert!(!ok && err.contains("-o/--output") && err.contains("does not exist"), "{err}");
    let (ok, _, err) = peakscope(&["make-model", "count", "-o", m]);
    assert!(!ok && err.contains("does not exist"), "{err}");
    // locus errors say what is wrong
    let mut args = vec!["ism"];
    args.extend(base);
    args.extend(["--region", "chr1:-5-10"]);
    let (ok, _, err) = peakscope(&args);
    assert!(!ok && err.contains("start -5 is negative") && !err.contains("start ''"), "{err}");
}

#[test]
fn doctor_and_commands_refuse_a_stale_fasta_index() {
    let d = tempfile::tempdir().unwrap();
    setup_tracks(d.path());
    let chrom1 = Rng::new(50).dna(50_000);
    let chrom2 = Rng::new(51).dna(20_000);
    let fa = fasta(d.path(), &[("chr1", &chrom1), ("chr2", &chrom2)]);
    write(&d.path().join("peaks.bed"), "chr1\t100\t200\tubi\nchr2\t300\t400\tPT\n");
    let p = d.path().join("project.toml");
    write(&p, "[genome]\nfasta = \"genome.fa\"\n[[tracks]]\nname = \"PT\"\nbigwig = \"PT.bw\"\n[peaks]\nfile = \"peaks.bed\"\n");
    let (ok, out, err) = peakscope(&["doctor", p.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    // edit the FASTA after indexing (a sequence appended), keeping the index's time newer
    let mut text = std::fs::read_to_string(&fa).unwrap();
    text.push_str(">chr3\nACGTACGT\n");
    std::fs::write(&fa, text).unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(120);
    std::fs::File::options().write(true).open(&fa).unwrap().set_modified(old).unwrap();
    let (ok, out, _) = peakscope(&["doctor", p.to_str().unwrap()]);
    assert!(!ok && out.contains("FAIL  genome.fasta") && out.contains("peakscope faidx"), "{out}");
    // the FASTA simply newer than its index
    std::fs::File::options().write(true).open(&fa).unwrap().set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5)).unwrap();
    let (ok, out, _) = peakscope(&["doctor", p.to_str().unwrap()]);
    assert!(!ok && out.contains("modified after its index"), "{out}");
    let (ok, _, err) = peakscope(&["predict", "--model", "m.pt", "--input-length", "10", "--fasta", fa.to_str().unwrap(), "--region", "chr1:1-10"]);
    assert!(!ok && err.contains("peakscope faidx"), "{err}");
    // the fix works
    std::fs::File::options().write(true).open(&fa).unwrap().set_modified(old).unwrap();
    let (ok, _, err) = peakscope(&["faidx", fa.to_str().unwrap()]);
    assert!(ok, "{err}");
    let (ok, out, err) = peakscope(&["doctor", p.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    // doctor: a track whose bigWig shares no chromosome with the peaks fails its line
    let rec = vec![("chr3".to_string(), bigtools::Value { start: 0, end: 8, value: 1.0 })];
    peakscope::genome::bigwig::write_bigwig(&d.path().join("PT.bw"), &[("chr3".to_string(), 8)], rec).unwrap();
    let (ok, out, _) = peakscope(&["doctor", p.to_str().unwrap()]);
    assert!(!ok && out.contains("FAIL  track PT bigwig") && out.contains("none of the peak set's chromosomes"), "{out}");
    // a plain-gzip FASTA: faidx explains bgzip
    let gz = d.path().join("plain.fa.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, b">x\nACGT\n").unwrap();
    enc.finish().unwrap();
    let (ok, _, err) = peakscope(&["faidx", gz.to_str().unwrap()]);
    assert!(!ok && err.contains("not with bgzip") && err.contains("bgzip genome.fa"), "{err}");
}
