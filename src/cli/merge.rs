//! `peakscope merge`: the outputs of `--shard K/N` runs combined into what one run writes.
//!
//! * eval shards (JSON: header, the shard's `run` section, layout, co-moment accumulators,
//!   per-peak rows): the accumulators are merged (Pearson, over-correlation), the rows are
//!   put back in the seeded order and the ranked metrics (Spearman, AUROC/AUPRC, medians,
//!   replicate CVs) are recomputed from them → metrics.json and `--per-peak`.
//! * record shards of `predict --bed` and `ism --bed` (TSV keyed by record index, see
//!   `crate::shard`): rows streamed back in record order → the TSV one run writes, and for
//!   ISM attributions `--bigwig-out`.
use crate::config::{ModelConfig, ProjectConfig};
use crate::eval::stream::{Accumulators, EvalLayout, EvalState, PeakRow};
use crate::genome::peaks::Peak;
use crate::genome::textio::{check_optional_outputs, write_atomic, Output};
use crate::jobs::eval::EvalOutcome;
use crate::shard::{check_set, file_sha256, sniff_shard, MergeError, ModelIdentity, RecordShard, ShardHeader, ShardSpec, RECORD_SHARD_TAG};
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// merged output: metrics.json for eval shards, the TSV for predict/ism shards (atomic)
    #[arg(short, long)]
    pub output: PathBuf,
    /// eval shards: also write the per-peak TSV one run writes
    #[arg(long)]
    pub per_peak: Option<PathBuf>,
    /// ism shards written with --format attr: one bigWig of attributions per model output
    /// into this folder (as `ism --bed --bigwig-out` writes them)
    #[arg(long)]
    pub bigwig_out: Option<PathBuf>,
    /// the N shard files, in any order
    #[arg(required = true, value_name = "SHARD")]
    pub shards: Vec<PathBuf>,
}

/// Tag of the last field of an eval shard: a cut file that still parses is caught.
const EVAL_SHARD_END: &str = "peakscope-eval-shard-end";

/// One evaluated peak of an eval shard. Numbers are kept as text in Rust's shortest
/// round-trip form (`NaN`, `inf` included), so they come back bit for bit.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ShardRow {
    /// position in the seeded order of the whole run
    pos: usize,
    chrom: String,
    start: u64,
    end: u64,
    name: Option<String>,
    label: Option<String>,
    summit: Option<u64>,
    spec: Option<u32>,
    strata: Vec<usize>,
    /// per track, tab-separated
    measured: String,
    /// per model: per output, tab-separated
    predicted: Vec<String>,
    /// per track: 0/1
    called: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct EvalShardFile {
    header: ShardHeader,
    /// the `run` section this shard alone would have written to metrics.json
    run: serde_json::Value,
    layout: EvalLayout,
    accumulators: Accumulators,
    rows: Vec<ShardRow>,
    end: String,
}

fn join(v: &[f64]) -> String {
    v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("\t")
}

fn split(s: &str, n: usize, what: &str) -> std::result::Result<Vec<f64>, String> {
    let v: Vec<f64> = if s.is_empty() {
        Vec::new()
    } else {
        s.split('\t').map(|x| x.parse::<f64>().map_err(|_| format!("bad number '{x}' in {what}"))).collect::<Result<_, _>>()?
    };
    if v.len() != n {
        return Err(format!("{what} has {} values, expected {n}", v.len()));
    }
    Ok(v)
}

/// A model's identity for shard checks: name, file(s), SHA-256 of the file(s).
pub fn model_identity(m: &ModelConfig) -> Result<ModelIdentity> {
    let files: Vec<&PathBuf> = if m.paths.is_empty() { vec![&m.path] } else { m.paths.iter().collect() };
    let sums: Vec<String> = files.iter().map(|p| file_sha256(p)).collect::<Result<_>>()?;
    Ok(ModelIdentity { name: m.name.clone(), path: files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(","), sha256: sums.join(",") })
}

