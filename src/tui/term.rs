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

/// What the terminal's input has: checked with `poll(2)` before crossterm reads it, because
/// crossterm 0.28's reader retries forever, at 100% CPU and without returning, once the
/// terminal has gone away (its `read` gives 0 or EIO: crossterm issue #793). A UI whose SSH
/// session or terminal window closed must end, not spin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// bytes are waiting
    Ready,
    /// nothing within the timeout
    Idle,
    /// the terminal hung up (or its descriptor is no longer valid)
    Gone,
}

/// The descriptor crossterm reads keys from: standard input when it is a terminal, else
/// `/dev/tty` (kept open here).
pub struct TtyInput {
    fd: std::os::fd::RawFd,
    _tty: Option<std::fs::File>,
}

impl TtyInput {
    pub fn open() -> std::io::Result<TtyInput> {
        use std::io::IsTerminal;
        use std::os::fd::AsRawFd;
        if std::io::stdin().is_terminal() {
            return Ok(TtyInput { fd: 0, _tty: None });
        }
        let tty = std::fs::OpenOptions::new().read(true).open("/dev/tty")?;
        Ok(TtyInput { fd: tty.as_raw_fd(), _tty: Some(tty) })
    }

    /// Wait up to `timeout` for input, or for the terminal to go away.
    pub fn wait(&self, timeout: std::time::Duration) -> Input {
        let mut p = libc::pollfd { fd: self.fd, events: libc::POLLIN, revents: 0 };
        let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: `p` is one initialised pollfd that lives across the call, and the count
        // passed is 1; `self.fd` stays open while `self` exists (fd 0, or the File held here).
        let n = unsafe { libc::poll(&mut p, 1, ms) };
        if n < 0 {
            // EINTR (a signal: the loop checks the flag) or a transient failure
            return Input::Idle;
        }
        if p.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
            Input::Gone
        } else if p.revents & libc::POLLIN != 0 {
            Input::Ready
        } else {
            Input::Idle
        }
    }
}

/// The terminal taken over for the UI; dropping it gives everything back.
pub struct TerminalGuard {
    pub signals: Signals,
    pub input: TtyInput,
}

impl TerminalGuard {
    /// Check for a terminal, route library log lines and fd 2 to `log`, catch terminating
    /// signals, then enter raw mode, the alternate screen and bracketed paste.
    pub fn enter(log: &Path) -> Result<TerminalGuard> {
        check_terminal()?;
        // from here on, an early return drops the guard, which undoes what was done
        let guard = TerminalGuard { signals: Signals::register()?, input: TtyInput::open()? };
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
