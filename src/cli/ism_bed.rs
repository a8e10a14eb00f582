//! `peakscope ism --bed REGIONS`: saturation mutagenesis of many regions (every base of
//! each region, in a model window centred on it), as a TSV and as one bigWig of
//! attributions per model output; shardable with `--shard K/N` by record index.
use super::emit;
use super::model_cmds::{IsmArgs, IsmFormat};
use crate::genome::peaks::{read_regions, PeakReadOptions};
use crate::genome::textio::{check_optional_outputs, Output};
use crate::genome::{Fasta, Locus};
use crate::jobs::ModelEvent;
use crate::model::desc::BinSelect;
use crate::model::ism::{attributions, IsmPlan, IsmResult};
use crate::shard::{ShardHeader, ShardSpec, RECORD_SHARD_END, RECORD_SHARD_TAG};
use anyhow::{anyhow, bail, Context, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Where attribution bigWigs go and what they cover: one file per model output,
/// `<dir>/<model>.<output>.attr.bw`, per-base values at each mutated position (a position
/// inside several regions gets the mean of their attributions, in record order).
#[derive(Debug, Clone)]
pub struct AttrTrack {
    pub model: String,
    pub targets: Vec<String>,
    pub chrom_sizes: Vec<(String, u32)>,
}

/// One output's attributions: chrom → position (0-based) → (sum, count).
type PerChrom = HashMap<String, BTreeMap<u64, (f64, u32)>>;

/// Per output: the attributions added so far.
pub struct AttrAcc {
    index: HashMap<String, usize>,
    per: Vec<PerChrom>,
}

impl AttrAcc {
    pub fn add(&mut self, chrom: &str, pos0: u64, target: usize, v: f32) {
        let m = self.per[target].entry(chrom.to_string()).or_default();
        let e = m.entry(pos0).or_insert((0.0, 0));
        e.0 += v as f64;
        e.1 += 1;
    }

    /// One row of the attr TSV: region chrom pos (0-based, as `ism` writes it) ref target attr.
    pub fn add_line(&mut self, line: &str) -> Result<()> {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 6 {
            bail!("an attribution row has {} columns, expected 6 (region chrom pos ref target attr)", f.len());
        }
        let pos: u64 = f[2].parse().map_err(|_| anyhow!("bad position '{}'", f[2]))?;
        let t = *self.index.get(f[4]).ok_or_else(|| anyhow!("unknown output '{}'", f[4]))?;
        let v: f32 = f[5].parse().map_err(|_| anyhow!("bad attribution '{}'", f[5]))?;
        self.add(f[1], pos, t, v);
        Ok(())
    }
}

impl AttrTrack {
    pub fn params(&self, format: &str) -> serde_json::Value {
        serde_json::json!({ "model": self.model, "targets": self.targets, "chrom_sizes": self.chrom_sizes, "format": format })
    }

    pub fn from_params(p: &serde_json::Value) -> Result<AttrTrack> {
        let bad = || anyhow!("the ism shard header lacks the model, outputs or chromosome sizes");
        Ok(AttrTrack {
            model: p.get("model").and_then(|m| m.as_str()).ok_or_else(bad)?.to_string(),
            targets: serde_json::from_value(p.get("targets").cloned().ok_or_else(bad)?)?,
            chrom_sizes: serde_json::from_value(p.get("chrom_sizes").cloned().ok_or_else(bad)?)?,
        })
    }

    pub fn accumulator(&self) -> AttrAcc {
        AttrAcc { index: self.targets.iter().enumerate().map(|(i, t)| (t.clone(), i)).collect(), per: vec![HashMap::new(); self.targets.len()] }
    }

    pub fn path(&self, dir: &Path, target: &str) -> PathBuf {
        dir.join(format!("{}.{}.attr.bw", super::model_cmds::sanitize(&self.model), super::model_cmds::sanitize(target)))
    }

    /// Write one bigWig per output (atomically: a temporary file renamed into place).
    pub fn write(&self, dir: &Path, acc: AttrAcc) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut written = Vec::new();
        for (t, per) in self.targets.iter().zip(acc.per) {
            let path = self.path(dir, t);
            let tmp = dir.join(format!(".{}.tmp", path.file_name().unwrap().to_string_lossy()));
            let mut chroms: Vec<&String> = per.keys().collect();
            chroms.sort();
            let mut recs = Vec::new();
            for c in chroms {
                for (&p, &(s, n)) in &per[c] {
                    recs.push((c.clone(), bigtools::Value { start: p as u32, end: p as u32 + 1, value: (s / n as f64) as f32 }));
                }
            }
            crate::genome::bigwig::write_bigwig(&tmp, &self.chrom_sizes, recs)?;
            std::fs::rename(&tmp, &path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
            written.push(path);
        }
        Ok(written)
    }
}

/// Run ISM on one plan through the worker, blocking.
fn ism_one(worker: &crate::jobs::ModelWorker, plan: Arc<IsmPlan>) -> Result<IsmResult> {
    let (_, events) = worker.ism(0, plan, Arc::new(AtomicBool::new(false)))?;
    for ev in events {
        if let ModelEvent::IsmDone { result, .. } = ev {
            return result.map_err(|e| anyhow!(e));
        }
    }
    Err(anyhow!("the model worker stopped before ISM finished"))
}

pub fn run(a: IsmArgs, bed: &Path) -> Result<()> {
    if a.shard.is_some() && a.output.is_none() {
        bail!("--shard needs -o/--output: the shard file that `peakscope merge` combines");
    }
    if a.shard.is_some() && a.bigwig_out.is_some() {
        bail!(
            "with --shard the attribution bigWigs are written by the merge: `peakscope merge --bigwig-out DIR -o attr.tsv SHARD…` (shards need --format attr)"
        );
    }
    check_optional_outputs([Output::file_opt("-o/--output", a.output.as_deref()), Output::dir_opt("--bigwig-out", a.bigwig_out.as_deref())], &[bed])?;
    let r = a.model.resolve()?;
    let fasta = Fasta::open(&r.fasta)?;
    let regions = read_regions(bed, &PeakReadOptions::default())?;
    let shard = a.shard.unwrap_or(ShardSpec::WHOLE);
    // plan every region of this shard before the model loads: bad records fail fast
    let mut plans = Vec::new();
    for i in shard.indices(regions.len()) {
        let p = &regions[i];
        let (chrom, _) = fasta.resolve(&p.chrom).with_context(|| format!("{}: region record {} ({})", bed.display(), i + 1, p.display_name()))?;
        let locus = Locus::new(chrom.to_string(), p.start, p.end);
        let mut plan = IsmPlan::new(&fasta, &locus, r.spec.context_length())
            .with_context(|| format!("{}: region record {} ({})", bed.display(), i + 1, p.display_name()))?;
        if r.spec.height.bins == BinSelect::Center {
            plan = plan.with_center_width(r.center_width);
        }
        plans.push((i, Arc::new(plan)));
    }
    let model_id = match (&a.model.config, a.model.config.as_deref().map(crate::config::ProjectConfig::load).transpose()?) {
        (Some(_), Some(cfg)) if cfg.models.iter().any(|m| m.name == a.model.model) => super::merge::model_identity(cfg.model(&a.model.model)?)?,
        _ => {
            crate::shard::ModelIdentity { name: r.spec.name.clone(), path: r.spec.path.display().to_string(), sha256: crate::shard::file_sha256(&r.spec.path)? }
        }
    };
    let worker = a.model.start(r.spec)?;
    let info = worker.models[0].clone();
    let track = AttrTrack {
        model: info.spec.name.clone(),
        targets: info.target_names.clone(),
        chrom_sizes: fasta.chroms().iter().map(|(n, l)| (n.to_string(), l as u32)).collect(),
    };
    let format = match a.format {
        IsmFormat::Deltas => "deltas",
        IsmFormat::Attr => "attr",
    };
    let columns = match a.format {
        IsmFormat::Deltas => "region\tchrom\tpos\tref\talt\ttarget\tref_pred\talt_pred\tdelta",
        IsmFormat::Attr => "region\tchrom\tpos\tref\ttarget\tattr",
    };
    let mut acc = a.bigwig_out.as_ref().map(|_| track.accumulator());
    let pb = indicatif::ProgressBar::new(plans.len() as u64)
        .with_style(indicatif::ProgressStyle::with_template("ism {bar:30} {pos}/{len} regions {per_sec} eta {eta}").unwrap());
    let t0 = std::time::Instant::now();
    let mut mutants = 0usize;
    let names = info.target_names.clone();
    emit(a.output.as_deref(), |w| {
        let mut rows = 0usize;
        if let Some(s) = a.shard {
            let mut header = ShardHeader::new("ism", s, regions.len());
            if let Some(c) = &a.model.config {
                header = header.with_config(c)?;
            }
            header.models = vec![model_id.clone()];
            header.input = Some((bed.display().to_string(), crate::shard::file_sha256(bed)?));
            let mut params = track.params(format);
            params["center_width"] = serde_json::Value::from(r.center_width);
            params["precision"] = serde_json::Value::from(a.model.run.precision.clone());
            header.params = params;
            writeln!(w, "{RECORD_SHARD_TAG}{}", serde_json::to_string(&header)?)?;
            write!(w, "record\t")?;
        }
        writeln!(w, "{columns}")?;
        let prefix = |rec: usize| if a.shard.is_some() { format!("{rec}\t") } else { String::new() };
        for (rec, plan) in &plans {
            let res = ism_one(&worker, plan.clone()).with_context(|| format!("ISM of region record {} ({})", rec + 1, regions[*rec].display_name()))?;
            mutants += res.done;
            let name = regions[*rec].display_name();
            let pre = prefix(*rec);
            match a.format {
                IsmFormat::Deltas => {
                    for (m, &(p, alt)) in plan.mutants.iter().enumerate().filter(|(m, _)| res.computed[*m]) {
                        let (pos, rb, alt) = (plan.genomic_pos(p), plan.ref_base(p) as char, IsmPlan::alt_base(alt) as char);
                        for (t, tn) in names.iter().enumerate() {
                            let (rp, d) = (res.ref_height[t], res.delta_f64(m, t));
                            writeln!(w, "{pre}{name}\t{}\t{pos}\t{rb}\t{alt}\t{tn}\t{rp}\t{}\t{d}", plan.chrom, rp + d)?;
                            rows += 1;
                        }
                    }
                    if let Some(acc) = acc.as_mut() {
                        for (p, t, v) in attributions(plan, &res) {
                            acc.add(&plan.chrom, plan.genomic_pos(p) as u64, t, v);
                        }
                    }
                }
                IsmFormat::Attr => {
                    for (p, t, v) in attributions(plan, &res) {
                        let pos = plan.genomic_pos(p);
                        writeln!(w, "{pre}{name}\t{}\t{pos}\t{}\t{}\t{v}", plan.chrom, plan.ref_base(p) as char, names[t])?;
                        rows += 1;
                        if let Some(acc) = acc.as_mut() {
                            acc.add(&plan.chrom, pos as u64, t, v);
                        }
                    }
                }
            }
            pb.inc(1);
        }
        if a.shard.is_some() {
            writeln!(w, "{RECORD_SHARD_END}{rows}")?;
        }
        Ok(())
    })?;
    pb.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "ism: {} region(s){} of {}, {mutants} mutants × {} output(s) in {secs:.2} s ({:.0} mutants/s)",
        plans.len(),
        a.shard.map(|s| format!(" (shard {s})")).unwrap_or_default(),
        bed.display(),
        names.len(),
        mutants as f64 / secs.max(1e-9)
    );
    if let (Some(dir), Some(acc)) = (&a.bigwig_out, acc) {
        for p in track.write(dir, acc)? {
            eprintln!("wrote {}", p.display());
        }
    }
    Ok(())
}
