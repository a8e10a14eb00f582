//! Line-oriented text input (plain or gzip/bgzip) and atomic output.
use anyhow::{anyhow, Context, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

/// Open a text file for reading lines; gzip (including bgzip's multi-member streams) is
/// detected by its magic bytes, not the file name.
pub fn open_text(path: &Path, what: &str) -> Result<Box<dyn BufRead>> {
    let mut f = std::fs::File::open(path).map_err(|e| anyhow!("{what} {}: cannot read it ({e})", path.display()))?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic)?;
    let f = std::fs::File::open(path)?;
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(f))))
    } else {
        Ok(Box::new(BufReader::new(f)))
    }
}

/// Data lines of a BED-like file with their 1-based line numbers: skips blank lines,
/// `#` comments and UCSC `track` / `browser` headers.
pub fn data_lines(path: &Path, what: &str) -> Result<Vec<(usize, String)>> {
    let r = open_text(path, what)?;
    let mut out = Vec::new();
    for (i, line) in r.lines().enumerate() {
        let line = line.with_context(|| format!("{what} {}: read failed at line {} (corrupt gzip?)", path.display(), i + 1))?;
        let t = line.trim_end_matches(['\r', '\n']);
        if t.trim().is_empty() || t.starts_with('#') || t.starts_with("track") || t.starts_with("browser") {
            continue;
        }
        out.push((i + 1, t.to_string()));
    }
    Ok(out)
}

/// Write a file atomically: the content goes to a temporary file in the same folder, which
/// is renamed over `path` only once complete. A failed run leaves any old file untouched.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
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
}
