//! Indexed FASTA access through htslib's faidx (plain or bgzip-compressed).
//!
//! [`Fasta::fetch`] takes any window in signed 0-based half-open coordinates. Bases past
//! either chromosome end are padded with `N` so a model window centred near a telomere
//! keeps its length; [`Fasta::fetch_clipped`] returns only the bases that exist.
//! Sequence is returned upper-cased (soft-masking dropped).
//!
//! Opening checks that the index still describes the file ([`check_index`]): a FASTA edited
//! after its `.fai` was built would otherwise give other bases than the file holds, without
//! any error.
use super::chroms::ChromNames;
use super::sniff::{sniff, FileKind};
use anyhow::{anyhow, bail, Result};
use rust_htslib::htslib;
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};

pub struct Fasta {
    path: PathBuf,
    inner: *mut htslib::faidx_t,
    names: ChromNames,
}

// SAFETY: the faidx_t is owned by this value alone (never shared, never aliased) and
// htslib's faidx keeps no thread-local state, so moving it to another thread is sound; it
// is not Sync, so calls on it never overlap.
unsafe impl Send for Fasta {}

fn quiet_htslib() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: sets a plain global integer in htslib; called once, before any other htslib use.
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
        if meta.is_dir() {
            bail!("FASTA {p} is a directory; expected a FASTA file (plain or bgzip)");
        }
        check_is_fasta(&path)?;
        let fai = PathBuf::from(format!("{}.fai", path.display()));
        if !fai.exists() {
            bail!("FASTA {p} is not indexed: {} is missing. Index it with `peakscope faidx {p}` (or `samtools faidx {p}`)", fai.display());
        }
        check_index(&path)?;
        let c = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| anyhow!("FASTA path {p} contains a NUL byte"))?;
        // SAFETY: `c` is a valid NUL-terminated path that outlives the call; null fai/gzi
        // paths mean "next to the file"; flags = 0 loads the existing index and never
        // creates one. The result is checked for null below.
        let inner = unsafe { htslib::fai_load3(c.as_ptr(), std::ptr::null(), std::ptr::null(), 0) };
        if inner.is_null() {
            bail!(
                "FASTA {p}: htslib could not load it with its index {} (a plain-gzip file must be bgzip'ed; a stale index must be rebuilt with `peakscope faidx {p}`)",
                fai.display()
            );
        }
        // SAFETY: `inner` is a non-null faidx_t from fai_load3.
        let n = unsafe { htslib::faidx_nseq(inner) };
        let mut entries = Vec::with_capacity(n.max(0) as usize);
        for i in 0..n {
            // SAFETY: 0 <= i < faidx_nseq, so faidx_iseq returns a valid NUL-terminated name
            // owned by `inner`, copied out before `inner` can be destroyed.
            let name = unsafe { CStr::from_ptr(htslib::faidx_iseq(inner, i)) }.to_string_lossy().into_owned();
            let cn = CString::new(name.as_bytes()).unwrap_or_default();
            // SAFETY: `inner` is valid and `cn` is a NUL-terminated name that outlives the call.
            let len = unsafe { htslib::faidx_seq_len64(inner, cn.as_ptr()) };
            entries.push((name, len.max(0) as u64));
        }
        if entries.is_empty() {
            // SAFETY: `inner` came from fai_load3, is destroyed once here and never used again.
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
        // SAFETY: `self.inner` is a live faidx_t owned by self, `cn` outlives the call and
        // `got_len` is a valid out-pointer; the returned buffer is checked for null below.
        let ptr = unsafe { htslib::faidx_fetch_seq64(self.inner, cn.as_ptr(), s, e - 1, &mut got_len) };
        if ptr.is_null() || got_len < 0 {
            bail!(
                "FASTA {}: reading {name}:{s}-{e} failed (truncated file or stale index? rebuild it with `peakscope faidx {}`)",
                self.path.display(),
                self.path.display()
            );
        }
        // SAFETY: htslib returned a non-null malloc'ed buffer of `got_len` (>= 0) bytes,
        // which is copied here before being freed.
        let mut v = unsafe { std::slice::from_raw_parts(ptr as *const u8, got_len as usize) }.to_vec();
        // SAFETY: `ptr` was allocated by htslib with malloc and is freed exactly once.
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
        // SAFETY: `inner` is the non-null faidx_t this value owns; dropped exactly once.
        unsafe { htslib::fai_destroy(self.inner) };
    }
}

