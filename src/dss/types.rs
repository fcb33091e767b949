//! The inventory types discovery hands to later stages: projects, dev plugins, deployer
//! infrastructures, and the outcome of a push.

use serde::Serialize;

/// A DSS project, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DssProject {
    /// Project key (`[A-Z0-9_]`).
    pub key: String,
    /// Display name.
    pub name: String,
    /// Short description (empty when DSS gives none).
    pub short_desc: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Owner's login (empty when DSS gives none).
    pub owner: String,
    /// `versionTag.versionNumber`.
    pub version: Option<u64>,
    /// `versionTag.lastModifiedOn`, epoch milliseconds.
    pub last_modified_ms: Option<i64>,
}

/// A DSS plugin, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DssPlugin {
    /// Plugin id.
    pub id: String,
    /// Plugin version (empty when DSS gives none).
    pub version: String,
    /// A development plugin (editable on the node).
    pub is_dev: bool,
    /// `meta.label`.
    pub label: String,
    /// `meta.description`.
    pub description: String,
}

/// A Project Deployer infrastructure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DssInfra {
    /// Infrastructure id.
    pub id: String,
    /// Its stage, when DSS gives one.
    pub stage: Option<String>,
}

/// The answer to a project git push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushOutcome {
    /// Whether DSS says the push worked.
    pub success: bool,
    /// Git's output.
    pub output: String,
}

/// `GET /instance-info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceInfo {
    /// Node id.
    pub node_id: String,
    /// Node display name.
    pub node_name: String,
    /// `DESIGN`, `AUTOMATION` or `DEPLOYER`.
    pub node_type: String,
}
