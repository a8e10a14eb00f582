//! Line-oriented text input (plain or gzip/bgzip) and atomic output.
use super::sniff::{first_non_text_byte, sniff, FileKind};
use anyhow::{anyhow, bail, Context, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// Open a text file for reading lines; gzip (including bgzip's multi-member streams) is
/// detected by its magic bytes, not the file name. A file that is not text (a bigWig, a zip,
/// random bytes, ...) is refused here, saying what it is and that `what` was expected.
pub fn open_text(path: &Path, what: &str) -> Result<Box<dyn BufRead>> {
    let p = path.display();
    let meta = std::fs::metadata(path).map_err(|e| anyhow!("{what} {p}: cannot read it ({e})"))?;
    if meta.is_dir() {
        bail!("{what} {p} is a directory; expected a text file");
    }
    let kind = sniff(path).map_err(|e| anyhow!("{what} {p}: cannot read it ({e})"))?;
    let f = std::fs::File::open(path).map_err(|e| anyhow!("{what} {p}: cannot read it ({e})"))?;
    match kind {
        FileKind::Gzip { .. } => Ok(Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(f)))),
        FileKind::Empty => Ok(Box::new(BufReader::new(f))),
        k if k.is_text() => Ok(Box::new(BufReader::new(f))),
        FileKind::Binary { offset } => {
            let line = text_line_of(path, offset);
            bail!("{what} {p} is not a text BED file: binary data at line {line} (byte {offset}); expected tab-separated BED text (plain or gzip)")
        }
        k => bail!("{what} {p} is not a text BED file: it is {}; expected tab-separated BED text (plain or gzip)", k.describe()),
    }
}

/// 1-based line number of byte `offset` of a plain file (counting newlines before it).
fn text_line_of(path: &Path, offset: usize) -> usize {
    let mut buf = vec![0u8; offset];
    match std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut buf)) {
        Ok(()) => 1 + buf.iter().filter(|&&b| b == b'\n').count(),
        Err(_) => 1,
    }
}

/// Longest line accepted (a binary file without newlines must not be read into memory whole).
const MAX_LINE: u64 = 16 << 20;

/// Data lines of a BED-like file with their 1-based line numbers: skips blank lines, `#`
/// comments, UCSC `track` / `browser` lines, a UTF-8 byte-order mark and a first line of
/// column names (`chrom start end ...`); trims CR of CRLF line endings. Binary data, corrupt
/// gzip and overlong lines are errors naming the line.
pub fn data_lines(path: &Path, what: &str) -> Result<Vec<(usize, String)>> {
    let mut out = Vec::new();
    for_each_data_line(path, what, |lineno, t| {
        out.push((lineno, t.to_string()));
        Ok(())
    })?;
    Ok(out)
}

/// [`data_lines`] without collecting them: `f` gets each data line (1-based number, text)
/// in order; its error ends the reading. Returns the number of data lines.
pub fn for_each_data_line(path: &Path, what: &str, mut f: impl FnMut(usize, &str) -> Result<()>) -> Result<usize> {
    let p = path.display();
    let gz = matches!(sniff(path), Ok(FileKind::Gzip { .. }));
    let mut r = open_text(path, what)?;
    let mut count = 0usize;
    let mut buf = Vec::new();
    let (mut lineno, mut offset) = (0usize, 0u64);
    loop {
        buf.clear();
        let n = (&mut r).take(MAX_LINE + 1).read_until(b'\n', &mut buf).map_err(|e| {
            if gz {
                anyhow!("{what} {p}: the gzip data is corrupt or truncated after line {lineno} (byte {offset} of the decompressed text): {e}; check it with `gzip -t {p}` and re-create it")
            } else {
                anyhow!("{what} {p}: read failed after line {lineno}: {e}")
            }
        })?;
        if n == 0 {
            break;
        }
        lineno += 1;
        if n as u64 > MAX_LINE {
            bail!("{what} {p}: line {lineno} is longer than {} MiB; expected tab-separated text lines", MAX_LINE >> 20);
        }
        let body: &[u8] = if lineno == 1 { buf.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&buf) } else { &buf };
        if let Some(k) = first_non_text_byte(body, true) {
            let at = offset + k as u64 + (buf.len() - body.len()) as u64;
            let of = if gz { " of the decompressed text" } else { "" };
            bail!("{what} {p} is not a text BED file: binary data at line {lineno} (byte {at}{of}); expected tab-separated BED text (plain or gzip)");
        }
        offset += n as u64;
        // checked above: valid UTF-8
        let t = std::str::from_utf8(body).unwrap_or_default().trim_end_matches(['\r', '\n']);
        if is_skipped_line(t) {
            continue;
        }
        if count == 0 && looks_like_column_names(t) {
            tracing::info!("{what} {p}: line {lineno} looks like column names ({}); skipped", t.chars().take(80).collect::<String>());
            continue;
        }
        count += 1;
        f(lineno, t)?;
    }
    Ok(count)
}

