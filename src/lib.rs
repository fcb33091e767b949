//! fleetsync: keeps a fleet of GitHub repositories in step with the projects and plugins of a
//! Dataiku DSS design node.
//!
//! One module per pipeline stage (discover → desire → observe → plan → guard → apply → record),
//! plus the store, the daemon pieces and the simulator used by tests, benchmarks and `--dev`.

pub mod api;
pub mod apply;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod desired;
pub mod dss;
pub mod github;
pub mod guard;
pub mod metrics;
pub mod observe;
pub mod plan;
pub mod reconcile;
pub mod sim;
pub mod store;