/// Refuse files that are not FASTA text or bgzip-compressed FASTA, saying what they are.
fn check_is_fasta(path: &Path) -> Result<()> {
    let p = path.display();
    match sniff(path).map_err(|e| anyhow!("FASTA {p}: cannot read it ({e})"))? {
        FileKind::FastaText | FileKind::Gzip { bgzf: true } => Ok(()),
        FileKind::Gzip { bgzf: false } => bail!("{}", plain_gzip_message(path)),
        FileKind::Empty => bail!("FASTA {p} is empty (0 bytes)"),
        FileKind::Binary { offset } => bail!("FASTA {p} is not a FASTA file: binary data at byte {offset}; expected text starting with '>name' lines"),
        k if k.is_text() => {
            bail!("FASTA {p} is not a FASTA file: it is {} and its first line does not start with '>'; expected '>name' header lines", k.describe())
        }
        k => bail!("FASTA {p} is not a FASTA file: it is {}; expected FASTA text (plain or bgzip)", k.describe()),
    }
}

/// Build a `.fai` (and `.gzi` for bgzip) index next to `path`.
pub fn build_index(path: impl AsRef<Path>) -> Result<()> {
    quiet_htslib();
    let path = path.as_ref();
    if !path.exists() {
        bail!("FASTA {}: no such file", path.display());
    }
    check_is_fasta(path)?;
    rust_htslib::faidx::build(path)
        .map_err(|e| anyhow!("could not index FASTA {}: {e} (is every sequence's line length the same but for its last line?)", path.display()))
}

/// One line of a `.fai` index (samtools faidx): the sequence's name and length, the byte
/// offset of its first base, bases per line and bytes per line (bases + line terminator).
/// For bgzip files the offsets count uncompressed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaiRecord {
    pub name: String,
    pub length: u64,
    pub offset: u64,
    pub line_bases: u64,
    pub line_width: u64,
}

impl FaiRecord {
    /// Byte offset of base `i` (0-based) of this sequence; `None` on overflow.
    fn byte_of(&self, i: u64) -> Option<u64> {
        let lb = self.line_bases.max(1);
        (i / lb).checked_mul(self.line_width)?.checked_add(i % lb)?.checked_add(self.offset)
    }

    /// One past the byte of the last base (`offset` for an empty sequence).
    fn seq_end(&self) -> Option<u64> {
        if self.length == 0 {
            Some(self.offset)
        } else {
            self.byte_of(self.length - 1)?.checked_add(1)
        }
    }
}

fn rebuild_hint(fasta: &Path) -> String {
    format!("rebuild the index with `peakscope faidx {}` (or `samtools faidx`)", fasta.display())
}

/// Read and validate the lines of a `.fai` index (5 tab-separated columns per sequence).
pub fn read_fai(fai: &Path, fasta: &Path) -> Result<Vec<FaiRecord>> {
    let text = std::fs::read(fai).map_err(|e| anyhow!("FASTA index {}: cannot read it ({e})", fai.display()))?;
    let bad = |line: usize, why: String| {
        anyhow!("FASTA index {} line {line}: {why}; it is not a valid .fai for {}: {}", fai.display(), fasta.display(), rebuild_hint(fasta))
    };
    let text = match std::str::from_utf8(&text) {
        Ok(t) => t,
        Err(e) => {
            let line = 1 + text[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
            return Err(bad(line, "binary data, not text".into()));
        }
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() == 6 {
            return Err(bad(i + 1, "6 columns: this is the index of a FASTQ file".into()));
        }
        if f.len() != 5 {
            return Err(bad(i + 1, format!("expected 5 tab-separated columns (name length offset linebases linewidth), found {}", f.len())));
        }
        let num = |k: usize, what: &str| f[k].parse::<u64>().map_err(|_| bad(i + 1, format!("{what} '{}' is not a whole number", f[k])));
        let r = FaiRecord {
            name: f[0].to_string(),
            length: num(1, "length")?,
            offset: num(2, "offset")?,
            line_bases: num(3, "line bases")?,
            line_width: num(4, "line width")?,
        };
        if r.name.is_empty() {
            return Err(bad(i + 1, "empty sequence name".into()));
        }
        if r.length > 0 && (r.line_bases == 0 || r.line_width < r.line_bases) {
            return Err(bad(i + 1, format!("impossible line layout ({} bases in lines of {} bytes)", r.line_bases, r.line_width)));
        }
        if r.seq_end().is_none() {
            return Err(bad(i + 1, "offsets overflow".into()));
        }
        out.push(r);
    }
    if out.is_empty() {
        bail!("FASTA index {} lists no sequences: {}", fai.display(), rebuild_hint(fasta));
    }
    Ok(out)
}

/// Random access to the (uncompressed) bytes of a FASTA for the index checks.
trait ByteSource {
    /// total uncompressed length
    fn len(&self) -> u64;
    /// up to `n` bytes from `off` (fewer at the end of the file)
    fn read_at(&mut self, off: u64, n: usize) -> std::io::Result<Vec<u8>>;
}

struct PlainSource {
    file: std::fs::File,
    len: u64,
}

impl ByteSource for PlainSource {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&mut self, off: u64, n: usize) -> std::io::Result<Vec<u8>> {
        use std::io::{Read, Seek, SeekFrom};
        let n = n.min(self.len.saturating_sub(off) as usize);
        let mut buf = vec![0u8; n];
        self.file.seek(SeekFrom::Start(off))?;
        self.file.read_exact(&mut buf)?;
        Ok(buf)
    }
}

