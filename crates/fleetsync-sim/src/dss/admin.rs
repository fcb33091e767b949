//! The simulator's admin API under `/_sim/dss/...` (no auth, JSON): inspect the state and the
//! request counters, add/remove projects, change tags, switch faults on and off.

use super::state::DssSimHandle;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

/// The admin routes.
pub(crate) fn router(h: DssSimHandle) -> Router {
    Router::new()
        .route("/_sim/dss/state", get(state))
        .route("/_sim/dss/requests", get(requests))
        .route("/_sim/dss/projects", post(add_project))
        .route("/_sim/dss/projects/{key}", delete(remove_project))
        .route("/_sim/dss/projects/{key}/tags", put(set_tags))
        .route("/_sim/dss/projects/{key}/touch", post(touch))
        .route("/_sim/dss/projects/{key}/commits", post(commit))
        .route("/_sim/dss/outage", post(outage))
        .route("/_sim/dss/error_rate", post(error_rate))
        .route("/_sim/dss/empty_listing", post(empty_listing))
        .with_state(h)
}

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("bad body: {e}"))
}

fn bad(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": message}))).into_response()
}

fn missing(key: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": format!("no project {key}")})),
    )
        .into_response()
}

async fn state(State(h): State<DssSimHandle>) -> Json<Value> {
    let mut s = h.lock();
    let projects: Vec<Value> = s
        .projects
        .values_mut()
        .map(|p| {
            json!({
                "key": p.key, "name": p.name, "tags": p.tags, "version": p.version,
                "remotes": p.remotes, "pushes": p.pushes,
                "branch": p.git().current, "head": p.git().head(), "branches": p.git().branches,
            })
        })
        .collect();
    let plugins: Vec<Value> = s
        .plugins
        .values()
        .map(|p| json!({"id": p.id, "version": p.version, "isDev": p.is_dev}))
        .collect();
    Json(json!({
        "version": s.version,
        "projects": projects,
        "plugins": plugins,
        "outage": s.outage,
        "errorRate": s.error_rate,
        "latencyMs": s.latency_ms,
        "emptyListing": s.empty_listing,
        "requests": s.requests,
    }))
}

async fn requests(State(h): State<DssSimHandle>) -> Json<Value> {
    Json(json!({"total": h.request_count(), "routes": h.route_counts()}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewProject {
    key: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

async fn add_project(State(h): State<DssSimHandle>, body: Bytes) -> Response {
    let p: NewProject = match parse(&body) {
        Ok(p) => p,
        Err(e) => return bad(&e),
    };
    if p.key.is_empty()
        || !p
            .key
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    {
        return bad("a project key is made of A-Z, 0-9 and _");
    }
    let tags: Vec<&str> = p.tags.iter().map(String::as_str).collect();
    let name = p.name.clone().unwrap_or_else(|| p.key.clone());
    h.add_project(&p.key, &name, &tags);
    (StatusCode::CREATED, Json(json!({"key": p.key}))).into_response()
}

async fn remove_project(State(h): State<DssSimHandle>, Path(key): Path<String>) -> Response {
    if h.remove_project(&key) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        missing(&key)
    }
}

async fn set_tags(State(h): State<DssSimHandle>, Path(key): Path<String>, body: Bytes) -> Response {
    let tags: Vec<String> = match parse(&body) {
        Ok(t) => t,
        Err(e) => return bad(&e),
    };
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    if h.set_project_tags(&key, &tags) {
        Json(json!({"key": key, "tags": tags})).into_response()
    } else {
        missing(&key)
    }
}

async fn touch(State(h): State<DssSimHandle>, Path(key): Path<String>) -> Response {
    match h.touch_project(&key) {
        Some(v) => Json(json!({"key": key, "version": v})).into_response(),
        None => missing(&key),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Switch {
    on: bool,
}

async fn outage(State(h): State<DssSimHandle>, body: Bytes) -> Response {
    match parse::<Switch>(&body) {
        Ok(s) => {
            h.set_outage(s.on);
            Json(json!({"outage": s.on})).into_response()
        }
        Err(e) => bad(&e),
    }
}

async fn empty_listing(State(h): State<DssSimHandle>, body: Bytes) -> Response {
    match parse::<Switch>(&body) {
        Ok(s) => {
            h.set_empty_listing(s.on);
            Json(json!({"emptyListing": s.on})).into_response()
        }
        Err(e) => bad(&e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rate {
    rate: f64,
}

async fn error_rate(State(h): State<DssSimHandle>, body: Bytes) -> Response {
    match parse::<Rate>(&body) {
        Ok(r) if (0.0..=1.0).contains(&r.rate) => {
            h.set_error_rate(r.rate);
            Json(json!({"errorRate": r.rate})).into_response()
        }
        Ok(_) => bad("rate must be between 0.0 and 1.0"),
        Err(e) => bad(&e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCommit {
    /// Path → new content (text), or `null` to remove the file.
    files: std::collections::BTreeMap<String, Option<String>>,
    message: String,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    branch: Option<String>,
}

/// A DSS user edits the project: one commit on its current branch (or `branch`).
async fn commit(State(h): State<DssSimHandle>, Path(key): Path<String>, body: Bytes) -> Response {
    let c: NewCommit = match parse(&body) {
        Ok(c) => c,
        Err(e) => return bad(&e),
    };
    if c.files.is_empty() {
        return bad("a commit changes at least one file");
    }
    let changes: Vec<(&str, Option<&[u8]>)> = c
        .files
        .iter()
        .map(|(p, v)| (p.as_str(), v.as_deref().map(str::as_bytes)))
        .collect();
    match h.commit_project(
        &key,
        c.author.as_deref(),
        c.branch.as_deref(),
        &changes,
        &c.message,
    ) {
        Ok(sha) => (
            StatusCode::CREATED,
            Json(json!({"key": key, "commit": sha})),
        )
            .into_response(),
        Err(e) if e.starts_with("no project") => missing(&key),
        Err(e) => bad(&e),
    }
}
