//! `peakscope demo`: a synthetic kidney-and-immune-like dataset generated from a seed
//! (see [`synth`]) and models trained on it (see [`train`]), shipped in assets/demo so the
//! demo starts at once; `--rebuild` retrains them.
pub mod synth;
pub mod train;

use crate::genome::onehot::one_hot;
use crate::genome::textio::write_atomic;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use synth::{DemoData, CELL_TYPES, CHROMS, TEST_CHROMS, UBIQUITOUS_LABEL};
use tch::{Kind, Tensor};
use train::{NetSpec, TrainSet, INPUT, MARGIN};

pub const SEED: u64 = 20_240_601;
/// bumped whenever the generator or the models change, so caches are rebuilt
pub const VERSION: &str = "v2";

/// The demo's models: file stem, replicate group, what they are.
pub const MODELS: [(&str, Option<&str>, &str); 5] = [
    ("mt_base_rep1", Some("mt_base"), "baseline multi-task CNN, seed 1"),
    ("mt_base_rep2", Some("mt_base"), "baseline multi-task CNN, seed 2"),
    ("mt_base_rep3", Some("mt_base"), "baseline multi-task CNN, seed 3"),
    ("mt_large", None, "higher-capacity multi-task CNN"),
    ("single_task", None, "eight single-task CNNs, one per cell type, outputs side by side"),
];

pub const BASE: NetSpec = NetSpec { filters: [64, 96, 128], dense: 64, outputs: CELL_TYPES.len() as i64 };
pub const LARGE: NetSpec = NetSpec { filters: [128, 192, 256], dense: 128, outputs: CELL_TYPES.len() as i64 };
pub const SINGLE: NetSpec = NetSpec { filters: [32, 48, 64], dense: 32, outputs: 1 };
pub const EPOCHS: usize = 40;

