//! Indexed FASTA access through htslib's faidx (plain or bgzip-compressed).
//!
//! [`Fasta::fetch`] takes any window in signed 0-based half-open coordinates. Bases past
//! either chromosome end are padded with `N` so a model window centred near a telomere
//! keeps its length; [`Fasta::fetch_clipped`] returns only the bases that exist.
//! Sequence is returned upper-cased (soft-masking dropped).
use super::chroms::ChromNames;
use anyhow::{anyhow, bail, Result};
use rust_htslib::htslib;
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};

pub struct Fasta {
    path: PathBuf,
    inner: *mut htslib::faidx_t,
    names: ChromNames,
}

// faidx_t is used from one thread at a time (&mut-free reads are serialised by ownership).
unsafe impl Send for Fasta {}

fn quiet_htslib() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| unsafe { htslib::hts_set_log_level(htslib::htsLogLevel_HTS_LOG_OFF) });
}

impl Fasta {
    /// Open an indexed FASTA. Never builds an index silently: a missing `.fai` (or `.gzi`
    /// for bgzip) is an error that says how to make one.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        quiet_htslib();
        let path = path.as_ref().to_path_buf();
        let p = path.display();
        let meta = std::fs::metadata(&path).map_err(|e| anyhow!("FASTA {p}: cannot read it ({e})"))?;
        if meta.len() == 0 {
            bail!("FASTA {p} is empty");
        }
        let fai = PathBuf::from(format!("{}.fai", path.display()));
        if !fai.exists() {
            bail!("FASTA {p} is not indexed: {} is missing. Index it with `peakscope faidx {p}` (or `samtools faidx {p}`)", fai.display());
        }
        if is_gzip(&path)? {
            let gzi = PathBuf::from(format!("{}.gzi", path.display()));
            if !gzi.exists() {
                bail!(
                    "FASTA {p} is gzip-compressed but has no {}: it must be bgzip-compressed and indexed (`bgzip -d` then `bgzip -i`, then `samtools faidx {p}`), or decompressed",
                    gzi.display()
                );
            }
        }
        let c = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| anyhow!("FASTA path {p} contains a NUL byte"))?;
        // flags = 0: load the existing index, never create one
        let inner = unsafe { htslib::fai_load3(c.as_ptr(), std::ptr::null(), std::ptr::null(), 0) };
        if inner.is_null() {
            bail!(
                "FASTA {p}: htslib could not load it with its index {} (a plain-gzip file must be bgzip'ed; a stale index must be rebuilt with `peakscope faidx {p}`)",
                fai.display()
            );
        }
        let n = unsafe { htslib::faidx_nseq(inner) };
        let mut entries = Vec::with_capacity(n.max(0) as usize);
        for i in 0..n {
            let name = unsafe { CStr::from_ptr(htslib::faidx_iseq(inner, i)) }.to_string_lossy().into_owned();
            let cn = CString::new(name.as_bytes()).unwrap_or_default();
            let len = unsafe { htslib::faidx_seq_len64(inner, cn.as_ptr()) };
            entries.push((name, len.max(0) as u64));
        }
        if entries.is_empty() {
            unsafe { htslib::fai_destroy(inner) };
            bail!("FASTA {p}: its index {} lists no sequences", fai.display());
        }
        Ok(Fasta { path, inner, names: ChromNames::new(entries) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn chroms(&self) -> &ChromNames {
        &self.names
    }

    /// Resolve `chrom` (any alias) to this file's spelling and length, or explain.
    pub fn resolve(&self, chrom: &str) -> Result<(&str, u64)> {
        match self.names.index(chrom) {
            Some(i) => Ok((&self.names.names()[i], self.names.lengths()[i])),
            None => bail!("chromosome '{chrom}' is not in FASTA {} (it has {})", self.path.display(), self.names.preview()),
        }
    }

    /// Bases `[start, end)` of `chrom`, upper-cased, with `N` for positions before 0 or past
    /// the chromosome end. The result always has length `end - start`.
    pub fn fetch(&self, chrom: &str, start: i64, end: i64) -> Result<Vec<u8>> {
        if end < start {
            bail!("bad window {chrom}:{start}-{end}: end before start");
        }
        let (name, len) = self.resolve(chrom)?;
        let len = len as i64;
        let width = (end - start) as usize;
        let mut out = vec![b'N'; width];
        let s = start.max(0);
        let e = end.min(len);
        if s < e {
            let got = self.raw_fetch(name, s, e)?;
            let off = (s - start) as usize;
            out[off..off + got.len()].copy_from_slice(&got);
        }
        Ok(out)
    }

    /// Bases `[start, end)` clipped to the chromosome (may be shorter than asked).
    pub fn fetch_clipped(&self, chrom: &str, start: u64, end: u64) -> Result<Vec<u8>> {
        let (name, len) = self.resolve(chrom)?;
        let (s, e) = (start.min(len) as i64, end.min(len) as i64);
        if s >= e {
            return Ok(Vec::new());
        }
        self.raw_fetch(name, s, e)
    }

    fn raw_fetch(&self, name: &str, s: i64, e: i64) -> Result<Vec<u8>> {
        let cn = CString::new(name).map_err(|_| anyhow!("bad chromosome name"))?;
        let mut got_len: htslib::hts_pos_t = 0;
        // faidx takes an inclusive end
        let ptr = unsafe { htslib::faidx_fetch_seq64(self.inner, cn.as_ptr(), s, e - 1, &mut got_len) };
        if ptr.is_null() || got_len < 0 {
            bail!(
                "FASTA {}: reading {name}:{s}-{e} failed (truncated file or stale index? rebuild it with `peakscope faidx {}`)",
                self.path.display(),
                self.path.display()
            );
        }
        let mut v = unsafe { std::slice::from_raw_parts(ptr as *const u8, got_len as usize) }.to_vec();
        unsafe { libc::free(ptr as *mut libc::c_void) };
        if v.len() != (e - s) as usize {
            bail!(
                "FASTA {}: asked {name}:{s}-{e} ({} bp) but got {} bp: the index does not match the file; rebuild it with `peakscope faidx {}`",
                self.path.display(),
                e - s,
                v.len(),
                self.path.display()
            );
        }
        v.make_ascii_uppercase();
        Ok(v)
    }
}

impl Drop for Fasta {
    fn drop(&mut self) {
        unsafe { htslib::fai_destroy(self.inner) };
    }
}

fn is_gzip(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| anyhow!("FASTA {}: {e}", path.display()))?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic)?;
    Ok(n == 2 && magic == [0x1f, 0x8b])
}

