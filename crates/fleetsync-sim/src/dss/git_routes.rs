//! The project git endpoints of DSS's public API, as Dataiku's official Python client
//! (`DSSProjectGit`) calls them: status, current branch, branches (list, create), push,
//! fetch, pull with rebase, and log. The client sends JSON bodies without a Content-Type and
//! query parameters as Python spells booleans (`True`/`False`); both are read here.

use super::git::{valid_branch_name, ProjectGit};
use super::git_net::{self, GitAnswer};
use super::state::{DssSimHandle, SimProject};
use super::wire;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The git routes (mounted under both API prefixes with the others).
pub(crate) fn routes() -> Router<DssSimHandle> {
    Router::new()
        .route("/projects/{key}/git/status", get(status))
        .route("/projects/{key}/git/current-branch", get(current_branch))
        .route("/projects/{key}/git/branches", get(list_branches))
        .route("/projects/{key}/git/branches/", post(create_branch))
        .route("/projects/{key}/git/actions/push", post(push))
        .route("/projects/{key}/git/actions/fetch", post(fetch))
        .route("/projects/{key}/git/actions/pullRebase", post(pull_rebase))
        .route("/projects/{key}/git/actions/log", get(log))
}

type Params = Query<HashMap<String, String>>;

fn answer(a: Option<GitAnswer>, key: &str) -> Response {
    match a {
        Some(a) => Json(a.json()).into_response(),
        None => wire::unknown_project(key),
    }
}

/// A query parameter as a branch name (`None` when absent or empty).
fn branch_param(q: &HashMap<String, String>) -> Option<String> {
    q.get("branchName").filter(|b| !b.is_empty()).cloned()
}

async fn status(State(h): State<DssSimHandle>, Path(key): Path<String>) -> Response {
    match h.lock().projects.get_mut(&key) {
        Some(p) => Json(wire::git_status(p)).into_response(),
        None => wire::unknown_project(&key),
    }
}

async fn current_branch(State(h): State<DssSimHandle>, Path(key): Path<String>) -> Response {
    match h.lock().projects.get_mut(&key) {
        Some(p) => Json(json!({"name": p.git().current})).into_response(),
        None => wire::unknown_project(&key),
    }
}

async fn list_branches(
    State(h): State<DssSimHandle>,
    Path(key): Path<String>,
    Query(q): Params,
) -> Response {
    let remote = match q.get("remote").map(|v| wire::parse_bool(v)) {
        None => false,
        Some(Some(b)) => b,
        Some(None) => return wire::bad_request("remote must be true or false"),
    };
    let mut s = h.lock();
    let Some(p) = s.projects.get_mut(&key) else {
        return wire::unknown_project(&key);
    };
    let mut names: Vec<String> = p.git().branches.keys().cloned().collect();
    if remote {
        names.extend(p.git().tracking.keys().cloned());
    }
    Json(names).into_response()
}

/// The body of `POST git/branches/`.
struct NewBranch {
    name: String,
    commit: Option<String>,
    duplicate: bool,
    target_key: Option<String>,
}

fn parse_new_branch(body: &Bytes) -> Result<NewBranch, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let Some(name) = text("name") else {
        return Err("the body must name the branch: {\"name\": ...}".into());
    };
    Ok(NewBranch {
        name,
        commit: text("commit").filter(|c| !c.is_empty()),
        duplicate: v
            .get("duplicateProject")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        target_key: text("targetProjectKey").filter(|k| !k.is_empty()),
    })
}

/// Creates `b.name` in `git` at `b.commit` (HEAD by default) and switches to it.
fn branch_in(git: &mut ProjectGit, b: &NewBranch) -> GitAnswer {
    let fail = |output: String| GitAnswer {
        success: false,
        output,
    };
    if !valid_branch_name(&b.name) {
        return fail(format!("fatal: '{}' is not a valid branch name", b.name));
    }
    if git.branches.contains_key(&b.name) {
        return fail(format!("fatal: a branch named '{}' already exists", b.name));
    }
    let start = match &b.commit {
        Some(c) if git.objects.commits.contains_key(c) => c.clone(),
        Some(c) => match git.branches.get(c) {
            Some(sha) => sha.clone(),
            None => return fail(format!("fatal: not a valid object name: '{c}'")),
        },
        None => match git.head() {
            Some(h) => h.clone(),
            None => return fail("fatal: not a valid object name: 'HEAD'".into()),
        },
    };
    git.branches.insert(b.name.clone(), start);
    git.current = b.name.clone();
    GitAnswer {
        success: true,
        output: format!("Switched to a new branch '{}'", b.name),
    }
}