/// bgzip file with its `.gzi` block index: (compressed, uncompressed) offsets of block starts.
struct BgzfSource {
    file: std::fs::File,
    blocks: Vec<(u64, u64)>,
    len: u64,
}

impl BgzfSource {
    fn open(path: &Path, gzi: &Path) -> Result<Self> {
        use std::io::Read;
        let p = path.display();
        let raw = std::fs::read(gzi).map_err(|e| anyhow!("FASTA {p}: cannot read its {} ({e})", gzi.display()))?;
        let mismatch = |why: String| anyhow!("FASTA {p}: its block index {} does not match it ({why}): {}", gzi.display(), rebuild_hint(path));
        if raw.len() < 8 {
            return Err(mismatch(format!("{} bytes, too short for a .gzi", raw.len())));
        }
        let u64_at = |k: usize| u64::from_le_bytes(raw[k..k + 8].try_into().unwrap_or_default());
        let n = u64_at(0);
        if n.checked_mul(16).and_then(|b| b.checked_add(8)) != Some(raw.len() as u64) {
            return Err(mismatch(format!("it claims {n} blocks but has {} bytes", raw.len())));
        }
        let file_len = std::fs::metadata(path)?.len();
        let mut blocks = vec![(0u64, 0u64)];
        for k in 0..n as usize {
            let (c, u) = (u64_at(8 + 16 * k), u64_at(16 + 16 * k));
            let &(pc, pu) = blocks.last().unwrap_or(&(0, 0));
            if c <= pc || u <= pu || c >= file_len {
                return Err(mismatch(format!("block {} at compressed byte {c} (file has {file_len} bytes)", k + 1)));
            }
            blocks.push((c, u));
        }
        let mut file = std::fs::File::open(path)?;
        // every listed block (a sample of at most 1000 for big files) starts with a BGZF header
        let step = (blocks.len() / 1000).max(1);
        let mut idx: Vec<usize> = (0..blocks.len()).step_by(step).collect();
        idx.push(blocks.len() - 1);
        for &k in &idx {
            let mut head = [0u8; 14];
            let ok = read_exact_at(&mut file, blocks[k].0, &mut head).is_ok() && head[..4] == [0x1f, 0x8b, 8, 4] && head[12..14] == *b"BC";
            if !ok {
                return Err(mismatch(format!("no BGZF block starts at compressed byte {}", blocks[k].0)));
            }
        }
        // total length: the last block's offset plus what follows it
        let &(c, u) = blocks.last().unwrap_or(&(0, 0));
        let mut rest = 0u64;
        {
            use std::io::{Seek, SeekFrom};
            file.seek(SeekFrom::Start(c))?;
            let mut dec = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(&mut file));
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let got = dec.read(&mut buf).map_err(|e| anyhow!("FASTA {p}: its bgzip data is corrupt or truncated ({e}); re-create it with bgzip"))?;
                if got == 0 {
                    break;
                }
                rest += got as u64;
            }
        }
        Ok(BgzfSource { file, blocks, len: u + rest })
    }
}

