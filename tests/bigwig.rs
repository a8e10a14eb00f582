//! bigWig reading against per-base truth and against pyBigWig.
mod common;
use common::*;
use peakscope::genome::BigWig;

fn naive(truth: &[f32], s: u64, e: u64) -> (u64, f64, f64, f64) {
    let (mut cov, mut sum, mut mn, mut mx) = (0u64, 0f64, f64::NAN, f64::NAN);
    for p in s..e {
        let v = truth.get(p as usize).copied().unwrap_or(f32::NAN);
        if !v.is_nan() {
            cov += 1;
            sum += v as f64;
            mn = if mn.is_nan() { v as f64 } else { mn.min(v as f64) };
            mx = if mx.is_nan() { v as f64 } else { mx.max(v as f64) };
        }
    }
    (cov, sum, mn, mx)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs())) || (a.is_nan() && b.is_nan())
}

#[test]
fn values_and_exact_stats_match_per_base_truth() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("a.bw");
    let truth = random_bigwig(&p, &[("chr1", 120_000), ("chr2", 30_000)], 1);
    let mut bw = BigWig::open(&p).unwrap();
    let mut rng = Rng::new(2);
    let mut regions = Vec::new();
    for _ in 0..3000 {
        let c = rng.below(2) as usize;
        let len = truth[c].1.len() as u64;
        let s = rng.below(len + 100);
        let span = if rng.below(10) == 0 { 20_000 } else { 500 };
        let e = s + 1 + rng.below(span);
        regions.push((truth[c].0.clone(), s, e));
    }
    regions.push(("chr1".into(), 0, 1)); // first base
    regions.push(("chr2".into(), 29_999, 30_000)); // last base
    regions.push(("chr2".into(), 30_000, 30_010)); // entirely past the end
    regions.push(("chrUn".into(), 0, 10)); // absent chromosome
    let got = bw.stats_many(&regions).unwrap();
    for ((c, s, e), st) in regions.iter().zip(&got) {
        let Some(t) = truth.iter().find(|(n, _)| n == c) else {
            assert!(st.is_none(), "{c} is absent");
            continue;
        };
        let st = st.expect("chromosome present");
        let (cov, sum, mn, mx) = naive(&t.1, *s, *e);
        assert_eq!(st.size, e - s);
        assert_eq!(st.covered, cov, "{c}:{s}-{e}");
        assert!(close(st.sum, sum), "{c}:{s}-{e} sum {} vs {sum}", st.sum);
        assert!(close(st.min, mn) && close(st.max, mx), "{c}:{s}-{e}");
        // one-at-a-time agrees with the batched sweep
        let one = bw.stats(c, *s, *e).unwrap().unwrap();
        assert_eq!((one.covered, one.sum.to_bits(), one.max.to_bits()), (st.covered, st.sum.to_bits(), st.max.to_bits()));
    }
    // per-base values, including across the chromosome end and via an alias
    let v = bw.values("2", 29_990, 30_010).unwrap().unwrap();
    for (i, x) in v.iter().enumerate() {
        let want = truth[1].1.get(29_990 + i).copied().unwrap_or(f32::NAN);
        assert!(x.to_bits() == want.to_bits() || (x.is_nan() && want.is_nan()));
    }
    assert!(bw.values("chrUn", 0, 5).unwrap().is_none());
}

