//! The simulator's own admin API under `/_sim/github` (no auth): state, traffic counters, the
//! request log, knobs, and "someone changed it on GitHub" edits for drift tests.

use super::reply::{body_object, json_reply, not_found};
use super::Shared;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/state", get(state))
        .route("/requests", get(requests))
        .route("/requests/reset", post(reset))
        .route("/knobs", get(knobs).put(set_knobs))
        .route("/repos/{owner}/{repo}", get(repo))
        .route("/repos/{owner}/{repo}/variables/{name}", put(edit_variable))
        .route("/repos/{owner}/{repo}/files/{*path}", put(edit_file))
        .route(
            "/repos/{owner}/{repo}/protection/{branch}",
            axum::routing::delete(remove_protection),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/merge",
            post(merge_pull),
        )
        .route("/repos/{owner}/{repo}/rename", post(rename))
        .route("/repos/{owner}/{repo}/transfer", post(transfer))
}

fn refused(message: &str) -> Response {
    json_reply(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"message": message}),
    )
}

/// A reviewer merges a pull request: `{"sha", "merged": true, "message"}` like GitHub's merge.
async fn merge_pull(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
) -> Response {
    let handle = super::GithubSimHandle {
        shared: shared.clone(),
    };
    match handle.merge_pull(&format!("{owner}/{repo}"), number) {
        Ok(sha) => json_reply(
            StatusCode::OK,
            json!({"sha": sha, "merged": true, "message": "Pull Request successfully merged"}),
        ),
        Err(e) => json_reply(StatusCode::CONFLICT, json!({"message": e})),
    }
}

fn text_field(body: &Bytes, key: &str) -> Option<String> {
    body_object(body)
        .ok()
        .and_then(|b| b.get(key).and_then(Value::as_str).map(str::to_string))
}

/// Someone renames a repository: `{"name": "new"}`.
async fn rename(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Some(name) = text_field(&body, "name") else {
        return refused("the body must be {\"name\": \"...\"}");
    };
    match shared.lock().relocate(&owner, &repo, &owner, &name) {
        Ok(()) => json_reply(
            StatusCode::OK,
            json!({"full_name": format!("{owner}/{name}")}),
        ),
        Err(e) => refused(&e),
    }
}

/// Someone transfers a repository: `{"new_owner": "org", "new_name": optional}`.
async fn transfer(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Some(new_owner) = text_field(&body, "new_owner") else {
        return refused("the body must be {\"new_owner\": \"...\"}");
    };
    let name = text_field(&body, "new_name").unwrap_or_else(|| repo.clone());
    match shared.lock().relocate(&owner, &repo, &new_owner, &name) {
        Ok(()) => json_reply(
            StatusCode::OK,
            json!({"full_name": format!("{new_owner}/{name}")}),
        ),
        Err(e) => refused(&e),
    }
}

async fn state(State(shared): State<Arc<Shared>>) -> Response {
    let st = shared.lock();
    json_reply(
        StatusCode::OK,
        json!({"url": shared.base_url, "orgs": st.settings.orgs, "repos": st.repo_names()}),
    )
}

async fn requests(State(shared): State<Arc<Shared>>) -> Response {
    let st = shared.lock();
    let recent: Vec<_> = st.record.log.iter().rev().take(200).cloned().collect();
    json_reply(
        StatusCode::OK,
        json!({"counters": st.record.counters, "recent": recent}),
    )
}

async fn reset(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().record.reset();
    json_reply(StatusCode::OK, json!({}))
}

fn knobs_json(s: &super::GithubSimSettings) -> Value {
    json!({
        "latency_ms": s.latency_ms, "error_rate": s.error_rate, "reset_rate": s.reset_rate,
        "outage": s.outage, "primary_limit": s.primary_limit, "max_concurrent": s.max_concurrent,
        "content_writes_per_minute": s.content_writes_per_minute,
        "content_writes_per_hour": s.content_writes_per_hour,
        "points_per_minute": s.points_per_minute, "secondary_status": s.secondary_status,
        "send_retry_after": s.send_retry_after,
        "installation_token_ttl_secs": s.installation_token_ttl_secs,
        "token_requests_per_hour": s.token_requests_per_hour, "time_scale": s.time_scale,
    })
}

