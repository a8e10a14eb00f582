//! Background workers. A dedicated thread owns the models and their device; callers send
//! requests on a channel and receive events (results, streamed ISM chunks) on another.
pub mod eval;
pub mod eval_input;
pub mod model_worker;
pub mod view;

pub use model_worker::{ModelEvent, ModelInfo, ModelRequest, ModelWorker};
