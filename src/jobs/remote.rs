//! Models in their own processes. The `peakscope` binary links no libtorch, so that it
//! starts at once (the terminal UI's first frame does not wait ~1 s for libtorch to load);
//! the UI's model work runs in `peakscope-torch` child processes instead:
//!
//! * the **model server** (`peakscope-torch serve-models CONFIG`), one per UI, loads the
//!   config's models and answers prediction and ISM requests; [`ModelClient`] is its
//!   client, the environment of the UI's predictor thread;
//! * an **evaluation** (`peakscope-torch ui-eval CONFIG`), one process per run, so that
//!   everything it held (models, FASTA, bigWig caches, per-peak rows) is returned to the
//!   system when it stops.
//!
//! Both speak length-prefixed CBOR frames ([`write_frame`], [`read_frame`]) on their
//! standard input and output; their standard error goes to the UI's log file. A child exits
//! when its standard input closes (the UI quit or died) and, on Linux, when the UI process
//! dies.
use super::view::{Along, GenomicHit, IsmSummary, IsmUpdate, RegionAttr};
use crate::eval::report::Snapshot;
use crate::genome::variants::Variant;
use crate::genome::Locus;
use anyhow::{anyhow, bail, Result};
use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Write one frame: its length (u32, little-endian), then the value as CBOR.
pub fn write_frame<W: Write, T: Serialize>(w: &mut W, value: &T) -> io::Result<()> {
    let mut buf = Vec::new();
    ciborium::into_writer(value, &mut buf).map_err(|e| io::Error::other(e.to_string()))?;
    let len = u32::try_from(buf.len()).map_err(|_| io::Error::other("frame larger than 4 GB"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(&buf)?;
    w.flush()
}

/// Read one frame; `None` at a clean end of the stream.
pub fn read_frame<R: Read, T: DeserializeOwned>(r: &mut R) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    let mut buf = vec![0u8; u32::from_le_bytes(len) as usize];
    r.read_exact(&mut buf)?;
    ciborium::from_reader(&buf[..]).map(Some).map_err(|e| io::Error::other(format!("bad frame: {e}")))
}

/// A locus on the wire.
pub type WireLocus = (String, u64, u64);

fn wire(l: &Locus) -> WireLocus {
    (l.chrom.clone(), l.start, l.end)
}

pub fn unwire(l: WireLocus) -> Locus {
    Locus::new(l.0, l.1, l.2)
}

/// A variant on the wire: chromosome, VCF POS (1-based), REF, ALT.
pub type WireVariant = (String, u64, Vec<u8>, Vec<u8>);

pub fn wire_variant(v: &Variant) -> WireVariant {
    (v.chrom.clone(), v.pos, v.ref_allele.clone(), v.alt.clone())
}

pub fn unwire_variant(w: WireVariant) -> Variant {
    Variant { chrom: w.0, pos: w.1, ref_allele: w.2, alt: w.3, id: ".".into(), line: 0, label: None, counts: Vec::new() }
}

/// REF and ALT heights of variants, per variant and track (empty for a variant that
/// failed), and the variants that failed (index, reason).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VariantEffects {
    pub ref_pred: Vec<Vec<f64>>,
    pub alt_pred: Vec<Vec<f64>>,
    pub errors: Vec<(usize, String)>,
}

/// UI → model server.
#[derive(Debug, Serialize, Deserialize)]
pub enum ModelRequest {
    /// one value per track for each locus (the model's window centred on it)
    Predict { id: u64, model: usize, loci: Vec<WireLocus> },
    /// ISM of the region around the locus's centre
    Ism { id: u64, model: usize, locus: WireLocus },
    /// stop request `id` (ISM and TF activity stop after their running batch)
    Cancel { id: u64 },
    /// the motif library's (id, TF name) pairs
    MotifNames { id: u64 },
    /// TF activity of motifs `first..end` over backgrounds from `peaks`
    TfActivity { id: u64, model: usize, first: usize, end: usize, peaks: Vec<WireLocus>, seed: u64 },
    /// hits of one motif in a view
    MotifHits { id: u64, motif: usize, locus: WireLocus },
    /// gradient × input of the ISM panel's region around `locus`
    RegionAttr { id: u64, model: usize, locus: WireLocus, region_len: Option<u64> },
    /// the predicted signal along a view, in `cols` columns
    Along { id: u64, model: usize, locus: WireLocus, cols: usize },
    /// REF and ALT heights of variants (checked against the FASTA by the UI's reader)
    VariantEffects { id: u64, model: usize, variants: Vec<WireVariant> },
}

