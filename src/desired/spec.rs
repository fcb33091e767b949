//! The desired state of one repository and of each resource in it.

use super::protection::ProtectionSpec;
use crate::config::{FileMode, SecretValue};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// What a repo mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Project,
    Plugin,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Project => "project",
            SourceKind::Plugin => "plugin",
        }
    }
}

/// A project or dev plugin found on a DSS node (the part of the inventory desire reads).
#[derive(Debug, Clone, Serialize)]
pub struct SourceObject {
    pub kind: SourceKind,
    pub node: String,
    pub node_url: String,
    pub repo_prefix: String,
    /// Project key or plugin id.
    pub key: String,
    pub name: String,
    pub tags: Vec<String>,
    pub owner: String,
    pub short_desc: String,
    pub version: String,
}

/// A managed file.
#[derive(Debug, Clone)]
pub struct FileSpec {
    pub content: Vec<u8>,
    /// git's blob SHA of `content` (compared against the recursive tree).
    pub blob_sha: String,
    pub mode: FileMode,
}

/// A secret: where its value comes from, the value (redacted in Debug), its keyed fingerprint.
#[derive(Debug, Clone)]
pub struct SecretSpec {
    pub source: String,
    pub value: SecretValue,
    pub fingerprint: String,
}

/// The desired state of one repository.
#[derive(Debug, Clone)]
pub struct RepoSpec {
    pub owner: String,
    pub name: String,
    pub source: SourceObject,
    pub description: String,
    pub visibility: String,
    pub default_branch: String,
    pub topics: Vec<String>,
    /// Branches that must exist besides the default one.
    pub branches: Vec<String>,
    pub files: BTreeMap<String, FileSpec>,
    pub variables: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, SecretSpec>,
    pub protection: BTreeMap<String, ProtectionSpec>,
}

impl RepoSpec {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// SHA-256 of a value's canonical JSON, hex (first 16 bytes).
pub fn fingerprint<T: Serialize + ?Sized>(value: &T) -> String {
    let text = serde_json::to_string(value).unwrap_or_default();
    let d = Sha256::digest(text.as_bytes());
    hex::encode(&d[..16])
}