/// Write an eval shard file (atomic).
pub fn write_eval_shard(
    path: &Path,
    shard: ShardSpec,
    a: &super::eval_cmd::EvalArgs,
    cfg: &ProjectConfig,
    run: serde_json::Value,
    out: &EvalOutcome,
) -> Result<()> {
    let chosen: Vec<&ModelConfig> =
        if a.models.is_empty() { cfg.models.iter().collect() } else { a.models.iter().map(|n| cfg.model(n)).collect::<Result<_>>()? };
    let mut header = ShardHeader::new("eval", shard, out.selected).with_config(&a.config)?;
    header.block = cfg.eval.batch_peaks;
    header.items = out.state.rows.len();
    header.models = chosen.iter().map(|m| model_identity(m)).collect::<Result<_>>()?;
    header.params = serde_json::json!({
        "models": chosen.iter().map(|m| m.name.clone()).collect::<Vec<_>>(),
        "seed": cfg.eval.seed,
        "center_width": cfg.eval.center_width,
        "chroms": a.chroms,
        "limit": a.limit,
        "precision": a.run.precision,
    });
    let rows = out
        .state
        .rows
        .iter()
        .map(|r| {
            let p = &out.peaks[r.peak];
            ShardRow {
                pos: out.positions[r.peak],
                chrom: p.chrom.clone(),
                start: p.start,
                end: p.end,
                name: p.name.clone(),
                label: p.label.clone(),
                summit: p.summit,
                spec: out.specificity[r.peak],
                strata: r.strata.clone(),
                measured: join(&r.measured),
                predicted: r.predicted.iter().map(|m| join(m)).collect(),
                called: r.called.iter().map(|&c| if c { '1' } else { '0' }).collect(),
            }
        })
        .collect();
    let file = EvalShardFile { header, run, layout: out.state.layout.clone(), accumulators: out.state.accumulators(), rows, end: EVAL_SHARD_END.into() };
    write_atomic(path, |w| {
        serde_json::to_writer(&mut *w, &file)?;
        writeln!(w)?;
        Ok(())
    })
}

fn read_eval_shard(path: &Path) -> Result<EvalShardFile> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open shard {}", path.display()))?;
    let file: EvalShardFile = serde_json::from_reader(std::io::BufReader::with_capacity(1 << 20, f)).map_err(|e| -> anyhow::Error {
        if e.classify() == serde_json::error::Category::Eof {
            MergeError::Truncated(path.to_path_buf(), format!("the JSON ends early: {e}"), "K/N".into()).into()
        } else if e.classify() == serde_json::error::Category::Io {
            anyhow!("reading shard {}: {e}", path.display())
        } else {
            MergeError::NotAShard(path.to_path_buf(), format!("not an eval shard: {e}")).into()
        }
    })?;
    if file.header.format != crate::shard::SHARD_FORMAT || file.header.kind != "eval" {
        return Err(MergeError::NotAShard(path.to_path_buf(), format!("format {} kind {}", file.header.format, file.header.kind)).into());
    }
    if file.end != EVAL_SHARD_END || file.rows.len() != file.header.items {
        return Err(MergeError::Truncated(
            path.to_path_buf(),
            format!("{} rows for {} items", file.rows.len(), file.header.items),
            file.header.shard.to_string(),
        )
        .into());
    }
    Ok(file)
}

pub fn run(a: MergeArgs) -> Result<()> {
    let inputs: Vec<&Path> = a.shards.iter().map(|p| p.as_path()).collect();
    check_optional_outputs(
        [
            Some(Output::file("-o/--output", &a.output)),
            Output::file_opt("--per-peak", a.per_peak.as_deref()),
            Output::dir_opt("--bigwig-out", a.bigwig_out.as_deref()),
        ],
        &inputs,
    )?;
    let first = sniff_shard(&a.shards[0])?.unwrap_or_default();
    let t = std::time::Instant::now();
    if first.starts_with(RECORD_SHARD_TAG) {
        if a.per_peak.is_some() {
            bail!("--per-peak is for eval shards; {} is a predict/ism shard", a.shards[0].display());
        }
        merge_records(&a)?;
    } else {
        if a.bigwig_out.is_some() {
            bail!("--bigwig-out is for ism shards; {} is not one", a.shards[0].display());
        }
        merge_eval(&a)?;
    }
    eprintln!("merged {} shard(s) in {:.2} s", a.shards.len(), t.elapsed().as_secs_f64());
    Ok(())
}

fn sum_json(values: &[&serde_json::Value]) -> serde_json::Value {
    use serde_json::Value;
    match values.first() {
        Some(Value::Number(_)) => {
            if values.iter().all(|v| v.is_u64()) {
                Value::from(values.iter().filter_map(|v| v.as_u64()).sum::<u64>())
            } else {
                Value::from(values.iter().filter_map(|v| v.as_f64()).sum::<f64>())
            }
        }
        Some(Value::Object(o)) => {
            let mut out = serde_json::Map::new();
            for (k, v0) in o {
                let vs: Vec<&Value> = values.iter().map(|v| v.get(k).unwrap_or(v0)).collect();
                out.insert(k.clone(), sum_json(&vs));
            }
            Value::Object(out)
        }
        Some(v) => (*v).clone(),
        None => Value::Null,
    }
}