async fn knobs(State(shared): State<Arc<Shared>>) -> Response {
    let st = shared.lock();
    json_reply(StatusCode::OK, knobs_json(&st.settings))
}

async fn set_knobs(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut st = shared.lock();
    let s = &mut st.settings;
    for (k, v) in &body {
        let ok = match k.as_str() {
            "latency_ms" => v.as_u64().map(|x| s.latency_ms = x).is_some(),
            "error_rate" => v.as_f64().map(|x| s.error_rate = x).is_some(),
            "reset_rate" => v.as_f64().map(|x| s.reset_rate = x).is_some(),
            "outage" => v.as_bool().map(|x| s.outage = x).is_some(),
            "primary_limit" => v.as_u64().map(|x| s.primary_limit = x).is_some(),
            "max_concurrent" => v.as_u64().map(|x| s.max_concurrent = x as u32).is_some(),
            "content_writes_per_minute" => v
                .as_u64()
                .map(|x| s.content_writes_per_minute = x as u32)
                .is_some(),
            "content_writes_per_hour" => v
                .as_u64()
                .map(|x| s.content_writes_per_hour = x as u32)
                .is_some(),
            "points_per_minute" => v.as_u64().map(|x| s.points_per_minute = x as u32).is_some(),
            "token_requests_per_hour" => v
                .as_u64()
                .map(|x| s.token_requests_per_hour = x as u32)
                .is_some(),
            "time_scale" => v.as_u64().map(|x| s.time_scale = x.max(1) as u32).is_some(),
            "secondary_status" => v.as_u64().map(|x| s.secondary_status = x as u16).is_some(),
            "send_retry_after" => v.as_bool().map(|x| s.send_retry_after = x).is_some(),
            "installation_token_ttl_secs" => v
                .as_u64()
                .map(|x| s.installation_token_ttl_secs = x)
                .is_some(),
            _ => false,
        };
        if !ok {
            return json_reply(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"message": format!("unknown knob or wrong type: {k}")}),
            );
        }
    }
    json_reply(StatusCode::OK, knobs_json(s))
}

async fn repo(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    let st = shared.lock();
    let Some(v) = st.repo_view(&format!("{owner}/{repo}")) else {
        return not_found();
    };
    json_reply(
        StatusCode::OK,
        json!({
            "full_name": v.full_name, "archived": v.archived, "private": v.private,
            "visibility": v.visibility, "description": v.description,
            "default_branch": v.default_branch, "topics": v.topics, "branches": v.branches,
            "files": v.files.iter().map(|(p, b)| (p.clone(), String::from_utf8_lossy(b).into_owned())).collect::<std::collections::BTreeMap<_, _>>(),
            "secrets": v.secrets.iter().map(|(n, s)| (n.clone(), json!({"value": s.value, "updated_at": s.updated_at.to_rfc3339()}))).collect::<serde_json::Map<_, _>>(),
            "variables": v.variables, "protection": v.protection, "environments": v.environments,
        }),
    )
}

async fn edit_variable(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, name)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let value = body_object(&body)
        .ok()
        .and_then(|b| b.get("value").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default();
    if shared
        .lock()
        .set_variable(&format!("{owner}/{repo}"), &name, &value)
    {
        json_reply(StatusCode::OK, json!({}))
    } else {
        not_found()
    }
}

async fn edit_file(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, path)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    if shared
        .lock()
        .edit_file(&format!("{owner}/{repo}"), None, &path, &body)
    {
        json_reply(StatusCode::OK, json!({}))
    } else {
        not_found()
    }
}

async fn remove_protection(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, branch)): Path<(String, String, String)>,
) -> Response {
    if shared
        .lock()
        .remove_protection(&format!("{owner}/{repo}"), &branch)
    {
        json_reply(StatusCode::OK, json!({}))
    } else {
        not_found()
    }
}
