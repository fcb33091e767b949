//! How a run ended ([`RunStatus`]) and the failures that end a run early or mark it failed
//! ([`RunError`]). A store read or write that safety depends on is a `RunError`: the run
//! fails and says why, it never goes on with a guess.

use crate::store::StoreError;
use serde::Serialize;

/// The status of a run, as the store, the API and the metrics spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Everything planned was applied and every node's discovery was known.
    Succeeded,
    /// Some repos or steps failed, or some node's discovery was unknown.
    Partial,
    /// Nothing useful could be done: every node unknown, or the state file failed where
    /// safety depends on it.
    Failed,
    /// Cancelled (shutdown) before the end.
    Interrupted,
    /// A dry run: planned, nothing written.
    Planned,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Planned => "planned",
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for RunStatus {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for RunStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A failure that makes the whole run fail.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The state file failed where the run's safety depends on it.
    #[error("state file: {what}: {source}")]
    Store {
        /// What the run needed (`reading the fingerprint key`, `writing a tombstone`, …).
        what: String,
        #[source]
        source: StoreError,
    },
    /// The step journal could not be written while applying a repo.
    #[error("state file: the step journal of {repo} could not be written: {message}")]
    Journal { repo: String, message: String },
    /// A GitHub read the run's safety depends on failed.
    #[error("GitHub: {what}: {source}")]
    GitHub {
        what: String,
        #[source]
        source: crate::github::GhError,
    },
    /// Every configured DSS node's discovery was unknown.
    #[error("discovery failed on every DSS node: {0}")]
    AllDiscoveryUnknown(String),
    /// The run was limited to keys that match no project or plugin (nothing was done).
    #[error("{0}")]
    UnknownProjects(String),
    /// The fleet is suspended (`fleetctl suspend`): the run wrote nothing.
    #[error(
        "the fleet is suspended since {0}: nothing is written to GitHub until `fleetctl resume`"
    )]
    Suspended(String),
}

impl RunError {
    /// A store failure while doing `what`.
    pub fn store(what: impl Into<String>, source: StoreError) -> Self {
        RunError::Store {
            what: what.into(),
            source,
        }
    }

    /// A short label for the metric of run failures by cause.
    pub fn cause(&self) -> &'static str {
        match self {
            RunError::Store { .. } | RunError::Journal { .. } => "store",
            RunError::AllDiscoveryUnknown(_) => "discovery",
            RunError::UnknownProjects(_) => "unknown_project",
            RunError::GitHub { .. } => "github",
            RunError::Suspended(_) => "suspended",
        }
    }
}

/// Why an engine could not be built: a credential that cannot be read, or a client that
/// cannot be set up. Names the config key or the node.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A secret the engine needs could not be read (the key names it).
    #[error("{key}: {source}")]
    Credential {
        key: String,
        #[source]
        source: crate::config::SecretError,
    },
    /// The ETag cache's connection to the state file could not be opened.
    #[error("the ETag cache: {0}")]
    Store(crate::store::StoreError),
    /// The GitHub client could not be built.
    #[error(transparent)]
    Github(#[from] crate::github::GhError),
    /// A DSS node's client could not be built.
    #[error("DSS node {node}: {source}")]
    Dss {
        node: String,
        #[source]
        source: Box<crate::dss::DssError>,
    },
}
