//! The plan's vocabulary: steps, reasons, drift findings and blocked deletions.

use super::address::{Address, Kind};
use super::change::Change;
use crate::config::SecretValue;
use crate::desired::ProtectionSpec;
use serde::Serialize;
use std::sync::Arc;

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Archive,
    Delete,
    /// Stop managing (orphan policy): nothing is sent to GitHub.
    Forget,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Archive => "archive",
            Action::Delete => "delete",
            Action::Forget => "forget",
        }
    }
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Archive | Action::Delete | Action::Forget => "-",
        }
    }
}

/// Why a step is needed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// A project with no repo yet.
    NewProject,
    /// A dev plugin with no repo yet.
    NewPlugin,
    /// The resource is not on GitHub yet and fleetsync never wrote it.
    NewResource,
    /// The config (or a template, or the inventory) now renders something else.
    ConfigChanged { what: String },
    /// Changed on GitHub after fleetsync's last write.
    Drift { what: String },
    /// The secret's source value changed (its keyed fingerprint differs).
    SecretSourceChanged,
    /// GitHub has the secret but fleetsync has no record of writing it.
    SecretUnverified,
    /// The name is org-scoped now: the repo's own copy would hide the org's value.
    MovedToOrg,
    /// fleetsync wrote it, the config no longer asks for it, and GitHub still holds it as
    /// written.
    RemovedFromConfig,
    /// The project or plugin is gone from DSS.
    ProjectGone { since: String },
    /// The project came back, its repo is archived (by fleetsync, for the removal).
    ProjectBack,
    /// A branch's managed files differ from what the config renders.
    FilesDiffer { files: Vec<String> },
    /// The repo exists without a marker and is taken over (why).
    Adopted { why: String },
}

impl Reason {
    pub fn describe(&self) -> String {
        match self {
            Reason::NewProject => "new project".into(),
            Reason::NewPlugin => "new dev plugin".into(),
            Reason::NewResource => "not on GitHub yet".into(),
            Reason::ConfigChanged { what } => format!("config changed: {what}"),
            Reason::Drift { what } => format!("drift: {what}"),
            Reason::SecretSourceChanged => "secret source changed".into(),
            Reason::SecretUnverified => "not written by fleetsync before".into(),
            Reason::MovedToOrg => {
                "org-scoped now; the repo's own copy would hide the org's value".into()
            }
            Reason::RemovedFromConfig => {
                "no longer in the config; fleetsync wrote it and GitHub holds it as written".into()
            }
            Reason::ProjectGone { since } => format!("project gone since {since}"),
            Reason::ProjectBack => "project is back; fleetsync archived the repo".into(),
            Reason::FilesDiffer { files } => format!("managed files differ: {}", files.join(", ")),
            Reason::Adopted { why } => format!("adopted: {why}"),
        }
    }
    pub fn is_drift(&self) -> bool {
        matches!(self, Reason::Drift { .. })
    }
}

/// The changes to a repo's own settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RepoPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
}

/// A file's content as a step carries it (never serialised: plans show paths and SHAs).
#[derive(Clone, PartialEq)]
pub struct Content(pub Arc<Vec<u8>>);

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

