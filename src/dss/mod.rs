//! The DSS side of discovery: a client of the DSS public API (`client`), its typed errors
//! (`error`), the inventory types (`types`) and the discovery of one node (`discover`).
//! Written from `shared/reference/dss-public-api.md`, independently of `fleetsync_sim::dss`.

mod client;
mod discover;
mod error;
mod types;
mod wire;

pub use client::DssClient;
pub use discover::{discover, tags_managed, Discovery, NodeInventory, UnknownCause};
pub use error::DssError;
pub use types::{DssInfra, DssPlugin, DssProject, InstanceInfo, PushOutcome};

/// Decodes a `GET /projects/` body exactly as [`DssClient::list_projects`] does (public for
/// the fuzz target in `fuzz/`).
pub fn decode_projects(body: &[u8]) -> Result<Vec<DssProject>, serde_json::Error> {
    serde_json::from_slice::<Vec<wire::ProjectItem>>(body)
        .map(|v| v.into_iter().map(DssProject::from).collect())
}

/// Decodes a `GET /plugins/` body exactly as [`DssClient::list_plugins`] does (for `fuzz/`).
pub fn decode_plugins(body: &[u8]) -> Result<Vec<DssPlugin>, serde_json::Error> {
    serde_json::from_slice::<Vec<wire::PluginItem>>(body)
        .map(|v| v.into_iter().map(DssPlugin::from).collect())
}
