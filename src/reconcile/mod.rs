//! reconcile: one run, wiring the stages — discover (DSS) → desire → observe (GitHub) → plan →
//! guard → apply → record (SQLite, metrics). Used in-process by `fleetctl plan` and
//! `fleetctl reconcile --local`, and by the daemon through [`crate::daemon::AppState`].
//!
//! | module | phase |
//! |---|---|
//! | `discovery` | list every node, judge each listing (known, suspicious drop, unknown) |
//! | `naming` | load the state the run's safety rests on; name every source |
//! | `removal` | the guard's decision, tombstones, and the removals |
//! | `converge` | per repo: build → observe → plan → apply → record, streamed |
//! | `org` | fleet level: org-scoped secrets and variables and their repository selection |
//! | `report` | status, summary and report |
//! | `observer` | metrics and health, always present |

mod claim;
mod converge;
mod discovery;
mod engine;
mod naming;
mod observer;
mod org;
mod ownership;
mod record;
mod removal;
mod report;
mod sources;
mod status;

pub use engine::{pacing_limits, Engine, Progress, ProgressFn, RunOptions};
pub use observer::{RunObserver, PENDING_REMOVAL};
pub use report::RunReport;
pub use status::{RunError, RunStatus, SetupError};