/// Model server → UI.
#[derive(Debug, Serialize, Deserialize)]
pub enum ModelResponse {
    /// the models are loaded on this device
    Ready {
        device: String,
    },
    /// request `id` failed (id 0: the server could not start)
    Failed {
        id: u64,
        error: String,
    },
    Predicted {
        id: u64,
        values: Vec<Vec<f32>>,
    },
    IsmPlan {
        id: u64,
        region_start: i64,
        seq: Vec<u8>,
        mutants: Vec<(u32, u8)>,
    },
    IsmReference {
        id: u64,
        values: Vec<f32>,
    },
    IsmChunk {
        id: u64,
        first: usize,
        preds: Vec<Vec<f32>>,
        deltas: Vec<Vec<f64>>,
    },
    IsmDone {
        id: u64,
        motifs: Vec<Option<String>>,
        done: usize,
        cancelled: bool,
    },
    MotifNames {
        id: u64,
        names: Vec<(String, String)>,
    },
    TfRows {
        id: u64,
        rows: Vec<Vec<f32>>,
    },
    MotifHits {
        id: u64,
        hits: Vec<GenomicHit>,
    },
    RegionAttr {
        id: u64,
        attr: RegionAttr,
        hits: Vec<GenomicHit>,
    },
    Along {
        id: u64,
        along: Along,
    },
    /// per variant, per track: REF and ALT heights (NaN: output not mapped; empty: the
    /// variant failed, its reason in `errors`)
    VariantEffects {
        id: u64,
        ref_pred: Vec<Vec<f64>>,
        alt_pred: Vec<Vec<f64>>,
        errors: Vec<(usize, String)>,
    },
}

impl ModelResponse {
    /// The request this answers (0: none, e.g. `Ready`).
    fn id(&self) -> u64 {
        match self {
            ModelResponse::Ready { .. } => 0,
            ModelResponse::Failed { id, .. }
            | ModelResponse::Predicted { id, .. }
            | ModelResponse::IsmPlan { id, .. }
            | ModelResponse::IsmReference { id, .. }
            | ModelResponse::IsmChunk { id, .. }
            | ModelResponse::IsmDone { id, .. }
            | ModelResponse::MotifNames { id, .. }
            | ModelResponse::TfRows { id, .. }
            | ModelResponse::MotifHits { id, .. }
            | ModelResponse::RegionAttr { id, .. }
            | ModelResponse::Along { id, .. }
            | ModelResponse::VariantEffects { id, .. } => *id,
        }
    }
}

/// Evaluation process → UI.
#[derive(Debug, Serialize, Deserialize)]
pub enum EvalFrame {
    Progress {
        done: usize,
        total: usize,
    },
    /// metrics so far (`strata`: their display order, in the last snapshot)
    Snapshot {
        done: usize,
        total: usize,
        snapshot: Box<Snapshot>,
        strata: Vec<String>,
    },
    /// variant metrics so far (after the peaks, when the config has `[variants]`): per
    /// model, reference vs variant accuracy; `finished` on the last one
    Variants {
        scored: usize,
        strata: Vec<String>,
        report: Box<crate::jobs::variants::VariantReports>,
        finished: bool,
    },
    Done {
        cancelled: bool,
    },
    Failed(String),
}

/// The `peakscope-torch` binary: `$PEAKSCOPE_TORCH_BIN`, or the one next to this program.
pub fn torch_exe() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("PEAKSCOPE_TORCH_BIN") {
        return Ok(p.into());
    }
    let me = std::env::current_exe().map_err(|e| anyhow!("cannot find this program's path ({e})"))?;
    let p = me.with_file_name("peakscope-torch");
    if !p.exists() {
        bail!(
            "{} is missing: peakscope runs models through it; build both binaries (`cargo build --release`) or install both (`cargo install --path .`)",
            p.display()
        );
    }
    Ok(p)
}

/// Replace this process with `peakscope-torch ARGS` (returns only on failure).
pub fn exec_torch(args: impl IntoIterator<Item = OsString>) -> anyhow::Error {
    use std::os::unix::process::CommandExt;
    match torch_exe() {
        Err(e) => e,
        Ok(p) => {
            let e = Command::new(&p).arg0("peakscope").args(args).exec();
            anyhow!("cannot run {}: {e}", p.display())
        }
    }
}

/// How much lower the UI's model and evaluation processes run than the UI (nice levels):
/// on a machine with few cores the model's threads would otherwise take the CPU time the
/// UI needs to answer a key (on a GPU the model hardly uses the CPU).
pub const CHILD_NICENESS: i32 = 5;

