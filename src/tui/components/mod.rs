//! The UI's components and the one place they are registered ([`all`]).
//!
//! # Adding a panel (variants, TF activity, logos, …)
//!
//! A panel and the data it needs live in one file, `components/NAME.rs`:
//!
//! 1. State: a struct that implements [`Component`](super::component::Component) with
//!    `NAME` (its session name), `PANEL = true`, and an `Event` enum for its replies.
//! 2. Data: a task struct implementing [`Task`](crate::jobs::worker::Task) over the
//!    environment it needs — [`Reader`](crate::jobs::view::Reader) (bigWigs),
//!    [`ModelClient`](crate::jobs::remote::ModelClient) (the models, in the model server
//!    process) or `()` (a long run with its own resources, like the evaluation). Its `run` calls
//!    the synchronous library and sends `Self::Event`s with `ctx.emit`; `key()` names its
//!    newest-wins lane; long work polls `ctx.cancelled()`.
//! 3. `update`: on `Event::Command(action, count)` for its own commands return
//!    `Outcome::Done(jobs)` (e.g. `Job::Model(Box::new(MyTask { .. }))`) and `Ignored` for
//!    others; on `Event::Refresh` (the view, selection or models changed, or the panel was
//!    opened) ask for what is missing; on `Event::Reply(..)` store the results. Shared
//!    things (locus, selection, focused track, prediction cache, status line) are in
//!    [`Shared`](super::shared::Shared).
//! 4. `draw(area, buf, shared)` draws the panel; it must stay inside `area` at any size.
//! 5. Register it: one line in [`all`] below (the order is the Tab order).
//!
//! New keys for it: one line each in the command table ([`super::commands`]); keymap,
//! `keys.toml` rebinding and help follow from it. Nothing else changes: the App routes
//! commands, refreshes and replies to it by its position in [`all`], the runtime runs its
//! tasks on the right thread, and sessions save the open panel by `NAME`.
pub mod ism;
pub mod logo;
pub mod metrics;
pub mod peaks;
pub mod tf;
pub mod tracks;
pub mod variants;

use super::component::DynComponent;

/// Every component, in order: the main view first, then the panels in Tab order.
pub fn all() -> Vec<Box<dyn DynComponent>> {
    vec![
        Box::new(tracks::Tracks::default()),
        Box::new(ism::Ism::default()),
        Box::new(metrics::Metrics::default()),
        Box::new(peaks::PeakList::default()),
        Box::new(tf::TfPanel::default()),
        Box::new(variants::VariantPanel::default()),
    ]
}
