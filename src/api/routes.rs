//! Route handlers, on the daemon's [`AppState`]. Everything reads the store; nothing calls
//! GitHub or DSS on a request except `POST /api/v1/plan`, which asks for a (coalesced) dry run.

use super::errors::ApiError;
use crate::daemon::{AppState, Trigger};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use subtle::ConstantTimeEq;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// What a DSS node's last listing held, for `fleetctl status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeCounts {
    /// Projects the node listed, before the config's filters.
    pub listed: usize,
    /// Projects that passed the filters: the managed ones.
    pub projects: usize,
    /// Dev plugins listed (each managed).
    pub plugins: usize,
}

/// Discovery health per DSS node, for `/readyz` and the status API.
#[derive(Debug, Default)]
pub struct Health {
    nodes: Mutex<BTreeMap<String, Result<NodeCounts, String>>>,
    /// `Some(why)` when the last run could not read from GitHub.
    github: Mutex<Option<String>>,
}

impl Health {
    /// Records the outcome of a node's discovery (its counts, or the reason it failed).
    pub fn set(&self, node: &str, outcome: Result<NodeCounts, String>) {
        if let Ok(mut m) = self.nodes.lock() {
            m.insert(node.to_string(), outcome);
        }
    }

    /// Records whether the last run could read from GitHub.
    pub fn set_github(&self, outcome: Result<(), String>) {
        if let Ok(mut g) = self.github.lock() {
            *g = outcome.err();
        }
    }

    /// Why GitHub was unreachable in the last run, if it was.
    pub fn github_error(&self) -> Option<String> {
        match self.github.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Every node's last outcome.
    pub fn snapshot(&self) -> BTreeMap<String, Result<NodeCounts, String>> {
        match self.nodes.lock() {
            Ok(m) => m.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Forgets nodes no longer in the config (after a reload).
    pub fn retain(&self, nodes: &[String]) {
        let mut m = match self.nodes.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        m.retain(|n, _| nodes.contains(n));
    }
}

/// The API router with timeouts and body limits.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/status", get(status))
        .route("/api/v1/repos", get(repos))
        .route("/api/v1/repos/{*name}", get(repo))
        .route("/api/v1/runs", get(runs))
        .route("/api/v1/runs/{id}", get(run))
        .route("/api/v1/drift", get(drift))
        .route("/api/v1/events", get(events))
        .route("/api/v1/reconcile", post(reconcile))
        .route("/api/v1/plan", post(plan))
        .route("/api/v1/suspend", post(suspend))
        .route("/api/v1/resume", post(resume))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(RequestBodyLimitLayer::new(64 * 1024))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(120),
        ))
        .with_state(state)
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(s): State<AppState>) -> Response {
    let store_ok = s.store().schema_version().is_ok();
    let nodes = s.health().snapshot();
    let failing: BTreeMap<_, _> = nodes
        .iter()
        .filter_map(|(n, r)| r.as_ref().err().map(|e| (n.clone(), e.clone())))
        .collect();
    let github = s.health().github_error();
    let ready = store_ok && failing.is_empty() && github.is_none();
    let body = json!({
        "ready": ready,
        "store": if store_ok { "ok" } else { "unavailable" },
        "discovery_failing": failing,
        "github": match &github { None => "ok".to_string(), Some(e) => format!("unreachable: {e}") },
    });
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

async fn metrics(State(s): State<AppState>) -> Response {
    s.scrape();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics().render(),
    )
        .into_response()
}

/// The sum of one count over the nodes that answered.
fn sum_of(nodes: &BTreeMap<String, Value>, count: &str) -> u64 {
    nodes
        .values()
        .filter_map(|v| v.get(count).and_then(|p| p.as_u64()))
        .sum()
}

