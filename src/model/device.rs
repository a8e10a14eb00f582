//! Compute devices: parsing `--device`, and what this libtorch can see.
use anyhow::{bail, Result};
use tch::Device;

/// Parse `auto|cpu|cuda|cuda:N`. `auto` is the first CUDA device when one is usable.
pub fn parse_device(s: &str) -> Result<Device> {
    let s = s.trim().to_ascii_lowercase();
    let cuda_n = |n: usize| -> Result<Device> {
        if !tch::Cuda::is_available() {
            bail!(
                "--device {s}: CUDA is not available here ({}); use --device cpu",
                if cuda_linked() { "libtorch_cuda is linked but no GPU/driver was found" } else { "this build's libtorch has no CUDA" }
            );
        }
        let count = tch::Cuda::device_count() as usize;
        if n >= count {
            bail!("--device {s}: there are {count} CUDA device(s) (cuda:0..cuda:{})", count.saturating_sub(1));
        }
        Ok(Device::Cuda(n))
    };
    match s.as_str() {
        "auto" => Ok(if tch::Cuda::is_available() { Device::Cuda(0) } else { Device::Cpu }),
        "cpu" => Ok(Device::Cpu),
        "cuda" | "gpu" => cuda_n(0),
        other => match other.strip_prefix("cuda:").map(|n| n.parse::<usize>()) {
            Some(Ok(n)) => cuda_n(n),
            _ => bail!("--device '{s}': expected auto, cpu, cuda or cuda:N"),
        },
    }
}

pub fn device_label(d: Device) -> String {
    match d {
        Device::Cpu => "cpu".into(),
        Device::Cuda(n) => format!("cuda:{n}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Whether the binary was linked against libtorch_cuda (see build.rs).
pub fn cuda_linked() -> bool {
    cfg!(peakscope_cuda_linked)
}

/// The libtorch version this binary was built against.
pub fn libtorch_version() -> &'static str {
    env!("PEAKSCOPE_LIBTORCH_VERSION")
}

pub fn libtorch_lib_dir() -> &'static str {
    env!("PEAKSCOPE_LIBTORCH_LIB")
}

/// The CUDA device's marketing name (e.g. "NVIDIA H100 80GB HBM3"), read through the CUDA
/// runtime that libtorch_cuda loaded; `None` when unavailable.
pub fn cuda_device_name(index: usize) -> Option<String> {
    if !tch::Cuda::is_available() {
        return None;
    }
    type GetProps = unsafe extern "C" fn(*mut u8, i32) -> i32;
    for sym in [c"cudaGetDeviceProperties_v2", c"cudaGetDeviceProperties"] {
        // SAFETY: dlsym with a NUL-terminated symbol name only looks the symbol up.
        let f = unsafe { libc::dlsym(libc::RTLD_DEFAULT, sym.as_ptr()) };
        if f.is_null() {
            continue;
        }
        // SAFETY: `f` is non-null and is the CUDA runtime's cudaGetDeviceProperties(_v2),
        // whose C signature is `cudaError_t (cudaDeviceProp*, int)`, as GetProps declares.
        let f: GetProps = unsafe { std::mem::transmute(f) };
        // cudaDeviceProp is ~1 KiB and starts with `char name[256]`; oversize the buffer.
        let mut buf = vec![0u8; 1 << 14];
        // SAFETY: the buffer (16 KiB) is larger than any cudaDeviceProp (about 1 KiB).
        if unsafe { f(buf.as_mut_ptr(), index as i32) } == 0 {
            let end = buf[..256].iter().position(|&b| b == 0).unwrap_or(256);
            return Some(String::from_utf8_lossy(&buf[..end]).into_owned());
        }
    }
    // fall back to the driver tool
    let out = std::process::Command::new("nvidia-smi").args(["--query-gpu=name", "--format=csv,noheader", "-i", &index.to_string()]).output().ok()?;
    let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_strings() {
        assert_eq!(parse_device("cpu").unwrap(), Device::Cpu);
        assert_eq!(parse_device(" CPU ").unwrap(), Device::Cpu);
        assert!(parse_device("tpu").unwrap_err().to_string().contains("expected auto"));
        if !tch::Cuda::is_available() {
            assert_eq!(parse_device("auto").unwrap(), Device::Cpu);
            let e = parse_device("cuda:0").unwrap_err().to_string();
            assert!(e.contains("CUDA is not available") && e.contains("--device cpu"), "{e}");
        }
    }
}
