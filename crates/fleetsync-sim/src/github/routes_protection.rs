//! Branch protection: the PUT request shape in (four required keys, each may be null), the
//! GET response shape out (each setting an object, e.g. `enforce_admins: {url, enabled}`).

use super::reply::*;
use super::routes_repos::writable_repo;
use super::Shared;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route(
        "/repos/{owner}/{repo}/branches/{branch}/protection",
        get(get_protection)
            .put(put_protection)
            .delete(delete_protection),
    )
}

async fn get_protection(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, branch)): Path<(String, String, String)>,
) -> Reply {
    let st = shared.lock();
    let r = st.repo(&owner, &repo).ok_or_else(not_found)?;
    if !r.refs.contains_key(&branch) {
        return Err(error(StatusCode::NOT_FOUND, "Branch not found"));
    }
    Ok(match r.protection.get(&branch) {
        Some(p) => json_reply(StatusCode::OK, p.clone()),
        None => error(StatusCode::NOT_FOUND, "Branch not protected"),
    })
}

async fn delete_protection(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, branch)): Path<(String, String, String)>,
) -> Reply {
    let mut st = shared.lock();
    let r = writable_repo(&mut st, &owner, &repo)?;
    Ok(match r.protection.remove(&branch) {
        Some(_) => empty(StatusCode::NO_CONTENT),
        None => error(StatusCode::NOT_FOUND, "Branch not protected"),
    })
}

fn bool_of(m: &Map<String, Value>, k: &str) -> Result<bool, Response> {
    Ok(opt_bool(m, k)?.unwrap_or(false))
}

fn str_array(v: Option<&Value>, field: &str) -> Result<Vec<Value>, Response> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => Ok(a.clone()),
        Some(_) => Err(invalid(field, "is not an array of strings")),
    }
}