#[test]
fn binned_summaries_exact_at_base_level_and_close_at_zoom() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("a.bw");
    let truth = random_bigwig(&p, &[("chr1", 400_000)], 3);
    let mut bw = BigWig::open(&p).unwrap();
    assert!(!bw.zoom_levels().is_empty(), "bigtools writes zoom levels");
    // 200 columns over 3 kb: raw data, exact
    let (s, e, n) = (10_000u64, 13_000u64, 200usize);
    let bins = bw.binned("chr1", s, e, n).unwrap().unwrap();
    for (i, b) in bins.iter().enumerate() {
        let (bs, be) = (s + (i as u64 * (e - s)) / n as u64, s + ((i as u64 + 1) * (e - s)) / n as u64);
        let (cov, sum, _, mx) = naive(&truth[0].1, bs, be);
        assert_eq!(b.covered, cov as f64);
        assert!(close(b.sum, sum));
        assert!(close(b.max as f64, mx) || (cov == 0 && b.max.is_nan()));
    }
    // 100 columns over 400 kb: from zoom tables; totals agree closely with the truth
    let level = bw.level_for(4000.0);
    assert!(level > 0, "wide view uses a zoom level");
    let bins = bw.binned("chr1", 0, 400_000, 100).unwrap().unwrap();
    let (cov, sum, _, mx) = naive(&truth[0].1, 0, 400_000);
    let tot_cov: f64 = bins.iter().map(|b| b.covered).sum();
    let tot_sum: f64 = bins.iter().map(|b| b.sum).sum();
    // the columns share out exactly what the file's zoom records hold ...
    let mut raw = bigtools::BigWigRead::open_file(&p).unwrap();
    let (mut zcov, mut zsum, mut nrec) = (0f64, 0f64, 0f64);
    for z in raw.get_zoom_interval("chr1", 0, 400_000, level).unwrap() {
        let z = z.unwrap();
        zcov += z.summary.bases_covered as f64;
        zsum += z.summary.sum;
        nrec += 1.0;
    }
    assert!((tot_cov - zcov).abs() <= nrec, "{tot_cov} vs zoom records' {zcov}");
    assert!((tot_sum - zsum).abs() / zsum.abs() < 1e-6, "{tot_sum} vs zoom records' {zsum}");
    // ... and those approximate the data (bigtools' zoom tables count coverage loosely)
    assert!((tot_cov - cov as f64).abs() / (cov as f64) < 0.05, "{tot_cov} vs {cov}");
    assert!((tot_sum / tot_cov - sum / cov as f64).abs() < 0.5, "mean");
    let bmax = bins.iter().map(|b| b.max).fold(f32::NAN, f32::max);
    assert!(close(bmax as f64, mx));
    for (i, b) in bins.iter().enumerate() {
        let (c, sm, _, _) = naive(&truth[0].1, i as u64 * 4000, (i as u64 + 1) * 4000);
        // each column within a zoom record's width (plus the tables' slack) of the truth
        assert!((b.covered - c as f64).abs() <= 2.0 * level as f64, "col {i}: {} vs {c}", b.covered);
        if c > 0 {
            assert!((b.mean().unwrap() - sm / c as f64).abs() < 2.0, "col {i}");
        }
    }
}

#[test]
fn tile_cache_makes_panning_cheap() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("a.bw");
    random_bigwig(&p, &[("chr1", 1_000_000)], 4);
    let mut bw = BigWig::open(&p).unwrap();
    bw.binned("chr1", 100_000, 110_000, 100).unwrap();
    let first = bw.tiles_read;
    assert!(first >= 1);
    bw.binned("chr1", 100_000, 110_000, 100).unwrap();
    assert_eq!(bw.tiles_read, first, "same view: nothing re-read");
    bw.binned("chr1", 101_000, 111_000, 100).unwrap(); // pan right by a tenth
    assert!(bw.tiles_read <= first + 1, "pan reads at most one new tile");
}

#[test]
fn bad_files_are_explained() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("four.bw");
    std::fs::write(&p, b"\x26\xfc\x8f\x88").unwrap();
    let e = BigWig::open(&p).err().unwrap().to_string();
    assert!(e.contains("four.bw") && (e.contains("truncated") || e.contains("not a bigWig")), "{e}");
    let p2 = d.path().join("text.bw");
    std::fs::write(&p2, "chr1\t0\t10\t1.0\n".repeat(20)).unwrap();
    let e = BigWig::open(&p2).err().unwrap().to_string();
    assert!(e.contains("text.bw"), "{e}");
    let e = BigWig::open(d.path().join("missing.bw")).err().unwrap().to_string();
    assert!(e.contains("missing.bw") && e.contains("cannot read"), "{e}");
    std::fs::write(d.path().join("empty.bw"), b"").unwrap();
    let e = BigWig::open(d.path().join("empty.bw")).err().unwrap().to_string();
    assert!(e.contains("empty"), "{e}");
}

