//! `POST /api/v1/suspend` and `POST /api/v1/resume` (`fleetctl suspend` / `resume`): take
//! the fleet, or one repo, out of the runs' writes and back. Kept in the state file; the
//! metric `fleet_suspended` follows.

use super::errors::ApiError;
use crate::daemon::AppState;
use serde::Deserialize;
use serde_json::{json, Value};

/// The body: `{}` for the fleet, `{"repo": "acme/dss-x"}` (or the bare name) for one repo.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuspendBody {
    #[serde(default)]
    repo: Option<String>,
}

/// Reads the body (empty: the fleet).
pub fn body(text: &str) -> Result<SuspendBody, ApiError> {
    if text.trim().is_empty() {
        return Ok(SuspendBody::default());
    }
    serde_json::from_str(text).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// Suspends the fleet or a managed repo.
pub fn suspend(s: &AppState, b: SuspendBody) -> Result<Value, ApiError> {
    let repo = match &b.repo {
        Some(name) => Some(
            super::repos::find(s, name)
                .map_err(|e| match e.status {
                    axum::http::StatusCode::NOT_FOUND => ApiError::bad_request(e.message),
                    _ => e,
                })?
                .name,
        ),
        None => None,
    };
    let now = s.store().suspend(repo.as_deref())?;
    s.metrics().suspension(&now);
    let what = repo.clone().unwrap_or_else(|| "the fleet".into());
    tracing::warn!(what = %what, "suspended: no GitHub writes until resumed");
    s.store().record_event(
        None,
        "suspend",
        repo.as_deref(),
        &format!("{what} suspended: no GitHub writes until resumed"),
    )?;
    Ok(json!({"suspended": now, "what": what, "changed": true}))
}

/// Resumes the fleet or a repo (a repo no longer managed by the name given).
pub fn resume(s: &AppState, b: SuspendBody) -> Result<Value, ApiError> {
    let repo = match &b.repo {
        Some(name) => {
            let owner = s.loaded().config.raw.github.owner.clone();
            Some(
                s.store()
                    .find_repo(name, &owner)?
                    .map_or_else(|| name.clone(), |r| r.name),
            )
        }
        None => None,
    };
    let (changed, now) = s.store().resume(repo.as_deref())?;
    s.metrics().suspension(&now);
    let what = repo.clone().unwrap_or_else(|| "the fleet".into());
    if changed {
        tracing::info!(what = %what, "resumed");
        s.store()
            .record_event(None, "resume", repo.as_deref(), &format!("{what} resumed"))?;
    }
    Ok(json!({"suspended": now, "what": what, "changed": changed}))
}
