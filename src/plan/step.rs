//! The plan's vocabulary: steps, reasons, drift findings and blocked deletions.

use serde::Serialize;
use serde_json::Value;

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
    /// A project or plugin with no repo yet.
    NewProject,
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
    /// The project or plugin is gone from DSS.
    ProjectGone { since: String },
    /// The project came back, its repo is archived.
    ProjectBack,
}

impl Reason {
    pub fn describe(&self) -> String {
        match self {
            Reason::NewProject => "new project".into(),
            Reason::NewResource => "not on GitHub yet".into(),
            Reason::ConfigChanged { what } => format!("config changed: {what}"),
            Reason::Drift { what } => format!("drift: {what}"),
            Reason::SecretSourceChanged => "secret source changed".into(),
            Reason::SecretUnverified => "not written by fleetsync before".into(),
            Reason::ProjectGone { since } => format!("project gone since {since}"),
            Reason::ProjectBack => "project is back; repo was archived".into(),
        }
    }
    pub fn is_drift(&self) -> bool {
        matches!(self, Reason::Drift { .. })
    }
}

/// The GitHub operation a step performs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    CreateRepo,
    UpdateRepo {
        patch: Value,
    },
    ReplaceTopics {
        topics: Vec<String>,
    },
    CreateBranch {
        branch: String,
    },
    PutFile {
        path: String,
        sha: Option<String>,
    },
    CreateVariable {
        name: String,
    },
    UpdateVariable {
        name: String,
    },
    PutSecret {
        name: String,
    },
    PutProtection {
        branch: String,
    },
    ArchiveRepo,
    DeleteRepo,
    ForgetRepo,
    /// Write the plugin's changed files as one commit (Git Data API).
    MirrorFiles {
        changed: Vec<String>,
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
}

/// One step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub action: Action,
    /// e.g. `variable:acme/dss-churn_model/DATAIKU_PROJECT_KEY`.
    pub address: String,
    /// Resource kind: repo, topics, branch, file, variable, secret, protection, mirror,
    /// dss-remote, dss-push.
    pub kind: &'static str,
    pub reason: Reason,
    #[serde(flatten)]
    pub op: Op,
    /// A short human detail (never a secret value).
    pub detail: String,
}

/// A manual change found on GitHub.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftFinding {
    pub address: String,
    pub kind: &'static str,
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

/// A whole plan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub repos: Vec<RepoPlan>,
    /// Removals the guard did not allow (yet), with why.
    pub blocked: Vec<Blocked>,
    /// Projects or plugins whose repo could not be described or observed.
    pub errors: Vec<Blocked>,
    /// Nodes whose discovery was unknown (nothing is deleted for them).
    pub unknown_nodes: Vec<Blocked>,
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
