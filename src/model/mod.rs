//! TorchScript models: device selection, loading, batching, prediction and ISM.
pub mod device;
pub mod engine;
pub mod fast_ism;
pub mod ism;
pub mod predict;
pub mod zoo;

use crate::config::ModelConfig;
use anyhow::Result;

/// Doctor's check of one configured model: the file is a TorchScript archive, and with
/// `load` it also loads on CPU and answers a dummy batch with the declared layout.
pub fn check_model_file(m: &ModelConfig, load: bool) -> Result<String> {
    engine::check_torchscript_file(&m.path)?;
    if !load {
        return Ok("TorchScript archive (use --models to load it)".into());
    }
    let model = engine::Model::load(engine::ModelSpec::from_config(m), tch::Device::Cpu, engine::Precision::F32)?;
    Ok(format!("loads; {} target(s), {} output bin(s)", model.n_targets(), model.n_bins()))
}
