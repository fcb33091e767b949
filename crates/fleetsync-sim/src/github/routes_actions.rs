//! Actions secrets (a real X25519 key pair per repo; sealed values are unsealed and kept so
//! tests can check them; 422 on a bad `key_id` or ciphertext) and Actions variables
//! (`per_page` ≤ 30, 409 on a duplicate name).

use super::reply::*;
use super::routes_repos::writable_repo;
use super::state::{Repo, SecretRec, VarRec};
use super::Shared;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use base64::Engine;
use chrono::Utc;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/repos/{owner}/{repo}/actions/secrets", get(list_secrets))
        .route(
            "/repos/{owner}/{repo}/actions/secrets/public-key",
            get(public_key),
        )
        .route(
            "/repos/{owner}/{repo}/actions/secrets/{secret_name}",
            get(get_secret).put(put_secret).delete(delete_secret),
        )
        .route(
            "/repos/{owner}/{repo}/actions/variables",
            get(list_variables).post(create_variable),
        )
        .route(
            "/repos/{owner}/{repo}/actions/variables/{name}",
            get(get_variable)
                .patch(update_variable)
                .delete(delete_variable),
        )
}

/// Secret and variable names: letters, digits and `_`, not starting with a digit or `GITHUB_`.
pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && !name.to_ascii_uppercase().starts_with("GITHUB_")
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The `name` and `value` of a new variable (repo or organisation), the name checked.
pub(super) fn new_variable(body: &Map<String, Value>) -> Result<(String, String), Response> {
    let name = req_str(body, "name")?;
    let value = req_str(body, "value")?;
    if !valid_name(&name) {
        return Err(validation(
            "Invalid request.\n\nInvalid name for a variable.",
            vec![],
        ));
    }
    Ok((name, value))
}

pub(super) fn is_base64(s: &str) -> bool {
    // The spec's pattern: groups of 4 with standard padding.
    s.len() % 4 == 0
        && !s.is_empty()
        && s.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || (b == b'=' && i >= s.len() - 2)
        })
}

async fn public_key(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
) -> Reply {
    let st = shared.lock();
    let r = st.repo(&owner, &repo).ok_or_else(not_found)?;
    let key =
        base64::engine::general_purpose::STANDARD.encode(r.secret_key.public_key().as_bytes());
    Ok(json_reply(
        StatusCode::OK,
        json!({"key_id": r.key_id, "key": key}),
    ))
}

/// One page of a repo's secrets, variables or environments: 404 for a missing repo; `items`
/// renders the list (given the API's base URL and the repo), answered as `{"total_count",
/// key: [...]}` with `per_page` defaulting to `per_page.0` and capped at `per_page.1`, and
/// links to `/repos/{full}{suffix}`.
pub(super) fn repo_list(
    shared: &Shared,
    (owner, repo): (&str, &str),
    q: &HashMap<String, String>,
    (key, suffix, per_page): (&str, &str, (usize, usize)),
    items: impl Fn(&str, &Repo) -> Vec<Value>,
) -> Reply {
    let st = shared.lock();
    let r = st.repo(owner, repo).ok_or_else(not_found)?;
    let pq = PageQuery::from_query(q, per_page.0, per_page.1);
    let path = format!("/repos/{}{suffix}", r.full_name());
    let list = items(&shared.base_url, r);
    Ok(counted_page(list, key, pq, &shared.base_url, &path))
}

/// One secret or variable of a repo: names are case-insensitive (kept upper-cased); 404 for
/// a missing repo or name.
fn named_item<T>(
    shared: &Shared,
    (owner, repo, name): (&str, &str, &str),
    items: impl Fn(&Repo) -> &BTreeMap<String, T>,
    render: impl Fn(&str, &T) -> Value,
) -> Reply {
    let st = shared.lock();
    let r = st.repo(owner, repo).ok_or_else(not_found)?;
    let upper = name.to_ascii_uppercase();
    let item = items(r).get(&upper).ok_or_else(not_found)?;
    Ok(json_reply(StatusCode::OK, render(&upper, item)))
}

fn secret_json(name: &str, s: &SecretRec) -> Value {
    json!({"name": name, "created_at": ts(&s.created_at), "updated_at": ts(&s.updated_at)})
}

async fn list_secrets(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let list = ("secrets", "/actions/secrets", (30, 100));
    repo_list(&shared, (&owner, &repo), &q, list, |_, r| {
        r.secrets.iter().map(|(n, s)| secret_json(n, s)).collect()
    })
}

async fn get_secret(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, name)): Path<(String, String, String)>,
) -> Reply {
    let at = (owner.as_str(), repo.as_str(), name.as_str());
    named_item(&shared, at, |r| &r.secrets, secret_json)
}

