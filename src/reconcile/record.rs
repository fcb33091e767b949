//! record: what a run did, written to the store — per-repo status, per-resource
//! fingerprints and status, drift events, tombstones.

use crate::apply::{Outcome, RepoResult};
use crate::desired::{RepoSpec, SourceObject};
use crate::observe::ObservedRepo;
use crate::plan::{desired_resources, DesiredResource, Kind, LastApplied, RepoError, RepoPlan};
use crate::store::{now_text, NewDriftEvent, RepoRecord, ResourceRecord, Store};
use std::collections::BTreeMap;

/// What one repo's run produced, as the record reads it.
pub struct RepoRun<'a> {
    pub run_id: Option<i64>,
    pub spec: &'a RepoSpec,
    pub plan: &'a RepoPlan,
    pub result: Option<&'a RepoResult>,
    pub obs: &'a ObservedRepo,
    pub last: &'a LastApplied,
}

/// A resource's state after the run: applied fingerprint, when, status, error.
type ResourceState = (Option<String>, Option<String>, &'static str, Option<String>);

impl RepoRun<'_> {
    fn outcomes(&self) -> BTreeMap<&str, &Outcome> {
        self.result
            .map(|r| {
                r.results
                    .iter()
                    .map(|s| (s.step.address.as_str(), &s.outcome))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn unrepaired(&self) -> Vec<&str> {
        self.plan
            .drift
            .iter()
            .filter(|d| !d.repair)
            .map(|d| d.address.as_str())
            .collect()
    }

    /// A resource that had no step this run.
    fn unplanned(&self, res: &DesiredResource, prev_fp: Option<String>) -> ResourceState {
        let fp = res.fingerprint.clone();
        match res.kind() {
            Kind::PullRequest | Kind::BranchFiles => {
                let branch = res.address.item_name().unwrap_or("");
                let prev_unconfirmed = self.last.unconfirmed.contains(res.address.as_str());
                match crate::plan::unplanned_status(self.spec, self.obs, branch, prev_unconfirmed) {
                    "in_sync" => (Some(fp), None, "in_sync", None),
                    status => (prev_fp, None, status, None),
                }
            }
            // A push is done once; not planned means done before, or not possible yet.
            Kind::DssPush => {
                let status = if prev_fp.is_some() {
                    "in_sync"
                } else {
                    "pending"
                };
                (prev_fp, None, status, None)
            }
            // Nothing to do: GitHub holds the desired value.
            _ => (Some(fp), None, "in_sync", None),
        }
    }

    /// A resource that had a step, from the step's outcome.
    fn planned(
        &self,
        res: &DesiredResource,
        outcome: Option<&Outcome>,
        prev_fp: Option<String>,
        now: &str,
    ) -> ResourceState {
        let fp = res.fingerprint.clone();
        match outcome {
            // A proposal is applied when opened; it is in sync once merged.
            Some(Outcome::Ok) if res.kind() == Kind::PullRequest => {
                (Some(fp), Some(now.to_string()), "pending", None)
            }
            Some(Outcome::Ok) => (Some(fp), Some(now.to_string()), "in_sync", None),
            Some(Outcome::Failed(m)) => (prev_fp, None, "error", Some(m.clone())),
            Some(Outcome::Skipped(m)) => (prev_fp, None, "pending", Some(m.clone())),
            None => (prev_fp, None, "pending", None),
        }
    }

    /// GitHub's `updated_at` of a secret: read back after our write, else as last known.
    fn secret_updated_at(&self, res: &DesiredResource, prev: Option<String>) -> Option<String> {
        if res.kind() != Kind::Secret {
            return None;
        }
        let name = res.address.item_name().unwrap_or("");
        self.result
            .and_then(|r| r.secrets_updated_at.get(name).cloned())
            .or(prev)
            .or_else(|| {
                self.obs
                    .secrets
                    .get(name)
                    .map(|u| u.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            })
    }

    fn resource_records(&self, now: &str) -> Vec<ResourceRecord> {
        let outcomes = self.outcomes();
        let unrepaired = self.unrepaired();
        let full = self.spec.full_name();
        let mut recs = Vec::new();
        for res in desired_resources(self.spec) {
            let (prev_fp, prev_remote) = self
                .last
                .by_address
                .get(res.address.as_str())
                .cloned()
                .unwrap_or((None, None));
            let planned = self.plan.steps.iter().any(|s| s.address == res.address);
            let (applied_fp, applied_at, status, error) =
                if unrepaired.contains(&res.address.as_str()) {
                    (prev_fp, None, "drifted", None)
                } else if planned {
                    let outcome = outcomes.get(res.address.as_str()).copied();
                    self.planned(&res, outcome, prev_fp, now)
                } else {
                    self.unplanned(&res, prev_fp)
                };
            recs.push(ResourceRecord {
                address: res.address.to_string(),
                repo: full.clone(),
                kind: res.kind().to_string(),
                remote_updated_at: self.secret_updated_at(&res, prev_remote),
                desired_fp: Some(res.fingerprint),
                applied_fp,
                observed_fp: None,
                applied_at,
                status: status.to_string(),
                last_error: error,
                updated_at: now.to_string(),
            });
        }
        recs
    }

    fn repo_record(&self, now: &str) -> RepoRecord {
        let drifted = !self.unrepaired().is_empty();
        let status = if self.result.is_some_and(|r| r.failed()) {
            "error"
        } else if drifted {
            "drifted"
        } else {
            "synced"
        };
        let spec = self.spec;
        RepoRecord {
            name: spec.full_name(),
            owner: spec.owner.clone(),
            source_kind: spec.source.kind.as_str().to_string(),
            node: spec.source.node.clone(),
            source_key: spec.source.key.clone(),
            status: status.to_string(),
            drifted,
            last_error: self.result.and_then(|r| r.first_error()),
            last_run_id: self.run_id,
            created_at: now.to_string(),
            updated_at: now.to_string(),
        }
    }

    fn drift_events(&self) -> Vec<NewDriftEvent> {
        let outcomes = self.outcomes();
        self.plan
            .drift
            .iter()
            .map(|d| NewDriftEvent {
                run_id: self.run_id,
                repo: self.spec.full_name(),
                address: d.address.to_string(),
                kind: d.kind.to_string(),
                what: d.what.clone(),
                repaired: d.repair && matches!(outcomes.get(d.address.as_str()), Some(Outcome::Ok)),
            })
            .collect()
    }
}

/// Records one managed repo after its apply (or after a no-op).
pub async fn record_repo(store: &Store, run: &RepoRun<'_>) -> Result<(), crate::store::StoreError> {
    let now = now_text();
    let repo = run.repo_record(&now);
    let resources = run.resource_records(&now);
    let events = run.drift_events();
    store
        .blocking(move |s| {
            s.upsert_repo(&repo)?;
            s.upsert_resources(&resources)?;
            if !events.is_empty() {
                s.record_drift(&events)?;
            }
            Ok(())
        })
        .await
}

/// Records a removal step's outcome.
pub fn record_removal(
    store: &Store,
    run_id: Option<i64>,
    rec: &RepoRecord,
    result: &RepoResult,
) -> Result<(), crate::store::StoreError> {
    let Some(step) = result.results.first() else {
        return Ok(());
    };
    let mut r = rec.clone();
    r.last_run_id = run_id;
    match &step.outcome {
        Outcome::Ok => {
            r.status = match step.step.action {
                crate::plan::Action::Archive => "archived",
                crate::plan::Action::Delete => "deleted",
                _ => "orphaned",
            }
            .to_string();
            r.last_error = None;
            store.upsert_repo(&r)?;
            store.clear_tombstone(&r.name)?;
        }
        Outcome::Failed(m) | Outcome::Skipped(m) => {
            r.last_error = Some(m.clone());
            store.upsert_repo(&r)?;
        }
    }
    Ok(())
}

/// Whether a repo with nothing to apply still needs its records written: a resource whose
/// last-applied fingerprint is not the desired one, a secret without GitHub's `updated_at`
/// baseline, or a repo row that is not plainly synced. A converged repo writes nothing.
pub fn needs_record(store: &Store, spec: &RepoSpec, plan: &RepoPlan, last: &LastApplied) -> bool {
    if !plan.steps.is_empty() || !plan.drift.is_empty() || !last.unconfirmed.is_empty() {
        return true;
    }
    for res in desired_resources(spec) {
        let kind = res.kind();
        if kind == Kind::DssPush {
            continue;
        }
        match last.by_address.get(res.address.as_str()) {
            Some((Some(applied), remote)) if *applied == res.fingerprint => {
                if kind == Kind::Secret && remote.is_none() {
                    return true;
                }
            }
            _ => return true,
        }
    }
    match store.get_repo(&spec.full_name()) {
        Ok(Some(r)) => {
            r.status != "synced"
                || r.drifted
                || r.last_error.is_some()
                || r.source_key != spec.source.key
                || r.node != spec.source.node
        }
        _ => true,
    }
}

/// Records a repo that failed before its apply (its spec, its state or its observation):
/// status `error` with the stage and cause, so `status`, `repos` and the metrics show it even
/// for a repo never created yet. What fleetsync applied before is kept.
pub fn record_failure(
    store: &Store,
    run_id: Option<i64>,
    src: &SourceObject,
    full: &str,
    error: &RepoError,
) -> Result<(), crate::store::StoreError> {
    let now = now_text();
    let owner = full.split_once('/').map(|(o, _)| o).unwrap_or(full);
    let drifted = store.get_repo(full)?.is_some_and(|r| r.drifted);
    store.upsert_repo(&RepoRecord {
        name: full.to_string(),
        owner: owner.to_string(),
        source_kind: src.kind.as_str().to_string(),
        node: src.node.clone(),
        source_key: src.key.clone(),
        status: "error".into(),
        drifted,
        last_error: Some(format!("{}: {}", error.stage.as_str(), error.reason)),
        last_run_id: run_id,
        created_at: now.clone(),
        updated_at: now,
    })
}
