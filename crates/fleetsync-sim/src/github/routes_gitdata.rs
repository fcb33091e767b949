//! The Git Data API: create blobs, trees (with `base_tree`; `sha: null` deletes a path),
//! commits, and move a branch ref (fast-forward unless `force`). Used to write many files as
//! one commit.

use super::super::git::{NewCommit, Signature};
use super::gate::CallerExt;
use super::reply::*;
use super::routes_compare::git_commit_json;
use super::routes_repos::writable_repo;
use super::state::Repo;
use super::Shared;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{patch, post};
use axum::{Extension, Router};
use base64::Engine;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/repos/{owner}/{repo}/git/blobs", post(create_blob))
        .route("/repos/{owner}/{repo}/git/trees", post(create_tree))
        .route("/repos/{owner}/{repo}/git/commits", post(create_commit))
        .route(
            "/repos/{owner}/{repo}/git/refs/heads/{*branch}",
            patch(update_ref),
        )
}

fn flat_files(r: &Repo, tree: &str) -> BTreeMap<String, String> {
    r.objects.tree_files(tree)
}

async fn create_blob(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = body_object(&body)?;
    let content = req_str(&body, "content")?;
    let encoding = opt_str(&body, "encoding")?.unwrap_or_else(|| "utf-8".into());
    let bytes = match encoding.as_str() {
        "utf-8" => content.into_bytes(),
        "base64" => {
            match base64::engine::general_purpose::STANDARD.decode(content.replace('\n', "")) {
                Ok(b) => b,
                Err(_) => return Err(invalid("content", "is not valid Base64")),
            }
        }
        other => {
            return Err(invalid(
                "encoding",
                &format!("\"{other}\" is not utf-8 or base64"),
            ))
        }
    };
    let mut st = shared.lock();
    let r = writable_repo(&mut st, &owner, &repo)?;
    let sha = r.objects.put_blob(&bytes);
    let url = format!(
        "{}/repos/{}/git/blobs/{sha}",
        shared.base_url,
        r.full_name()
    );
    Ok(json_reply(
        StatusCode::CREATED,
        json!({"sha": sha, "url": url}),
    ))
}

async fn create_tree(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = body_object(&body)?;
    let entries = match body.get("tree") {
        Some(Value::Array(a)) => a.clone(),
        None | Some(Value::Null) => return Err(missing("tree")),
        Some(_) => return Err(invalid("tree", "is not an array")),
    };
    let base = opt_str(&body, "base_tree")?;
    let mut st = shared.lock();
    let r = writable_repo(&mut st, &owner, &repo)?;
    let mut files = match &base {
        Some(b) if r.objects.trees.contains_key(b) => flat_files(r, b),
        Some(_) => return Err(validation("base_tree is not a valid tree", vec![])),
        None => BTreeMap::new(),
    };
    for e in entries {
        let Some(path) = e.get("path").and_then(Value::as_str) else {
            return Err(missing("tree.path"));
        };
        if path.is_empty()
            || path.starts_with('/')
            || path.split('/').any(|s| s == ".." || s.is_empty())
        {
            return Err(validation(
                &format!("tree.path contains a malformed path component: {path}"),
                vec![],
            ));
        }
        match (e.get("sha"), e.get("content")) {
            (Some(Value::Null), _) => {
                files.remove(path);
            }
            (Some(Value::String(sha)), _) => {
                if !r.objects.blobs.contains_key(sha) {
                    return Err(validation(
                        &format!("tree.sha {sha} is not a valid blob"),
                        vec![],
                    ));
                }
                files.insert(path.to_string(), sha.clone());
            }
            (_, Some(Value::String(text))) => {
                let sha = r.objects.put_blob(text.as_bytes());
                files.insert(path.to_string(), sha);
            }
            _ => return Err(missing("tree.sha")),
        }
    }
    let sha = r.objects.build_tree(&files);
    let full = r.full_name();
    let entries: Vec<Value> = r
        .objects
        .walk(&sha, false)
        .into_iter()
        .map(|(p, is_tree, s, size)| {
            json!({"path": p, "mode": if is_tree {"040000"} else {"100644"},
                   "type": if is_tree {"tree"} else {"blob"}, "sha": s, "size": size})
        })
        .collect();
    Ok(json_reply(
        StatusCode::CREATED,
        json!({"sha": sha, "url": format!("{}/repos/{full}/git/trees/{sha}", shared.base_url), "tree": entries, "truncated": false}),
    ))
}