fn read_exact_at(file: &mut std::fs::File, off: u64, buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(off))?;
    file.read_exact(buf)
}

impl ByteSource for BgzfSource {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&mut self, off: u64, n: usize) -> std::io::Result<Vec<u8>> {
        use std::io::{Read, Seek, SeekFrom};
        let k = self.blocks.partition_point(|&(_, u)| u <= off).saturating_sub(1);
        let (c, u) = self.blocks[k];
        self.file.seek(SeekFrom::Start(c))?;
        let mut dec = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(&mut self.file));
        std::io::copy(&mut (&mut dec).take(off - u), &mut std::io::sink())?;
        let mut buf = Vec::with_capacity(n);
        dec.take(n as u64).read_to_end(&mut buf)?;
        Ok(buf)
    }
}

fn is_base(b: u8) -> bool {
    b.is_ascii_graphic() && b != b'>'
}

fn is_blank(b: &[u8]) -> bool {
    b.iter().all(|c| matches!(c, b'\n' | b'\r' | b' ' | b'\t'))
}

/// Bytes of header text shown in messages.
fn shown(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(60)]).into_owned();
    if b.len() > 60 {
        s + "…"
    } else {
        s
    }
}

/// Check that `.fai` records describe this file's bytes: each sequence's header line sits
/// right before its first base, its lines have the indexed length (first, last and a few
/// lines between), only blank lines lie between one sequence and the next header, and the
/// last sequence ends where the file does. Checks every sequence, or an even sample of
/// `max_records` of them (always the first and last) in files with more.
fn check_layout(src: &mut dyn ByteSource, recs: &[FaiRecord], fasta: &Path, max_records: usize, probes: u64) -> Result<()> {
    // bytes read back from a sequence's first base to find its header line (a longer header
    // is only checked for its line end), and the most blank bytes expected between records
    const HEADER_WINDOW: u64 = 4096;
    const MAX_GAP: u64 = 1 << 16;
    let p = fasta.display();
    let hint = rebuild_hint(fasta);
    let io = |e: std::io::Error| anyhow!("FASTA {p}: read failed while checking its index ({e})");
    let total = src.len();
    let mut order: Vec<usize> = (0..recs.len()).collect();
    order.sort_by_key(|&i| recs[i].offset);
    let n = order.len();
    let step = n.div_ceil(max_records.max(2)).max(1);
    let mut sample: Vec<usize> = (0..n).step_by(step).collect();
    if sample.last() != Some(&(n - 1)) {
        sample.push(n - 1);
    }
    // where a record's header line starts, checking it on the way
    let header_start = |src: &mut dyn ByteSource, r: &FaiRecord| -> Result<u64> {
        if r.offset == 0 || r.offset > total {
            bail!("FASTA {p}: the index puts {} at byte {} but the file has {total} bytes: the FASTA changed after it was indexed; {hint}", r.name, r.offset);
        }
        let from = r.offset.saturating_sub(HEADER_WINDOW);
        let win = src.read_at(from, (r.offset - from) as usize).map_err(io)?;
        let Some((&last, before)) = win.split_last() else { bail!("FASTA {p}: empty read before {}", r.name) };
        let line_start = before.iter().rposition(|&b| b == b'\n').map(|i| i + 1);
        let header = &before[line_start.unwrap_or(0)..];
        let header = header.strip_suffix(b"\r").unwrap_or(header);
        let complete = line_start.is_some() || from == 0;
        let name_ok =
            header.strip_prefix(b">").and_then(|h| h.strip_prefix(r.name.as_bytes())).is_some_and(|rest| rest.is_empty() || rest[0].is_ascii_whitespace());
        if last != b'\n' {
            bail!(
                "FASTA {p}: the index says {} starts at byte {}, which is not the start of a line: the FASTA changed after it was indexed; {hint}",
                r.name,
                r.offset
            );
        }
        if complete && !name_ok {
            bail!(
                "FASTA {p}: the index says {} starts at byte {}, but the line before it is '{}', not its header '>{}': the FASTA changed after it was indexed; {hint}",
                r.name,
                r.offset,
                shown(header),
                r.name
            );
        }
        Ok(from + line_start.unwrap_or(0) as u64)
    };
    let mut starts: std::collections::HashMap<usize, u64> = std::collections::HashMap::new();
    for &k in &sample {
        let r = &recs[order[k]];
        let start = match starts.get(&k) {
            Some(&s) => s,
            None => header_start(src, r)?,
        };
        if k == 0 && start > 0 {
            let lead = src.read_at(0, start.min(MAX_GAP) as usize).map_err(io)?;
            if start > MAX_GAP || lead.contains(&b'>') {
                bail!("FASTA {p}: it has sequence data before the first indexed sequence {}: the FASTA changed after it was indexed; {hint}", r.name);
            }
        }
        let end = r.seq_end().unwrap_or(u64::MAX);
        if end > total {
            bail!(
                "FASTA {p}: the index says {} ({} bp) ends at byte {end}, past the end of the file ({total} bytes): the FASTA was shortened or rewritten after it was indexed; {hint}",
                r.name,
                r.length
            );
        }
        if r.length > 0 {
            // the last base, then a line end (or the end of the file)
            let last = end - 1;
            let b = src.read_at(last, 3).map_err(io)?;
            let ends_line = b.len() == 1 || matches!(b.get(1), Some(b'\n') | Some(b'\r'));
            if !is_base(b[0]) || !ends_line {
                bail!(
                    "FASTA {p}: sequence {} does not end where the index says (byte {end}, {} bp in lines of {}): its length or line layout changed after it was indexed; {hint}",
                    r.name,
                    r.length,
                    r.line_bases
                );
            }
            // full lines: every line is line_bases bases then the terminator (some probed)
            let full_lines = (r.length - 1) / r.line_bases;
            let term = r.line_width - r.line_bases;
            let probe_lines: Vec<u64> =
                if full_lines <= probes { (0..full_lines).collect() } else { (0..probes).map(|j| j * (full_lines - 1) / (probes - 1).max(1)).collect() };
            for line in probe_lines {
                let at = r.byte_of(line * r.line_bases + r.line_bases - 1).unwrap_or(u64::MAX);
                let b = src.read_at(at, 1 + term as usize).map_err(io)?;
                let ok = b.len() == 1 + term as usize && is_base(b[0]) && b[1..].ends_with(b"\n") && (term == 1 || b[1] == b'\r');
                if !ok {
                    bail!(
                        "FASTA {p}: line {} of sequence {} is not {} bases followed by a line end, as the index says: lines were edited after it was indexed; {hint}",
                        line + 1,
                        r.name,
                        r.line_bases
                    );
                }
            }
        }
        // between this sequence and the next header (or the end of the file): blank lines only
        let next = if k + 1 < n {
            let s = header_start(src, &recs[order[k + 1]])?;
            starts.insert(k + 1, s);
            Some(s)
        } else {
            None
        };
        let stop = next.unwrap_or(total);
        if stop < end || stop - end > MAX_GAP || !is_blank(&src.read_at(end, (stop - end) as usize).map_err(io)?) {
            match next {
                Some(_) => bail!(
                    "FASTA {p}: there is unindexed data between {} and {}: sequences were added or changed after the index was built; {hint}",
                    r.name,
                    recs[order[k + 1]].name
                ),
                None => bail!(
                    "FASTA {p}: the index's last sequence {} ends at byte {end}, but the file goes on to byte {total}: sequences were added or changed after the index was built; {hint}",
                    r.name
                ),
            }
        }
    }
    Ok(())
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Refuse an index older than its FASTA (by modification time, as pyfaidx does).
fn check_not_older(fasta: &Path, index: &Path) -> Result<()> {
    if let (Some(f), Some(i)) = (modified(fasta), modified(index)) {
        if f > i {
            let ago = f.duration_since(i).map(|d| d.as_secs_f64()).unwrap_or(0.0);
            bail!(
                "FASTA {} was modified after its index {} was built ({ago:.0} s later): the index may no longer match the sequence; {}",
                fasta.display(),
                index.display(),
                rebuild_hint(fasta)
            );
        }
    }
    Ok(())
}

/// Check that a FASTA's `.fai` (and `.gzi` for bgzip) still describe it: index files not
/// older than the FASTA, a well-formed `.fai`, a `.gzi` whose blocks are the file's, and the
/// byte layout of [`check_layout`]. Every failure says how to rebuild the index.
pub fn check_index(fasta: &Path) -> Result<()> {
    let p = fasta.display();
    let fai = PathBuf::from(format!("{p}.fai"));
    check_not_older(fasta, &fai)?;
    let recs = read_fai(&fai, fasta)?;
    match sniff(fasta).map_err(|e| anyhow!("FASTA {p}: cannot read it ({e})"))? {
        FileKind::Gzip { bgzf: true } => {
            let gzi = PathBuf::from(format!("{p}.gzi"));
            if !gzi.exists() {
                bail!("FASTA {p} is bgzip-compressed but its block index {} is missing: build both indexes with `peakscope faidx {p}`", gzi.display());
            }
            check_not_older(fasta, &gzi)?;
            let mut src = BgzfSource::open(fasta, &gzi)?;
            check_layout(&mut src, &recs, fasta, 64, 2)
        }
        FileKind::Gzip { bgzf: false } => bail!("{}", plain_gzip_message(fasta)),
        _ => {
            let file = std::fs::File::open(fasta).map_err(|e| anyhow!("FASTA {p}: cannot read it ({e})"))?;
            let len = file.metadata()?.len();
            check_layout(&mut PlainSource { file, len }, &recs, fasta, 5000, 8)
        }
    }
}

fn plain_gzip_message(fasta: &Path) -> String {
    let p = fasta.display();
    format!(
        "FASTA {p} is gzip-compressed but not with bgzip, so it cannot be indexed for random access: recompress it (`gunzip -c {p} > genome.fa && bgzip genome.fa`, then `peakscope faidx genome.fa.gz`) or use it uncompressed (`gunzip -c {p} > genome.fa && peakscope faidx genome.fa`)"
    )
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

#[cfg(test)]
mod stale_index_tests {
    use super::*;

    /// Set a file's modification time `secs` seconds into the past (negative: future).
    fn set_age(path: &Path, secs: i64) {
        let now = std::time::SystemTime::now();
        let t = if secs >= 0 { now - std::time::Duration::from_secs(secs as u64) } else { now + std::time::Duration::from_secs((-secs) as u64) };
        std::fs::File::options().write(true).open(path).unwrap().set_modified(t).unwrap();
    }

    fn lines(seq: &str, width: usize, eol: &str) -> String {
        seq.as_bytes().chunks(width).map(|c| format!("{}{eol}", std::str::from_utf8(c).unwrap())).collect()
    }

    fn seq(n: usize, seed: usize) -> String {
        (0..n).map(|i| b"ACGT"[(i * 7 + i / 13 + seed) % 4] as char).collect()
    }

    /// A three-record FASTA text with 60-bp lines.
    fn genome(eol: &str) -> String {
        format!(">chr1 first{eol}{}>chr2{eol}{}>chr3{eol}{}", lines(&seq(1000, 0), 60, eol), lines(&seq(120, 1), 60, eol), lines(&seq(77, 2), 60, eol))
    }

    /// `text` with the first base of chr1's 4th line moved to the end of its 3rd: the record
    /// keeps its length and end, only the line layout inside it changes.
    fn moved_base(text: &str) -> String {
        let mut l: Vec<String> = text.lines().map(String::from).collect();
        let b = l[4].remove(0);
        l[3].push(b);
        l.join("\n") + "\n"
    }

    /// Index `text`, replace the FASTA by `edited` while keeping the index newer (so only the
    /// layout checks can see the change), and return the error of opening it.
    fn open_after_edit(text: &str, edited: &str) -> String {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("g.fa");
        std::fs::write(&p, text).unwrap();
        build_index(&p).unwrap();
        Fasta::open(&p).expect("the unedited file opens");
        std::fs::write(&p, edited).unwrap();
        set_age(&p, 100);
        match Fasta::open(&p) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn fresh_indexes_pass_for_lf_crlf_and_odd_layouts() {
        for text in [
            genome("\n"),
            genome("\r\n"),
            ">a\nACGT".to_string(),                                   // no final newline
            ">a\nACGTAC\nGT\n\n\n".to_string(),                       // trailing blank lines
            ">a\nACGTAC\nACGTAC\n>b\nA\n".to_string(),                // full last line, 1-bp record
            ">a desc with spaces\tand tab\nAC\n>b\nGG\n".to_string(), // header descriptions
        ] {
            let d = tempfile::tempdir().unwrap();
            let p = d.path().join("g.fa");
            std::fs::write(&p, &text).unwrap();
            build_index(&p).unwrap();
            let fa = Fasta::open(&p).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            let (name, len) = fa.chroms().iter().next().map(|(n, l)| (n.to_string(), l)).unwrap();
            assert_eq!(fa.fetch(&name, 0, len as i64).unwrap().len() as u64, len);
        }
        // CRLF sequence reads back without the CRs
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("g.fa");
        std::fs::write(&p, genome("\r\n")).unwrap();
        build_index(&p).unwrap();
        let fa = Fasta::open(&p).unwrap();
        assert_eq!(fa.fetch("chr1", 55, 125).unwrap(), &seq(1000, 0).as_bytes()[55..125]);
    }

    #[test]
    fn fasta_newer_than_its_index_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("g.fa");
        std::fs::write(&p, genome("\n")).unwrap();
        build_index(&p).unwrap();
        set_age(&d.path().join("g.fa.fai"), 30); // the FASTA was touched 30 s after indexing
        let e = Fasta::open(&p).err().unwrap().to_string();
        assert!(e.contains("modified after its index") && e.contains("peakscope faidx"), "{e}");
        build_index(&p).unwrap();
        Fasta::open(&p).expect("rebuilding fixes it");
    }

    #[test]
    fn layout_changes_after_indexing_are_refused() {
        let text = genome("\n");
        let cases: Vec<(&str, String, &str)> = vec![
            ("appended sequence", format!("{text}>chr4\nACGT\n"), "goes on to byte"),
            ("appended bases", format!("{text}ACGT\n"), "goes on to byte"),
            ("truncated", text[..text.len() - 30].to_string(), "past the end of the file"),
            ("a longer middle line", text.replacen("\n", "\nA", 3), "does not end where"),
            ("a shorter last record", text.replace(&lines(&seq(77, 2), 60, "\n"), &lines(&seq(70, 2), 60, "\n")), "past the end of the file"),
            ("a shorter first record", text.replacen(&seq(1000, 0)[..60], &seq(1000, 0)[..50], 1), "does not end where"),
            ("rewrapped to 50 bp", text.replace(&lines(&seq(1000, 0), 60, "\n"), &lines(&seq(1000, 0), 50, "\n")), "does not end where"),
            ("a base moved between lines", moved_base(&text), "line 3 of sequence chr1 is not 60 bases"),
            ("a renamed sequence", text.replace(">chr2", ">chr9"), "not its header '>chr2'"),
            ("an inserted sequence", text.replace(">chr3", ">new\nAC\n>chr3"), "the index says chr3 starts at byte"),
            ("a prepended sequence", format!(">chr0\nAAAA\n{text}"), "the index says chr1 starts at byte"),
            ("CRLF line ends", genome("\r\n"), "not the start of a line"),
        ];
        for (what, edited, want) in cases {
            let e = open_after_edit(&text, &edited);
            assert!(e.contains(want) && e.contains("peakscope faidx"), "{what}: {e}");
        }
        // a same-length substitution leaves the index valid: the new bases are read
        assert_eq!(open_after_edit(&text, &text.replacen("ACGT", "TTTT", 5)), "");
    }

    #[test]
    fn sampled_checks_still_see_an_edit_in_an_unsampled_record() {
        // 12,000 records: more than are checked one by one, so only a sample is; a length
        // change anywhere shifts every later record, which the next sampled one notices
        let text: String = (0..12_000).map(|i| format!(">s{i}\n{}", lines(&seq(30 + i % 50, i), 20, "\n"))).collect();
        let edited = text.replacen(">s7001\n", ">s7001\nA", 1);
        let e = open_after_edit(&text, &edited);
        assert!(e.contains("peakscope faidx"), "{e}");
        assert_eq!(open_after_edit(&text, &text), "");
    }

    #[test]
    fn malformed_indexes_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("g.fa");
        std::fs::write(&p, ">a\nACGT\n").unwrap();
        let fai = d.path().join("g.fa.fai");
        for (text, want) in [
            ("a\tfour\t3\t4\t5\n", "'four' is not a whole number"),
            ("a\t4\t3\t4\t5\t9\n", "FASTQ"),
            ("a\t4\t3\n", "expected 5 tab-separated columns"),
            ("a\t4\t3\t0\t5\n", "impossible line layout"),
            ("a\t18446744073709551615\t3\t1\t2\n", "overflow"),
            ("\n", "lists no sequences"),
            ("a\t4\t30\t4\t5\n", "but the file has 8 bytes"),
            ("b\t4\t3\t4\t5\n", "not its header '>b'"),
        ] {
            std::fs::write(&fai, text).unwrap();
            set_age(&p, 100);
            let e = Fasta::open(&p).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains(want) && e.contains("peakscope faidx"), "{text:?}: {e}");
        }
    }

    fn bgzip(path: &Path, text: &str) {
        use std::io::Write;
        let mut w = rust_htslib::bgzf::Writer::from_path(path).unwrap();
        w.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn bgzip_index_checks() {
        let d = tempfile::tempdir().unwrap();
        let big = format!(">chrA\n{}>chrB\n{}", lines(&seq(200_000, 3), 70, "\n"), lines(&seq(5000, 4), 70, "\n"));
        let p = d.path().join("g.fa.gz");
        bgzip(&p, &big);
        build_index(&p).unwrap();
        let fa = Fasta::open(&p).unwrap();
        assert_eq!(fa.fetch("chrB", 4990, 5000).unwrap(), &seq(5000, 4).as_bytes()[4990..]);
        drop(fa);
        let gzi = d.path().join("g.fa.gz.gzi");
        // .gzi missing
        let saved = std::fs::read(&gzi).unwrap();
        std::fs::remove_file(&gzi).unwrap();
        let e = Fasta::open(&p).err().unwrap().to_string();
        assert!(e.contains(".gzi") && e.contains("missing") && e.contains("peakscope faidx"), "{e}");
        // .gzi older than the FASTA
        std::fs::write(&gzi, &saved).unwrap();
        set_age(&gzi, 100);
        set_age(&d.path().join("g.fa.gz.fai"), 0);
        let e = Fasta::open(&p).err().unwrap().to_string();
        assert!(e.contains("modified after its index") && e.contains(".gzi"), "{e}");
        // a .gzi of another file (blocks elsewhere), with fresh times
        let other = d.path().join("o.fa.gz");
        bgzip(&other, &format!(">chrA\n{}", lines(&seq(90_000, 5), 60, "\n")));
        build_index(&other).unwrap();
        std::fs::copy(d.path().join("o.fa.gz.gzi"), &gzi).unwrap();
        set_age(&p, 100);
        let e = Fasta::open(&p).err().unwrap().to_string();
        assert!(e.contains("does not match") && e.contains("peakscope faidx"), "{e}");
        // the FASTA recompressed with more sequence after indexing, indexes kept "newer"
        std::fs::write(&gzi, &saved).unwrap();
        bgzip(&p, &format!("{big}>chrC\nACGT\n"));
        set_age(&p, 100);
        let e = Fasta::open(&p).err().unwrap().to_string();
        assert!(e.contains("peakscope faidx"), "{e}");
        // gzip but not bgzip: explained, also by faidx
        let gz = d.path().join("plain.fa.gz");
        let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, b">x\nACGT\n").unwrap();
        enc.finish().unwrap();
        let e = build_index(&gz).err().unwrap().to_string();
        assert!(e.contains("not with bgzip") && e.contains("bgzip genome.fa"), "{e}");
    }

    #[test]
    fn files_that_are_not_fasta_say_what_they_are() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("g.fa");
        std::fs::write(&p, "chr1\t10\t20\n").unwrap();
        let e = build_index(&p).err().unwrap().to_string();
        assert!(e.contains("not a FASTA") && e.contains("BED-like"), "{e}");
        std::fs::write(&p, b"\x00\x01binary").unwrap();
        let e = Fasta::open(&p).err().unwrap().to_string();
        assert!(e.contains("not a FASTA") && e.contains("binary"), "{e}");
        std::fs::write(&p, b"").unwrap();
        assert!(Fasta::open(&p).err().unwrap().to_string().contains("empty"));
    }
}
