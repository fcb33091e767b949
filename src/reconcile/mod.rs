//! reconcile: one run, wiring the stages — discover (DSS) → desire → observe (GitHub) → plan →
//! guard → apply → record (SQLite, metrics). Used in-process by `fleetctl plan` and
//! `fleetctl reconcile --local`, and by the daemon through [`crate::daemon::RunEngine`].

mod engine;
mod record;
mod sources;

pub use engine::{Engine, Progress, ProgressFn, RunOptions, RunReport};