/// The operation a step performs, with everything apply needs to perform it: apply never
/// looks values up again. Values are not serialised here: a secret's never, and what a plan
/// shows of the others (a variable's value, a file's diff) is in the step's [`Change`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    CreateRepo {
        #[serde(skip)]
        description: String,
        #[serde(skip)]
        visibility: String,
        #[serde(skip)]
        default_branch: String,
        /// With a first commit; `false`: empty, for the project's push to fill.
        auto_init: bool,
        /// The ownership marker the repo is created with (and that a repo found there
        /// must already carry to be taken as this run's own creation).
        #[serde(skip)]
        marker: Option<crate::ownership::MarkerSpec>,
    },
    /// Writes the ownership marker property of an existing repo (adoption).
    SetMarker {
        property: String,
        value: String,
    },
    UpdateRepo {
        patch: RepoPatch,
    },
    ReplaceTopics {
        topics: Vec<String>,
    },
    CreateBranch {
        branch: String,
        /// The branch it is cut from (the default branch).
        #[serde(skip)]
        from: String,
    },
    PutFile {
        path: String,
        sha: Option<String>,
        #[serde(skip)]
        branch: String,
        #[serde(skip)]
        content: Content,
        #[serde(skip)]
        blob_sha: String,
        /// Written with the other batched files of its branch as one commit (Git Data API)
        /// rather than one contents PUT (one commit) per file.
        batched: bool,
    },
    CreateVariable {
        name: String,
        #[serde(skip)]
        value: String,
    },
    UpdateVariable {
        name: String,
        #[serde(skip)]
        value: String,
    },
    PutSecret {
        name: String,
        /// Redacted in `Debug`, never serialised.
        #[serde(skip)]
        value: SecretValue,
    },
    PutProtection {
        branch: String,
        #[serde(skip)]
        protection: ProtectionSpec,
    },
    ArchiveRepo,
    DeleteRepo,
    ForgetRepo,
    /// Write the plugin's changed files as one commit (Git Data API).
    MirrorFiles {
        changed: Vec<String>,
        #[serde(skip)]
        files: Vec<(String, Content)>,
        #[serde(skip)]
        branch: String,
        #[serde(skip)]
        message: String,
    },
    /// Delete a file fleetsync wrote that the config no longer names (it must still hold
    /// the blob fleetsync wrote, `sha`).
    DeleteFile {
        path: String,
        sha: String,
        #[serde(skip)]
        branch: String,
    },
    /// Delete a repo's own copy of a secret that is org-scoped now.
    DeleteSecret {
        name: String,
    },
    /// Delete a repo's own copy of a variable that is org-scoped now.
    DeleteVariable {
        name: String,
    },
    /// Write an org secret (sealed with the org's key) with visibility `selected` and its
    /// repositories, in one request.
    PutOrgSecret {
        name: String,
        /// Redacted in `Debug`, never serialised.
        #[serde(skip)]
        value: SecretValue,
        #[serde(skip)]
        repository_ids: Vec<u64>,
        /// How many repositories may read it.
        repos: usize,
    },
    /// Create an org variable (visibility `selected`) with its repositories.
    CreateOrgVariable {
        name: String,
        #[serde(skip)]
        value: String,
        #[serde(skip)]
        repository_ids: Vec<u64>,
        repos: usize,
    },
    /// Update an org variable's value, visibility and repositories in one request.
    UpdateOrgVariable {
        name: String,
        #[serde(skip)]
        value: String,
        #[serde(skip)]
        repository_ids: Vec<u64>,
        repos: usize,
    },
    /// Replace the repositories an org secret or variable is selected for.
    SetOrgSelection {
        /// `secret` or `variable`.
        of: OrgItemKind,
        name: String,
        #[serde(skip)]
        repository_ids: Vec<u64>,
        added: usize,
        removed: usize,
    },
    /// Set the DSS project's git remote.
    SetDssRemote {
        node: String,
        key: String,
        name: String,
        url: String,
    },
    /// Push the DSS project's branch to its remote.
    DssPush {
        node: String,
        key: String,
    },
    /// Commit the managed files on an unprotected branch besides the default one.
    CommitFiles {
        branch: String,
        changed: Vec<String>,
        #[serde(skip)]
        files: Vec<(String, Content)>,
        #[serde(skip)]
        message: String,
    },
    /// Propose the managed files to a protected branch: one commit on fleetsync's proposal
    /// branch (cut from the base), and one pull request, opened or (when open) updated.
    ProposeFiles {
        base: String,
        head: String,
        changed: Vec<String>,
        /// The open pull request to update, if any.
        pull: Option<u64>,
        #[serde(skip)]
        files: Vec<(String, Content)>,
        #[serde(skip)]
        title: String,
        #[serde(skip)]
        body: String,
    },
    /// The DSS project pulls its branch from the remote, rebasing its own commits on top.
    DssPull {
        node: String,
        key: String,
    },
}