fn merge_eval(a: &MergeArgs) -> Result<()> {
    let mut shards = Vec::new();
    for p in &a.shards {
        let f = read_eval_shard(p)?;
        shards.push((p.clone(), f.header.clone(), f));
    }
    let shards = check_set(shards)?;
    let (p0, h0, f0) = &shards[0];
    for (p, h, f) in &shards {
        if f.layout != f0.layout {
            return Err(MergeError::Foreign {
                path: p.clone(),
                what: "tracks, model outputs or strata".into(),
                first: p0.clone(),
                theirs: format!("{} tracks, {} models, {} strata", f.layout.tracks.len(), f.layout.models.len(), f.layout.strata.len()),
                ours: format!("{} tracks, {} models, {} strata", f0.layout.tracks.len(), f0.layout.models.len(), f0.layout.strata.len()),
            }
            .into());
        }
        if f.run.get("complete") != Some(&serde_json::Value::Bool(true)) {
            return Err(MergeError::Incomplete(p.clone(), format!("shard {} was interrupted (\"complete\": false)", h.shard)).into());
        }
    }
    let lay = f0.layout.clone();
    let total = h0.total;
    let (nt, nm) = (lay.tracks.len(), lay.models.len());
    // rows back in the seeded order
    let mut all: Vec<(usize, &ShardRow, &Path)> = Vec::with_capacity(total);
    for (p, h, f) in &shards {
        for r in &f.rows {
            if !h.shard.owns_blocked(r.pos, h.block) || r.pos >= total {
                bail!("{}: peak at position {} does not belong to shard {}: the file was altered", p.display(), r.pos, h.shard);
            }
            all.push((r.pos, r, p));
        }
    }
    all.sort_by_key(|x| x.0);
    if let Some(w) = all.windows(2).find(|w| w[0].0 == w[1].0) {
        bail!("{}: peak at position {} appears twice: the file was altered", w[1].2.display(), w[1].0);
    }
    if all.len() != total {
        bail!("the shards hold {} peaks, the run selected {total}", all.len());
    }
    let mut peaks = Vec::with_capacity(total);
    let mut specs = Vec::with_capacity(total);
    let mut rows = Vec::with_capacity(total);
    for (i, (_, r, p)) in all.iter().enumerate() {
        let bad = |e: String| anyhow!("{}: peak {}:{}-{}: {e}", p.display(), r.chrom, r.start, r.end);
        let measured = split(&r.measured, nt, "measured").map_err(bad)?;
        if r.predicted.len() != nm {
            return Err(bad(format!("{} models' predictions, expected {nm}", r.predicted.len())));
        }
        let predicted: Vec<Vec<f64>> = r
            .predicted
            .iter()
            .zip(&lay.models)
            .map(|(s, m)| split(s, m.outputs.len(), &format!("predictions of {}", m.name)))
            .collect::<Result<_, _>>()
            .map_err(bad)?;
        let called: Vec<bool> = r.called.chars().map(|c| c == '1').collect();
        if called.len() != if lay.has_calls { nt } else { called.len() } || r.strata.iter().any(|&s| s >= lay.strata.len()) {
            return Err(bad("calls or strata do not fit the layout".into()));
        }
        peaks.push(Peak { chrom: r.chrom.clone(), start: r.start, end: r.end, name: r.name.clone(), label: r.label.clone(), summit: r.summit });
        specs.push(r.spec);
        rows.push(PeakRow { peak: i, strata: r.strata.clone(), measured, predicted, called });
    }
    let accs: Vec<Accumulators> = shards.iter().map(|s| s.2.accumulators.clone()).collect();
    let state = EvalState::from_shards(lay, total, &accs, rows).map_err(|e| anyhow!("the shards do not add up: {e}"))?;
    let snapshot = state.snapshot(true);
    let strata = state.layout.strata.names().to_vec();
    print!("{}", snapshot.table(&strata));

    // the run section: the first shard's, with totals over all shards
    let runs: Vec<&serde_json::Value> = shards.iter().map(|s| &s.2.run).collect();
    let mut run = f0.run.clone();
    let field = |k: &str| -> Vec<&serde_json::Value> { runs.iter().filter_map(|r| r.get(k)).collect() };
    run["n_peaks"] = serde_json::Value::from(state.rows.len());
    run["n_selected"] = serde_json::Value::from(total);
    run["complete"] = serde_json::Value::Bool(true);
    run["seconds"] = sum_json(&field("seconds"));
    run["timing"] = sum_json(&field("timing"));
    if let Some(w0) = f0.run.get("windows").and_then(|w| w.as_array()) {
        let merged: Vec<serde_json::Value> = (0..w0.len())
            .map(|i| {
                let per: Vec<&serde_json::Value> = runs.iter().filter_map(|r| r.get("windows").and_then(|w| w.get(i))).collect();
                let mut m = sum_json(&per);
                for k in ["model", "views", "grouped"] {
                    m[k] = w0[i][k].clone();
                }
                m
            })
            .collect();
        run["windows"] = serde_json::Value::from(merged);
    }
    let devices: std::collections::BTreeSet<String> = field("device").iter().filter_map(|d| d.as_str().map(String::from)).collect();
    run["device"] = serde_json::Value::from(devices.into_iter().collect::<Vec<_>>().join(", "));
    let mostly_n: u64 = runs.iter().filter_map(|r| r.pointer("/input/mostly_n_windows").and_then(|v| v.as_u64())).sum();
    if let Some(v) = run.pointer_mut("/input/mostly_n_windows") {
        *v = serde_json::Value::from(mostly_n);
    }
    let nan: BTreeMap<String, usize> =
        state.layout.tracks.iter().enumerate().map(|(t, n)| (n.clone(), state.rows.iter().filter(|r| !r.measured[t].is_finite()).count())).collect();
    run["measured_nan"] = serde_json::to_value(&nan)?;
    run["shards"] = serde_json::json!({ "n": h0.shard.n, "files": shards.iter().map(|s| s.0.display().to_string()).collect::<Vec<_>>() });
    let doc = serde_json::json!({ "run": run, "metrics": snapshot });
    write_atomic(&a.output, |w| {
        serde_json::to_writer_pretty(&mut *w, &doc)?;
        writeln!(w)?;
        Ok(())
    })?;
    eprintln!("wrote {} ({} peaks from {} shards)", a.output.display(), state.rows.len(), h0.shard.n);
    if let Some(p) = &a.per_peak {
        super::eval_cmd::write_per_peak(p, &state, &peaks, &specs)?;
        eprintln!("wrote {}", p.display());
    }
    Ok(())
}