const PYBIGWIG_STATS: &str = r#"
import sys, pyBigWig
bw = pyBigWig.open(sys.argv[1])
chroms = bw.chroms()
for line in open(sys.argv[2]):
    c, s, e = line.split()[:3]
    s, e = int(s), int(e)
    e = min(e, chroms[c])
    out = []
    for t in ("sum", "coverage", "max", "min", "mean"):
        v = bw.stats(c, s, e, type=t, exact=True)[0]
        out.append("nan" if v is None else repr(v))
    print("\t".join(out))
"#;

#[test]
fn exact_stats_equal_pybigwig() {
    let Some(py) = python() else { return };
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("a.bw");
    random_bigwig(&p, &[("chr1", 200_000), ("chr2", 80_000)], 9);
    let mut rng = Rng::new(10);
    let mut bed = String::new();
    let mut regions = Vec::new();
    for _ in 0..800 {
        let (c, len) = if rng.below(2) == 0 { ("chr1", 200_000) } else { ("chr2", 80_000) };
        let s = rng.below(len - 1);
        let e = (s + 1 + rng.below(3000)).min(len);
        bed.push_str(&format!("{c}\t{s}\t{e}\n"));
        regions.push((c.to_string(), s, e));
    }
    let bedp = d.path().join("r.bed");
    write(&bedp, &bed);
    let out = run_python(&py, PYBIGWIG_STATS, &[p.to_str().unwrap(), bedp.to_str().unwrap()]);
    let mut bw = BigWig::open(&p).unwrap();
    let got = bw.stats_many(&regions).unwrap();
    let mut n = 0;
    for (line, (st, (c, s, e))) in out.lines().zip(got.iter().zip(&regions)) {
        let f: Vec<f64> = line.split('\t').map(|x| x.parse::<f64>().unwrap()).collect();
        let st = st.unwrap();
        let rel = |a: f64, b: f64| if a.is_nan() && b.is_nan() { 0.0 } else { (a - b).abs() / b.abs().max(1e-12) };
        if st.covered == 0 {
            assert!(f[4].is_nan() || f[1] == 0.0, "{c}:{s}-{e}");
            continue;
        }
        assert!(rel(st.sum, f[0]) <= 1e-6, "{c}:{s}-{e} sum {} vs pyBigWig {}", st.sum, f[0]);
        assert!(rel(st.covered as f64 / st.size as f64, f[1]) <= 1e-6, "{c}:{s}-{e} coverage");
        assert!(rel(st.max, f[2]) <= 1e-6 && rel(st.min, f[3]) <= 1e-6, "{c}:{s}-{e} max/min");
        assert!(rel(st.mean().unwrap(), f[4]) <= 1e-6, "{c}:{s}-{e} mean");
        n += 1;
    }
    assert!(n > 500, "compared {n} covered regions");
}

