//! Background work. [`worker`] is the one job abstraction (newest request wins, cancel,
//! progress, typed replies, orderly shutdown); a dedicated thread owns the models and their
//! device ([`model_worker`]); [`eval`] is the evaluation job; [`view`] holds the
//! environments the terminal UI's tasks run in.
pub mod eval;
pub mod eval_input;
pub mod model_worker;
pub mod remote;
pub mod variants;
pub mod view;
pub mod worker;

pub use model_worker::{ModelEvent, ModelInfo, ModelRequest, ModelWorker};
