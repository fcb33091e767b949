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
    /// Project metadata custom fields (read when `[dss.overrides]` names some).
    pub custom: BTreeMap<String, serde_json::Value>,
    /// Deployer infrastructure ids `(staging, prod)` when `[dss.infra] fill_variables`.
    #[serde(skip)]
    pub infra: Option<Result<(String, String), String>>,
    /// A dev plugin's files from its zip download (when mirroring), or why they could not
    /// be read.
    #[serde(skip)]
    pub mirror: Option<Result<BTreeMap<String, Vec<u8>>, String>>,
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

/// The DSS side of a project repo: its git remote and a first push.
#[derive(Debug, Clone, PartialEq)]
pub struct DssLink {
    pub node: String,
    pub key: String,
    pub remote_name: String,
    pub url: String,
    pub overwrite: bool,
    pub push: bool,
    /// The project's branch DSS pushes (the repo's default branch when `push`).
    pub branch: String,
}

impl DssLink {
    /// Whether the repo is made from the project's history: created empty, filled by the
    /// project's push, fleetsync's files committed on top (linking with a push).
    pub fn history_first(&self) -> bool {
        self.push
    }
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
    /// Org-scoped variables this repo reads (their value is the org's, set by the fleet-level
    /// phase; the repo's only part is being in the selection).
    pub org_variables: std::collections::BTreeSet<String>,
    /// Org-scoped secrets this repo reads.
    pub org_secrets: std::collections::BTreeSet<String>,
    /// Repo-level copies fleetsync wrote of names that are org-scoped now: each would hide
    /// the org's value from this repo, so it is deleted (set by the converge pass from what
    /// fleetsync last applied; empty from [`crate::desired::build_one`]).
    pub retired_secrets: std::collections::BTreeSet<String>,
    /// The same for variables.
    pub retired_variables: std::collections::BTreeSet<String>,
    /// Files, variables and secrets fleetsync wrote to this repo that the config no longer
    /// asks for (set by the converge pass from what fleetsync last applied; empty from
    /// [`crate::desired::build_one`]). Each is deleted when GitHub still holds it exactly as
    /// fleetsync wrote it, and otherwise left in place (the plan says so).
    pub removed: Removed,
    pub protection: BTreeMap<String, ProtectionSpec>,
    /// A dev plugin's files, mirrored into the repo as one commit when they change.
    pub mirror: BTreeMap<String, FileSpec>,
    /// The project's DSS git remote, when linking is on.
    pub dss_link: Option<DssLink>,
    /// The ownership marker of this run (set by the reconcile once it knows where the
    /// organisation lets it write one; `None` plans no marker).
    pub marker: Option<crate::ownership::MarkerSpec>,
}

impl RepoSpec {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// Notes the org-scoped names of which fleetsync wrote a repo-level copy (`wrote` says
    /// whether it did, for `secret` or `variable` and a name).
    pub fn retire_copies(&mut self, wrote: impl Fn(&str, &str) -> bool) {
        self.retired_secrets = self
            .org_secrets
            .iter()
            .filter(|n| wrote("secret", n))
            .cloned()
            .collect();
        self.retired_variables = self
            .org_variables
            .iter()
            .filter(|n| wrote("variable", n))
            .cloned()
            .collect();
    }

    /// Notes what fleetsync wrote (`addresses`: the repo's last-applied records) that this
    /// spec no longer has: files (neither managed nor mirrored now), variables and secrets
    /// (neither repo-level nor org-scoped now). Branches and protection are never removed.
    pub fn note_removed<'a>(&mut self, addresses: impl IntoIterator<Item = &'a str>) {
        let full = self.full_name();
        let (file, var, sec) = (
            format!("file:{full}/"),
            format!("variable:{full}/"),
            format!("secret:{full}/"),
        );
        let mut removed = Removed::default();
        for a in addresses {
            if let Some(p) = a.strip_prefix(&file) {
                if !self.files.contains_key(p) && !self.mirror.contains_key(p) {
                    removed.files.insert(p.to_string());
                }
            } else if let Some(n) = a.strip_prefix(&var) {
                if !self.variables.contains_key(n) && !self.org_variables.contains(n) {
                    removed.variables.insert(n.to_string());
                }
            } else if let Some(n) = a.strip_prefix(&sec) {
                if !self.secrets.contains_key(n) && !self.org_secrets.contains(n) {
                    removed.secrets.insert(n.to_string());
                }
            }
        }
        self.removed = removed;
    }

    /// Whether changes to `branch` must go through a reviewed pull request (its protection
    /// requires reviews), rather than a direct commit.
    pub fn needs_review(&self, branch: &str) -> bool {
        self.protection
            .get(branch)
            .is_some_and(|p| p.required_approving_review_count.is_some())
    }

    /// Whether the repo is made from the DSS project's history (see [`DssLink::history_first`]).
    pub fn history_first(&self) -> bool {
        self.dss_link.as_ref().is_some_and(DssLink::history_first)
    }
}

/// What fleetsync wrote to a repo and the config no longer asks for (see
/// [`RepoSpec::note_removed`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    /// Paths on the default branch.
    pub files: std::collections::BTreeSet<String>,
    /// Actions variable names.
    pub variables: std::collections::BTreeSet<String>,
    /// Actions secret names.
    pub secrets: std::collections::BTreeSet<String>,
}

impl Removed {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.variables.is_empty() && self.secrets.is_empty()
    }
}

/// SHA-256 of a value's canonical JSON, hex (first 16 bytes).
pub fn fingerprint<T: Serialize + ?Sized>(value: &T) -> String {
    let text = serde_json::to_string(value).unwrap_or_default();
    let d = Sha256::digest(text.as_bytes());
    hex::encode(&d[..16])
}

/// The branch fleetsync proposes its managed files for `base` from.
pub fn proposal_branch(base: &str) -> String {
    format!("fleetsync/{base}")
}
