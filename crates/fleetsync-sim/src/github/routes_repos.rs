//! Organisation repositories: create, get, update (incl. archive and rename), delete, list;
//! topics; the installation's repository list.

use super::gate::CallerExt;
use super::reply::*;
use super::state::{init_readme, Repo, SimState};
use super::Shared;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/orgs/{org}/repos", get(list_org_repos).post(create_repo))
        .route(
            "/repos/{owner}/{repo}",
            get(get_repo).patch(update_repo).delete(delete_repo),
        )
        .route(
            "/repos/{owner}/{repo}/topics",
            get(get_topics).put(put_topics),
        )
        .route("/installation/repositories", get(installation_repos))
}

/// `simple-user` for an organisation owner.
pub fn owner_json(base: &str, login: &str) -> Value {
    let u = format!("{base}/users/{login}");
    json!({
        "login": login, "id": 1, "node_id": "O_sim1",
        "avatar_url": "https://avatars.githubusercontent.com/u/1?v=4", "gravatar_id": "",
        "url": u, "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("{u}/followers"), "following_url": format!("{u}/following{{/other_user}}"),
        "gists_url": format!("{u}/gists{{/gist_id}}"), "starred_url": format!("{u}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{u}/subscriptions"), "organizations_url": format!("{u}/orgs"),
        "repos_url": format!("{u}/repos"), "events_url": format!("{u}/events{{/privacy}}"),
        "received_events_url": format!("{u}/received_events"), "type": "Organization", "site_admin": false,
    })
}

/// `full-repository`.
pub fn repo_json(r: &Repo, base: &str) -> Value {
    let full = r.full_name();
    let mut v = json!({
        "id": r.id,
        "node_id": format!("R_sim{}", r.id),
        "name": r.name,
        "full_name": full,
        "owner": owner_json(base, &r.owner),
        "private": r.private,
        "visibility": r.visibility,
        "description": r.description,
        "homepage": r.homepage,
        "fork": false,
        "url": format!("{base}/repos/{full}"),
        "html_url": format!("https://github.com/{full}"),
        "clone_url": format!("https://github.com/{full}.git"),
        "ssh_url": format!("git@github.com:{full}.git"),
        "default_branch": r.default_branch,
        "archived": r.archived,
        "disabled": false,
        "is_template": r.is_template,
        "topics": r.topics,
        "has_issues": true,
        "has_projects": true,
        "has_wiki": true,
        "has_downloads": true,
        "allow_squash_merge": true,
        "allow_merge_commit": true,
        "allow_rebase_merge": true,
        "allow_auto_merge": false,
        "delete_branch_on_merge": false,
        "size": r.objects.blobs.values().map(|b| b.len()).sum::<usize>() / 1024,
        "created_at": ts(&r.created_at),
        "updated_at": ts(&r.updated_at),
        "pushed_at": ts(&r.pushed_at),
        "custom_properties": r.custom_properties,
    });
    if let Value::Object(m) = &mut v {
        for (k, val) in &r.settings {
            m.insert(k.clone(), val.clone());
        }
    }
    v
}

/// 403 for writes to an archived repo.
pub fn writable(r: &Repo) -> Result<(), Response> {
    if r.archived {
        Err(error(
            StatusCode::FORBIDDEN,
            "Repository was archived so is read-only.",
        ))
    } else {
        Ok(())
    }
}

/// The repo, for a write: 404 when it does not exist, 403 when it is archived.
pub fn writable_repo<'a>(
    st: &'a mut SimState,
    owner: &str,
    repo: &str,
) -> Result<&'a mut Repo, Response> {
    let r = st.repo_mut(owner, repo).ok_or_else(not_found)?;
    writable(r)?;
    Ok(r)
}

fn valid_repo_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

const SETTING_KEYS: &[&str] = &[
    "has_issues",
    "has_projects",
    "has_wiki",
    "has_downloads",
    "allow_squash_merge",
    "allow_merge_commit",
    "allow_rebase_merge",
    "allow_auto_merge",
    "delete_branch_on_merge",
];

fn apply_settings(r: &mut Repo, body: &serde_json::Map<String, Value>) -> Result<(), Response> {
    for k in SETTING_KEYS {
        if let Some(v) = opt_bool(body, k)? {
            r.settings.insert((*k).to_string(), Value::Bool(v));
        }
    }
    Ok(())
}