/// Converts a PUT body into the GET shape, validating as GitHub does.
fn to_get_shape(body: &Map<String, Value>, url: &str) -> Result<Value, Response> {
    for k in [
        "required_status_checks",
        "enforce_admins",
        "required_pull_request_reviews",
        "restrictions",
    ] {
        if !body.contains_key(k) {
            return Err(missing(k));
        }
    }
    let mut out = Map::new();
    out.insert("url".into(), json!(url));
    match body.get("required_status_checks") {
        Some(Value::Null) | None => {}
        Some(Value::Object(rsc)) => {
            let strict = match rsc.get("strict") {
                Some(Value::Bool(b)) => *b,
                None => return Err(missing("required_status_checks.strict")),
                Some(_) => {
                    return Err(invalid("required_status_checks.strict", "is not a boolean"))
                }
            };
            let contexts = match rsc.get("contexts") {
                None => return Err(missing("required_status_checks.contexts")),
                v => str_array(v, "required_status_checks.contexts")?,
            };
            let checks: Vec<Value> = match rsc.get("checks") {
                Some(Value::Array(a)) if !a.is_empty() => {
                    let mut v = Vec::new();
                    for c in a {
                        let Some(ctx) = c.get("context").and_then(Value::as_str) else {
                            return Err(missing("required_status_checks.checks.context"));
                        };
                        v.push(json!({"context": ctx, "app_id": c.get("app_id").cloned().unwrap_or(Value::Null)}));
                    }
                    v
                }
                _ => contexts
                    .iter()
                    .map(|c| json!({"context": c, "app_id": null}))
                    .collect(),
            };
            let contexts: Vec<Value> = checks
                .iter()
                .filter_map(|c| c.get("context").cloned())
                .collect();
            out.insert(
                "required_status_checks".into(),
                json!({"url": format!("{url}/required_status_checks"), "strict": strict,
                       "contexts": contexts, "checks": checks,
                       "contexts_url": format!("{url}/required_status_checks/contexts")}),
            );
        }
        Some(_) => return Err(invalid("required_status_checks", "is not an object")),
    }
    let enforce_admins = match body.get("enforce_admins") {
        Some(Value::Bool(b)) => *b,
        Some(Value::Null) | None => false,
        Some(_) => return Err(invalid("enforce_admins", "is not a boolean")),
    };
    out.insert(
        "enforce_admins".into(),
        json!({"url": format!("{url}/enforce_admins"), "enabled": enforce_admins}),
    );
    match body.get("required_pull_request_reviews") {
        Some(Value::Null) | None => {}
        Some(Value::Object(r)) => {
            let count = match r.get("required_approving_review_count") {
                None | Some(Value::Null) => 0,
                Some(Value::Number(n)) => match n.as_u64() {
                    Some(c) if c <= 6 => c,
                    _ => {
                        return Err(invalid(
                            "required_pull_request_reviews.required_approving_review_count",
                            "must be between 0 and 6",
                        ))
                    }
                },
                Some(_) => {
                    return Err(invalid(
                        "required_pull_request_reviews.required_approving_review_count",
                        "is not an integer",
                    ))
                }
            };
            let mut v = json!({
                "url": format!("{url}/required_pull_request_reviews"),
                "dismiss_stale_reviews": bool_of(r, "dismiss_stale_reviews")?,
                "require_code_owner_reviews": bool_of(r, "require_code_owner_reviews")?,
                "required_approving_review_count": count,
                "require_last_push_approval": bool_of(r, "require_last_push_approval")?,
            });
            if let Some(Value::Object(d)) = r.get("dismissal_restrictions") {
                if !d.is_empty() {
                    v["dismissal_restrictions"] = json!({
                        "url": format!("{url}/dismissal_restrictions"),
                        "users": str_array(d.get("users"), "dismissal_restrictions.users")?.iter().map(|u| json!({"login": u})).collect::<Vec<_>>(),
                        "teams": str_array(d.get("teams"), "dismissal_restrictions.teams")?.iter().map(|t| json!({"slug": t})).collect::<Vec<_>>(),
                        "apps": str_array(d.get("apps"), "dismissal_restrictions.apps")?.iter().map(|a| json!({"slug": a})).collect::<Vec<_>>(),
                    });
                }
            }
            out.insert("required_pull_request_reviews".into(), v);
        }
        Some(_) => return Err(invalid("required_pull_request_reviews", "is not an object")),
    }
    match body.get("restrictions") {
        Some(Value::Null) | None => {}
        Some(Value::Object(r)) => {
            if !r.contains_key("users") {
                return Err(missing("restrictions.users"));
            }
            if !r.contains_key("teams") {
                return Err(missing("restrictions.teams"));
            }
            out.insert(
                "restrictions".into(),
                json!({
                    "url": format!("{url}/restrictions"),
                    "users_url": format!("{url}/restrictions/users"),
                    "teams_url": format!("{url}/restrictions/teams"),
                    "apps_url": format!("{url}/restrictions/apps"),
                    "users": str_array(r.get("users"), "restrictions.users")?.iter().map(|u| json!({"login": u})).collect::<Vec<_>>(),
                    "teams": str_array(r.get("teams"), "restrictions.teams")?.iter().map(|t| json!({"slug": t})).collect::<Vec<_>>(),
                    "apps": str_array(r.get("apps"), "restrictions.apps")?.iter().map(|a| json!({"slug": a})).collect::<Vec<_>>(),
                }),
            );
        }
        Some(_) => return Err(invalid("restrictions", "is not an object")),
    }
    for k in [
        "required_linear_history",
        "allow_force_pushes",
        "allow_deletions",
        "block_creations",
        "required_conversation_resolution",
        "lock_branch",
        "allow_fork_syncing",
    ] {
        out.insert(k.into(), json!({"enabled": bool_of(body, k)?}));
    }
    out.insert(
        "required_signatures".into(),
        json!({"url": format!("{url}/required_signatures"), "enabled": false}),
    );
    Ok(Value::Object(out))
}

async fn put_protection(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, branch)): Path<(String, String, String)>,
    body: Bytes,
) -> Reply {
    let body = body_object(&body)?;
    if branch.contains('*') {
        return Err(validation(
            "Validation Failed: branch name may not contain wildcards",
            vec![],
        ));
    }
    let mut st = shared.lock();
    let r = writable_repo(&mut st, &owner, &repo)?;
    if !r.refs.contains_key(&branch) {
        return Err(error(StatusCode::NOT_FOUND, "Branch not found"));
    }
    let url = format!(
        "{}/repos/{}/branches/{branch}/protection",
        shared.base_url,
        r.full_name()
    );
    Ok(match to_get_shape(&body, &url) {
        Ok(v) => {
            r.protection.insert(branch, v.clone());
            json_reply(StatusCode::OK, v)
        }
        Err(resp) => resp,
    })
}