/// In a child process of the UI: exit when the parent (the UI) dies (Linux), even if it was killed,
/// and run [`CHILD_NICENESS`] levels below it. Call it before starting any thread (threads
/// inherit the level).
pub fn as_ui_child() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: getpriority/setpriority on this process (who = 0) read and write no memory
        // of ours; a failure (errno) only leaves the priority as it was.
        unsafe {
            let now = libc::getpriority(libc::PRIO_PROCESS, 0);
            if libc::setpriority(libc::PRIO_PROCESS, 0, (now + CHILD_NICENESS).min(19)) != 0 {
                tracing::debug!("could not lower the priority of this process");
            }
        }
        // SAFETY: prctl(PR_SET_PDEATHSIG, sig) only sets this process's parent-death signal;
        // it reads no memory of ours.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong);
        }
        // SAFETY: getppid has no preconditions.
        if unsafe { libc::getppid() } == 1 {
            std::process::exit(0);
        }
    }
}

/// A child process with framed standard output read on a thread.
struct FramedChild<T> {
    what: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    frames: Receiver<T>,
}

impl<T: DeserializeOwned + Send + 'static> FramedChild<T> {
    fn spawn(what: &'static str, args: &[OsString], stderr: Stdio) -> Result<Self> {
        let exe = torch_exe()?;
        let mut child = Command::new(&exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| anyhow!("cannot start {} ({what}): {e}", exe.display()))?;
        let mut out = child.stdout.take().ok_or_else(|| anyhow!("{what}: no stdout pipe"))?;
        let (tx, frames) = unbounded();
        std::thread::Builder::new().name(format!("{what}-reader")).spawn(move || loop {
            match read_frame::<_, T>(&mut out) {
                Ok(Some(f)) => {
                    if tx.send(f).is_err() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!("{what}: {e}");
                    break;
                }
            }
        })?;
        let stdin = child.stdin.take();
        Ok(FramedChild { what, child, stdin, frames })
    }

    fn send<R: Serialize>(&mut self, r: &R) -> Result<()> {
        let what = self.what;
        let w = self.stdin.as_mut().ok_or_else(|| anyhow!("{what} was stopped"))?;
        write_frame(w, r).map_err(|e| anyhow!("{what} stopped ({e}); see the log"))
    }

    /// Why the frames ended (the child exited or broke its pipe).
    fn ended(&mut self) -> anyhow::Error {
        let status = wait_for(&mut self.child, Duration::from_secs(2));
        anyhow!("{} stopped ({}); see the log", self.what, status.map(|s| s.to_string()).unwrap_or_else(|| "still running".into()))
    }
}

impl<T> Drop for FramedChild<T> {
    fn drop(&mut self) {
        // end of input tells the child to stop; it finishes its running batch
        drop(self.stdin.take());
        if wait_for(&mut self.child, Duration::from_secs(20)).is_none() {
            tracing::warn!("{} did not stop within 20 s: killed", self.what);
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn wait_for(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let t = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) if t.elapsed() < limit => std::thread::sleep(Duration::from_millis(5)),
            _ => return None,
        }
    }
}

/// The UI predictor thread's environment: a client of the model server (or of nothing, for
/// a project without models).
pub struct ModelClient {
    server: Option<FramedChild<ModelResponse>>,
    next_id: u64,
    device: String,
}

impl ModelClient {
    /// Start the model server for the config at `config` and wait until its models are
    /// loaded (or it fails). Its standard error goes to `stderr`.
    pub fn spawn(config: &Path, device: &str, stderr: Stdio) -> Result<ModelClient> {
        let args: Vec<OsString> = vec!["serve-models".into(), config.into(), "--device".into(), device.into()];
        let mut server = FramedChild::spawn("the model server", &args, stderr)?;
        match server.frames.recv() {
            Ok(ModelResponse::Ready { device }) => Ok(ModelClient { server: Some(server), next_id: 1, device }),
            Ok(ModelResponse::Failed { error, .. }) => Err(anyhow!("{error}")),
            Ok(other) => Err(anyhow!("the model server answered {other:?} before it was ready")),
            Err(_) => Err(server.ended()),
        }
    }

    /// A client without a server: every request fails (the project has no models).
    pub fn none() -> ModelClient {
        ModelClient { server: None, next_id: 1, device: String::new() }
    }

    pub fn device_label(&self) -> String {
        self.device.clone()
    }