/// Blank lines, `#` comments and UCSC `track` / `browser` header lines.
fn is_skipped_line(t: &str) -> bool {
    let word = |w: &str| t.strip_prefix(w).is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']));
    t.trim().is_empty() || t.starts_with('#') || word("track") || word("browser")
}

/// A header row of column names, such as `chrom\tstart\tend` or `seqnames start end`:
/// columns 2 and 3 are words, not numbers.
fn looks_like_column_names(t: &str) -> bool {
    let f: Vec<&str> = if t.contains('\t') { t.split('\t').collect() } else { t.split_whitespace().collect() };
    let word = |s: &str| {
        let s = s.trim();
        !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic() || c == '_' || c == '.') && s.chars().any(|c| c.is_ascii_alphabetic())
    };
    f.len() >= 3 && word(f[1]) && word(f[2])
}

/// Write a file atomically: the content goes to a temporary file in the same folder, which
/// is renamed over `path` only once complete. A failed run leaves any old file untouched.
/// An existing FIFO or character device (`/dev/stdout`, `>(gzip > x.gz)`) is written in
/// place instead: renaming over it would replace the device.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    if is_special_file(path) {
        let f = std::fs::OpenOptions::new().write(true).open(path).with_context(|| format!("cannot open {} for writing", path.display()))?;
        let mut w = std::io::BufWriter::new(f);
        write(&mut w)?;
        w.flush().with_context(|| format!("writing {}", path.display()))?;
        return Ok(());
    }
    let dir = parent_dir(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".peakscope-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {} for {}", dir.display(), path.display()))?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        write(&mut w)?;
        w.flush().with_context(|| format!("writing {}", path.display()))?;
    }
    tmp.as_file().sync_all().ok();
    // temporary files are created private (0600); outputs get the usual 0644
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(path).map_err(|e| anyhow!("cannot move the finished output into {}: {}", path.display(), e.error))?;
    Ok(())
}

/// The folder a file path lives in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// An existing FIFO, character or block device (following symlinks).
fn is_special_file(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        std::fs::metadata(path).is_ok_and(|m| {
            let t = m.file_type();
            t.is_fifo() || t.is_char_device() || t.is_block_device()
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// What a command will write at an output location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// one file, written with [`write_atomic`] (or in place for a FIFO/device)
    File,
    /// a folder that receives files; created (with its parents) when missing
    Dir,
}

/// One output location of a command: the option that named it (for messages), the path and
/// its kind. Build them with [`Output::file`] / [`Output::dir`] and check them all at once
/// with [`check_outputs`] before any work starts.
#[derive(Debug, Clone, Copy)]
pub struct Output<'a> {
    pub flag: &'a str,
    pub path: &'a Path,
    pub kind: OutputKind,
}

impl<'a> Output<'a> {
    pub fn file(flag: &'a str, path: &'a Path) -> Self {
        Output { flag, path, kind: OutputKind::File }
    }

    pub fn dir(flag: &'a str, path: &'a Path) -> Self {
        Output { flag, path, kind: OutputKind::Dir }
    }

    /// `Output::file` for an optional path (`None` = stdout or not written: nothing to check).
    pub fn file_opt(flag: &'a str, path: Option<&'a Path>) -> Option<Self> {
        path.map(|p| Output::file(flag, p))
    }

    /// `Output::dir` for an optional path.
    pub fn dir_opt(flag: &'a str, path: Option<&'a Path>) -> Option<Self> {
        path.map(|p| Output::dir(flag, p))
    }
}

/// [`check_outputs`] for options that may be absent (`None`: stdout, or not asked for), e.g.
/// `check_optional_outputs([Output::file_opt("-o/--output", a.output.as_deref())], &[])`.
pub fn check_optional_outputs<'a>(outputs: impl IntoIterator<Item = Option<Output<'a>>>, inputs: &[&Path]) -> Result<()> {
    check_outputs(&outputs.into_iter().flatten().collect::<Vec<_>>(), inputs)
}

