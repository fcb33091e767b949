//! Repository contents (get, create/update with the `sha` rule, delete), the recursive git
//! tree, refs and branches. Writes under `.github/workflows/` need the Workflows permission
//! (404 otherwise, as GitHub answers).

use super::auth::Caller;
use super::gate::CallerExt;
use super::protect;
use super::reply::*;
use super::routes_compare::git_commit_json;
use super::routes_repos::{writable, writable_repo};
use super::state::{Repo, SimState};
use super::Shared;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::Engine;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/repos/{owner}/{repo}/contents/{*path}",
            get(get_content).put(put_content).delete(delete_content),
        )
        .route("/repos/{owner}/{repo}/git/trees/{tree_sha}", get(get_tree))
        .route("/repos/{owner}/{repo}/git/ref/{*ref}", get(get_ref))
        .route("/repos/{owner}/{repo}/git/refs", post(create_ref))
        .route("/repos/{owner}/{repo}/branches/{branch}", get(get_branch))
}

fn b64_lines(bytes: &[u8]) -> String {
    let s = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(s.len() + s.len() / 60 + 1);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && i % 60 == 0 {
            out.push('\n');
        }
        out.push(c);
    }
    out.push('\n');
    out
}

fn content_meta(base: &str, r: &Repo, path: &str, sha: &str, size: usize) -> Value {
    let full = r.full_name();
    let name = path.rsplit('/').next().unwrap_or(path);
    json!({
        "type": "file", "name": name, "path": path, "sha": sha, "size": size,
        "url": format!("{base}/repos/{full}/contents/{path}"),
        "git_url": format!("{base}/repos/{full}/git/blobs/{sha}"),
        "html_url": format!("https://github.com/{full}/blob/{}/{path}", r.default_branch),
        "download_url": format!("https://raw.githubusercontent.com/{full}/{}/{path}", r.default_branch),
        "_links": {"self": format!("{base}/repos/{full}/contents/{path}"),
                   "git": format!("{base}/repos/{full}/git/blobs/{sha}"),
                   "html": format!("https://github.com/{full}/blob/{}/{path}", r.default_branch)},
    })
}

async fn get_content(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, path)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let st = shared.lock();
    let r = st.repo(&owner, &repo).ok_or_else(not_found)?;
    let branch = q.get("ref").map(String::as_str);
    let files = r.branch_files(branch).ok_or_else(not_found)?;
    let base = &shared.base_url;
    if let Some(sha) = files.get(&path) {
        let bytes = r.objects.blobs.get(sha).cloned().unwrap_or_default();
        let mut v = content_meta(base, r, &path, sha, bytes.len());
        v["content"] = Value::String(b64_lines(&bytes));
        v["encoding"] = Value::String("base64".into());
        return Ok(json_reply(StatusCode::OK, v));
    }
    // A directory: its direct children.
    let prefix = format!("{}/", path.trim_end_matches('/'));
    let mut entries: Vec<Value> = Vec::new();
    let mut dirs: Vec<String> = Vec::new();
    for (p, sha) in files {
        if let Some(rest) = p.strip_prefix(&prefix) {
            match rest.split_once('/') {
                None => {
                    let size = r.objects.blobs.get(sha).map(|b| b.len()).unwrap_or(0);
                    entries.push(content_meta(base, r, p, sha, size));
                }
                Some((d, _)) => {
                    if !dirs.iter().any(|x| x == d) {
                        dirs.push(d.to_string());
                    }
                }
            }
        }
    }
    if entries.is_empty() && dirs.is_empty() {
        return Err(not_found());
    }
    for d in dirs {
        let p = format!("{prefix}{d}");
        entries.push(json!({"type": "dir", "name": d, "path": p, "size": 0,
                            "url": format!("{base}/repos/{}/contents/{p}", r.full_name())}));
    }
    Ok(json_reply(StatusCode::OK, Value::Array(entries)))
}

fn commit_json(base: &str, r: &Repo, sha: &str) -> Value {
    match r.objects.commits.get(sha) {
        Some(c) => git_commit_json(base, &r.full_name(), sha, c),
        None => Value::Null,
    }
}

fn workflow_path(path: &str) -> bool {
    path.starts_with(".github/workflows/")
}

