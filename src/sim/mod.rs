//! The simulator: a faithful stand-in for a Dataiku DSS design node and for GitHub's REST API,
//! served over real HTTP on loopback. Used by the tests, the benchmark, `fleetd --dev` and
//! `fleetctl sim`. Its wire types are written from `shared/reference/`, independently of the
//! client code in `crate::dss` and `crate::github`, so that a shared mistake stays visible.

pub mod dss;
pub mod github;
pub mod settings;

pub use settings::SimSettings;