/// Check, before a command starts its work, that every output can be written, so a typo
/// fails in a second rather than after a long run. For each output:
///
/// * a file: it is not an existing folder; its folder exists, is a folder, and a file can be
///   created and removed in it (exactly what [`write_atomic`] needs; this also catches
///   read-only file systems); an existing FIFO or device must be writable;
/// * a folder: if it exists it is a folder in which a file can be created; otherwise its
///   nearest existing ancestor is a writable folder (it will be created there);
///
/// and across them: no two outputs name the same path, and no output is one of `inputs`
/// (which the run would overwrite). Nothing is created or changed. Errors name the option,
/// the path, what is wrong and the fix.
pub fn check_outputs(outputs: &[Output<'_>], inputs: &[&Path]) -> Result<()> {
    for (i, o) in outputs.iter().enumerate() {
        let (flag, p) = (o.flag, o.path.display());
        if o.path.as_os_str().is_empty() {
            bail!("{flag}: the output path is empty");
        }
        match o.kind {
            OutputKind::File => check_file_output(o)?,
            OutputKind::Dir => check_dir_output(o)?,
        }
        for other in &outputs[..i] {
            if same_path(o.path, other.path) {
                bail!("{flag} and {} both name {p}: give each output its own path", other.flag);
            }
        }
        for inp in inputs {
            if o.kind == OutputKind::File && same_path(o.path, inp) {
                bail!("{flag} {p} is also an input of this command: writing it would overwrite the input; choose another output path");
            }
        }
    }
    Ok(())
}

fn check_file_output(o: &Output<'_>) -> Result<()> {
    let (flag, p) = (o.flag, o.path.display());
    if o.path.to_string_lossy().ends_with('/') {
        bail!("{flag} {p} ends with '/': give a file name, not a folder");
    }
    if let Ok(m) = std::fs::metadata(o.path) {
        if m.is_dir() {
            bail!("{flag} {p} is an existing folder; give a file path (e.g. {})", o.path.join("out.tsv").display());
        }
        if is_special_file(o.path) {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true);
            #[cfg(unix)]
            {
                // probe a FIFO without blocking until a reader appears
                use std::os::unix::fs::OpenOptionsExt;
                opts.custom_flags(libc::O_NONBLOCK);
            }
            return match opts.open(o.path) {
                Ok(_) => Ok(()),
                // a FIFO with no reader yet: writing waits for one, as with any FIFO
                #[cfg(unix)]
                Err(e) if e.raw_os_error() == Some(libc::ENXIO) => Ok(()),
                Err(e) => Err(anyhow!("{flag} {p}: cannot write to it ({e})")),
            };
        }
    }
    writable_dir(flag, o.path, parent_dir(o.path))
}

