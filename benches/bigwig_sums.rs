//! Exact sums over 10,000 regions × 8 bigWigs, the way `peakscope summarize` computes them
//! (tracks in parallel, regions swept in sorted chunks). The data set is written once to
//! target/bench-data/bigwig_sums/ so benches/bigwig_vs_pybigwig.sh can time pyBigWig's
//! `stats(..., exact=True)` on the very same files.
#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use peakscope::cli::summarize::{summarize, TrackArg};
use std::path::PathBuf;

const CHROMS: [(&str, u32); 3] = [("chr1", 12_000_000), ("chr2", 10_000_000), ("chr3", 8_000_000)];
const N_TRACKS: usize = 8;
const N_REGIONS: usize = 10_000;

fn data_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("bench-data").join("bigwig_sums")
}

/// Write the tracks and regions unless already there; returns (tracks, regions).
fn dataset() -> (Vec<TrackArg>, Vec<(String, i64, i64)>) {
    let dir = data_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let tracks: Vec<TrackArg> = (0..N_TRACKS).map(|i| TrackArg { name: format!("t{i}"), path: dir.join(format!("t{i}.bw")) }).collect();
    for (i, t) in tracks.iter().enumerate() {
        if !t.path.exists() {
            common::random_bigwig(&t.path, &CHROMS, 100 + i as u64);
        }
    }
    let bed = dir.join("regions.bed");
    let mut rng = common::Rng::new(42);
    let mut regions = Vec::with_capacity(N_REGIONS);
    let mut text = String::new();
    for _ in 0..N_REGIONS {
        let (c, len) = CHROMS[rng.below(3) as usize];
        let s = rng.below(len as u64 - 2000) as i64;
        let e = s + 200 + rng.below(800) as i64;
        text.push_str(&format!("{c}\t{s}\t{e}\n"));
        regions.push((c.to_string(), s, e));
    }
    if !bed.exists() {
        std::fs::write(&bed, text).unwrap();
    }
    (tracks, regions)
}

fn bench(c: &mut Criterion) {
    let (tracks, regions) = dataset();
    let mut g = c.benchmark_group("bigwig_sums");
    g.sample_size(10);
    g.bench_function("summarize_10k_regions_x_8_bigwigs", |b| {
        b.iter(|| {
            let r = summarize(&tracks, &regions, &indicatif::ProgressBar::hidden()).unwrap();
            assert_eq!(r.len(), N_TRACKS);
            r
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