async fn put_secret(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, name)): Path<(String, String, String)>,
    body: Bytes,
) -> Reply {
    let body = body_object(&body)?;
    let encrypted = req_str(&body, "encrypted_value")?;
    let key_id = req_str(&body, "key_id")?;
    if !is_base64(&encrypted) {
        return Err(invalid(
            "encrypted_value",
            "does not match the pattern of a Base64 string",
        ));
    }
    if !valid_name(&name) {
        return Err(validation(
            "Invalid request.\n\nSecret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_). Spaces are not allowed. Must start with a letter ([a-z], [A-Z]) or underscores (_).",
            vec![],
        ));
    }
    let mut st = shared.lock();
    let r = writable_repo(&mut st, &owner, &repo)?;
    if key_id != r.key_id {
        return Err(validation(
            "Bad request - key_id does not match the repository public key",
            vec![],
        ));
    }
    let Ok(ciphertext) = base64::engine::general_purpose::STANDARD.decode(&encrypted) else {
        return Err(invalid("encrypted_value", "is not valid Base64"));
    };
    let Ok(plain) = r.secret_key.unseal(&ciphertext) else {
        return Err(validation(
            "Bad request - could not decrypt the encrypted_value with the repository key",
            vec![],
        ));
    };
    let value = String::from_utf8_lossy(&plain).into_owned();
    let now = Utc::now();
    let upper = name.to_ascii_uppercase();
    Ok(match r.secrets.get_mut(&upper) {
        Some(s) => {
            s.value = value;
            s.updated_at = now;
            empty(StatusCode::NO_CONTENT)
        }
        None => {
            r.secrets.insert(
                upper,
                SecretRec {
                    value,
                    created_at: now,
                    updated_at: now,
                },
            );
            json_reply(StatusCode::CREATED, json!({}))
        }
    })
}

async fn delete_secret(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, name)): Path<(String, String, String)>,
) -> Reply {
    let mut st = shared.lock();
    let r = writable_repo(&mut st, &owner, &repo)?;
    r.secrets
        .remove(&name.to_ascii_uppercase())
        .ok_or_else(not_found)?;
    Ok(empty(StatusCode::NO_CONTENT))
}

fn var_json(name: &str, v: &VarRec) -> Value {
    json!({"name": name, "value": v.value, "created_at": ts(&v.created_at), "updated_at": ts(&v.updated_at)})
}

async fn list_variables(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let list = ("variables", "/actions/variables", (10, 30));
    repo_list(&shared, (&owner, &repo), &q, list, |_, r| {
        r.variables.iter().map(|(n, v)| var_json(n, v)).collect()
    })
}

async fn create_variable(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = body_object(&body)?;
    let (name, value) = new_variable(&body)?;
    let mut st = shared.lock();
    let r = writable_repo(&mut st, &owner, &repo)?;
    let upper = name.to_ascii_uppercase();
    if r.variables.contains_key(&upper) {
        return Err(error(
            StatusCode::CONFLICT,
            "Already exists - Variable already exists",
        ));
    }
    let now = Utc::now();
    r.variables.insert(
        upper,
        VarRec {
            value,
            created_at: now,
            updated_at: now,
        },
    );
    Ok(json_reply(StatusCode::CREATED, json!({})))
}

async fn get_variable(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, name)): Path<(String, String, String)>,
) -> Reply {
    let at = (owner.as_str(), repo.as_str(), name.as_str());
    named_item(&shared, at, |r| &r.variables, var_json)
}

async fn update_variable(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, name)): Path<(String, String, String)>,
    body: Bytes,
) -> Reply {
    let body = body_object(&body)?;
    let new_name = opt_str(&body, "name")?;
    let value = opt_str(&body, "value")?;
    let mut st = shared.lock();
    let r = writable_repo(&mut st, &owner, &repo)?;
    let upper = name.to_ascii_uppercase();
    let mut rec = r.variables.remove(&upper).ok_or_else(not_found)?;
    if let Some(v) = value {
        rec.value = v;
    }
    rec.updated_at = Utc::now();
    let key = new_name.map(|n| n.to_ascii_uppercase()).unwrap_or(upper);
    r.variables.insert(key, rec);
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn delete_variable(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, name)): Path<(String, String, String)>,
) -> Reply {
    let mut st = shared.lock();
    let r = writable_repo(&mut st, &owner, &repo)?;
    r.variables
        .remove(&name.to_ascii_uppercase())
        .ok_or_else(not_found)?;
    Ok(empty(StatusCode::NO_CONTENT))
}