/// A small bigBed: p1 chr1:100-200, p2 chr1:500-800, p3 chr2:10-20, labels in column 7.
fn write_bigbed(p: &std::path::Path) {
    use bigtools::beddata::BedParserStreamingIterator;
    let sizes: std::collections::HashMap<String, u32> = [("chr1".to_string(), 10_000u32), ("chr2".to_string(), 5_000)].into();
    let entries = vec![
        ("chr1".to_string(), bigtools::BedEntry { start: 100, end: 200, rest: "p1\t0\t.\tubiquitous".into() }),
        ("chr1".to_string(), bigtools::BedEntry { start: 500, end: 800, rest: "p2\t0\t.\tPT_specific".into() }),
        ("chr2".to_string(), bigtools::BedEntry { start: 10, end: 20, rest: "p3\t0\t.\tubiquitous".into() }),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let w = bigtools::BigBedWrite::create_file(p, sizes).unwrap();
    w.write(BedParserStreamingIterator::wrap_infallible_iter(entries.into_iter(), false), runtime).unwrap();
}

#[test]
fn peak_sets_read_from_bigbed() {
    use peakscope::genome::peaks::{PeakReadOptions, PeakSet};
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("peaks.bb");
    write_bigbed(&p);
    let set = PeakSet::read(&p, &PeakReadOptions { label_column: Some(7) }).unwrap();
    assert_eq!(set.len(), 3);
    assert_eq!(set.peaks()[1].name.as_deref(), Some("p2"));
    assert_eq!(set.peaks()[1].label.as_deref(), Some("PT_specific"));
    assert_eq!(set.label_counts(), vec![("ubiquitous".to_string(), 2), ("PT_specific".to_string(), 1)]);
    assert_eq!(set.overlapping("chr1", 150, 600).len(), 2);
}

#[test]
fn files_that_are_not_bigwigs_are_named_for_what_they_are() {
    let d = tempfile::tempdir().unwrap();
    let open_err = |p: &std::path::Path| BigWig::open(p).err().map(|e| e.to_string()).unwrap_or_default();
    // a bigBed
    let bb = d.path().join("peaks.bb");
    write_bigbed(&bb);
    let e = open_err(&bb);
    assert!(e.contains("not a bigWig") && e.contains("bigBed") && e.contains("peak file"), "{e}");
    // random bytes: not "probably bigBed"
    let rnd = d.path().join("random.bw");
    let mut rng = Rng::new(5);
    std::fs::write(&rnd, (0..4096).map(|_| rng.below(256) as u8).collect::<Vec<u8>>()).unwrap();
    let e = open_err(&rnd);
    assert!(e.contains("not a bigWig") && e.contains("binary data") && !e.contains("bigBed"), "{e}");
    // gzip, bedGraph text, a zip archive
    let gz = d.path().join("signal.bedGraph.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, b"chr1\t0\t10\t1.5\n").unwrap();
    enc.finish().unwrap();
    let e = open_err(&gz);
    assert!(e.contains("gzip-compressed") && e.contains("bedGraphToBigWig"), "{e}");
    let bg = d.path().join("signal.bedGraph");
    write(&bg, "chr1\t0\t10\t1.5\n");
    let e = open_err(&bg);
    assert!(e.contains("BED-like text") && e.contains("bedGraphToBigWig"), "{e}");
    let zip = d.path().join("model.pt");
    std::fs::write(&zip, b"PK\x03\x04\x14\x00rest of a zip").unwrap();
    assert!(open_err(&zip).contains("zip archive"));
    // a truncated bigWig keeps its own message
    let good = d.path().join("good.bw");
    random_bigwig(&good, &[("chr1", 10_000)], 3);
    let bytes = std::fs::read(&good).unwrap();
    let cut = d.path().join("cut.bw");
    std::fs::write(&cut, &bytes[..40]).unwrap();
    let e = open_err(&cut);
    assert!(e.contains("truncated"), "{e}");
    // a bigWig with no chromosomes at all (as bedGraphToBigWig writes for empty input;
    // bigtools refuses to, so the chromosome tree of a valid file is emptied: its item
    // count and its root node's count set to 0)
    let none = d.path().join("none.bw");
    let mut b = bytes.clone();
    let tree = u64::from_le_bytes(b[8..16].try_into().unwrap()) as usize;
    b[tree + 16..tree + 24].fill(0);
    b[tree + 34..tree + 36].fill(0);
    std::fs::write(&none, &b).unwrap();
    let e = open_err(&none);
    assert!(e.contains("lists no chromosomes"), "{e}");
    // through the binary: our message comes first and alone (bigtools prints nothing)
    let bed = d.path().join("r.bed");
    write(&bed, "chr1\t1\t2\n");
    for bad in [&bb, &rnd, &gz, &cut] {
        let (ok, _, err) = peakscope(&["summarize", "--bed", bed.to_str().unwrap(), "--bigwig", bad.to_str().unwrap()]);
        assert!(!ok);
        assert!(err.starts_with("error: ") && err.lines().count() == 1 && !err.contains("Error when opening"), "{err}");
    }
    // and a bigWig given as the regions
    let (ok, _, err) = peakscope(&["summarize", "--bed", good.to_str().unwrap(), "--bigwig", good.to_str().unwrap()]);
    assert!(!ok && err.contains("is a bigWig (signal), not peaks"), "{err}");
    // a bigBed as the regions works
    let (ok, out, err) = peakscope(&["summarize", "--bed", bb.to_str().unwrap(), "--bigwig", good.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1 + 2, "p1 and p2 on chr1; p3 on chr2 skipped: {out}");
    assert!(err.contains("skipped 1 of 3"), "{err}");
}