    fn request(&mut self, make: impl FnOnce(u64) -> ModelRequest) -> Result<(u64, &mut FramedChild<ModelResponse>)> {
        let id = self.next_id;
        self.next_id += 1;
        let server = self.server.as_mut().ok_or_else(|| anyhow!("this project has no models"))?;
        server.send(&make(id))?;
        Ok((id, server))
    }

    /// Send a request that has one answer and wait for it (answers to requests given up
    /// earlier are skipped); `cancel` (when given) is passed on as a `Cancel` request, and the
    /// server still answers (with what it has or a failure).
    fn call(&mut self, cancel: Option<&AtomicBool>, make: impl FnOnce(u64) -> ModelRequest) -> Result<ModelResponse> {
        let (id, server) = self.request(make)?;
        let mut cancel_sent = false;
        loop {
            if !cancel_sent && cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                server.send(&ModelRequest::Cancel { id })?;
                cancel_sent = true;
            }
            match server.frames.recv_timeout(Duration::from_millis(20)) {
                Ok(ModelResponse::Failed { id: i, error }) if i == id => bail!("{error}"),
                Ok(r) if r.id() == id => return Ok(r),
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Err(server.ended()),
            }
        }
    }

    /// One value per track for each locus (see [`Predictor::predict_tracks`](super::view::Predictor::predict_tracks)).
    pub fn predict_tracks(&mut self, model: usize, loci: &[Locus]) -> Result<Vec<Vec<f32>>> {
        let loci = loci.iter().map(wire).collect();
        match self.call(None, |id| ModelRequest::Predict { id, model, loci })? {
            ModelResponse::Predicted { values, .. } => Ok(values),
            other => bail!("the model server answered {other:?} to a prediction"),
        }
    }

    /// The motif library (see [`Predictor::motif_names`](super::view::Predictor::motif_names)).
    pub fn motif_names(&mut self) -> Result<Vec<(String, String)>> {
        match self.call(None, |id| ModelRequest::MotifNames { id })? {
            ModelResponse::MotifNames { names, .. } => Ok(names),
            other => bail!("the model server answered {other:?} to a motif list request"),
        }
    }

    /// TF activity of motifs `motifs` (see [`Predictor::tf_activity`](super::view::Predictor::tf_activity)).
    pub fn tf_activity(&mut self, model: usize, motifs: std::ops::Range<usize>, peaks: &[Locus], seed: u64, cancel: &AtomicBool) -> Result<Vec<Vec<f32>>> {
        let peaks = peaks.iter().map(wire).collect();
        match self.call(Some(cancel), |id| ModelRequest::TfActivity { id, model, first: motifs.start, end: motifs.end, peaks, seed })? {
            ModelResponse::TfRows { rows, .. } => Ok(rows),
            other => bail!("the model server answered {other:?} to a TF activity request"),
        }
    }

    /// Hits of a motif in a view (see [`Predictor::motif_hits`](super::view::Predictor::motif_hits)).
    pub fn motif_hits(&mut self, motif: usize, locus: &Locus) -> Result<Vec<GenomicHit>> {
        match self.call(None, |id| ModelRequest::MotifHits { id, motif, locus: wire(locus) })? {
            ModelResponse::MotifHits { hits, .. } => Ok(hits),
            other => bail!("the model server answered {other:?} to a motif hits request"),
        }
    }

    /// The predicted signal along a view (see [`Predictor::along_view`](super::view::Predictor::along_view)).
    pub fn along_view(&mut self, model: usize, locus: &Locus, cols: usize, cancel: &AtomicBool) -> Result<Along> {
        match self.call(Some(cancel), |id| ModelRequest::Along { id, model, locus: wire(locus), cols })? {
            ModelResponse::Along { along, .. } => Ok(along),
            other => bail!("the model server answered {other:?} to a signal request"),
        }
    }

    /// Gradient × input around a peak (see [`Predictor::region_attr`](super::view::Predictor::region_attr)).
    pub fn region_attr(&mut self, model: usize, locus: &Locus, region_len: Option<u64>) -> Result<(RegionAttr, Vec<GenomicHit>)> {
        match self.call(None, |id| ModelRequest::RegionAttr { id, model, locus: wire(locus), region_len })? {
            ModelResponse::RegionAttr { attr, hits, .. } => Ok((attr, hits)),
            other => bail!("the model server answered {other:?} to an attribution request"),
        }
    }

    /// REF and ALT heights of variants (see [`Predictor::variant_effects`](super::view::Predictor::variant_effects)).
    pub fn variant_effects(&mut self, model: usize, variants: &[Variant]) -> Result<VariantEffects> {
        let variants = variants.iter().map(wire_variant).collect();
        match self.call(None, |id| ModelRequest::VariantEffects { id, model, variants })? {
            ModelResponse::VariantEffects { ref_pred, alt_pred, errors, .. } => Ok(VariantEffects { ref_pred, alt_pred, errors }),
            other => bail!("the model server answered {other:?} to a variant request"),
        }
    }

    /// ISM streamed to `on` (see [`Predictor::ism`](super::view::Predictor::ism)); `cancel`
    /// stops it after the running batch.
    pub fn ism(&mut self, model: usize, locus: &Locus, cancel: Arc<AtomicBool>, mut on: impl FnMut(IsmUpdate)) -> Result<IsmSummary> {
        let (id, server) = self.request(|id| ModelRequest::Ism { id, model, locus: wire(locus) })?;
        let mut cancel_sent = false;
        loop {
            if !cancel_sent && cancel.load(Ordering::Relaxed) {
                server.send(&ModelRequest::Cancel { id })?;
                cancel_sent = true;
            }
            let frame = match server.frames.recv_timeout(Duration::from_millis(20)) {
                Ok(f) => f,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Err(server.ended()),
            };
            match frame {
                ModelResponse::IsmPlan { id: i, region_start, seq, mutants } if i == id => on(IsmUpdate::Plan { region_start, seq, mutants }),
                ModelResponse::IsmReference { id: i, values } if i == id => on(IsmUpdate::Reference(values)),
                ModelResponse::IsmChunk { id: i, first, preds, deltas } if i == id => on(IsmUpdate::Chunk { first, preds, deltas }),
                ModelResponse::IsmDone { id: i, motifs, done, cancelled } if i == id => return Ok(IsmSummary { motifs, done, cancelled }),
                ModelResponse::Failed { id: i, error } if i == id => bail!("{error}"),
                _ => {}
            }
        }
    }
}

