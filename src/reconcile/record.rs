//! record: what a run did, written to the store — per-repo status, per-resource
//! fingerprints and status, drift events, tombstones.

use crate::apply::{Outcome, RepoResult};
use crate::desired::{RepoSpec, SourceObject};
use crate::observe::ObservedRepo;
use crate::plan::{desired_resources, Kind, LastApplied, RepoError, RepoPlan};
use crate::store::{now_text, NewDriftEvent, RepoRecord, ResourceRecord, Store};
use std::collections::BTreeMap;

/// Records one managed repo after its apply (or after a no-op).
pub fn record_repo(
    store: &Store,
    run_id: Option<i64>,
    spec: &RepoSpec,
    plan: &RepoPlan,
    result: Option<&RepoResult>,
    obs: &ObservedRepo,
    last: &LastApplied,
) -> Result<(), crate::store::StoreError> {
    let full = spec.full_name();
    let outcomes: BTreeMap<&str, &Outcome> = result
        .map(|r| {
            r.results
                .iter()
                .map(|s| (s.step.address.as_str(), &s.outcome))
                .collect()
        })
        .unwrap_or_default();
    let unrepaired: Vec<&str> = plan
        .drift
        .iter()
        .filter(|d| !d.repair)
        .map(|d| d.address.as_str())
        .collect();
    let now = now_text();
    let mut recs = Vec::new();
    for res in desired_resources(spec) {
        let kind = res.kind();
        let fp = res.fingerprint;
        let address = res.address;
        let (prev_fp, prev_remote) = last
            .by_address
            .get(address.as_str())
            .cloned()
            .unwrap_or((None, None));
        let planned = plan.steps.iter().any(|s| s.address == address);
        let (applied_fp, applied_at, status, error) = if unrepaired.contains(&address.as_str()) {
            (prev_fp.clone(), None, "drifted", None)
        } else if !planned && matches!(kind, Kind::PullRequest | Kind::BranchFiles) {
            let branch = address.item_name().unwrap_or("");
            let prev_unconfirmed = last.unconfirmed.contains(address.as_str());
            match crate::plan::unplanned_status(spec, obs, branch, prev_unconfirmed) {
                "in_sync" => (Some(fp.clone()), None, "in_sync", None),
                status => (prev_fp.clone(), None, status, None),
            }
        } else if !planned && kind == Kind::DssPush {
            // A push is done once; not planned means done before, or not possible yet.
            let status = if prev_fp.is_some() {
                "in_sync"
            } else {
                "pending"
            };
            (prev_fp.clone(), None, status, None)
        } else if !planned {
            // Nothing to do: GitHub holds the desired value.
            (Some(fp.clone()), None, "in_sync", None)
        } else {
            match outcomes.get(address.as_str()) {
                // A proposal is applied when opened; it is in sync once merged.
                Some(Outcome::Ok) if kind == Kind::PullRequest => {
                    (Some(fp.clone()), Some(now.clone()), "pending", None)
                }
                Some(Outcome::Ok) => (Some(fp.clone()), Some(now.clone()), "in_sync", None),
                Some(Outcome::Failed(m)) => (prev_fp.clone(), None, "error", Some(m.clone())),
                Some(Outcome::Skipped(m)) => (prev_fp.clone(), None, "pending", Some(m.clone())),
                None => (prev_fp.clone(), None, "pending", None),
            }
        };
        let remote_updated_at = if kind == Kind::Secret {
            let name = address.item_name().unwrap_or("");
            result
                .and_then(|r| r.secrets_updated_at.get(name).cloned())
                .or(prev_remote)
                .or_else(|| {
                    obs.secrets
                        .get(name)
                        .map(|u| u.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                })
        } else {
            None
        };
        recs.push(ResourceRecord {
            address: address.to_string(),
            repo: full.clone(),
            kind: kind.to_string(),
            desired_fp: Some(fp),
            applied_fp,
            observed_fp: None,
            applied_at,
            remote_updated_at,
            status: status.to_string(),
            last_error: error,
            updated_at: now.clone(),
        });
    }
    let failed = result.is_some_and(|r| r.failed());
    let status = if failed {
        "error"
    } else if !unrepaired.is_empty() {
        "drifted"
    } else {
        "synced"
    };
    store.upsert_repo(&RepoRecord {
        name: full.clone(),
        owner: spec.owner.clone(),
        source_kind: spec.source.kind.as_str().to_string(),
        node: spec.source.node.clone(),
        source_key: spec.source.key.clone(),
        status: status.to_string(),
        drifted: !unrepaired.is_empty(),
        last_error: result.and_then(|r| r.first_error()),
        last_run_id: run_id,
        created_at: now.clone(),
        updated_at: now.clone(),
    })?;
    store.upsert_resources(&recs)?;
    let events: Vec<NewDriftEvent> = plan
        .drift
        .iter()
        .map(|d| NewDriftEvent {
            run_id,
            repo: full.clone(),
            address: d.address.to_string(),
            kind: d.kind.to_string(),
            what: d.what.clone(),
            repaired: d.repair && matches!(outcomes.get(d.address.as_str()), Some(Outcome::Ok)),
        })
        .collect();
    if !events.is_empty() {
        store.record_drift(&events)?;
    }
    Ok(())
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
