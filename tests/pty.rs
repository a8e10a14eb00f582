//! The real binary in a pseudo-terminal, as a user would run it: quit at random moments
//! while the models load, while ISM runs and while an evaluation runs (with `q`, `:q` and
//! Ctrl-C), and end it with SIGTERM, SIGHUP and SIGINT. Every run must exit normally — 0 for
//! a quit, 128 + the signal for a signal (143, 129, 130) — never by a crash (SIGSEGV 139,
//! SIGABRT 134), and must leave the terminal as it found it: the restore sequences written
//! and the line discipline back in canonical mode with echo.
//!
//! `PEAKSCOPE_PTY_SEED` replays a run's random moments; `PEAKSCOPE_PTY_QUITS` changes the
//! number of quits (default 50).
use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};
use rand::{Rng, SeedableRng};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ENTER_ALT: &[u8] = b"\x1b[?1049h";
const LEAVE_ALT: &[u8] = b"\x1b[?1049l";
const SHOW_CURSOR: &[u8] = b"\x1b[?25h";
const PASTE_OFF: &[u8] = b"\x1b[?2004l";

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// right after start: the models may still be loading
    Loading,
    /// after `n` then `i`
    Ism,
    /// after `e`
    Eval,
}

#[derive(Debug, Clone, Copy)]
enum End {
    Key(&'static [u8]),
    Signal(i32),
}

#[derive(Debug, Clone)]
struct Case {
    phase: Phase,
    end: End,
    /// before the phase's keys (after the UI took the terminal)
    wait_ms: u64,
    /// between the phase's keys and the end
    then_ms: u64,
}

struct Outcome {
    case: Case,
    code: u32,
    signal: Option<String>,
    output: Vec<u8>,
    canonical_echo: Option<bool>,
    secs: f64,
    /// from the quit key or signal to the exit
    exit_secs: f64,
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn position(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn wait_for(output: &Mutex<Vec<u8>>, needle: &[u8], timeout: Duration) -> bool {
    let t = Instant::now();
    while t.elapsed() < timeout {
        if contains(&output.lock().unwrap(), needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn run_case(bin: &Path, config: &Path, home: &Path, case: Case) -> Outcome {
    let t0 = Instant::now();
    let pair = native_pty_system().openpty(PtySize { rows: 40, cols: 120, pixel_width: 0, pixel_height: 0 }).expect("a pseudo-terminal");
    let mut cmd = CommandBuilder::new(bin);
    cmd.arg(config);
    cmd.env("HOME", home);
    cmd.env("PEAKSCOPE_CACHE", home.join("cache"));
    cmd.env("TERM", "xterm-256color");
    let mut child: Box<dyn Child + Send + Sync> = pair.slave.spawn_command(cmd).expect("spawn peakscope");
    drop(pair.slave);
    let master: Box<dyn MasterPty + Send> = pair.master;
    let output = Arc::new(Mutex::new(Vec::new()));
    let mut reader = master.try_clone_reader().unwrap();
    let sink = output.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    // kept until the child has exited: dropping it sends end-of-file keys
    let mut keys = master.take_writer().unwrap();
    let mut send = |b: &[u8]| {
        let _ = keys.write_all(b);
        let _ = keys.flush();
    };
    let pid = child.process_id().expect("a pid") as i32;
    let entered = wait_for(&output, ENTER_ALT, Duration::from_secs(60));
    assert!(entered, "{case:?}: the UI never took the terminal:\n{}", String::from_utf8_lossy(&output.lock().unwrap()));
    std::thread::sleep(Duration::from_millis(case.wait_ms));
    match case.phase {
        Phase::Loading => {}
        Phase::Ism => {
            // ISM needs the models: the header names their device once they are loaded
            // (ratatui rewrites changed cells only: the space before "on" is not resent)
            let _models_ready = wait_for(&output, b"on cpu", Duration::from_secs(60)) || wait_for(&output, b"on cuda", Duration::from_millis(1));
            send(b"n");
            std::thread::sleep(Duration::from_millis(50));
            send(b"i");
        }
        Phase::Eval => send(b"e"),
    }
    std::thread::sleep(Duration::from_millis(case.then_ms));
    match case.end {
        End::Key(k) => send(k),
        End::Signal(s) => {
            // SAFETY: kill only sends a signal to the child this test started (its pid,
            // which it has not reaped yet, so the pid cannot have been reused).
            let r = unsafe { libc::kill(pid, s) };
            assert_eq!(r, 0, "kill({pid}, {s})");
        }
    }
    let t_end = Instant::now();
    let deadline = t_end + Duration::from_secs(90);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{case:?}: peakscope did not exit within 90 s of the end");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // the line discipline of the terminal the child used (shared by master and slave)
    let exit_secs = t_end.elapsed().as_secs_f64();
    let canonical_echo = master.get_termios().map(|t| {
        let l = t.local_flags.bits();
        l & libc::ICANON != 0 && l & libc::ECHO != 0
    });
    std::thread::sleep(Duration::from_millis(50)); // the last bytes
    let out = output.lock().unwrap().clone();
    Outcome {
        case,
        code: status.exit_code(),
        signal: status.signal().map(str::to_string),
        output: out,
        canonical_echo,
        secs: t0.elapsed().as_secs_f64(),
        exit_secs,
    }
}

/// The binary, a temporary folder and the demo project written into it, as a config with
/// its first model only (the demo's five would make every start and every evaluation load
/// five models; what is tested here is how the UI ends, not how many models it has).
fn demo() -> (PathBuf, tempfile::TempDir, PathBuf) {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_peakscope"));
    let d = tempfile::tempdir().unwrap();
    let demo = d.path().join("demo");
    let st = std::process::Command::new(&bin).args(["demo", "--no-tui", "--dir"]).arg(&demo).output().unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let mut cfg: toml::Table = toml::from_str(&std::fs::read_to_string(demo.join("project.toml")).unwrap()).unwrap();
    let models = cfg.get_mut("models").and_then(|m| m.as_array_mut()).expect("the demo has models");
    models.truncate(1);
    let one = demo.join("project-one-model.toml");
    std::fs::write(&one, toml::to_string(&cfg).unwrap()).unwrap();
    (bin, d, one)
}

#[test]
fn quits_and_signals_at_random_moments_exit_cleanly_and_restore_the_terminal() {
    let (bin, d, config) = demo();
    let seed: u64 = std::env::var("PEAKSCOPE_PTY_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    let quits: usize = std::env::var("PEAKSCOPE_PTY_QUITS").ok().and_then(|s| s.parse().ok()).unwrap_or(50);
    eprintln!("pty stress: seed {seed} (PEAKSCOPE_PTY_SEED={seed} replays it)");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let keys: [&'static [u8]; 3] = [b"q", b":q\r", b"\x03"];
    let mut cases = Vec::new();
    for i in 0..quits {
        let phase = [Phase::Loading, Phase::Ism, Phase::Eval][i % 3];
        cases.push(Case { phase, end: End::Key(keys[rng.gen_range(0..keys.len())]), wait_ms: rng.gen_range(0..800), then_ms: rng.gen_range(0..1500) });
    }
    for (k, sig) in [libc::SIGTERM, libc::SIGHUP, libc::SIGTERM, libc::SIGHUP, libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGINT].into_iter().enumerate()
    {
        let phase = [Phase::Loading, Phase::Ism, Phase::Eval][k % 3];
        cases.push(Case { phase, end: End::Signal(sig), wait_ms: rng.gen_range(0..800), then_ms: rng.gen_range(0..1500) });
    }
    // several at once: they also compete for the two cores, as on a busy server
    let jobs = Arc::new(Mutex::new(cases.into_iter().enumerate().collect::<Vec<_>>()));
    let results = Arc::new(Mutex::new(Vec::new()));
    let t0 = Instant::now();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (jobs, results, bin, config) = (jobs.clone(), results.clone(), bin.clone(), config.clone());
            let home = d.path().join(format!("home{w}"));
            std::fs::create_dir_all(&home).unwrap();
            std::thread::spawn(move || loop {
                let Some((i, case)) = jobs.lock().unwrap().pop() else { break };
                let o = run_case(&bin, &config, &home, case);
                results.lock().unwrap().push((i, o));
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a pty worker panicked");
    }
    let results = std::mem::take(&mut *results.lock().unwrap());
    let mut codes = std::collections::BTreeMap::new();
    let mut failures = Vec::new();
    for (i, o) in &results {
        *codes
            .entry(match &o.signal {
                Some(s) => format!("killed by {s}"),
                None => o.code.to_string(),
            })
            .or_insert(0) += 1;
        let want = match o.case.end {
            End::Key(_) => 0,
            End::Signal(s) => 128 + s as u32,
        };
        let tail = &o.output[o.output.len().saturating_sub(600)..];
        let entered = position(&o.output, ENTER_ALT).unwrap_or(usize::MAX);
        let restored = |seq: &[u8]| o.output.windows(seq.len()).rposition(|w| w == seq).is_some_and(|p| p > entered);
        let mut why = Vec::new();
        if o.signal.is_some() || o.code != want {
            why.push(format!("exit {} {:?} (want {want})", o.code, o.signal));
        }
        for (name, seq) in [("leave the alternate screen", LEAVE_ALT), ("show the cursor", SHOW_CURSOR), ("bracketed paste off", PASTE_OFF)] {
            if !restored(seq) {
                why.push(format!("never sent '{name}'"));
            }
        }
        if o.canonical_echo == Some(false) {
            why.push("terminal left in raw mode".into());
        }
        if contains(&o.output, b"panicked") || contains(&o.output, b"Segmentation") || contains(&o.output, b"corrupted") {
            why.push("crash text in the output".into());
        }
        if !why.is_empty() {
            failures.push(format!("run {i} {:?}: {}\n…{}", o.case, why.join("; "), String::from_utf8_lossy(tail)));
        }
    }
    // how many ended while ISM or the evaluation was running (the header shows them)
    let during = |phase: &str, mark: &[u8]| results.iter().filter(|(_, o)| format!("{:?}", o.case.phase) == phase && contains(&o.output, mark)).count();
    let (ism, eval) = (during("Ism", b"ISM of "), during("Eval", b"evaluation started"));
    eprintln!("pty stress: ISM started in {ism} runs, the evaluation in {eval}");
    assert!(ism > 0 && eval > 0, "no run reached ISM ({ism}) or the evaluation ({eval})");
    let slowest = results.iter().map(|(_, o)| o).max_by(|a, b| a.secs.total_cmp(&b.secs)).unwrap();
    eprintln!(
        "pty stress: {} runs in {:.1} s (slowest {:.1} s: {:?}; longest quit-to-exit {:.2} s), exit codes {codes:?}",
        results.len(),
        t0.elapsed().as_secs_f64(),
        slowest.secs,
        slowest.case,
        results.iter().map(|(_, o)| o.exit_secs).fold(0.0, f64::max)
    );
    assert!(failures.is_empty(), "{} of {} runs went wrong (seed {seed}):\n{}", failures.len(), results.len(), failures.join("\n\n"));
    assert_eq!(results.len(), quits + 8);
}

#[test]
fn without_a_terminal_the_ui_says_so() {
    let (bin, d, config) = demo();
    // standard output a pipe, no controlling terminal (setsid)
    let out = std::process::Command::new("setsid")
        .arg("-w")
        .arg(&bin)
        .arg(&config)
        .env("PEAKSCOPE_CACHE", d.path().join("cache"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the terminal UI needs a terminal") && err.contains("headless subcommands"), "{err}");
    assert!(!err.contains("No such device or address"), "{err}");
}

/// The terminal goes away under the UI (an SSH session dropped, a terminal window closed:
/// the pseudo-terminal's master is closed). The UI must end, as on a hang-up (exit 129),
/// and not spin: crossterm 0.28's reader retries a dead terminal forever (issue #793).
#[test]
fn a_terminal_that_goes_away_ends_the_ui() {
    let (bin, d, config) = demo();
    let home = d.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let pair = native_pty_system().openpty(PtySize { rows: 40, cols: 120, pixel_width: 0, pixel_height: 0 }).expect("a pseudo-terminal");
    let mut cmd = CommandBuilder::new(&bin);
    cmd.arg(&config);
    cmd.env("HOME", &home);
    cmd.env("PEAKSCOPE_CACHE", home.join("cache"));
    cmd.env("TERM", "xterm-256color");
    let mut child = pair.slave.spawn_command(cmd).expect("spawn peakscope");
    drop(pair.slave);
    // read the master through its own descriptor, without a duplicate, so that dropping the
    // master closes the terminal for good
    let fd = pair.master.as_raw_fd().expect("a master descriptor");
    let mut seen = Vec::new();
    let t = Instant::now();
    while !contains(&seen, b"peakscope") && t.elapsed() < Duration::from_secs(60) {
        let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one initialised pollfd on the open master descriptor, count 1.
        if unsafe { libc::poll(&mut p, 1, 50) } == 1 {
            let mut buf = [0u8; 8192];
            // SAFETY: reads at most buf.len() bytes into buf from the open master descriptor.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                seen.extend_from_slice(&buf[..n as usize]);
            }
        }
    }
    assert!(contains(&seen, ENTER_ALT) && contains(&seen, b"peakscope"), "the UI never drew:\n{}", String::from_utf8_lossy(&seen));
    std::thread::sleep(Duration::from_millis(500));
    drop(pair.master);
    let t_close = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t_close.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("peakscope still ran 60 s after its terminal went away");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.exit_code(), 129, "a lost terminal ends the UI as a hang-up does: {status:?}");
    let log = std::fs::read_to_string(home.join("cache").join("peakscope.log")).unwrap_or_default();
    assert!(log.contains("the terminal went away") && !log.contains("panic"), "{log}");
}