async fn status(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let (repos, pending) = super::repos::repo_docs(&s)?;
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for r in &repos {
        let status = r["status"].as_str().unwrap_or("-").to_string();
        *by_status.entry(status).or_default() += 1;
    }
    let drifted = repos.iter().filter(|r| r["drifted"] == true).count();
    // The last run that ended: the one running and the one queued have their own fields.
    let last_run = s
        .store()
        .list_runs(3)?
        .into_iter()
        .find(|r| !matches!(r.status.as_str(), "queued" | "running"));
    let last_success = s.store().last_successful_run()?;
    let next_run = s
        .schedule()
        .next()
        .await
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let nodes: BTreeMap<String, Value> = s
        .health()
        .snapshot()
        .into_iter()
        .map(|(n, r)| {
            let v = match r {
                Ok(c) => json!({
                    "ok": true,
                    "listed": c.listed,
                    "projects": c.projects,
                    "plugins": c.plugins,
                }),
                Err(e) => json!({"ok": false, "error": e}),
            };
            (n, v)
        })
        .collect();
    Ok(Json(json!({
        "projects": sum_of(&nodes, "projects"),
        "plugins": sum_of(&nodes, "plugins"),
        "dss_nodes": nodes,
        "repos": {"total": repos.len(), "by_status": by_status, "drifted": drifted},
        "running_run": s.control().running(),
        "queued_run": s.control().queued().map(|q| q.run_id),
        "next_scheduled_run": next_run,
        "last_run": last_run,
        "last_successful_run": last_success,
        "tombstones": s.store().list_tombstones()?,
        "pending_removals": pending,
        "suspended": s.store().suspension()?,
        "config": s.config_status(),
        "fleetd": crate::build_info::json(),
    })))
}

async fn repos(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let (repos, _) = super::repos::repo_docs(&s)?;
    Ok(Json(json!({ "repos": repos })))
}

async fn repo(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    super::repos::repo_detail(&s, &name).map(Json)
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    limit: Option<u32>,
    repo: Option<String>,
}

async fn runs(
    State(s): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(20).min(1000);
    Ok(Json(json!({"runs": s.store().list_runs(limit)?})))
}

async fn run(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("run id {id:?} is not a number")))?;
    let rec = s
        .store()
        .get_run(id)?
        .ok_or_else(|| ApiError::not_found(format!("no run {id}")))?;
    let journal = s.store().journal_of_run(id)?;
    let mut steps: BTreeMap<String, usize> = BTreeMap::new();
    for j in &journal {
        *steps
            .entry(format!("{}/{}", j.action, j.state))
            .or_default() += 1;
    }
    let errors = super::repos::run_errors(&s, id)?;
    Ok(Json(json!({"run": rec, "steps": steps, "errors": errors})))
}

async fn drift(
    State(s): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(100).min(5000);
    let repo = listed_repo(&s, q.repo.as_deref())?;
    let drift = s
        .store()
        .list_drift(repo.as_ref().map(|r| r.name.as_str()), limit)?;
    unknown_if_empty(&repo, drift.is_empty(), "drift")?;
    Ok(Json(json!({ "drift": drift })))
}

async fn events(
    State(s): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(100).min(5000);
    let repo = listed_repo(&s, q.repo.as_deref())?;
    let events = s
        .store()
        .list_events(repo.as_ref().map(|r| r.name.as_str()), limit)?;
    unknown_if_empty(&repo, events.is_empty(), "events")?;
    Ok(Json(json!({ "events": events })))
}

/// The `?repo=` of a listing: a managed repo by its full or bare name, or (a repo no longer
/// managed keeps its history) the name as given.
struct ListedRepo {
    name: String,
    managed: bool,
}

fn listed_repo(s: &AppState, name: Option<&str>) -> Result<Option<ListedRepo>, ApiError> {
    let Some(name) = name else { return Ok(None) };
    let owner = s.loaded().config.raw.github.owner.clone();
    Ok(Some(match s.store().find_repo(name, &owner)? {
        Some(r) => ListedRepo {
            name: r.name,
            managed: true,
        },
        None => ListedRepo {
            name: name.to_string(),
            managed: false,
        },
    }))
}

/// A repo that is not managed and has nothing recorded is most likely a typo: 404, as
/// `repos NAME` answers.
fn unknown_if_empty(repo: &Option<ListedRepo>, empty: bool, what: &str) -> Result<(), ApiError> {
    match repo {
        Some(r) if !r.managed && empty => Err(ApiError::not_found(format!(
            "repo {:?} is not managed by fleetsync and has no {what} recorded",
            r.name
        ))),
        _ => Ok(()),
    }
}

