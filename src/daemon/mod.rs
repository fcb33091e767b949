//! The daemon: start-up (config check, state lock, store), the shared [`AppState`], logging,
//! single-flight run control and coalesced plans, the schedule, config reload on SIGHUP and
//! graceful shutdown.

pub mod control;
pub mod dev;
pub mod logging;
pub mod plans;
mod reload;
pub mod schedule;
pub mod serve;
pub mod start;
pub mod state;

pub use control::{Accepted, Queued, RunControl, Trigger};
pub use serve::{bind_api, enqueue, serve, ServeOptions};
pub use state::{AppState, Loaded, ReloadRecord, RunResult};
