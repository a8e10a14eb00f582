//! What kind of file a "model" is, before libtorch sees it: a TorchScript archive, or one of
//! the files people mistake for one (a `torch.save` checkpoint, a Keras/HDF5 file,
//! safetensors weights), each refused with what it is and how to export a TorchScript file.
use anyhow::{anyhow, bail, Result};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// What a model file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// a zip archive with TorchScript code (torch.jit.save)
    TorchScript,
    /// a zip archive written by torch.save: a state_dict or a pickled module (class name)
    TorchSave {
        state_dict: bool,
        class: Option<String>,
    },
    /// a pre-1.6 torch.save pickle
    LegacyTorchSave,
    Hdf5,
    Safetensors,
    /// a zip archive with neither TorchScript code nor a torch.save pickle
    OtherZip,
    Unknown,
}

/// The names in a zip archive's central directory (zip64 aware).
pub fn zip_names(path: &Path) -> Result<Vec<String>> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let tail_len = len.min(65_557 + 20);
    f.seek(SeekFrom::Start(len - tail_len))?;
    let mut tail = vec![0u8; tail_len as usize];
    f.read_exact(&mut tail)?;
    let eocd = (0..tail.len().saturating_sub(21)).rev().find(|&i| tail[i..i + 4] == [0x50, 0x4b, 0x05, 0x06]).ok_or_else(|| anyhow!("no zip end record"))?;
    let le16 = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as u64;
    let le32 = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as u64;
    let le64 = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let mut count = le16(&tail, eocd + 10);
    let mut size = le32(&tail, eocd + 12);
    let mut offset = le32(&tail, eocd + 16);
    if (count == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF) && eocd >= 20 && tail[eocd - 20..eocd - 16] == [0x50, 0x4b, 0x06, 0x07] {
        // zip64: the locator points at the zip64 end record
        let rec = le64(&tail, eocd - 20 + 8);
        f.seek(SeekFrom::Start(rec))?;
        let mut z = [0u8; 56];
        f.read_exact(&mut z)?;
        if z[..4] != [0x50, 0x4b, 0x06, 0x06] {
            bail!("bad zip64 end record");
        }
        count = le64(&z, 32);
        size = le64(&z, 40);
        offset = le64(&z, 48);
    }
    if offset + size > len || size > 256 << 20 {
        bail!("zip central directory out of range");
    }
    f.seek(SeekFrom::Start(offset))?;
    let mut cd = vec![0u8; size as usize];
    f.read_exact(&mut cd)?;
    let mut names = Vec::with_capacity(count.min(1 << 20) as usize);
    let mut p = 0usize;
    while p + 46 <= cd.len() && cd[p..p + 4] == [0x50, 0x4b, 0x01, 0x02] {
        let (n, x, c) = (le16(&cd, p + 28) as usize, le16(&cd, p + 30) as usize, le16(&cd, p + 32) as usize);
        if p + 46 + n > cd.len() {
            break;
        }
        names.push(String::from_utf8_lossy(&cd[p + 46..p + 46 + n]).into_owned());
        p += 46 + n + x + c;
    }
    Ok(names)
}

/// The stored (uncompressed) bytes of one zip member, at most `max` of them.
fn zip_member_prefix(path: &Path, name: &str, max: usize) -> Option<Vec<u8>> {
    // torch.save stores members uncompressed; find the local header by scanning the start
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = vec![0u8; (1 << 20).min(f.metadata().ok()?.len() as usize)];
    f.read_exact(&mut buf).ok()?;
    let mut p = 0;
    while p + 30 <= buf.len() && buf[p..p + 4] == [0x50, 0x4b, 0x03, 0x04] {
        let le16 = |o: usize| u16::from_le_bytes([buf[o], buf[o + 1]]) as usize;
        let le32 = |o: usize| u32::from_le_bytes(buf[o..o + 4].try_into().unwrap()) as usize;
        let (flags, method, csize, n, x) = (le16(p + 6), le16(p + 8), le32(p + 18), le16(p + 26), le16(p + 28));
        let member = String::from_utf8_lossy(buf.get(p + 30..p + 30 + n)?).into_owned();
        let data = p + 30 + n + x;
        // with a data descriptor (flag bit 3) the local header's sizes are zero
        let len = if flags & 8 != 0 && csize == 0 { max } else { csize.min(max) };
        if member == name || member.ends_with(&format!("/{name}")) {
            return (method == 0).then(|| buf[data.min(buf.len())..(data + len).min(buf.len())].to_vec());
        }
        if flags & 8 != 0 && csize == 0 {
            return None; // cannot skip a member of unknown size
        }
        p = data + csize;
    }
    None
}

/// The first class a protocol-2+ pickle refers to (`module.Name`).
fn first_pickle_global(pkl: &[u8]) -> Option<String> {
    // GLOBAL opcode 'c' followed by "module\nname\n" (protocol 2, as torch.save writes)
    let i = pkl.iter().take(64).position(|&b| b == b'c')?;
    let rest = &pkl[i + 1..];
    let mut parts = rest.splitn(3, |&b| b == b'\n');
    let module = std::str::from_utf8(parts.next()?).ok()?;
    let name = std::str::from_utf8(parts.next()?).ok()?;
    Some(format!("{module}.{name}"))
}