/// A running evaluation process (see the module documentation).
pub struct EvalProcess {
    child: FramedChild<EvalFrame>,
    stop_sent: bool,
}

impl EvalProcess {
    /// Start `peakscope-torch ui-eval` on the config at `config`.
    pub fn spawn(config: &Path, device: &str, chroms: &[String], limit: Option<usize>, stderr: Stdio) -> Result<EvalProcess> {
        let mut args: Vec<OsString> = vec!["ui-eval".into(), config.into(), "--device".into(), device.into()];
        if !chroms.is_empty() {
            args.extend(["--chroms".into(), chroms.join(",").into()]);
        }
        if let Some(n) = limit {
            args.extend(["--limit".into(), n.to_string().into()]);
        }
        Ok(EvalProcess { child: FramedChild::spawn("the evaluation", &args, stderr)?, stop_sent: false })
    }

    /// Ask it to stop after its running batch (it then sends its last snapshot and `Done`).
    pub fn stop(&mut self) {
        if !self.stop_sent {
            self.stop_sent = true;
            if let Some(w) = self.child.stdin.as_mut() {
                let _ = w.write_all(b"s").and_then(|_| w.flush());
            }
        }
    }

    /// The next frame, waiting at most `limit`; `Err` when the process ended without
    /// saying `Done` or `Failed`.
    pub fn next(&mut self, limit: Duration) -> Result<Option<EvalFrame>> {
        match self.child.frames.recv_timeout(limit) {
            Ok(f) => Ok(Some(f)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(self.child.ended()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_with_nan_and_end_cleanly() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &ModelResponse::Predicted { id: 3, values: vec![vec![1.5, f32::NAN]] }).unwrap();
        write_frame(&mut buf, &EvalFrame::Progress { done: 1, total: 2 }).unwrap();
        let mut r = &buf[..];
        match read_frame::<_, ModelResponse>(&mut r).unwrap() {
            Some(ModelResponse::Predicted { id: 3, values }) => assert!(values[0][0] == 1.5 && values[0][1].is_nan()),
            other => panic!("{other:?}"),
        }
        assert!(matches!(read_frame::<_, EvalFrame>(&mut r).unwrap(), Some(EvalFrame::Progress { done: 1, total: 2 })));
        assert!(read_frame::<_, EvalFrame>(&mut r).unwrap().is_none(), "a clean end");
        // a frame cut short is an error, not a clean end
        let mut cut = &buf[..6];
        assert!(read_frame::<_, ModelResponse>(&mut cut).is_err());
    }
}
