//! `GET /rate_limit` (free), GitHub App installation-token minting (JWT auth, tokens expire),
//! and deployment environments.

use super::gate::CallerExt;
use super::reply::*;
use super::routes_actions::repo_list;
use super::state::EnvRec;
use super::Shared;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/rate_limit", get(rate_limit))
        .route(
            "/app/installations/{installation_id}/access_tokens",
            post(access_token),
        )
        .route("/repos/{owner}/{repo}/environments", get(list_envs))
        .route(
            "/repos/{owner}/{repo}/environments/{environment_name}",
            get(get_env).put(put_env).delete(delete_env),
        )
}

async fn rate_limit(
    State(shared): State<Arc<Shared>>,
    Extension(CallerExt(caller)): Extension<CallerExt>,
) -> Reply {
    let mut st = shared.lock();
    let now = Utc::now().timestamp();
    let core = match &caller {
        Some(c) => {
            let s = st.settings.clone();
            let p = st.limits.primary(&s, &c.bucket, now);
            json!({"limit": p.limit, "used": p.used, "remaining": p.remaining(), "reset": p.reset, "resource": "core"})
        }
        None => {
            json!({"limit": 60, "used": 0, "remaining": 60, "reset": now + 3600, "resource": "core"})
        }
    };
    let small = |limit: u64, resource: &str| json!({"limit": limit, "used": 0, "remaining": limit, "reset": now + 60, "resource": resource});
    Ok(json_reply(
        StatusCode::OK,
        json!({
            "resources": {
                "core": core,
                "search": small(30, "search"),
                "code_search": small(10, "code_search"),
                "graphql": small(5000, "graphql"),
                "integration_manifest": small(5000, "integration_manifest"),
            },
            "rate": core,
        }),
    ))
}

async fn access_token(
    State(shared): State<Arc<Shared>>,
    Path(installation_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    body_object(&body)?;
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let mut st = shared.lock();
    let Some(app) = st.auth.app_for_jwt(auth).cloned() else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "A JSON web token could not be decoded",
        ));
    };
    if installation_id != app.installation_id.to_string() {
        return Err(not_found());
    }
    let settings = st.settings.clone();
    let app_key = app.app_id.to_string();
    if let Some(retry_after) =
        st.limits
            .token_request(&settings, &app_key, std::time::Instant::now())
    {
        st.record.counters.secondary_limited += 1;
        return Err(super::gate::secondary_reply(&settings, retry_after));
    }
    let now = Utc::now().timestamp();
    let ttl = st.settings.installation_token_ttl_secs;
    let mut rng = rand::rngs::OsRng;
    let (token, expires_at) = st.auth.mint(&app, ttl, now, &mut rng);
    let expires = Utc
        .timestamp_opt(expires_at, 0)
        .single()
        .map(|t| ts(&t))
        .unwrap_or_default();
    let workflows = if app.workflows { "write" } else { "none" };
    let mut permissions = json!({
        "administration": "write", "contents": "write", "secrets": "write",
        "variables": "write", "actions": "read", "metadata": "read",
    });
    if app.workflows {
        permissions["workflows"] = json!(workflows);
    }
    Ok(json_reply(
        StatusCode::CREATED,
        json!({"token": token, "expires_at": expires, "permissions": permissions, "repository_selection": "all"}),
    ))
}

fn env_json(base: &str, full: &str, e: &EnvRec) -> Value {
    let mut rules = Vec::new();
    if e.wait_timer > 0 {
        rules.push(json!({"id": e.id * 10 + 1, "node_id": "GA_sim", "type": "wait_timer", "wait_timer": e.wait_timer}));
    }
    json!({
        "id": e.id,
        "node_id": format!("EN_sim{}", e.id),
        "name": e.name,
        "url": format!("{base}/repos/{full}/environments/{}", e.name.replace('/', "%2F")),
        "html_url": format!("https://github.com/{full}/deployments/activity_log?environments_filter={}", e.name),
        "created_at": ts(&e.created_at),
        "updated_at": ts(&e.updated_at),
        "protection_rules": rules,
        "deployment_branch_policy": e.deployment_branch_policy,
    })
}

async fn list_envs(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let list = ("environments", "/environments", (30, 100));
    repo_list(&shared, (&owner, &repo), &q, list, |base, r| {
        let full = r.full_name();
        r.environments
            .values()
            .map(|e| env_json(base, &full, e))
            .collect()
    })
}

async fn get_env(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, name)): Path<(String, String, String)>,
) -> Reply {
    let st = shared.lock();
    let r = st.repo(&owner, &repo).ok_or_else(not_found)?;
    Ok(match r.environments.get(&name) {
        Some(e) => json_reply(
            StatusCode::OK,
            env_json(&shared.base_url, &r.full_name(), e),
        ),
        None => not_found(),
    })
}

async fn put_env(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, name)): Path<(String, String, String)>,
    body: Bytes,
) -> Reply {
    let body = body_object(&body)?;
    if name.is_empty() || name.len() > 255 {
        return Err(validation(
            "Validation Failed: invalid environment name",
            vec![],
        ));
    }
    let wait_timer = match body.get("wait_timer") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(w) if w <= 43_200 => w,
            _ => return Err(invalid("wait_timer", "must be between 0 and 43200")),
        },
        Some(_) => return Err(invalid("wait_timer", "is not an integer")),
    };
    if let Some(Value::Array(rv)) = body.get("reviewers") {
        if rv.len() > 6 {
            return Err(invalid("reviewers", "may hold at most 6 reviewers"));
        }
    }
    let policy = match body.get("deployment_branch_policy") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Object(p)) => {
            let pb = p.get("protected_branches").and_then(Value::as_bool);
            let cb = p.get("custom_branch_policies").and_then(Value::as_bool);
            match (pb, cb) {
                (Some(a), Some(b)) if a != b => json!({"protected_branches": a, "custom_branch_policies": b}),
                (Some(_), Some(_)) => {
                    return Err(validation(
                        "Validation Failed: only one of protected_branches and custom_branch_policies can be true",
                        vec![],
                    ))
                }
                (None, _) => return Err(missing("deployment_branch_policy.protected_branches")),
                (_, None) => return Err(missing("deployment_branch_policy.custom_branch_policies")),
            }
        }
        Some(_) => return Err(invalid("deployment_branch_policy", "is not an object")),
    };
    let prevent_self_review = opt_bool(&body, "prevent_self_review")?.unwrap_or(false);
    let mut st = shared.lock();
    let id = st.next_id();
    let r = st.repo_mut(&owner, &repo).ok_or_else(not_found)?;
    let now = Utc::now();
    let full = r.full_name();
    let e = r.environments.entry(name.clone()).or_insert(EnvRec {
        id,
        name,
        created_at: now,
        updated_at: now,
        wait_timer: 0,
        prevent_self_review: false,
        deployment_branch_policy: Value::Null,
    });
    e.wait_timer = wait_timer;
    e.prevent_self_review = prevent_self_review;
    e.deployment_branch_policy = policy;
    e.updated_at = now;
    let v = env_json(&shared.base_url, &full, e);
    Ok(json_reply(StatusCode::OK, v))
}

async fn delete_env(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, name)): Path<(String, String, String)>,
) -> Reply {
    let mut st = shared.lock();
    let r = st.repo_mut(&owner, &repo).ok_or_else(not_found)?;
    r.environments.remove(&name).ok_or_else(not_found)?;
    Ok(empty(StatusCode::NO_CONTENT))
}
