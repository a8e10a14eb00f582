//! What a file is, from its first bytes (magic numbers), for error messages that say what a
//! wrong file *is* and what was expected: "is not a bigWig: it is gzip-compressed data"
//! rather than a parser's complaint about a bad header.
use std::io::Read;
use std::path::Path;

/// A file's kind as far as its first bytes tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Empty,
    BigWig,
    BigBed,
    /// gzip; `bgzf` when the first member carries BGZF's `BC` extra field (bgzip output)
    Gzip {
        bgzf: bool,
    },
    /// a zip archive (PyTorch and TorchScript model files are zip archives)
    Zip,
    Bzip2,
    Xz,
    Zstd,
    Hdf5,
    /// text starting with `>`
    FastaText,
    /// `##fileformat=VCF`
    VcfText,
    /// `fixedStep` / `variableStep` (WIG)
    WigText,
    /// text whose first data line has ≥ 3 tab- or space-separated columns with whole numbers
    /// in columns 2 and 3
    BedText,
    Text,
    /// none of the above and not text: the offset of the first byte that text would not have
    Binary {
        offset: usize,
    },
}

impl FileKind {
    /// A phrase for messages: "gzip-compressed data", "a bigBed file", ...
    pub fn describe(self) -> String {
        match self {
            FileKind::Empty => "empty (0 bytes)".into(),
            FileKind::BigWig => "a bigWig file".into(),
            FileKind::BigBed => "a bigBed file (intervals, not signal)".into(),
            FileKind::Gzip { bgzf: true } => "bgzip-compressed data".into(),
            FileKind::Gzip { bgzf: false } => "gzip-compressed data".into(),
            FileKind::Zip => "a zip archive (PyTorch/TorchScript model files are zip archives)".into(),
            FileKind::Bzip2 => "bzip2-compressed data".into(),
            FileKind::Xz => "xz-compressed data".into(),
            FileKind::Zstd => "zstd-compressed data".into(),
            FileKind::Hdf5 => "an HDF5 file (e.g. a Keras model or a .cool/.h5 matrix)".into(),
            FileKind::FastaText => "FASTA text".into(),
            FileKind::VcfText => "VCF text".into(),
            FileKind::WigText => "WIG text (fixedStep/variableStep)".into(),
            FileKind::BedText => "BED-like text (e.g. BED or bedGraph)".into(),
            FileKind::Text => "text".into(),
            FileKind::Binary { offset } => format!("binary data of no known format (byte {offset} is not text)"),
        }
    }

    pub fn is_text(self) -> bool {
        matches!(self, FileKind::FastaText | FileKind::VcfText | FileKind::WigText | FileKind::BedText | FileKind::Text)
    }
}

const BIGWIG_MAGIC: u32 = 0x888F_FC26;
const BIGBED_MAGIC: u32 = 0x8789_F2EB;

/// Sniff a file from its first 64 KiB.
pub fn sniff(path: &Path) -> std::io::Result<FileKind> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = Vec::with_capacity(1 << 16);
    (&mut f).take(1 << 16).read_to_end(&mut buf)?;
    Ok(sniff_bytes(&buf))
}

/// Classify the first bytes of a file (a prefix is enough; 64 KiB is plenty).
pub fn sniff_bytes(b: &[u8]) -> FileKind {
    if b.is_empty() {
        return FileKind::Empty;
    }
    if b.len() >= 4 {
        let m = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if m == BIGWIG_MAGIC || m.swap_bytes() == BIGWIG_MAGIC {
            return FileKind::BigWig;
        }
        if m == BIGBED_MAGIC || m.swap_bytes() == BIGBED_MAGIC {
            return FileKind::BigBed;
        }
    }
    if b.starts_with(&[0x1f, 0x8b]) {
        // FLG.FEXTRA, XLEN at 10..12, then the subfield id 'B' 'C'
        let bgzf = b.len() >= 14 && b[3] & 4 != 0 && b[12] == b'B' && b[13] == b'C';
        return FileKind::Gzip { bgzf };
    }
    if b.starts_with(b"PK\x03\x04") || b.starts_with(b"PK\x05\x06") {
        return FileKind::Zip;
    }
    if b.starts_with(b"BZh") {
        return FileKind::Bzip2;
    }
    if b.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return FileKind::Xz;
    }
    if b.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return FileKind::Zstd;
    }
    if b.starts_with(b"\x89HDF\r\n\x1a\n") {
        return FileKind::Hdf5;
    }
    if let Some(offset) = first_non_text_byte(b, false) {
        return FileKind::Binary { offset };
    }
    classify_text(b)
}