fn merge_records(a: &MergeArgs) -> Result<()> {
    let mut shards = Vec::new();
    for p in &a.shards {
        let first = sniff_shard(p)?.unwrap_or_default();
        if !first.starts_with(RECORD_SHARD_TAG) {
            return Err(MergeError::NotAShard(p.clone(), "not a predict/ism shard (its first line is not #peakscope-shard)".into()).into());
        }
        let s = RecordShard::open(p)?;
        shards.push((p.clone(), s.header.clone(), s));
    }
    let mut shards = check_set(shards)?;
    let (p0, h0) = (shards[0].0.clone(), shards[0].1.clone());
    let columns = shards[0].2.columns.clone();
    for (p, _, s) in &shards {
        if s.columns != columns {
            return Err(
                MergeError::Foreign { path: p.clone(), what: "columns".into(), first: p0.clone(), theirs: s.columns.clone(), ours: columns.clone() }.into()
            );
        }
    }
    let n = h0.shard.n;
    let bigwig = match &a.bigwig_out {
        Some(dir) => {
            if h0.kind != "ism" || h0.params.get("format").and_then(|f| f.as_str()) != Some("attr") {
                bail!(
                    "--bigwig-out needs ism shards written with --format attr ({} is a {} shard{})",
                    p0.display(),
                    h0.kind,
                    if h0.kind == "ism" { " of deltas" } else { "" }
                );
            }
            Some((dir.clone(), super::ism_bed::AttrTrack::from_params(&h0.params)?))
        }
        None => None,
    };
    let mut acc = bigwig.as_ref().map(|(_, t)| t.accumulator());
    let mut rows = 0usize;
    write_atomic(&a.output, |w| {
        writeln!(w, "{columns}")?;
        for rec in 0..h0.total {
            let (path, _, s) = &mut shards[(rec / h0.block.max(1)) % n];
            while let Some(line) = s.next_of(rec)? {
                if let Some(acc) = acc.as_mut() {
                    acc.add_line(&line).with_context(|| format!("{}: record {rec}", path.display()))?;
                }
                w.write_all(line.as_bytes())?;
                writeln!(w)?;
                rows += 1;
            }
        }
        for (p, h, s) in &shards {
            if !s.finished() {
                return Err(MergeError::Truncated(p.clone(), "rows left after its last record (out of order)".into(), h.shard.to_string()).into());
            }
        }
        Ok(())
    })?;
    eprintln!("wrote {} ({rows} rows of {} records from {n} shards)", a.output.display(), h0.total);
    if let (Some((dir, track)), Some(acc)) = (bigwig, acc) {
        for p in track.write(dir.as_path(), acc)? {
            eprintln!("wrote {}", p.display());
        }
    }
    Ok(())
}
