//! The terminal while the UI owns it: raw mode, the alternate screen, bracketed paste,
//! standard error (fd 2) sent to the log file, and terminating signals turned into a flag
//! the event loop polls. [`TerminalGuard`] sets all of it up and puts everything back when
//! dropped; [`restore_terminal`] is idempotent and also runs from the panic hook.
use anyhow::{bail, Result};
use ratatui::crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;

/// The terminal was taken over and not yet put back.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// A duplicate of the original fd 2 while it points at the log file (-1 otherwise).
static SAVED_STDERR: AtomicI32 = AtomicI32::new(-1);

/// The signals that end the UI in order: the terminal is restored and the process exits
/// with 128 + the signal number (129 SIGHUP, 130 SIGINT, 143 SIGTERM), as shells report it.
pub const SIGNALS: [i32; 3] = [signal_hook::consts::SIGHUP, signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM];

/// Refuse clearly when there is no terminal to draw on.
pub fn check_terminal() -> Result<()> {
    use std::io::IsTerminal;
    let hint = "run it from an interactive shell (over SSH: `ssh -t`), or use the headless subcommands (predict, ism, eval, summarize) in scripts";
    if !std::io::stdout().is_terminal() {
        bail!("the terminal UI needs a terminal, but standard output is not one (a pipe or a file): {hint}");
    }
    if std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").is_err() {
        bail!(
            "the terminal UI needs a controlling terminal and this process has none (started by a service, cron, setsid or `ssh host cmd` without -t): {hint}"
        );
    }
    Ok(())
}

/// Put the terminal back: raw mode off, bracketed paste off, main screen, cursor shown;
/// fd 2 back to the original standard error. Safe to call more than once.
pub fn restore_terminal() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(std::io::stdout(), DisableBracketedPaste, LeaveAlternateScreen, ratatui::crossterm::cursor::Show);
    }
    restore_stderr();
}

/// Point fd 2 at `log` (appending), keeping a duplicate of the original to restore.
fn redirect_stderr(log: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let file = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    // SAFETY: dup and dup2 only operate on file descriptors: 2 is open for the whole life of
    // the process, and `file` stays open until after dup2 has made fd 2 a second reference
    // to it. Failures are checked and leave fd 2 as it was.
    unsafe {
        let saved = libc::dup(2);
        if saved < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::dup2(file.as_raw_fd(), 2) < 0 {
            let e = std::io::Error::last_os_error();
            libc::close(saved);
            return Err(e);
        }
        SAVED_STDERR.store(saved, Ordering::SeqCst);
    }
    Ok(())
}

fn restore_stderr() {
    let saved = SAVED_STDERR.swap(-1, Ordering::SeqCst);
    if saved >= 0 {
        // SAFETY: `saved` is the duplicate of the original fd 2 made by `redirect_stderr` and
        // owned by this module alone (taken out of SAVED_STDERR atomically, so it is used
        // once); dup2 makes fd 2 point at the original again and the duplicate is closed.
        unsafe {
            libc::dup2(saved, 2);
            libc::close(saved);
        }
    }
}

/// Terminating signals seen while the UI runs (the handler only stores the number).
pub struct Signals {
    caught: Arc<AtomicUsize>,
    ids: Vec<signal_hook::SigId>,
}

impl Signals {
    fn register() -> std::io::Result<Signals> {
        let caught = Arc::new(AtomicUsize::new(0));
        let mut ids = Vec::new();
        for s in SIGNALS {
            ids.push(signal_hook::flag::register_usize(s, caught.clone(), s as usize)?);
        }
        Ok(Signals { caught, ids })
    }

    /// The signal that arrived, if any.
    pub fn caught(&self) -> Option<i32> {
        match self.caught.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s as i32),
        }
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// The terminal taken over for the UI; dropping it gives everything back.
pub struct TerminalGuard {
    pub signals: Signals,
}

impl TerminalGuard {
    /// Check for a terminal, route library log lines and fd 2 to `log`, catch terminating
    /// signals, then enter raw mode, the alternate screen and bracketed paste.
    pub fn enter(log: &Path) -> Result<TerminalGuard> {
        check_terminal()?;
        // from here on, an early return drops the guard, which undoes what was done
        let guard = TerminalGuard { signals: Signals::register()? };
        crate::logging::to_file(log)?;
        if let Err(e) = redirect_stderr(log) {
            tracing::warn!("standard error stays on the terminal: {e}");
        }
        ACTIVE.store(true, Ordering::SeqCst);
        enable_raw_mode()?;
        execute!(std::io::stdout(), EnterAlternateScreen, EnableBracketedPaste)?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
        crate::logging::to_stderr();
    }
}
