//! The repo documents of the API: each managed repo as recorded, except that a live repo
//! whose source is gone reads `pending-removal` with its `removal` (action, since, due), so
//! `status`, `repos` and the metrics never call such a repo `synced`.

use super::errors::ApiError;
use crate::daemon::AppState;
use crate::guard::{pending_removal, PendingRemoval};
use crate::reconcile::PENDING_REMOVAL;
use crate::store::{RepoRecord, Suspension, Tombstone};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One repo as the API shows it.
fn repo_doc(rec: &RepoRecord, pending: Option<&PendingRemoval>, suspension: &Suspension) -> Value {
    let mut v = json!(rec);
    if let Some(p) = pending {
        v["recorded_status"] = json!(rec.status);
        v["status"] = json!(PENDING_REMOVAL);
        v["removal"] = json!(p);
    }
    // `fleetctl suspend --repo`: runs leave it alone, whatever it was last.
    if let Some(since) = suspended_since(suspension, &rec.name) {
        v["recorded_status"] = json!(rec.status);
        v["status"] = json!("suspended");
        v["suspended_since"] = json!(since);
    }
    v
}

/// Since when `repo` is suspended on its own (names in any case).
pub fn suspended_since<'s>(suspension: &'s Suspension, repo: &str) -> Option<&'s str> {
    suspension
        .repos
        .iter()
        .find(|(r, _)| r.eq_ignore_ascii_case(repo))
        .map(|(_, since)| since.as_str())
}

/// Every managed repo's document and the pending removals among them.
pub fn repo_docs(s: &AppState) -> Result<(Vec<Value>, Vec<PendingRemoval>), ApiError> {
    let store = s.store();
    let (policy, grace) = s.loaded().engine.removal_policy();
    let tombstones = store.list_tombstones()?;
    let by_repo: BTreeMap<&str, &Tombstone> =
        tombstones.iter().map(|t| (t.repo.as_str(), t)).collect();
    let suspension = store.suspension()?;
    let mut docs = Vec::new();
    let mut pending = Vec::new();
    for r in store.list_repos()? {
        let p = pending_removal(&r, by_repo.get(r.name.as_str()).copied(), policy, grace);
        docs.push(repo_doc(&r, p.as_ref(), &suspension));
        pending.extend(p);
    }
    Ok((docs, pending))
}

/// The repo a user named (`owner/name`, or the bare name), or a 404 saying so.
pub fn find(s: &AppState, name: &str) -> Result<RepoRecord, ApiError> {
    let owner = s.loaded().config.raw.github.owner.clone();
    s.store().find_repo(name, &owner)?.ok_or_else(|| {
        ApiError::not_found(format!(
            "repo {name:?} is not managed by fleetsync (`fleetctl repos` lists the managed repos)"
        ))
    })
}

/// `GET /api/v1/repos/{owner}/{name}` (or `{name}`): the repo, its resources and drift.
pub fn repo_detail(s: &AppState, name: &str) -> Result<Value, ApiError> {
    let rec = find(s, name)?;
    let (policy, grace) = s.loaded().engine.removal_policy();
    let tomb = s
        .store()
        .list_tombstones()?
        .into_iter()
        .find(|t| t.repo == rec.name);
    let pending = pending_removal(&rec, tomb.as_ref(), policy, grace);
    Ok(json!({
        "repo": repo_doc(&rec, pending.as_ref(), &s.store().suspension()?),
        "resources": s.store().list_resources(Some(&rec.name))?,
        "drift": s.store().list_drift(Some(&rec.name), 50)?,
    }))
}

/// The repos a run left with an error (their last run is this one) and its failed steps.
pub fn run_errors(s: &AppState, run_id: i64) -> Result<Vec<Value>, ApiError> {
    let mut out: Vec<Value> = s
        .store()
        .list_repos()?
        .into_iter()
        .filter(|r| r.last_run_id == Some(run_id))
        .filter_map(|r| {
            let e = r.last_error?;
            Some(json!({"repo": r.name, "error": e}))
        })
        .collect();
    for j in s.store().journal_of_run(run_id)? {
        if j.state == "failed" {
            let detail = j.detail.unwrap_or_default();
            out.push(
                json!({"address": j.address, "error": format!("{} failed: {detail}", j.action)}),
            );
        }
    }
    Ok(out)
}