/// Write genome, genes, peaks, bigWigs and peak calls into `dir`.
pub fn write_dataset(dir: &Path, d: &DemoData) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let fa = dir.join("genome.fa");
    write_atomic(&fa, |w| {
        for (c, (name, _)) in CHROMS.iter().enumerate() {
            writeln!(w, ">{name}")?;
            for line in d.seqs[c].chunks(60) {
                w.write_all(line)?;
                writeln!(w)?;
            }
        }
        Ok(())
    })?;
    crate::genome::fasta::build_index(&fa)?;
    write_atomic(&dir.join("genes.bed"), |w| {
        for g in &d.genes {
            writeln!(w, "{}\t{}\t{}\t{}\t0\t{}", CHROMS[g.chrom].0, g.start, g.end, g.name, g.strand)?;
        }
        Ok(())
    })?;
    write_atomic(&dir.join("peaks.bed"), |w| {
        for (i, p) in d.peaks.iter().enumerate() {
            writeln!(w, "{}\t{}\t{}\tpeak{i}\t{}", CHROMS[p.chrom].0, p.start, p.end, p.label)?;
        }
        Ok(())
    })?;
    write_variants(dir, d)?;
    let sizes: Vec<(String, u32)> = CHROMS.iter().map(|(c, l)| (c.to_string(), *l as u32)).collect();
    for (ct, (name, _)) in CELL_TYPES.iter().enumerate() {
        let mut recs = Vec::new();
        for (c, cov) in d.coverage[ct].iter().enumerate() {
            let mut s = 0;
            while s < cov.len() {
                let mut e = s + 1;
                while e < cov.len() && cov[e] == cov[s] {
                    e += 1;
                }
                if cov[s] > 0.0 {
                    recs.push((CHROMS[c].0.to_string(), bigtools::Value { start: s as u32, end: e as u32, value: cov[s] }));
                }
                s = e;
            }
        }
        let tmp = dir.join(format!(".{name}.bw.tmp"));
        crate::genome::bigwig::write_bigwig(&tmp, &sizes, recs)?;
        std::fs::rename(&tmp, dir.join(format!("{name}.bw")))?;
        write_atomic(&dir.join(format!("{name}.peaks.bed")), |w| {
            for &i in &d.calls[ct] {
                let p = &d.peaks[i];
                writeln!(w, "{}\t{}\t{}\tpeak{i}", CHROMS[p.chrom].0, p.summit - 100, p.summit + 100)?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// variants.tsv: heterozygous SNVs with allele-specific counts per cell type, the true
/// effect (`kind`, `true_log2`: the largest |log2 (ALT + bg)/(REF + bg)| of the true heights
/// over cell types) and a label `causal` (1: true effect ≥ 1, 0: no effect, NA in between).
pub fn write_variants(dir: &Path, d: &DemoData) -> Result<()> {
    let vs = synth::variants(d, SEED);
    write_atomic(&dir.join("variants.tsv"), |w| {
        write!(w, "chrom\tpos\tref\talt")?;
        for (n, _) in CELL_TYPES {
            write!(w, "\t{n}:ref_count\t{n}:alt_count")?;
        }
        writeln!(w, "\tkind\ttrue_log2\tcausal")?;
        for v in &vs {
            write!(w, "{}\t{}\t{}\t{}", CHROMS[v.chrom].0, v.pos, v.ref_base as char, v.alt_base as char)?;
            for (r, a) in &v.counts {
                write!(w, "\t{r}\t{a}")?;
            }
            let e = v.true_effect();
            let causal = if e >= 1.0 {
                "1"
            } else if e == 0.0 {
                "0"
            } else {
                "NA"
            };
            writeln!(w, "\t{}\t{e:.4}\t{causal}", v.kind)?;
        }
        Ok(())
    })
}

/// The project config for a demo folder.
pub fn config_text() -> String {
    let mut s = String::from(
        "# peakscope demo project (synthetic; see `peakscope demo --help`)\n[genome]\nfasta = \"genome.fa\"\ngenes = \"genes.bed\"\nname = \"demo\"\n\n",
    );
    for (name, _) in CELL_TYPES {
        s += &format!("[[tracks]]\nname = \"{name}\"\nbigwig = \"{name}.bw\"\npeaks = \"{name}.peaks.bed\"\n\n");
    }
    s += &format!("[peaks]\nfile = \"peaks.bed\"\nlabel_column = 5\nubiquitous = [\"{UBIQUITOUS_LABEL}\"]\n\n");
    s += "[eval]\ncenter_width = 192\nspecificity_bins = [1, 2, 4, 7]\n\n";
    s += "# heterozygous SNVs with allele-specific counts from the synthetic ground truth\n[variants]\nallelic = \"variants.tsv\"\nlabel = \"causal\"\nmin_depth = 10\n\n";
    let targets: Vec<String> = CELL_TYPES.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    for (stem, group, what) in MODELS {
        s += &format!("# {what}\n[[models]]\nname = \"{stem}\"\npath = \"models/{stem}.pt\"\ntargets = [{}]\ninput_length = {INPUT}\n", targets.join(", "));
        if let Some(g) = group {
            s += &format!("replicate_group = \"{g}\"\n");
        }
        s += "batch_size = 128\n\n";
    }
    s
}

/// Training windows (INPUT + 2·MARGIN bp) at peak summits and random background positions
/// on the training chromosomes, with the measured counts over the central 192 bp.
pub fn training_set(d: &DemoData, seed: u64) -> TrainSet {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let train_chroms: Vec<usize> = (0..CHROMS.len()).filter(|&c| !TEST_CHROMS.contains(&CHROMS[c].0)).collect();
    let mut centres: Vec<(usize, usize)> = d.peaks.iter().filter(|p| train_chroms.contains(&p.chrom)).map(|p| (p.chrom, p.summit)).collect();
    // a quarter as many background windows, away from every peak
    let wanted = centres.len() + centres.len() / 4;
    for _ in 0..wanted * 20 {
        if centres.len() >= wanted {
            break;
        }
        let c = train_chroms[rng.gen_range(0..train_chroms.len())];
        let pos = rng.gen_range(2_000..CHROMS[c].1 - 2_000);
        if !d.peaks.iter().any(|p| p.chrom == c && p.summit.abs_diff(pos) < 1_000) {
            centres.push((c, pos));
        }
    }
    let w = (INPUT + 2 * MARGIN) as usize;
    let mut xs = Vec::with_capacity(centres.len() * 4 * w);
    let mut ys = Vec::with_capacity(centres.len() * CELL_TYPES.len());
    for &(c, pos) in &centres {
        let s = pos - w / 2;
        xs.extend_from_slice(one_hot(&d.seqs[c][s..s + w]).as_slice().unwrap());
        for ct in 0..CELL_TYPES.len() {
            ys.push(d.coverage[ct][c][pos - 96..pos + 96].iter().map(|&v| v as f64).sum::<f64>() as f32);
        }
    }
    let n = centres.len() as i64;
    TrainSet { x: Tensor::from_slice(&xs).reshape([n, 4, w as i64]), y: Tensor::from_slice(&ys).reshape([n, CELL_TYPES.len() as i64]).to_kind(Kind::Float) }
}

/// Train every demo model and write them as TorchScript into `out`.
pub fn train_models(d: &DemoData, out: &Path, epochs: usize, log: &mut dyn FnMut(&str)) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out)?;
    let data = training_set(d, SEED + 1);
    let all: Vec<i64> = (0..CELL_TYPES.len() as i64).collect();
    let mut written = Vec::new();
    let mut save = |m: tch::CModule, stem: &str| -> Result<()> {
        let p = out.join(format!("{stem}.pt"));
        crate::model::zoo::save(&m, &p)?;
        written.push(p);
        Ok(())
    };
    log(&format!("training on {} windows ({} epochs each)", data.x.size()[0], epochs));
    for rep in 1..=3 {
        let t = std::time::Instant::now();
        let (_vs, net, loss) = train::train(BASE, &data, &all, epochs, rep)?;
        save(train::trace(&[&net], "mt_base")?, &format!("mt_base_rep{rep}"))?;
        log(&format!("mt_base_rep{rep}: {:.0} s, final training loss {loss:.2}", t.elapsed().as_secs_f64()));
    }
    let t = std::time::Instant::now();
    let (_vs, net, loss) = train::train(LARGE, &data, &all, epochs, 11)?;
    save(train::trace(&[&net], "mt_large")?, "mt_large")?;
    log(&format!("mt_large: {:.0} s, final training loss {loss:.2}", t.elapsed().as_secs_f64()));
    let t = std::time::Instant::now();
    let mut stores = Vec::new();
    for ct in 0..CELL_TYPES.len() as i64 {
        stores.push(train::train(SINGLE, &data, &[ct], epochs, 21 + ct)?);
    }
    let nets: Vec<&train::Net> = stores.iter().map(|(_, n, _)| n).collect();
    save(train::trace(&nets, "single_task")?, "single_task")?;
    log(&format!("single_task (8 nets): {:.0} s", t.elapsed().as_secs_f64()));
    Ok(written)
}

/// The trained models shipped with the binary (regenerate with `peakscope demo --rebuild`
/// or `cargo run --release --example train_demo_models`).
pub const SHIPPED: [(&str, &[u8]); 5] = [
    ("mt_base_rep1", include_bytes!("../../assets/demo/mt_base_rep1.pt")),
    ("mt_base_rep2", include_bytes!("../../assets/demo/mt_base_rep2.pt")),
    ("mt_base_rep3", include_bytes!("../../assets/demo/mt_base_rep3.pt")),
    ("mt_large", include_bytes!("../../assets/demo/mt_large.pt")),
    ("single_task", include_bytes!("../../assets/demo/single_task.pt")),
];

/// Default demo folder: `$PEAKSCOPE_CACHE/demo-<version>` or `~/.cache/peakscope/demo-<version>`.
pub fn default_dir() -> PathBuf {
    let base = std::env::var_os("PEAKSCOPE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|x| PathBuf::from(x).join("peakscope")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("peakscope")))
        .unwrap_or_else(|| PathBuf::from(".peakscope"));
    base.join(format!("demo-{VERSION}"))
}

/// Write the demo into `dir` (dataset, models, project.toml) unless it is already there.
/// With `rebuild`, the models are retrained instead of copied from the shipped ones.
/// Returns the project config path.
pub fn prepare(dir: &Path, rebuild: bool, force: bool, log: &mut dyn FnMut(&str)) -> Result<PathBuf> {
    let config = dir.join("project.toml");
    let marker = dir.join(".complete");
    let ready = std::fs::read_to_string(&marker).map(|v| v.trim() == VERSION).unwrap_or(false);
    if ready && !rebuild && !force {
        return Ok(config);
    }
    let t = std::time::Instant::now();
    let data = synth::generate(SEED)?;
    write_dataset(dir, &data)?;
    log(&format!("dataset: {} peaks, {} genes, {} cell types in {:.1} s", data.peaks.len(), data.genes.len(), CELL_TYPES.len(), t.elapsed().as_secs_f64()));
    let models = dir.join("models");
    std::fs::create_dir_all(&models)?;
    if rebuild {
        train_models(&data, &models, EPOCHS, log)?;
    } else {
        for (stem, bytes) in SHIPPED {
            write_atomic(&models.join(format!("{stem}.pt")), |w| Ok(w.write_all(bytes)?))?;
        }
    }
    write_atomic(&config, |w| Ok(w.write_all(config_text().as_bytes())?))?;
    std::fs::write(&marker, VERSION)?;
    Ok(config)
}
