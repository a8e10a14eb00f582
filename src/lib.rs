//! peakscope: a terminal genome explorer for sequence-to-function models.
//!
//! Layers, with dependencies pointing one way: `genome` (pure data access) and `eval`
//! (pure metrics) ← `model` (TorchScript, ISM) ← `jobs` (worker threads, the eval job) ←
//! `demo` (synthetic dataset, training) ← `cli`.
pub mod cli;
pub mod config;
pub mod demo;
pub mod eval;
pub mod genome;
pub mod jobs;
pub mod logging;
pub mod model;
pub mod shard;
pub mod tui;
