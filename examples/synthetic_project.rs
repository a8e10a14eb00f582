//! Write a synthetic project for benchmarking `peakscope eval` with the paper-size Basset
//! model (random weights; the numbers are about speed, not biology):
//!   cargo run --release --example synthetic_project -- DIR [N_PEAKS] [N_TRACKS]
//!   target/release/peakscope eval --config DIR/project.toml --device cpu --limit 1000
#[path = "../tests/common/mod.rs"]
mod common;
use common::*;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).map(String::as_str).unwrap_or("synthetic"));
    let n_peaks: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5000);
    let n_tracks: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    std::fs::create_dir_all(&dir)?;
    let chroms = [("chr1", 2_000_000u32), ("chr2", 1_500_000u32), ("chr3", 1_000_000u32)];
    let mut rng = Rng::new(2024);
    let seqs: Vec<Vec<u8>> = chroms.iter().map(|(_, l)| rng.dna(*l as usize)).collect();
    fasta(&dir, &[(chroms[0].0, &seqs[0]), (chroms[1].0, &seqs[1]), (chroms[2].0, &seqs[2])]);
    let mut peaks = Vec::new();
    for _ in 0..n_peaks {
        let c = rng.below(3) as usize;
        let s = 2000 + rng.below(chroms[c].1 as u64 - 4000) as u32;
        let w = 150 + rng.below(350) as u32;
        let label = rng.below(n_tracks as u64 + 1) as usize; // 0 = ubiquitous
        peaks.push((c, s, s + w, label));
    }
    peaks.sort();
    peaks.dedup_by(|a, b| a.0 == b.0 && a.1 < b.2);
    let mut bed = String::new();
    for (i, (c, s, e, l)) in peaks.iter().enumerate() {
        let lab = if *l == 0 { "Ubiquitous".to_string() } else { format!("ct{}_specific", l - 1) };
        bed.push_str(&format!("{}\t{s}\t{e}\tp{i}\t{lab}\n", chroms[*c].0));
    }
    write(&dir.join("peaks.bed"), &bed);
    let sizes: Vec<(String, u32)> = chroms.iter().map(|(c, l)| (c.to_string(), *l)).collect();
    let mut toml = String::from("[genome]\nfasta = \"genome.fa\"\n");
    for t in 0..n_tracks {
        let mut recs = Vec::new();
        let mut calls = String::new();
        for (c, s, e, l) in &peaks {
            let own = *l == 0 || *l == t + 1;
            let h = if own { 5.0 } else { 0.5 } * (0.2 + rng.unit() as f32);
            recs.push((chroms[*c].0.to_string(), bigtools::Value { start: *s, end: *e, value: h }));
            if own {
                calls.push_str(&format!("{}\t{s}\t{e}\n", chroms[*c].0));
            }
        }
        peakscope::genome::bigwig::write_bigwig(&dir.join(format!("ct{t}.bw")), &sizes, recs)?;
        write(&dir.join(format!("ct{t}.calls.bed")), &calls);
        toml += &format!("[[tracks]]\nname = \"ct{t}\"\nbigwig = \"ct{t}.bw\"\npeaks = \"ct{t}.calls.bed\"\n");
    }
    let (m, _) = peakscope::model::zoo::basset(n_tracks as i64, 1)?;
    peakscope::model::zoo::save(&m, &dir.join("basset.pt"))?;
    toml += "[peaks]\nfile = \"peaks.bed\"\nlabel_column = 5\nubiquitous = [\"Ubiquitous\"]\n";
    let targets: Vec<String> = (0..n_tracks).map(|t| format!("\"ct{t}\"")).collect();
    toml += &format!("[[models]]\nname = \"basset\"\npath = \"basset.pt\"\ntargets = [{}]\ninput_length = 1344\nbatch_size = 64\n", targets.join(", "));
    write(&dir.join("project.toml"), &toml);
    println!("wrote {} ({} peaks, {n_tracks} tracks)", dir.join("project.toml").display(), peaks.len());
    Ok(())
}
