//! The guard and remove phases: which managed repos whose source is gone may be removed in
//! this run (the guard's policy), the tombstones that time the grace period (written before
//! any removal; a failed write fails the run), and the removals themselves, after the repos
//! that stay.

use super::engine::Engine;
use super::record;
use super::status::RunError;
use crate::apply::{apply_repo, ApplyContext, RepoResult};
use crate::guard::{guard, GuardInput};
use crate::plan::{Blocked, RepoPlan};
use crate::store::RepoRecord;
use std::collections::BTreeSet;

/// One removal the guard allowed.
pub struct Removal {
    /// The managed repo's record.
    pub record: RepoRecord,
    /// Its one step, as a plan (so it renders like every other repo).
    pub plan: RepoPlan,
}

/// The guard's decision for this run.
pub struct Removals {
    pub allowed: Vec<Removal>,
    pub blocked: Vec<Blocked>,
}

/// What the guard reads besides the config.
pub struct GuardView<'a> {
    pub state: &'a super::naming::RunState,
    pub wanted: &'a BTreeSet<String>,
    pub known_nodes: &'a BTreeSet<String>,
    pub known_plugin_nodes: &'a BTreeSet<String>,
    pub partial_run: bool,
}

impl Engine {
    /// Decides the removals and, unless `dry_run`, persists the tombstones.
    pub(super) fn guard_removals(
        &self,
        view: &GuardView<'_>,
        dry_run: bool,
    ) -> Result<Removals, RunError> {
        let gh = &self.config.raw.github;
        let managed = &view.state.managed;
        let g = guard(&GuardInput {
            managed,
            wanted: view.wanted,
            known_nodes: view.known_nodes,
            known_plugin_nodes: view.known_plugin_nodes,
            tombstones: &view.state.tombstones,
            protected: &gh.protected_repos,
            policy: gh.deletion_policy,
            grace: chrono::Duration::from_std(gh.grace_period.0)
                .unwrap_or(chrono::Duration::zero()),
            max_removals: gh.max_deletions_per_run,
            partial_run: view.partial_run,
            now: chrono::Utc::now(),
        });
        if !dry_run {
            for (repo, source, since) in &g.tombstone_add {
                self.store
                    .add_tombstone(repo, source, since)
                    .map_err(|e| RunError::store(format!("writing the tombstone of {repo}"), e))?;
            }
            for repo in &g.tombstone_clear {
                self.store
                    .clear_tombstone(repo)
                    .map_err(|e| RunError::store(format!("clearing the tombstone of {repo}"), e))?;
            }
            self.observer.guard_blocks(&g.block_reasons);
        }
        let allowed = g
            .removals
            .into_iter()
            .filter_map(|(repo, step)| {
                let record = managed.iter().find(|r| r.name == repo)?.clone();
                let plan = RepoPlan {
                    repo: repo.clone(),
                    source: format!(
                        "{}:{}/{}",
                        record.source_kind, record.node, record.source_key
                    ),
                    steps: vec![step],
                    drift: Vec::new(),
                };
                Some(Removal { record, plan })
            })
            .collect();
        Ok(Removals {
            allowed,
            blocked: g.blocked,
        })
    }

    /// Applies the allowed removals; stops at a cancel. Returns the results and whether it
    /// was interrupted.
    pub(super) async fn remove(
        &self,
        ctx: &ApplyContext<'_>,
        removals: &[Removal],
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> (Vec<RepoResult>, bool, Option<RunError>) {
        let mut results = Vec::new();
        for r in removals {
            if cancelled() {
                return (results, true, None);
            }
            let res = apply_repo(ctx, &r.plan).await;
            self.observer.steps(&res);
            let recorded = record::record_removal(&self.store, ctx.run_id, &r.record, &res);
            let journal = res.journal_error.clone();
            results.push(res);
            if let Some(message) = journal {
                let repo = r.record.name.clone();
                return (results, false, Some(RunError::Journal { repo, message }));
            }
            if let Err(e) = recorded {
                let what = format!("recording the removal of {}", r.record.name);
                return (results, false, Some(RunError::store(what, e)));
            }
        }
        (results, false, None)
    }
}
