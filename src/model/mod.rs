//! TorchScript models: the model description, device selection, loading, the one
//! prediction service (windows, views, heads, f64 bin sums, output→track mapping), ISM, and
//! probing unknown model files.
pub mod checkpoint;
pub mod desc;
pub mod device;
pub mod engine;
pub mod fast_ism;
pub mod grad;
pub mod inspect;
pub mod ism;
pub mod predict;
pub mod service;
pub mod tf_activity;
pub mod variant_effect;
pub mod zoo;

use crate::config::ModelConfig;
use anyhow::Result;

/// Doctor's check of a model without libtorch: every file is a TorchScript archive (the
/// `peakscope` binary, which links no libtorch, runs this one).
pub fn check_model_archives(m: &ModelConfig) -> Result<String> {
    let spec = engine::ModelSpec::from_config(m);
    for f in spec.files() {
        checkpoint::check_torchscript_file(&f, &spec.example_input())?;
    }
    let n = spec.files().len();
    Ok(if n == 1 { "TorchScript archive (use --models to load it)".into() } else { format!("{n} TorchScript archives (use --models to load them)") })
}

/// Doctor's check of one configured model: every file is a TorchScript archive, and with
/// `load` the model also loads on CPU and answers a dummy batch with its declared heads; the
/// report then describes the output structure and the heads as read.
pub fn check_model_file(m: &ModelConfig, load: bool) -> Result<String> {
    let archives = check_model_archives(m)?;
    if !load {
        return Ok(archives);
    }
    let spec = engine::ModelSpec::from_config(m);
    let model = engine::Model::load(spec, tch::Device::Cpu, engine::Precision::F32)?;
    Ok(inspect::describe_loaded(&model))
}
