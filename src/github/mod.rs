//! The GitHub client, over octocrab: authentication (PAT or GitHub App installation tokens),
//! a bound on requests in flight, a write pacer, backoff that honours `retry-after` and
//! `x-ratelimit-reset`, an ETag cache kept in the store, and sealed-box secrets.
//!
//! Every request goes through [`transport`], which owns retries, pacing and accounting; the
//! typed operations in [`ops`] say what each GitHub endpoint takes and returns.

mod app_token;
mod error;
pub mod etag_cache;
mod gitdata;
mod ops;
mod org_actions;
pub mod pacing;
pub mod protection;
mod pulls;
mod ratelimit;
pub mod routes;
mod seal;
mod stats;
mod transport;
pub mod wire;

pub use error::GhError;
pub use etag_cache::EtagCache;
pub use ops::{FileWrite, FileWritten, ProtectionState, RepoCreate};
pub use org_actions::OrgCollection;
pub use pacing::{Pacer, PacingLimits};
pub use pulls::PullSummary;
pub use seal::seal_secret;
pub use stats::{RequestStats, StatsSnapshot};
pub use transport::{GithubAuthSecret, GithubClient, GithubOptions};