/// The repo a contents write to `path` goes to: 404 for a missing repo, and for a workflow
/// file when the caller lacks the `workflow` scope (GitHub hides it); 403 when archived.
fn contents_target<'a>(
    st: &'a mut SimState,
    (owner, repo, path): (&str, &str, &str),
    caller: &Option<Caller>,
) -> Result<&'a mut Repo, Response> {
    let r = st.repo_mut(owner, repo).ok_or_else(not_found)?;
    if workflow_path(path) && !caller.as_ref().is_some_and(|c| c.workflows) {
        return Err(not_found());
    }
    writable(r)?;
    Ok(r)
}

async fn put_content(
    State(shared): State<Arc<Shared>>,
    Extension(CallerExt(caller)): Extension<CallerExt>,
    Path((owner, repo, path)): Path<(String, String, String)>,
    body: Bytes,
) -> Reply {
    let body = body_object(&body)?;
    let message = req_str(&body, "message")?;
    let content_b64 = req_str(&body, "content")?;
    let sha = opt_str(&body, "sha")?;
    let branch = opt_str(&body, "branch")?;
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(content_b64.replace('\n', ""))
    else {
        return Err(invalid("content", "is not valid Base64"));
    };
    let mut st = shared.lock();
    let r = contents_target(&mut st, (&owner, &repo, &path), &caller)?;
    let empty_repo = r.refs.is_empty();
    let b = branch.unwrap_or_else(|| r.default_branch.clone());
    let mut files = match r.branch_files(Some(&b)) {
        Some(f) => f.clone(),
        None if empty_repo => Default::default(),
        None => return Err(not_found_branch(&b)),
    };
    let existing = files.get(&path).cloned();
    if protect::blocks(r, &b, protect::is_admin(caller.as_ref())) {
        let verb = if existing.is_some() {
            "update"
        } else {
            "create"
        };
        return Err(protect::contents_refusal(verb));
    }
    match (&existing, &sha) {
        (Some(_), None) => return Err(missing("sha")),
        (Some(cur), Some(given)) if cur != given => {
            return Err(error(
                StatusCode::CONFLICT,
                &format!("{path} does not match {given}"),
            ));
        }
        _ => {}
    }
    let blob = r.objects.put_blob(&bytes);
    files.insert(path.clone(), blob.clone());
    let commit = r.commit_on(&b, files, &message);
    if empty_repo && b != r.default_branch && r.refs.len() == 1 {
        r.default_branch = b.clone();
    }
    let base = &shared.base_url;
    let v = json!({
        "content": content_meta(base, r, &path, &blob, bytes.len()),
        "commit": commit_json(base, r, &commit),
    });
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(json_reply(status, v))
}

fn not_found_branch(b: &str) -> Response {
    error(StatusCode::NOT_FOUND, &format!("Branch {b} not found"))
}

async fn delete_content(
    State(shared): State<Arc<Shared>>,
    Extension(CallerExt(caller)): Extension<CallerExt>,
    Path((owner, repo, path)): Path<(String, String, String)>,
    body: Bytes,
) -> Reply {
    let body = body_object(&body)?;
    let message = req_str(&body, "message")?;
    let sha = req_str(&body, "sha")?;
    let branch = opt_str(&body, "branch")?;
    let mut st = shared.lock();
    let r = contents_target(&mut st, (&owner, &repo, &path), &caller)?;
    let b = branch.unwrap_or_else(|| r.default_branch.clone());
    let Some(mut files) = r.branch_files(Some(&b)).cloned() else {
        return Err(not_found_branch(&b));
    };
    if protect::blocks(r, &b, protect::is_admin(caller.as_ref())) {
        return Err(protect::contents_refusal("delete"));
    }
    match files.get(&path) {
        None => return Err(not_found()),
        Some(cur) if *cur != sha => {
            return Err(error(
                StatusCode::CONFLICT,
                &format!("{path} does not match {sha}"),
            ));
        }
        _ => {}
    }
    files.remove(&path);
    let commit = r.commit_on(&b, files, &message);
    let v = json!({"content": null, "commit": commit_json(&shared.base_url, r, &commit)});
    Ok(json_reply(StatusCode::OK, v))
}

