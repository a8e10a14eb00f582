//! One log sink for the whole process. Library code logs through `tracing` and never
//! prints; this module decides where those lines go: standard error for the CLI, the log
//! file while the terminal UI owns the screen (see [`to_file`] / [`to_stderr`]).
//!
//! Levels: `PEAKSCOPE_LOG` (an `EnvFilter` directive such as `debug` or
//! `peakscope::model=trace`) overrides the default, which is `info` for peakscope's own
//! modules and `warn` for everything else.
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Where log lines go right now.
enum Target {
    Stderr,
    File(PathBuf, File),
}

fn target() -> &'static Mutex<Target> {
    static T: OnceLock<Mutex<Target>> = OnceLock::new();
    T.get_or_init(|| Mutex::new(Target::Stderr))
}

/// A `MakeWriter` that writes each event to the current target.
#[derive(Clone, Copy, Default)]
pub struct Sink;

/// One event's bytes, written to the target when dropped (one write per line, so lines
/// from different threads never interleave).
pub struct SinkWriter(Vec<u8>);

impl Write for SinkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SinkWriter {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let mut t = target().lock().unwrap_or_else(|p| p.into_inner());
        let _ = match &mut *t {
            Target::Stderr => std::io::stderr().write_all(&self.0),
            Target::File(_, f) => f.write_all(&self.0),
        };
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Sink {
    type Writer = SinkWriter;
    fn make_writer(&'a self) -> SinkWriter {
        SinkWriter(Vec::new())
    }
}

/// Install the global subscriber (once; later calls do nothing). `verbose` lowers the
/// default level to `debug`.
pub fn init(verbose: bool) {
    use tracing_subscriber::EnvFilter;
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let default = if verbose { "peakscope=debug,warn" } else { "peakscope=info,warn" };
        let filter = EnvFilter::try_from_env("PEAKSCOPE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(Sink)
            .with_target(false)
            .without_time()
            .with_ansi(false)
            .event_format(CliFormat)
            .try_init();
    });
}

/// `warning: message` / `note: message` lines, like compilers print; the log file gets a
/// time stamp in front (see [`SinkWriter`]'s file target).
struct CliFormat;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for CliFormat
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut w: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let level = match *event.metadata().level() {
            tracing::Level::ERROR => "error",
            tracing::Level::WARN => "warning",
            tracing::Level::INFO => "note",
            tracing::Level::DEBUG => "debug",
            tracing::Level::TRACE => "trace",
        };
        if logging_to_file() {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            write!(w, "{t} ")?;
        }
        write!(w, "{level}: ")?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

fn logging_to_file() -> bool {
    matches!(&*target().lock().unwrap_or_else(|p| p.into_inner()), Target::File(..))
}

/// Send log lines to `path` (appended; its folder is created) until [`to_stderr`].
pub fn to_file(path: &Path) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    *target().lock().unwrap_or_else(|p| p.into_inner()) = Target::File(path.to_path_buf(), f);
    Ok(())
}

/// Send log lines to standard error again; returns the file they went to, if any.
pub fn to_stderr() -> Option<PathBuf> {
    match std::mem::replace(&mut *target().lock().unwrap_or_else(|p| p.into_inner()), Target::Stderr) {
        Target::File(p, _) => Some(p),
        Target::Stderr => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_the_target() {
        init(false);
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/peakscope.log");
        to_file(&p).unwrap();
        tracing::warn!("into the file {}", 42);
        assert_eq!(to_stderr().as_deref(), Some(p.as_path()));
        tracing::info!("to stderr");
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("warning: into the file 42"), "{text}");
        assert!(!text.contains("to stderr"), "{text}");
    }
}
