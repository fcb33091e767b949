//! The guard and remove phases: which managed repos whose source is gone may be removed in
//! this run (the guard's policy), the tombstones that time the grace period (written before
//! any removal; a failed write fails the run), and the removals themselves, after the repos
//! that stay, each checked on GitHub (the ownership marker) just before it is made.

use super::converge::PassContext;
use super::engine::Engine;
use super::record;
use super::status::RunError;
use crate::apply::{apply_repo, Outcome, RepoResult, StepResult};
use crate::guard::{guard, GuardInput};
use crate::ownership::{self, Claim};
use crate::plan::{Address, Blocked, Conflict, Kind, RepoPlan};
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
    /// The run (for the events it records).
    pub run_id: Option<i64>,
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
            self.record_guard_events(view, &g);
        }
        let mut blocked = g.blocked;
        let (held, removals): (Vec<_>, Vec<_>) = g
            .removals
            .into_iter()
            .partition(|(repo, _)| view.state.suspension.holds(repo));
        for (repo, _) in held {
            let reason = "its source is gone, but the repo is suspended; nothing is removed until `fleetctl resume --repo`";
            if !dry_run {
                if let Err(e) =
                    self.store
                        .record_event(view.run_id, "guard-blocked", Some(&repo), reason)
                {
                    tracing::warn!(repo = %repo, error = %e, "cannot record the guard-blocked event");
                }
            }
            blocked.push(Blocked {
                repo,
                reason: reason.into(),
            });
        }
        let allowed = removals
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
        Ok(Removals { allowed, blocked })
    }

    /// Events for `fleetctl events`: a source found gone (a new tombstone) and each block
    /// other than the grace period's wait (that one is the repo's `pending-removal` status).
    /// An event that cannot be written is logged; the run goes on.
    fn record_guard_events(&self, view: &GuardView<'_>, g: &crate::guard::GuardOutcome) {
        let (policy, grace) = self.removal_policy();
        let action = crate::guard::policy_action(policy);
        let mut events: Vec<(&str, &str, String)> = Vec::new();
        for (repo, source, since) in &g.tombstone_add {
            let why = format!(
                "{source} is no longer listed (since {since}); {action} after the grace period of {}h",
                grace.num_hours()
            );
            events.push(("source-gone", repo.as_str(), why));
        }
        for (b, reason) in g.blocked.iter().zip(&g.block_reasons) {
            if *reason != "grace_period" {
                events.push(("guard-blocked", b.repo.as_str(), b.reason.clone()));
            }
        }
        for (kind, repo, why) in events {
            if let Err(e) = self.store.record_event(view.run_id, kind, Some(repo), &why) {
                tracing::warn!(repo = %repo, error = %e, "cannot record the {kind} event");
            }
        }
    }

    /// Applies the allowed removals; stops at a cancel. Each repo's marker is read on
    /// GitHub first: a repo that is not (any more) this install's is not removed, whatever
    /// the store says. Returns the results and conflicts, whether it was interrupted, and
    /// the state-file failure that stopped it.
    pub(super) async fn remove(
        &self,
        ctx: &PassContext<'_>,
        removals: &[Removal],
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> (Removed, bool, Option<RunError>) {
        let mut out = Removed::default();
        for r in removals {
            if cancelled() {
                return (out, true, None);
            }
            let plan = match self.check_owned(ctx, r).await {
                Ok(Checked::Remove(plan)) => plan,
                Ok(Checked::Skip(res)) => {
                    out.results.push(*res);
                    continue;
                }
                Ok(Checked::NotOurs(c)) => {
                    out.conflicts.push(c);
                    continue;
                }
                Err(fault) => return (out, false, Some(fault)),
            };
            let res = apply_repo(&ctx.apply, &plan).await;
            self.observer.steps(&res);
            let mut rec = r.record.clone();
            rec.name = plan.repo.clone();
            let recorded = record::record_removal(&self.store, ctx.apply.run_id, &rec, &res);
            let journal = res.journal_error.clone();
            out.results.push(res);
            if let Some(message) = journal {
                let repo = rec.name.clone();
                return (out, false, Some(RunError::Journal { repo, message }));
            }
            if let Err(e) = recorded {
                let what = format!("recording the removal of {}", rec.name);
                return (out, false, Some(RunError::store(what, e)));
            }
        }
        (out, false, None)
    }

    /// Reads the repo on GitHub before removing it: gone already, not ours (a conflict,
    /// recorded so), or ours (possibly under a new name: the removal follows it).
    async fn check_owned(&self, ctx: &PassContext<'_>, r: &Removal) -> Result<Checked, RunError> {
        let name = &r.record.name;
        let (owner, repo) = name.split_once('/').unwrap_or(("", name.as_str()));
        let store = |what: String| move |e| RunError::store(what, e);
        let found = match self.gh.get_repo(owner, repo).await {
            Ok(f) => f,
            Err(e) => {
                let why = format!("not removed: its ownership marker could not be read: {e}");
                tracing::warn!(repo = %name, error = %e, "removal postponed");
                return Ok(Checked::Skip(Box::new(skipped(
                    &r.plan,
                    Outcome::Failed(why),
                ))));
            }
        };
        let Some(found) = found else {
            // Gone already (deleted by someone): nothing to remove, nothing to manage.
            let mut rec = r.record.clone();
            rec.status = "gone".into();
            rec.last_error = Some("not on GitHub any more".into());
            self.store
                .upsert_repo(&rec)
                .and_then(|_| self.store.clear_tombstone(name))
                .map_err(store(format!("recording that {name} is gone")))?;
            let why = "already gone from GitHub".to_string();
            return Ok(Checked::Skip(Box::new(skipped(
                &r.plan,
                Outcome::Skipped(why),
            ))));
        };
        let source = format!(
            "{}:{}/{}",
            r.record.source_kind, r.record.node, r.record.source_key
        );
        let own = ctx.ownership;
        let seen = ownership::read(
            &found.custom_properties.clone().unwrap_or_default(),
            found.topics.as_deref().unwrap_or(&[]),
            &own.property,
        );
        let claim = ownership::claim(&seen, &own.install, &source);
        if claim != Claim::Ours {
            return self
                .removal_conflict(r, &source, &claim)
                .map(Checked::NotOurs);
        }
        let actual = found.full_name.unwrap_or_else(|| name.clone());
        let mut plan = r.plan.clone();
        if !actual.eq_ignore_ascii_case(name) {
            self.store
                .rename_repo(name, &actual)
                .map_err(store(format!("following the rename of {name} to {actual}")))?;
            plan.repo = actual.clone();
            for s in &mut plan.steps {
                s.address = Address::of_repo(Kind::Repo, &actual);
            }
        }
        Ok(Checked::Remove(plan))
    }

    fn removal_conflict(
        &self,
        r: &Removal,
        source: &str,
        claim: &Claim,
    ) -> Result<Conflict, RunError> {
        let name = &r.record.name;
        let reason = match claim {
            Claim::Unmarked => "does not carry this install's ownership marker".to_string(),
            Claim::OtherSource(s) => format!("carries this install's marker for {s}"),
            Claim::Other(why) => why.clone(),
            Claim::Ours => String::new(),
        };
        let reason = format!("not removed: {reason}; it is not fleetsync's to remove");
        tracing::warn!(repo = %name, %reason, "removal refused: not this install's repo");
        self.observer.conflict("not_owned_at_removal");
        let mut rec = r.record.clone();
        rec.status = "conflict".into();
        rec.last_error = Some(format!("ownership: {reason}"));
        self.store
            .upsert_repo(&rec)
            .and_then(|_| self.store.clear_tombstone(name))
            .map_err(|e| RunError::store(format!("recording the conflict of {name}"), e))?;
        Ok(Conflict {
            repo: name.clone(),
            source: source.to_string(),
            cause: "not_owned_at_removal".into(),
            reason,
        })
    }
}

/// What the remove phase did.
#[derive(Default)]
pub struct Removed {
    pub results: Vec<RepoResult>,
    pub conflicts: Vec<Conflict>,
}

/// The check before one removal.
enum Checked {
    Remove(RepoPlan),
    Skip(Box<RepoResult>),
    NotOurs(Conflict),
}

/// A removal that was not attempted, as a result.
fn skipped(plan: &RepoPlan, outcome: Outcome) -> RepoResult {
    RepoResult {
        repo: plan.repo.clone(),
        results: plan
            .steps
            .iter()
            .map(|s| StepResult {
                step: s.clone(),
                outcome: outcome.clone(),
            })
            .collect(),
        ..Default::default()
    }
}
