//! Knobs of the simulator, as they appear in the `[sim]` section of a fleet config
//! (used by `fleetd --dev` and `fleetctl sim`) and as tests build them in code.

use serde::Deserialize;

/// Settings for both simulated services.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimSettings {
    /// The simulated DSS design node.
    pub dss: crate::dss::DssSimSettings,
    /// The simulated GitHub.
    pub github: crate::github::GithubSimSettings,
}