fn authorize(s: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = s.token() else {
        return Err(ApiError::unauthorized());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if bool::from(given.as_bytes().ct_eq(expected.expose().as_bytes())) && !given.is_empty() {
        Ok(())
    } else {
        Err(ApiError::unauthorized())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReconcileBody {
    #[serde(default)]
    project: Option<String>,
    #[serde(default)]
    projects: Vec<String>,
    /// Managed repos (`owner/name` or bare names): their projects or plugins.
    #[serde(default)]
    repos: Vec<String>,
    /// `POST /api/v1/plan`: the text with every file's whole diff (`fleetctl plan --diff`).
    #[serde(default)]
    diff: bool,
}

/// A reconcile or plan body (an empty one asks for everything).
fn parse_body(body: &str) -> Result<ReconcileBody, ApiError> {
    if body.trim().is_empty() {
        return Ok(ReconcileBody::default());
    }
    serde_json::from_str(body).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// The projects a body names: `projects`, `project`, and the sources of `repos` (an unknown
/// repo is a 400 naming it).
fn body_projects(s: &AppState, b: ReconcileBody) -> Result<Vec<String>, ApiError> {
    let mut p = b.projects;
    if let Some(one) = b.project {
        p.push(one);
    }
    let suspension = s.store().suspension()?;
    for name in &b.repos {
        let rec = super::repos::find(s, name).map_err(|e| match e.status {
            StatusCode::NOT_FOUND => ApiError::bad_request(e.message),
            _ => e,
        })?;
        if let Some(since) = super::repos::suspended_since(&suspension, &rec.name) {
            return Err(ApiError::conflict(format!(
                "repo {} is suspended since {since}: a run leaves it alone until `fleetctl resume --repo {}`",
                rec.name, rec.name
            )));
        }
        if !p.contains(&rec.source_key) {
            p.push(rec.source_key);
        }
    }
    Ok(p)
}

async fn reconcile(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, ApiError> {
    authorize(&s, &headers)?;
    let projects = body_projects(&s, parse_body(&body)?)?;
    if let Some(since) = s.store().suspension()?.fleet {
        return Err(ApiError::conflict(format!(
            "the fleet is suspended since {since}: no run is queued until `fleetctl resume`"
        )));
    }
    // Checked before queueing: a request that joins a queued full run would otherwise
    // "succeed" for a key that does not exist.
    if let Some(e) = s.loaded().engine.check_keys(&projects).await {
        return Err(ApiError::bad_request(e));
    }
    let store = s.store().clone();
    let accepted = s
        .control()
        .request(
            Trigger {
                source: "api".into(),
                projects,
            },
            |t| {
                let p = (!t.projects.is_empty()).then(|| t.projects.join(","));
                store.queue_run(&t.source, p.as_deref(), false)
            },
        )
        .map_err(ApiError::from)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"run_id": accepted.run_id, "coalesced": accepted.coalesced})),
    )
        .into_response())
}

async fn plan(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Json<Value>, ApiError> {
    authorize(&s, &headers)?;
    let parsed = parse_body(&body)?;
    let whole_diffs = parsed.diff;
    let projects = body_projects(&s, parsed)?;
    let mut doc = s.plan(projects).await.map_err(|e| {
        let msg = format!("no plan: {}", e.message);
        if e.bad_request {
            ApiError::bad_request(msg)
        } else {
            ApiError::internal(msg)
        }
    })?;
    // The plan is shared by concurrent requests; each gets the text it asked for.
    if let Some(obj) = doc.as_object_mut() {
        if let Some(whole) = obj.remove("text_whole_diffs") {
            if whole_diffs {
                obj.insert("text".into(), whole);
            }
        }
    }
    Ok(Json(doc))
}

async fn suspend(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Json<Value>, ApiError> {
    authorize(&s, &headers)?;
    super::suspend::suspend(&s, super::suspend::body(&body)?).map(Json)
}

async fn resume(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Json<Value>, ApiError> {
    authorize(&s, &headers)?;
    super::suspend::resume(&s, super::suspend::body(&body)?).map(Json)
}
