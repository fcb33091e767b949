//! The daemon: logging, single-flight run control, the schedule and graceful shutdown.

pub mod control;
pub mod dev;
pub mod logging;
pub mod serve;

pub use control::{Accepted, Queued, RunControl, Trigger};
pub use serve::{bind_api, enqueue, serve, DaemonParts, RunEngine, RunResult};