/// Which org-level collection a selection step changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OrgItemKind {
    Secret,
    Variable,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub action: Action,
    /// e.g. `variable:acme/dss-churn_model/DATAIKU_PROJECT_KEY`.
    pub address: Address,
    /// The resource's kind (the address's).
    pub kind: Kind,
    pub reason: Reason,
    #[serde(flatten)]
    pub op: Op,
    /// A short human detail (never a secret value).
    pub detail: String,
    /// What changes, before → after (never a secret value).
    #[serde(skip_serializing_if = "Change::is_empty")]
    pub change: Change,
}

/// A manual change found on GitHub.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftFinding {
    pub address: Address,
    pub kind: Kind,
    pub what: String,
    /// Whether the plan repairs it (false in report-only mode).
    pub repair: bool,
}

/// The steps of one repo.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepoPlan {
    /// `owner/name`.
    pub repo: String,
    /// `project:NODE/KEY` or `plugin:NODE/ID`.
    pub source: String,
    pub steps: Vec<Step>,
    pub drift: Vec<DriftFinding>,
}

/// A removal the guard refused or postponed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Blocked {
    pub repo: String,
    pub reason: String,
}

/// The pipeline stage where a repo failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Naming or building the repo's spec (templates, secret sources, DSS details).
    Desire,
    /// Reading the state file for the repo.
    State,
    /// Reading the repo from GitHub (or the project from DSS).
    Observe,
    /// Writing to GitHub or DSS.
    Apply,
    /// Recording the outcome in the state file.
    Record,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Desire => "desire",
            Stage::State => "state",
            Stage::Observe => "observe",
            Stage::Apply => "apply",
            Stage::Record => "record",
        }
    }
}

/// A project, plugin or repo that could not be converged in this run, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepoError {
    /// `owner/name`, or `project:NODE/KEY` when it has no name yet.
    pub repo: String,
    pub stage: Stage,
    /// A short cause label (`server_error`, `secret_source`, `store`, …) for metrics.
    pub cause: String,
    pub reason: String,
}

/// A DSS node listing (its projects, or its dev plugins) that is not trusted for removals
/// in this run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnknownNode {
    pub node: String,
    /// Which listing: `project` (the whole node's discovery) or `plugin`.
    pub listing: crate::desired::SourceKind,
    pub reason: String,
}

/// A repo that exists and is not this install's (no marker, or another owner's): nothing
/// is written to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    /// `owner/name`.
    pub repo: String,
    /// The source fleetsync would manage it for.
    pub source: String,
    /// `unmarked`, `other_owner`, `other_source`, `transferred`, `not_owned_at_removal`.
    pub cause: String,
    pub reason: String,
}

/// A whole plan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub repos: Vec<RepoPlan>,
    /// Removals the guard did not allow (yet), with why.
    pub blocked: Vec<Blocked>,
    /// Projects, plugins or repos that failed before their apply, with the stage and why.
    pub errors: Vec<RepoError>,
    /// Nodes whose discovery was unknown (nothing is deleted for them).
    pub unknown_nodes: Vec<UnknownNode>,
    /// Repos that exist without this install's ownership marker: not written to.
    pub conflicts: Vec<Conflict>,
    /// Things the user must know about this run (a state rebuilt from GitHub).
    pub notices: Vec<String>,
}

impl Plan {
    pub fn step_count(&self) -> usize {
        self.repos.iter().map(|r| r.steps.len()).sum()
    }
    pub fn has_changes(&self) -> bool {
        self.step_count() > 0
    }
    /// Step counts by action.
    pub fn counts(&self) -> std::collections::BTreeMap<&'static str, usize> {
        let mut m = std::collections::BTreeMap::new();
        for s in self.repos.iter().flat_map(|r| r.steps.iter()) {
            *m.entry(s.action.as_str()).or_default() += 1;
        }
        m
    }
}