/// The key of a duplicated project: the given one, or the source key and the branch name.
fn duplicate_key(source: &str, b: &NewBranch) -> String {
    b.target_key.clone().unwrap_or_else(|| {
        let suffix: String = b
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        format!("{source}_{suffix}")
    })
}

async fn create_branch(
    State(h): State<DssSimHandle>,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    let b = match parse_new_branch(&body) {
        Ok(b) => b,
        Err(e) => return wire::bad_request(&e),
    };
    let mut s = h.lock();
    let Some(p) = s.projects.get_mut(&key) else {
        return wire::unknown_project(&key);
    };
    if !b.duplicate {
        let a = branch_in(p.git(), &b);
        return Json(a.json()).into_response();
    }
    let new_key = duplicate_key(&key, &b);
    let mut copy: SimProject = p.clone();
    let a = branch_in(copy.git(), &b);
    if !a.success {
        return Json(a.json()).into_response();
    }
    if s.projects.contains_key(&new_key) {
        return wire::bad_request(&format!("Project {new_key} already exists"));
    }
    copy.key = new_key.clone();
    copy.name = format!("{} ({})", copy.name, b.name);
    copy.pushes = 0;
    s.projects.insert(new_key.clone(), copy);
    let mut v = a.json();
    v["projectKey"] = json!(new_key);
    Json(v).into_response()
}

async fn push(
    State(h): State<DssSimHandle>,
    Path(key): Path<String>,
    Query(q): Params,
) -> Response {
    let branch = branch_param(&q);
    let a = git_net::push(&mut h.lock(), &key, branch.as_deref());
    answer(a, &key)
}

async fn fetch(State(h): State<DssSimHandle>, Path(key): Path<String>) -> Response {
    let a = git_net::fetch(&mut h.lock(), &key);
    answer(a, &key)
}

async fn pull_rebase(
    State(h): State<DssSimHandle>,
    Path(key): Path<String>,
    Query(q): Params,
) -> Response {
    let branch = branch_param(&q);
    let a = git_net::pull_rebase(&mut h.lock(), &key, branch.as_deref());
    answer(a, &key)
}

/// DSS's timestamp form, e.g. `2025-01-30T10:15:00.000+0000`.
fn dss_time(epoch: i64) -> String {
    Utc.timestamp_opt(epoch, 0)
        .single()
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string())
        .unwrap_or_default()
}

/// One log entry. `author`, `message` and `timestamp` are what consumers of the official
/// client read; the commit id's field name is not documented (`commit` here, matching the
/// `startCommit`/`nextCommit` parameters).
fn log_entry(p: &mut SimProject, sha: &str) -> Value {
    let Some(c) = p.git().objects.commits.get(sha) else {
        return Value::Null;
    };
    json!({
        "commit": sha,
        "author": c.author.name,
        "authorEmail": c.author.email,
        "message": c.message,
        "timestamp": dss_time(c.author.epoch),
    })
}

async fn log(State(h): State<DssSimHandle>, Path(key): Path<String>, Query(q): Params) -> Response {
    let count = match q.get("count").map(|c| c.parse::<usize>()) {
        None => 20,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => return wire::bad_request("count must be a positive integer"),
    };
    let mut s = h.lock();
    let Some(p) = s.projects.get_mut(&key) else {
        return wire::unknown_project(&key);
    };
    let all = p.git().log(q.get("path").map(String::as_str));
    let start = match q.get("startCommit").filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => match all.iter().position(|x| x == c) {
            Some(i) => i,
            None => return wire::bad_request(&format!("Unknown commit: {c}")),
        },
    };
    let page: Vec<Value> = all
        .iter()
        .skip(start)
        .take(count)
        .map(|sha| log_entry(p, sha))
        .collect();
    let mut body = json!({"entries": page});
    if let Some(next) = all.get(start + count) {
        body["nextCommit"] = json!(next);
    }
    Json(body).into_response()
}
