//! fleetsync's own view of GitHub's JSON: only the fields it reads, tolerant of the rest.
//! Written from GitHub's REST description, independently of the simulator.

use serde::Deserialize;

/// `full-repository` / `minimal-repository`, the fields fleetsync reads.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Repo {
    /// GitHub's numeric id (what org secret and variable selections name).
    pub id: u64,
    /// Name.
    pub name: String,
    /// `owner/name`: after a followed redirect, the repo's new place.
    #[serde(default)]
    pub full_name: Option<String>,
    /// Custom property values set on the repo (the ownership marker may be one).
    #[serde(default)]
    pub custom_properties: Option<std::collections::BTreeMap<String, serde_json::Value>>,
    /// Whether private.
    #[serde(default)]
    pub private: bool,
    /// `public`, `private`, `internal`.
    #[serde(default)]
    pub visibility: Option<String>,
    /// Archived (read-only).
    #[serde(default)]
    pub archived: bool,
    /// Default branch.
    #[serde(default)]
    pub default_branch: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Topics.
    #[serde(default)]
    pub topics: Option<Vec<String>>,
    /// SSH clone URL.
    #[serde(default)]
    pub ssh_url: Option<String>,
    /// HTTPS clone URL.
    #[serde(default)]
    pub clone_url: Option<String>,
    /// Web URL.
    #[serde(default)]
    pub html_url: Option<String>,
}

/// A repository custom property the organisation defines (`custom-property`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CustomProperty {
    pub property_name: String,
    /// `string`, `single_select`, `multi_select`, `true_false`, `url`.
    #[serde(default)]
    pub value_type: Option<String>,
    /// `org_actors` or `org_and_repo_actors`.
    #[serde(default)]
    pub values_editable_by: Option<String>,
}

/// One entry of a git tree.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct TreeEntry {
    /// Path from the repo root.
    pub path: String,
    /// `blob`, `tree`, `commit`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Object SHA.
    pub sha: String,
}

/// A git tree (recursive).
#[derive(Debug, Clone, Deserialize)]
pub struct Tree {
    /// Tree SHA.
    pub sha: String,
    /// Whether GitHub cut the listing short.
    #[serde(default)]
    pub truncated: bool,
    /// Entries.
    pub tree: Vec<TreeEntry>,
}

/// A git ref.
#[derive(Debug, Clone, Deserialize)]
pub struct GitRef {
    /// `refs/heads/…`.
    #[serde(rename = "ref")]
    pub name: String,
    /// What it points at.
    pub object: GitObject,
}

/// The object a ref points at.
#[derive(Debug, Clone, Deserialize)]
pub struct GitObject {
    /// SHA.
    pub sha: String,
}

/// The repo's Actions public key.
#[derive(Debug, Clone, Deserialize)]
pub struct PublicKey {
    /// Key id to send back.
    pub key_id: String,
    /// Base64 X25519 public key.
    pub key: String,
}

/// An Actions secret (no value: GitHub never returns it).
#[derive(Debug, Clone, Deserialize)]
pub struct Secret {
    /// Name.
    pub name: String,
    /// Last update.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A page of secrets.
#[derive(Debug, Clone, Deserialize)]
pub struct SecretList {
    /// Total across pages.
    pub total_count: u64,
    /// This page.
    pub secrets: Vec<Secret>,
}

/// An Actions variable.
#[derive(Debug, Clone, Deserialize)]
pub struct Variable {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// A page of variables.
#[derive(Debug, Clone, Deserialize)]
pub struct VariableList {
    /// Total across pages.
    pub total_count: u64,
    /// This page.
    pub variables: Vec<Variable>,
}

/// The answer to a contents PUT.
#[derive(Debug, Clone, Deserialize)]
pub struct FileCommit {
    /// The file written.
    pub content: Option<FileContent>,
    /// The commit made.
    #[serde(default)]
    pub commit: Option<GitObject>,
}

/// A file's identity after a write.
#[derive(Debug, Clone, Deserialize)]
pub struct FileContent {
    /// Blob SHA.
    pub sha: String,
}

/// An organisation Actions secret (no value).
#[derive(Debug, Clone, Deserialize)]
pub struct OrgSecret {
    /// Name.
    pub name: String,
    /// Last update.
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// `all`, `private` or `selected`.
    pub visibility: String,
}

/// A page of organisation secrets.
#[derive(Debug, Clone, Deserialize)]
pub struct OrgSecretList {
    /// Total across pages.
    pub total_count: u64,
    /// This page.
    pub secrets: Vec<OrgSecret>,
}

/// An organisation Actions variable.
#[derive(Debug, Clone, Deserialize)]
pub struct OrgVariable {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
    /// Last update.
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// `all`, `private` or `selected`.
    pub visibility: String,
}

/// A page of organisation variables.
#[derive(Debug, Clone, Deserialize)]
pub struct OrgVariableList {
    /// Total across pages.
    pub total_count: u64,
    /// This page.
    pub variables: Vec<OrgVariable>,
}

/// A repository of a selection (`minimal-repository`, the fields read).
#[derive(Debug, Clone, Deserialize)]
pub struct SelectedRepo {
    /// Id.
    pub id: u64,
    /// `owner/name`.
    pub full_name: String,
}

/// A page of a secret's or variable's selected repositories.
#[derive(Debug, Clone, Deserialize)]
pub struct SelectedRepoList {
    /// Total across pages.
    pub total_count: u64,
    /// This page.
    pub repositories: Vec<SelectedRepo>,
}
