//! fleetsync: keeps a fleet of GitHub repositories in step with the projects and plugins of a
//! Dataiku DSS design node.
//!
//! One module per pipeline stage (discover → desire → observe → plan → guard → apply → record),
//! plus the store and the daemon pieces. The simulator is its own crate (`fleetsync-sim`); with
//! the default-on `dev` feature, [`dev_sim`] starts it for `fleetd --dev` and `fleetctl sim`.

pub mod api;
pub mod apply;
pub mod build_info;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod desired;
#[cfg(feature = "dev")]
pub mod dev_sim;
pub mod dss;
pub mod github;
pub mod guard;
pub mod metrics;
pub mod observe;
pub mod ownership;
pub mod plan;
pub mod reconcile;
pub mod store;
