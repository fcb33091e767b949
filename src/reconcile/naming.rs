//! The load and name phases: the state the run's safety rests on (managed repos,
//! tombstones, the fingerprint key — any read failure fails the run), then every source's repo name, so
//! collisions and protected names are found before anything is built or created.

use super::engine::Engine;
use super::status::RunError;
use crate::desired::{self, SourceObject};
use crate::plan::{Blocked, RepoError, Stage};
use crate::store::{RepoRecord, Suspension, Tombstone};
use std::collections::{BTreeMap, BTreeSet};

/// What the store holds that the run's decisions depend on.
pub struct RunState {
    /// Repos fleetsync manages.
    pub managed: Vec<RepoRecord>,
    /// Tombstones by repo.
    pub tombstones: BTreeMap<String, Tombstone>,
    /// Repos renamed on GitHub: the name fleetsync renders (lower case) → the name now.
    pub former_names: BTreeMap<String, String>,
    /// What `fleetctl suspend` took out of the runs' writes (read after discovery, before
    /// anything on GitHub is read or written).
    pub suspension: Suspension,
}

/// The sources with their repo names, and what naming found.
pub struct Named {
    /// Sources to converge, with their repo names.
    pub named: Vec<(SourceObject, String)>,
    /// Full names (lowercase) still wanted: named sources, and managed repos whose source
    /// exists but could not be named (those are never removed).
    pub wanted: BTreeSet<String>,
    /// Sources that could not be named.
    pub errors: Vec<RepoError>,
    /// Repos never touched (`github.protected_repos`).
    pub protected: Vec<Blocked>,
}

impl Engine {
    /// The key secret fingerprints are made with; a failure fails the run before any write.
    pub(super) fn fingerprint_key(&self) -> Result<Vec<u8>, RunError> {
        self.store
            .fingerprint_key()
            .map_err(|e| RunError::store("reading the secret fingerprint key", e))
    }

    /// Reads the state the run depends on; a failure fails the run before any write.
    pub(super) fn load_state(&self) -> Result<RunState, RunError> {
        let managed = self
            .store
            .list_repos()
            .map_err(|e| RunError::store("listing the managed repos", e))?;
        let tombstones = self
            .store
            .list_tombstones()
            .map_err(|e| RunError::store("listing the tombstones", e))?
            .into_iter()
            .map(|t| (t.repo.clone(), t))
            .collect();
        let former_names = self
            .store
            .former_names()
            .map_err(|e| RunError::store("listing the renamed repos", e))?;
        Ok(RunState {
            managed,
            tombstones,
            former_names,
            suspension: Default::default(),
        })
    }

    /// Names every source (a repo renamed on GitHub by its name now); drops the protected
    /// ones.
    pub(super) fn name(&self, sources: Vec<SourceObject>, state: &RunState) -> Named {
        let cfg = &self.config;
        let owner = &cfg.raw.github.owner;
        let managed = &state.managed;
        let (mut named, desire_errors) = desired::names(cfg, sources);
        for (src, n) in named.iter_mut() {
            let rendered = format!("{owner}/{n}").to_ascii_lowercase();
            let Some(now) = state.former_names.get(&rendered) else {
                continue;
            };
            let same_source = managed.iter().any(|r| {
                r.name == *now && r.node == src.node && r.source_key == src.key && r.is_live()
            });
            if let (true, Some((_, name))) = (same_source, now.split_once('/')) {
                *n = name.to_string();
            }
        }
        let mut wanted: BTreeSet<String> = named
            .iter()
            .map(|(_, n)| format!("{owner}/{n}").to_ascii_lowercase())
            .collect();
        let mut errors = Vec::new();
        for e in &desire_errors {
            for r in managed {
                if r.node == e.node && r.source_key == e.key {
                    wanted.insert(r.name.to_ascii_lowercase());
                }
            }
            let repo = format!("{}:{}/{}", e.kind.as_str(), e.node, e.key);
            tracing::warn!(%repo, stage = "desire", error = %e.message, "cannot name the repo");
            self.observer.repo_failed(Stage::Desire, e.cause);
            errors.push(RepoError {
                repo,
                stage: Stage::Desire,
                cause: e.cause.to_string(),
                reason: e.message.clone(),
            });
        }
        let protected_names = &cfg.raw.github.protected_repos;
        let mut protected = Vec::new();
        let named = named
            .into_iter()
            .filter(|(_, n)| {
                let full = format!("{owner}/{n}");
                let hit = protected_names
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(n) || p.eq_ignore_ascii_case(&full));
                if hit {
                    protected.push(Blocked {
                        repo: full,
                        reason: "in github.protected_repos: never touched".into(),
                    });
                }
                !hit
            })
            .collect();
        Named {
            named,
            wanted,
            errors,
            protected,
        }
    }
}