/// Build a `.fai` (and `.gzi` for bgzip) index next to `path`.
pub fn build_index(path: impl AsRef<Path>) -> Result<()> {
    quiet_htslib();
    let path = path.as_ref();
    if !path.exists() {
        bail!("FASTA {}: no such file", path.display());
    }
    rust_htslib::faidx::build(path).map_err(|e| anyhow!("could not index FASTA {}: {e} (plain-gzip files must be bgzip-compressed first)", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_fasta(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("g.fa");
        std::fs::File::create(&p).unwrap().write_all(text.as_bytes()).unwrap();
        p
    }

    #[test]
    fn fetch_pads_clips_and_uppercases() {
        let d = tempfile::tempdir().unwrap();
        let p = write_fasta(d.path(), ">chr1 desc\nACGTacgtNN\nGGCC\n>chr2\nTTTT\n");
        build_index(&p).unwrap();
        let fa = Fasta::open(&p).unwrap();
        assert_eq!(fa.chroms().len_of("chr1"), Some(14));
        assert_eq!(fa.fetch("chr1", 0, 4).unwrap(), b"ACGT");
        assert_eq!(fa.fetch("chr1", 4, 12).unwrap(), b"ACGTNNGG"); // across a line break
        assert_eq!(fa.fetch("1", -2, 2).unwrap(), b"NNAC"); // alias + left pad
        assert_eq!(fa.fetch("chr1", 12, 16).unwrap(), b"CCNN"); // right pad
        assert_eq!(fa.fetch("chr2", 10, 13).unwrap(), b"NNN"); // fully past the end
        assert_eq!(fa.fetch("chr2", 0, 0).unwrap(), b"");
        assert_eq!(fa.fetch_clipped("chr1", 12, 100).unwrap(), b"CC");
        let e = fa.fetch("chr9", 0, 1).unwrap_err().to_string();
        assert!(e.contains("chr9") && e.contains("chr1"), "{e}");
    }

    #[test]
    fn bgzip_fasta_with_its_gzi() {
        use std::io::Write as _;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("g.fa.gz");
        let mut seq = String::new();
        for i in 0..5000 {
            seq.push(b"ACGT"[(i * 7 + i / 13) % 4] as char);
        }
        {
            let mut w = rust_htslib::bgzf::Writer::from_path(&p).unwrap();
            let mut text = String::from(">chrA\n");
            for line in seq.as_bytes().chunks(70) {
                text.push_str(std::str::from_utf8(line).unwrap());
                text.push('\n');
            }
            w.write_all(text.as_bytes()).unwrap();
        }
        // without .fai/.gzi: explained, not built silently
        assert!(Fasta::open(&p).err().unwrap().to_string().contains("not indexed"));
        build_index(&p).unwrap();
        assert!(d.path().join("g.fa.gz.gzi").exists());
        let fa = Fasta::open(&p).unwrap();
        assert_eq!(fa.fetch("A", 4990, 5002).unwrap(), format!("{}NN", &seq[4990..5000]).as_bytes());
        assert_eq!(fa.fetch("chrA", 1234, 1300).unwrap(), &seq.as_bytes()[1234..1300]);
        // a plain-gzip file is refused with the fix
        let gz = d.path().join("plain.fa.gz");
        let mut e = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
        e.write_all(b">x\nACGT\n").unwrap();
        e.finish().unwrap();
        std::fs::write(d.path().join("plain.fa.gz.fai"), "x\t4\t3\t4\t5\n").unwrap();
        let err = Fasta::open(&gz).err().unwrap().to_string();
        assert!(err.contains("bgzip"), "{err}");
    }

    #[test]
    fn unindexed_and_missing_files_are_explained() {
        let d = tempfile::tempdir().unwrap();
        let p = write_fasta(d.path(), ">a\nAC\n");
        let e = Fasta::open(&p).err().unwrap().to_string();
        assert!(e.contains("not indexed") && e.contains("peakscope faidx"), "{e}");
        assert!(!d.path().join("g.fa.fai").exists(), "must not build an index silently");
        let e = Fasta::open(d.path().join("nope.fa")).err().unwrap().to_string();
        assert!(e.contains("nope.fa") && e.contains("cannot read"), "{e}");
    }
}
