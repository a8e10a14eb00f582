//! peakscope: a terminal genome explorer for sequence-to-function models.
//!
//! Layers, with dependencies pointing one way:
//! `genome` (pure data access) ← `model` (TorchScript, ISM) ← `cli`.
pub mod cli;
pub mod model;
pub mod config;
pub mod demo;
pub mod eval;
pub mod genome;
pub mod jobs;
