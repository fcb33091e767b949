//! fleetsync-sim: a faithful stand-in for a Dataiku DSS design node and for GitHub's REST API,
//! served over real HTTP on loopback. Used by the tests, the benchmark, `fleetd --dev` and
//! `fleetctl sim`. Its wire types are written from `shared/reference/`, independently of the
//! client code in fleetsync's `dss` and `github` modules (this crate does not depend on
//! fleetsync), so that a shared mistake stays visible.

pub mod dss;
pub mod git;
pub mod github;
pub mod settings;

pub use settings::SimSettings;

/// Both simulated services, running.
pub struct RunningSim {
    pub dss: dss::RunningDssSim,
    pub github: github::RunningGithubSim,
}
