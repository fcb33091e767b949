//! Simulated Dataiku DSS design node (public API), see `shared/reference/dss-public-api.md`.

use serde::Deserialize;

/// Knobs of the simulated DSS node.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DssSimSettings {}
