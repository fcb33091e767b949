//! Simulated GitHub REST API, see `shared/reference/github-rest.md` and the OpenAPI subset.

use serde::Deserialize;

/// Knobs of the simulated GitHub.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GithubSimSettings {}