fn visibility_of(body: &serde_json::Map<String, Value>) -> Result<Option<String>, Response> {
    match opt_str(body, "visibility")? {
        None => Ok(None),
        Some(v) if v == "public" || v == "private" || v == "internal" => Ok(Some(v)),
        Some(v) => Err(invalid(
            "visibility",
            &format!("\"{v}\" is not a member of [\"public\", \"private\"]"),
        )),
    }
}

async fn create_repo(
    State(shared): State<Arc<Shared>>,
    Extension(CallerExt(caller)): Extension<CallerExt>,
    Path(org): Path<String>,
    body: Bytes,
) -> Reply {
    let body = body_object(&body)?;
    let name = req_str(&body, "name")?;
    let mut st = shared.lock();
    let org = st.org(&org).ok_or_else(not_found)?;
    if !valid_repo_name(&name) {
        return Err(validation(
            "Repository creation failed.",
            vec![
                json!({"resource": "Repository", "code": "custom", "field": "name", "message": "name is invalid"}),
            ],
        ));
    }
    if st.repo(&org, &name).is_some() {
        return Err(validation(
            "Repository creation failed.",
            vec![
                json!({"resource": "Repository", "code": "custom", "field": "name", "message": "name already exists on this account"}),
            ],
        ));
    }
    let visibility = visibility_of(&body)?;
    let private = opt_bool(&body, "private")?;
    let description = opt_str(&body, "description")?;
    let homepage = opt_str(&body, "homepage")?;
    let auto_init = opt_bool(&body, "auto_init")?.unwrap_or(false);
    let is_template = opt_bool(&body, "is_template")?.unwrap_or(false);
    let properties = super::routes_properties::creation_values(
        &st.settings.custom_properties,
        caller.as_ref(),
        &body,
    )?;
    let key = st.insert_repo(&org, &name);
    let base = shared.base_url.clone();
    let Some(r) = st.repos.get_mut(&key) else {
        return Err(error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error"));
    };
    let vis = visibility.unwrap_or_else(|| {
        if private.unwrap_or(false) {
            "private".into()
        } else {
            "public".into()
        }
    });
    r.private = vis != "public";
    r.visibility = vis;
    r.description = description;
    r.homepage = homepage;
    r.is_template = is_template;
    r.custom_properties = properties;
    if let Err(resp) = apply_settings(r, &body) {
        st.repos.remove(&key);
        return Err(resp);
    }
    if auto_init {
        init_readme(r);
    }
    let v = repo_json(r, &base);
    let mut resp = json_reply(StatusCode::CREATED, v);
    if let Ok(loc) = HeaderValue::from_str(&format!("{base}/repos/{}", r.full_name())) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

async fn get_repo(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
) -> Reply {
    let st = shared.lock();
    let r = st.repo(&owner, &repo).ok_or_else(not_found)?;
    Ok(json_reply(StatusCode::OK, repo_json(r, &shared.base_url)))
}

async fn update_repo(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = body_object(&body)?;
    let mut st = shared.lock();
    let r = st.repo(&owner, &repo).ok_or_else(not_found)?;
    let archived = opt_bool(&body, "archived")?;
    // An archived repo accepts only being unarchived (possibly with other changes).
    if r.archived && archived != Some(false) {
        return Err(error(
            StatusCode::FORBIDDEN,
            "Repository was archived so is read-only.",
        ));
    }
    let new_name = opt_str(&body, "name")?;
    if let Some(n) = &new_name {
        if !valid_repo_name(n) {
            return Err(invalid("name", "is invalid"));
        }
        if !n.eq_ignore_ascii_case(&repo) && st.repo(&owner, n).is_some() {
            return Err(validation(
                "Validation Failed",
                vec![
                    json!({"resource": "Repository", "code": "custom", "field": "name", "message": "name already exists on this account"}),
                ],
            ));
        }
    }
    let visibility = visibility_of(&body)?;
    let default_branch = opt_str(&body, "default_branch")?;
    if let Some(b) = &default_branch {
        if !r.refs.is_empty() && !r.refs.contains_key(b) {
            return Err(validation(
                "Validation Failed",
                vec![
                    json!({"resource": "Repository", "code": "invalid", "field": "default_branch"}),
                ],
            ));
        }
    }
    let description = opt_str(&body, "description")?;
    let homepage = opt_str(&body, "homepage")?;
    let private = opt_bool(&body, "private")?;
    let mut r = st.remove_repo(&owner, &repo).ok_or_else(not_found)?;
    if let Err(resp) = apply_settings(&mut r, &body) {
        let (o, n) = (r.owner.clone(), r.name.clone());
        st.repos
            .insert((o.to_ascii_lowercase(), n.to_ascii_lowercase()), r);
        return Err(resp);
    }
    if body.contains_key("description") {
        r.description = description;
    }
    if body.contains_key("homepage") {
        r.homepage = homepage;
    }
    if let Some(p) = private {
        r.private = p;
        r.visibility = if p { "private".into() } else { "public".into() };
    }
    if let Some(v) = visibility {
        r.private = v != "public";
        r.visibility = v;
    }
    if let Some(b) = default_branch {
        r.default_branch = b;
    }
    if let Some(a) = archived {
        r.archived = a;
    }
    if let Some(n) = new_name {
        r.name = n;
    }
    r.updated_at = chrono::Utc::now();
    let v = repo_json(&r, &shared.base_url);
    let old = (owner.to_ascii_lowercase(), repo.to_ascii_lowercase());
    let new = (r.owner.to_ascii_lowercase(), r.name.to_ascii_lowercase());
    if old != new {
        // A rename: the old name redirects to the repository from now on (see `moved`).
        st.moved.insert(old, r.id);
    }
    st.moved.remove(&new);
    st.repos.insert(new, r);
    Ok(json_reply(StatusCode::OK, v))
}

async fn delete_repo(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
) -> Reply {
    let mut st = shared.lock();
    st.remove_repo(&owner, &repo).ok_or_else(not_found)?;
    Ok(empty(StatusCode::NO_CONTENT))
}

fn minimal_list(st: &SimState, org: &str, base: &str) -> Vec<Value> {
    let mut repos: Vec<&Repo> = st
        .repos
        .values()
        .filter(|r| r.owner.eq_ignore_ascii_case(org))
        .collect();
    repos.sort_by_key(|r| r.id);
    repos.into_iter().map(|r| repo_json(r, base)).collect()
}

async fn list_org_repos(
    State(shared): State<Arc<Shared>>,
    Path(org): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let st = shared.lock();
    let org = st.org(&org).ok_or_else(not_found)?;
    let items = minimal_list(&st, &org, &shared.base_url);
    let pq = PageQuery::from_query(&q, 30, 100);
    let (page, link) = paginate(items, pq, &shared.base_url, &format!("/orgs/{org}/repos"));
    Ok(json_with_link(StatusCode::OK, Value::Array(page), link))
}

async fn installation_repos(
    State(shared): State<Arc<Shared>>,
    Extension(CallerExt(caller)): Extension<CallerExt>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    if caller.as_ref().and_then(|c| c.installation).is_none() {
        return Err(error(
            StatusCode::FORBIDDEN,
            "You must authenticate with an installation access token in order to list repositories for an installation.",
        ));
    }
    let st = shared.lock();
    let mut items = Vec::new();
    for org in st.settings.orgs.clone() {
        items.extend(minimal_list(&st, &org, &shared.base_url));
    }
    let total = items.len();
    let pq = PageQuery::from_query(&q, 30, 100);
    let (page, link) = paginate(items, pq, &shared.base_url, "/installation/repositories");
    Ok(json_with_link(
        StatusCode::OK,
        json!({"total_count": total, "repository_selection": "all", "repositories": page}),
        link,
    ))
}

async fn get_topics(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
) -> Reply {
    let st = shared.lock();
    Ok(match st.repo(&owner, &repo) {
        Some(r) => json_reply(StatusCode::OK, json!({"names": r.topics})),
        None => not_found(),
    })
}

async fn put_topics(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = body_object(&body)?;
    let names = match body.get("names") {
        None | Some(Value::Null) => return Err(missing("names")),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(invalid("names", "is not an array")),
    };
    let mut topics = Vec::new();
    for n in names {
        let Value::String(s) = n else {
            return Err(invalid("names", "items must be strings"));
        };
        let ok = !s.is_empty()
            && s.len() <= 50
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.starts_with('-');
        if !ok {
            return Err(validation(
                "Validation Failed",
                vec![
                    json!({"resource": "Repository", "code": "invalid", "field": "topics",
                            "message": format!("{s} is not a valid topic. Topics must start with a lowercase letter or number, consist of 50 characters or less, and can include hyphens.")}),
                ],
            ));
        }
        if !topics.contains(&s) {
            topics.push(s);
        }
    }
    let mut st = shared.lock();
    let r = writable_repo(&mut st, &owner, &repo)?;
    r.topics = topics;
    r.updated_at = chrono::Utc::now();
    Ok(json_reply(StatusCode::OK, json!({"names": r.topics})))
}