async fn get_tree(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, tree_sha)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let st = shared.lock();
    let r = st.repo(&owner, &repo).ok_or_else(not_found)?;
    if r.refs.is_empty() {
        return Err(error(StatusCode::CONFLICT, "Git Repository is empty."));
    }
    let tree = if let Some(c) = r.refs.get(&tree_sha).and_then(|c| r.objects.commits.get(c)) {
        c.tree.clone()
    } else if let Some(c) = r.objects.commits.get(&tree_sha) {
        c.tree.clone()
    } else if r.objects.trees.contains_key(&tree_sha) {
        tree_sha.clone()
    } else {
        return Err(not_found());
    };
    let recursive = q.contains_key("recursive");
    let base = &shared.base_url;
    let full = r.full_name();
    let entries: Vec<Value> = r
        .objects
        .walk(&tree, recursive)
        .into_iter()
        .map(|(path, is_tree, sha, size)| {
            if is_tree {
                json!({"path": path, "mode": "040000", "type": "tree", "sha": sha,
                       "url": format!("{base}/repos/{full}/git/trees/{sha}")})
            } else {
                json!({"path": path, "mode": "100644", "type": "blob", "sha": sha, "size": size,
                       "url": format!("{base}/repos/{full}/git/blobs/{sha}")})
            }
        })
        .collect();
    Ok(json_reply(
        StatusCode::OK,
        json!({"sha": tree, "url": format!("{base}/repos/{full}/git/trees/{tree}"), "tree": entries, "truncated": false}),
    ))
}

fn ref_json(base: &str, r: &Repo, name: &str, sha: &str) -> Value {
    let full = r.full_name();
    json!({
        "ref": format!("refs/heads/{name}"),
        "node_id": format!("REF_{name}"),
        "url": format!("{base}/repos/{full}/git/refs/heads/{name}"),
        "object": {"type": "commit", "sha": sha, "url": format!("{base}/repos/{full}/git/commits/{sha}")},
    })
}

async fn get_ref(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, reference)): Path<(String, String, String)>,
) -> Reply {
    let st = shared.lock();
    let r = st.repo(&owner, &repo).ok_or_else(not_found)?;
    if r.refs.is_empty() {
        return Err(error(StatusCode::CONFLICT, "Git Repository is empty."));
    }
    let name = reference.strip_prefix("heads/").ok_or_else(not_found)?;
    let sha = r.refs.get(name).ok_or_else(not_found)?;
    Ok(json_reply(
        StatusCode::OK,
        ref_json(&shared.base_url, r, name, sha),
    ))
}

async fn create_ref(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = body_object(&body)?;
    let reference = req_str(&body, "ref")?;
    let sha = req_str(&body, "sha")?;
    let mut st = shared.lock();
    let r = writable_repo(&mut st, &owner, &repo)?;
    if r.refs.is_empty() {
        return Err(error(StatusCode::CONFLICT, "Git Repository is empty."));
    }
    let Some(name) = reference
        .strip_prefix("refs/heads/")
        .filter(|n| !n.is_empty() && !n.contains(".."))
    else {
        return Err(validation("Reference name is invalid", vec![]));
    };
    if r.refs.contains_key(name) {
        return Err(validation("Reference already exists", vec![]));
    }
    if !r.objects.commits.contains_key(&sha) {
        return Err(validation("Object does not exist", vec![]));
    }
    r.refs.insert(name.to_string(), sha.clone());
    let v = ref_json(&shared.base_url, r, name, &sha);
    let mut resp = json_reply(StatusCode::CREATED, v);
    if let Ok(loc) = HeaderValue::from_str(&format!(
        "{}/repos/{}/git/refs/heads/{name}",
        shared.base_url,
        r.full_name()
    )) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

async fn get_branch(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, branch)): Path<(String, String, String)>,
) -> Reply {
    let st = shared.lock();
    let r = st.repo(&owner, &repo).ok_or_else(not_found)?;
    let Some(sha) = r.refs.get(&branch) else {
        return Err(error(StatusCode::NOT_FOUND, "Branch not found"));
    };
    let base = &shared.base_url;
    let full = r.full_name();
    // GitHub's branch answer carries the head commit, with its git commit (and tree) inside.
    let git_commit = r
        .objects
        .commits
        .get(sha)
        .map(|c| super::routes_compare::git_commit_json(base, &full, sha, c));
    Ok(json_reply(
        StatusCode::OK,
        json!({
            "name": branch,
            "commit": {"sha": sha, "url": format!("{base}/repos/{full}/commits/{sha}"),
                       "commit": git_commit},
            "protected": r.protection.contains_key(&branch),
            "protection_url": format!("{base}/repos/{full}/branches/{branch}/protection"),
            "_links": {"self": format!("{base}/repos/{full}/branches/{branch}"),
                       "html": format!("https://github.com/{full}/tree/{branch}")},
        }),
    ))
}