/// The offset of the first byte plain text would not contain: NUL or another control byte
/// (tab, CR, LF and form feed are text), or a byte sequence that is not UTF-8. With
/// `complete == false` the bytes are a sample, and a multi-byte character cut at its end is
/// allowed.
pub fn first_non_text_byte(b: &[u8], complete: bool) -> Option<usize> {
    let control = b.iter().position(|&c| (c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r' | 0x0c)) || c == 0x7f);
    let utf8 = match std::str::from_utf8(b) {
        Ok(_) => None,
        Err(e) if !complete && e.error_len().is_none() => None, // cut at the end of the sample
        Err(e) => Some(e.valid_up_to()),
    };
    match (control, utf8) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn classify_text(b: &[u8]) -> FileKind {
    let text = String::from_utf8_lossy(b);
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    let Some(first) = first else { return FileKind::Text };
    if first.starts_with('>') {
        return FileKind::FastaText;
    }
    if first.starts_with("##fileformat=VCF") {
        return FileKind::VcfText;
    }
    if first.starts_with("fixedStep") || first.starts_with("variableStep") {
        return FileKind::WigText;
    }
    let data = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("track") && !l.starts_with("browser"));
    if let Some(l) = data {
        let f: Vec<&str> = l.split(['\t', ' ']).filter(|s| !s.is_empty()).collect();
        if f.len() >= 3 && f[1].parse::<u64>().is_ok() && f[2].parse::<u64>().is_ok() {
            return FileKind::BedText;
        }
    }
    FileKind::Text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers_and_text() {
        assert_eq!(sniff_bytes(b""), FileKind::Empty);
        assert_eq!(sniff_bytes(&BIGWIG_MAGIC.to_le_bytes()), FileKind::BigWig);
        assert_eq!(sniff_bytes(&BIGWIG_MAGIC.to_be_bytes()), FileKind::BigWig);
        assert_eq!(sniff_bytes(&BIGBED_MAGIC.to_le_bytes()), FileKind::BigBed);
        assert_eq!(sniff_bytes(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), FileKind::Gzip { bgzf: false });
        assert_eq!(sniff_bytes(&[0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, b'B', b'C', 2, 0]), FileKind::Gzip { bgzf: true });
        assert_eq!(sniff_bytes(b"PK\x03\x04rest"), FileKind::Zip);
        assert_eq!(sniff_bytes(b">chr1\nACGT\n"), FileKind::FastaText);
        assert_eq!(sniff_bytes(b"track name=x\nchr1\t10\t20\n"), FileKind::BedText);
        assert_eq!(sniff_bytes(b"chr1 10 20\r\n"), FileKind::BedText);
        assert_eq!(sniff_bytes(b"hello\n"), FileKind::Text);
        assert_eq!(sniff_bytes(b"chr1\t1\t2\n\x00\x01"), FileKind::Binary { offset: 9 });
        assert_eq!(sniff_bytes(b"ok \xff\xfe"), FileKind::Binary { offset: 3 });
        // a UTF-8 character cut by the sample's end is still text
        assert_eq!(sniff_bytes("abc é".as_bytes().split_last().unwrap().1), FileKind::Text);
    }
}
