//! Evaluation: pure metric functions, streaming accumulators and stratification by
//! cell-type specificity. No IO, no threads: the eval job (src/jobs/eval.rs) feeds it.
pub mod metrics;
pub mod report;
pub mod strata;
pub mod stream;
pub mod variants;