async fn create_commit(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = body_object(&body)?;
    let message = req_str(&body, "message")?;
    let tree = req_str(&body, "tree")?;
    let parents: Vec<String> = match body.get("parents") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(_) => return Err(invalid("parents", "is not an array")),
    };
    let mut st = shared.lock();
    let r = writable_repo(&mut st, &owner, &repo)?;
    if !r.objects.trees.contains_key(&tree) {
        return Err(validation("Tree SHA does not exist", vec![]));
    }
    if let Some(p) = parents.iter().find(|p| !r.objects.commits.contains_key(*p)) {
        return Err(validation(
            &format!("Parent SHA does not exist or is not a commit object: {p}"),
            vec![],
        ));
    }
    let files = flat_files(r, &tree);
    let now = chrono::Utc::now().timestamp();
    let author = who(&body, "author", now);
    let committer = who(&body, "committer", now);
    let sha = r.objects.commit(NewCommit {
        files,
        parents,
        author: author.unwrap_or_else(|| Signature::github_api(now)),
        committer: committer.unwrap_or_else(|| Signature::github_api(now)),
        message,
    });
    let full = r.full_name();
    Ok(match r.objects.commits.get(&sha) {
        Some(c) => json_reply(
            StatusCode::CREATED,
            git_commit_json(&shared.base_url, &full, &sha, c),
        ),
        None => error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error"),
    })
}

/// The `author`/`committer` object of a create-commit body (`date` ISO 8601, else now).
fn who(body: &serde_json::Map<String, Value>, key: &str, now: i64) -> Option<Signature> {
    let o = body.get(key)?.as_object()?;
    let name = o.get("name")?.as_str()?;
    let email = o.get("email")?.as_str()?;
    let epoch = o
        .get("date")
        .and_then(Value::as_str)
        .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
        .map_or(now, |d| d.timestamp());
    Some(Signature::new(name, email, epoch))
}

async fn update_ref(
    State(shared): State<Arc<Shared>>,
    Extension(CallerExt(caller)): Extension<CallerExt>,
    Path((owner, repo, branch)): Path<(String, String, String)>,
    body: Bytes,
) -> Reply {
    let body = body_object(&body)?;
    let sha = req_str(&body, "sha")?;
    let force = opt_bool(&body, "force")?.unwrap_or(false);
    let mut st = shared.lock();
    let r = writable_repo(&mut st, &owner, &repo)?;
    let Some(current) = r.refs.get(&branch).cloned() else {
        return Err(validation("Reference does not exist", vec![]));
    };
    if !r.objects.commits.contains_key(&sha) {
        return Err(validation("Object does not exist", vec![]));
    }
    if !force && !r.objects.is_ancestor(&current, &sha) {
        return Err(validation("Update is not a fast forward", vec![]));
    }
    if super::protect::blocks(r, &branch, super::protect::is_admin(caller.as_ref())) {
        return Err(super::protect::ref_refusal());
    }
    r.refs.insert(branch.clone(), sha.clone());
    r.pushed_at = chrono::Utc::now();
    let full = r.full_name();
    let base = &shared.base_url;
    Ok(json_reply(
        StatusCode::OK,
        json!({
            "ref": format!("refs/heads/{branch}"), "node_id": format!("REF_{branch}"),
            "url": format!("{base}/repos/{full}/git/refs/heads/{branch}"),
            "object": {"type": "commit", "sha": sha, "url": format!("{base}/repos/{full}/git/commits/{sha}")},
        }),
    ))
}