/// Classify a model file by its content.
pub fn sniff(path: &Path) -> Result<FileKind> {
    let mut f = std::fs::File::open(path).map_err(|e| anyhow!("model {}: cannot read it ({e})", path.display()))?;
    let mut magic = [0u8; 16];
    let n = f.read(&mut magic).unwrap_or(0);
    let magic = &magic[..n];
    if magic.starts_with(b"PK\x03\x04") {
        let names = zip_names(path).unwrap_or_default();
        if names.iter().any(|n| n.contains("/code/") || n.ends_with("/constants.pkl") || n == "constants.pkl") {
            return Ok(FileKind::TorchScript);
        }
        if names.iter().any(|n| n.ends_with("data.pkl")) {
            let class = zip_member_prefix(path, "data.pkl", 512).and_then(|p| first_pickle_global(&p));
            let state_dict = class.as_deref().is_some_and(|c| c.ends_with("OrderedDict") || c.starts_with("builtins.dict"));
            return Ok(FileKind::TorchSave { state_dict, class: class.filter(|_| !state_dict) });
        }
        return Ok(if names.is_empty() { FileKind::TorchScript } else { FileKind::OtherZip });
    }
    if magic.starts_with(b"\x89HDF\r\n\x1a\n") {
        return Ok(FileKind::Hdf5);
    }
    if magic.len() >= 2 && magic[0] == 0x80 && (2..=5).contains(&magic[1]) {
        return Ok(FileKind::LegacyTorchSave);
    }
    if magic.len() >= 9 && magic[8] == b'{' {
        return Ok(FileKind::Safetensors);
    }
    Ok(FileKind::Unknown)
}

/// The export recipe, for an input of `shape` (Python expression of an example batch).
pub fn export_hint(path: &Path, example: &str) -> String {
    format!(
        "export it as TorchScript: `torch.jit.trace(model.eval(), {example}).save(\"{}\")` (or `torch.jit.script(model.eval()).save(...)`; \
         dict outputs need `torch.jit.trace(..., strict=False)`)",
        path.display()
    )
}

/// Refuse anything that is not a TorchScript archive, saying what it is and how to export.
pub fn check_torchscript_file(path: &Path, example: &str) -> Result<()> {
    let p = path.display();
    let hint = export_hint(path, example);
    match sniff(path)? {
        FileKind::TorchScript => Ok(()),
        FileKind::TorchSave { state_dict: true, .. } => bail!(
            "model {p} is a torch.save checkpoint of a state_dict (weights only, no code), not TorchScript: \
             build the model class in Python, load_state_dict(torch.load(\"{p}\")), then {hint}"
        ),
        FileKind::TorchSave { class, .. } => bail!(
            "model {p} is a torch.save checkpoint of a pickled module{}, not TorchScript (it needs its Python class to load): \
             model = torch.load(\"{p}\", weights_only=False), then {hint}",
            class.map(|c| format!(" ({c})")).unwrap_or_default()
        ),
        FileKind::LegacyTorchSave => bail!("model {p} is a legacy torch.save pickle, not TorchScript: load it in Python with torch.load, then {hint}"),
        FileKind::Hdf5 => bail!(
            "model {p} is an HDF5 file (a Keras/TensorFlow model such as ChromBPNet's .h5), not TorchScript: port it to PyTorch \
             (e.g. bpnet-lite's BPNet.from_chrombpnet / chrombpnet-pytorch), then {hint}"
        ),
        FileKind::Safetensors => {
            bail!("model {p} is a safetensors file (weights only), not TorchScript: build the model in Python, load these weights, then {hint}")
        }
        FileKind::OtherZip => bail!("model {p} is a zip archive but not a TorchScript one (no code/ or constants.pkl inside): {hint}"),
        FileKind::Unknown => bail!("model {p} is not a TorchScript file (expected the zip archive torch.jit.save writes): {hint}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pickle_globals() {
        assert_eq!(first_pickle_global(b"\x80\x02ccollections\nOrderedDict\nq\x00").as_deref(), Some("collections.OrderedDict"));
        assert_eq!(first_pickle_global(b"\x80\x02c__main__\nNet\nq\x00").as_deref(), Some("__main__.Net"));
    }

    #[test]
    fn non_zip_kinds() {
        let d = tempfile::tempdir().unwrap();
        let h5 = d.path().join("m.h5");
        std::fs::write(&h5, b"\x89HDF\r\n\x1a\n0000000000").unwrap();
        assert_eq!(sniff(&h5).unwrap(), FileKind::Hdf5);
        let e = check_torchscript_file(&h5, "torch.zeros(1, 4, 2114)").unwrap_err().to_string();
        assert!(e.contains("HDF5") && e.contains("torch.jit.trace"), "{e}");
        let st = d.path().join("m.safetensors");
        std::fs::write(&st, b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":1}").unwrap();
        assert_eq!(sniff(&st).unwrap(), FileKind::Safetensors);
        let legacy = d.path().join("old.pt");
        std::fs::write(&legacy, b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.").unwrap();
        assert_eq!(sniff(&legacy).unwrap(), FileKind::LegacyTorchSave);
    }
}
