//! The daemon: logging, single-flight run control, the schedule and graceful shutdown.

pub mod control;
pub mod logging;

pub use control::{Accepted, Queued, RunControl, Trigger};
