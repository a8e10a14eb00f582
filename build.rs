//! Link-time wiring for libtorch.
//!
//! * rpath: the binaries (and tests/benches/examples) find libtorch's shared libraries without
//!   LD_LIBRARY_PATH.
//! * CUDA: the linker's `--as-needed` drops `libtorch_cuda.so` because no symbol of it is
//!   referenced directly, and then CUDA silently never appears. When the libtorch we build
//!   against ships `libtorch_cuda.so`, force it onto the DT_NEEDED list — of every target
//!   except the `peakscope` binary, which references no libtorch symbol so that the linker
//!   drops libtorch from it altogether (it starts in milliseconds and execs
//!   `peakscope-torch` for the commands that run models).
//! * The libtorch version we were built against is recorded for `peakscope doctor`.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // torch-sys declares `links = "tch"` and exports the lib dir as DEP_TCH_LIBTORCH_LIB.
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:warning=torch-sys did not report a libtorch lib dir; no rpath set");
        return;
    };
    let lib = PathBuf::from(lib);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    // `peakscope` references no libtorch symbol, but archive members it pulls in (the C++
    // wrapper of torch-sys) define inline functions that libtorch also exports; exported,
    // they would stay live and keep libtorch on DT_NEEDED. Not exporting archive symbols
    // from the executable lets --gc-sections drop them and --as-needed drop libtorch.
    println!("cargo:rustc-link-arg-bin=peakscope=-Wl,--exclude-libs,ALL");
    if lib.join("libtorch_cuda.so").exists() {
        for scope in ["-bin=peakscope-torch=", "-tests=", "-benches=", "-examples="] {
            println!("cargo:rustc-link-arg{scope}-Wl,--no-as-needed");
            println!("cargo:rustc-link-arg{scope}-ltorch_cuda");
            println!("cargo:rustc-link-arg{scope}-Wl,--as-needed");
        }
        println!("cargo:rustc-cfg=peakscope_cuda_linked");
    }
    println!("cargo::rustc-check-cfg=cfg(peakscope_cuda_linked)");
    let root = lib.parent().map(PathBuf::from).unwrap_or_default();
    // libtorch controls tch does not expose (autocast dtype, TF32, optimize_for_inference) and the
    // fast-ISM graph analysis
    println!("cargo:rerun-if-changed=src/model/ffi/torch_extras.cpp");
    println!("cargo:rerun-if-changed=src/model/ffi/fast_ism.cpp");
    let include = std::env::var("LIBTORCH_INCLUDE").map(PathBuf::from).unwrap_or_else(|_| root.clone()).join("include");
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={}", std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into())))
        .flag("-DGLOG_USE_GLOG_EXPORT")
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .file("src/model/ffi/torch_extras.cpp")
        .file("src/model/ffi/fast_ism.cpp")
        .compile("peakscope_torch_extras");
    let mut version = String::from("unknown");
    if let Ok(v) = std::fs::read_to_string(root.join("build-version")) {
        version = v.trim().to_string();
    } else if let Ok(v) = std::fs::read_to_string(root.join("version.py")) {
        for line in v.lines() {
            if let Some(rest) = line.strip_prefix("__version__") {
                version = rest.trim_start_matches([' ', '=']).trim().trim_matches(['\'', '"']).to_string();
            }
        }
    }
    println!("cargo:rustc-env=PEAKSCOPE_LIBTORCH_VERSION={version}");
    println!("cargo:rustc-env=PEAKSCOPE_LIBTORCH_LIB={}", lib.display());
}