fn check_dir_output(o: &Output<'_>) -> Result<()> {
    let (flag, p) = (o.flag, o.path.display());
    match std::fs::metadata(o.path) {
        Ok(m) if !m.is_dir() => bail!("{flag} {p} exists and is not a folder; give a folder path (it is created when missing)"),
        Ok(_) => writable_dir(flag, o.path, o.path),
        Err(_) => {
            // the nearest existing ancestor must be a folder we can create entries in
            let mut anc = o.path.parent();
            while let Some(a) = anc {
                let a = if a.as_os_str().is_empty() { Path::new(".") } else { a };
                match std::fs::metadata(a) {
                    Ok(m) if m.is_dir() => return writable_dir(flag, o.path, a),
                    Ok(_) => bail!("{flag} {p}: {} is a file, so the folder cannot be created there", a.display()),
                    Err(_) => anc = a.parent(),
                }
            }
            Ok(())
        }
    }
}

/// `dir` exists, is a folder, and a file can be created and removed in it.
fn writable_dir(flag: &str, out: &Path, dir: &Path) -> Result<()> {
    let (p, d) = (out.display(), dir.display());
    match std::fs::metadata(dir) {
        Err(_) => bail!("{flag} {p}: the folder {d} does not exist; create it first (mkdir -p {d}) or fix the path"),
        Ok(m) if !m.is_dir() => bail!("{flag} {p}: {d} is a file, not a folder"),
        Ok(_) => {}
    }
    tempfile::Builder::new()
        .prefix(".peakscope-check-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| anyhow!("{flag} {p}: cannot write in the folder {d} ({e}); choose a writable location"))
}

/// Whether two paths name the same file: equal after making them absolute and resolving
/// what exists of them (symlinks, `..`).
fn same_path(a: &Path, b: &Path) -> bool {
    fn norm(p: &Path) -> PathBuf {
        if let Ok(c) = std::fs::canonicalize(p) {
            return c;
        }
        // not there yet: resolve the folder, keep the name
        let dir = parent_dir(p);
        match (std::fs::canonicalize(dir), p.file_name()) {
            (Ok(d), Some(n)) => d.join(n),
            _ => std::env::current_dir().map(|c| c.join(p)).unwrap_or_else(|_| p.to_path_buf()),
        }
    }
    norm(a) == norm(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_gzip_and_skips_headers() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.bed.gz");
        let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&p).unwrap(), flate2::Compression::fast());
        enc.write_all(b"track name=x\n# c\n\nchr1\t1\t2\n").unwrap();
        enc.finish().unwrap();
        let lines = data_lines(&p, "BED").unwrap();
        assert_eq!(lines, vec![(4, "chr1\t1\t2".to_string())]);
    }

    #[test]
    fn atomic_write_keeps_old_file_on_failure() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.tsv");
        write_atomic(&p, |w| Ok(w.write_all(b"old")?)).unwrap();
        let r = write_atomic(&p, |w| {
            w.write_all(b"partial")?;
            anyhow::bail!("boom")
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "old");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o644);
        }
        let leftovers: Vec<_> = std::fs::read_dir(d.path()).unwrap().filter_map(|e| e.ok()).collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn data_lines_handle_crlf_bom_headers_and_refuse_binary() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.bed");
        std::fs::write(&p, "\u{feff}chrom\tstart\tend\tname\r\nbrowser position chr1\r\ntrack name=a\r\nchr1\t1\t2\tp\r\ntracker\t3\t4\r\n").unwrap();
        let lines = data_lines(&p, "peak file").unwrap();
        assert_eq!(lines, vec![(4, "chr1\t1\t2\tp".to_string()), (5, "tracker\t3\t4".to_string())], "a chromosome named tracker is data");
        // binary in the middle of a text file: line and byte named
        std::fs::write(&p, b"chr1\t1\t2\nchr1\t3\x00\x01\t4\n").unwrap();
        let e = data_lines(&p, "peak file").unwrap_err().to_string();
        assert!(e.contains("not a text BED file") && e.contains("line 2") && e.contains("byte 15"), "{e}");
        assert!(!e.contains("corrupt"), "{e}");
        // binary from the first byte
        std::fs::write(&p, [0xff, 0xd8, 0xff, 0xe0, 0, 1, 2, 3]).unwrap(); // a JPEG
        let e = data_lines(&p, "peak file").unwrap_err().to_string();
        assert!(e.contains("not a text BED file") && e.contains("line 1") && e.contains("byte 0"), "{e}");
        // invalid UTF-8 at the end of a line
        std::fs::write(&p, b"chr1\t1\t2\tna\xc3\n").unwrap();
        let e = data_lines(&p, "peak file").unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("byte 11"), "{e}");
        // a truncated gzip: says gzip, and after which line
        let gz = d.path().join("x.bed.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for i in 0..5000 {
            writeln!(enc, "chr1\t{i}\t{}\tpeak{i}", i + 1).unwrap();
        }
        let bytes = enc.finish().unwrap();
        std::fs::write(&gz, &bytes[..bytes.len() / 2]).unwrap();
        let e = data_lines(&gz, "peak file").unwrap_err().to_string();
        assert!(e.contains("gzip data is corrupt or truncated after line") && e.contains("gzip -t"), "{e}");
        // a zip is named as such
        std::fs::write(&p, b"PK\x03\x04model").unwrap();
        let e = data_lines(&p, "peak file").unwrap_err().to_string();
        assert!(e.contains("zip archive"), "{e}");
    }

    #[test]
    fn output_checks_run_before_work() {
        let d = tempfile::tempdir().unwrap();
        let input = d.path().join("in.bed");
        std::fs::write(&input, "x").unwrap();
        let ok = d.path().join("out.tsv");
        check_outputs(&[Output::file("-o", &ok), Output::dir("--bigwig-out", &d.path().join("new/sub"))], &[&input]).unwrap();
        assert!(!ok.exists() && !d.path().join("new").exists(), "checking creates nothing");
        let err = |outs: &[Output<'_>]| check_outputs(outs, &[&input]).unwrap_err().to_string();
        let missing = d.path().join("nope/out.tsv");
        let e = err(&[Output::file("--per-peak", &missing)]);
        assert!(e.starts_with("--per-peak") && e.contains("does not exist") && e.contains("mkdir -p"), "{e}");
        let e = err(&[Output::file("-o", d.path())]);
        assert!(e.contains("is an existing folder"), "{e}");
        let e = err(&[Output::file("-o", &input)]);
        assert!(e.contains("also an input"), "{e}");
        // the same file named twice, once through `..`
        std::fs::create_dir(d.path().join("sub")).unwrap();
        let twice = d.path().join("sub/../out.tsv");
        let e = err(&[Output::file("-o", &ok), Output::file("--per-peak", &twice)]);
        assert!(e.contains("both name"), "{e}");
        // a file where a folder is expected, and a folder under a file
        let e = err(&[Output::dir("--bigwig-out", &input)]);
        assert!(e.contains("not a folder"), "{e}");
        let e = err(&[Output::dir("--bigwig-out", &input.join("sub"))]);
        assert!(e.contains("is a file"), "{e}");
        let e = err(&[Output::file("-o", &input.join("x.tsv"))]);
        assert!(e.contains("is a file, not a folder"), "{e}");
        // a read-only folder (root ignores permissions, so only checked when they apply)
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let ro = d.path().join("ro");
            std::fs::create_dir(&ro).unwrap();
            std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
            if std::fs::File::create(ro.join("probe")).is_err() {
                let e = err(&[Output::file("-o", &ro.join("x.tsv"))]);
                assert!(e.contains("cannot write in the folder"), "{e}");
            }
            std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        // devices are written in place, not replaced
        #[cfg(unix)]
        {
            let null = Path::new("/dev/null");
            check_outputs(&[Output::file("-o", null)], &[]).unwrap();
            write_atomic(null, |w| Ok(w.write_all(b"x")?)).unwrap();
            assert!(std::fs::metadata(null).map(|m| !m.is_file()).unwrap(), "/dev/null is still a device");
        }
    }
}
