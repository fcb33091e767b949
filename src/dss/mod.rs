//! The DSS side of discovery: a client of the DSS public API (`client`), its typed errors
//! (`error`), the inventory types (`types`) and the discovery of one node (`discover`).
//! Written from `shared/reference/dss-public-api.md`, independently of `crate::sim::dss`.

mod client;
mod discover;
mod error;
mod types;
mod wire;

pub use client::DssClient;
pub use discover::{discover, tags_managed, Discovery, NodeInventory};
pub use error::DssError;
pub use types::{DssInfra, DssPlugin, DssProject, InstanceInfo, PushOutcome};
