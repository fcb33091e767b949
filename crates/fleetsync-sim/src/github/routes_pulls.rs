//! Pull requests: create (with GitHub's 422s), list (`state`/`head`/`base` filters, sorted,
//! paginated with `Link`), get, and update (title, body, state, base). Merging is a human's
//! act: the admin API merges one (see `admin`).
//!
//! The 422 messages are GitHub's, as public issue reports quote them: "No commits between
//! {base} and {head}" (e.g. piceaTech/node-gitlab-2-github#91), "The {head} branch has no
//! history in common with {base}" (mislav/hub#2322), "A pull request already exists for
//! {owner}:{head}." (gm3dmo/the-power#175), each as a `custom` error of resource
//! `PullRequest` under "Validation Failed".

use super::gate::CallerExt;
use super::pulls::{full_json, simple_json, PullRec};
use super::reply::*;
use super::routes_repos::writable_repo;
use super::state::Repo;
use super::Shared;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/repos/{owner}/{repo}/pulls",
            get(list_pulls).post(create_pull),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}",
            get(get_pull).patch(update_pull),
        )
}

const CREATE_DOCS: &str = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request";
const UPDATE_DOCS: &str = "https://docs.github.com/rest/pulls/pulls#update-a-pull-request";

/// "Validation Failed" with `errors`, and the operation's documentation link.
fn failed(docs: &str, errors: Vec<Value>) -> Response {
    json_reply(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"message": "Validation Failed", "errors": errors, "documentation_url": docs, "status": "422"}),
    )
}

fn custom(docs: &str, message: String) -> Response {
    failed(
        docs,
        vec![json!({"resource": "PullRequest", "code": "custom", "message": message})],
    )
}

fn invalid_field(docs: &str, field: &str) -> Response {
    failed(
        docs,
        vec![json!({"resource": "PullRequest", "field": field, "code": "invalid"})],
    )
}

/// `head` as `owner:branch` or `branch`; the branch when it is one of this repository's.
fn head_branch(r: &Repo, head: &str) -> Option<String> {
    let branch = match head.split_once(':') {
        Some((owner, b)) if owner.eq_ignore_ascii_case(&r.owner) => b,
        Some(_) => return None,
        None => head,
    };
    r.refs.contains_key(branch).then(|| branch.to_string())
}

/// Checks a new pull request from `head` into `base` as GitHub does; `Err` is the 422.
fn check_new(r: &Repo, head: &str, base: &str) -> Result<(), Response> {
    if r.pulls.open_for(head, base).is_some() {
        return Err(custom(
            CREATE_DOCS,
            format!("A pull request already exists for {}:{head}.", r.owner),
        ));
    }
    let (Some(b), Some(h)) = (r.refs.get(base), r.refs.get(head)) else {
        return Err(invalid_field(CREATE_DOCS, "base"));
    };
    if r.objects.merge_base(b, h).is_none() {
        return Err(custom(
            CREATE_DOCS,
            format!("The {head} branch has no history in common with {base}"),
        ));
    }
    if r.objects.range(Some(b), h).is_empty() {
        return Err(custom(
            CREATE_DOCS,
            format!("No commits between {base} and {head}"),
        ));
    }
    Ok(())
}

struct NewPull {
    title: String,
    head: String,
    base: String,
    body: Option<String>,
    draft: bool,
    maintainer_can_modify: bool,
}

fn parse_new(body: &Map<String, Value>) -> Result<NewPull, Response> {
    let head = req_str(body, "head")?;
    let base = req_str(body, "base")?;
    let title = match opt_str(body, "title")? {
        Some(t) if !t.trim().is_empty() => t,
        _ => {
            return Err(failed(
                CREATE_DOCS,
                vec![json!({"resource": "Issue", "code": "missing_field", "field": "title"})],
            ))
        }
    };
    Ok(NewPull {
        title,
        head,
        base,
        body: opt_str(body, "body")?,
        draft: opt_bool(body, "draft")?.unwrap_or(false),
        maintainer_can_modify: opt_bool(body, "maintainer_can_modify")?.unwrap_or(true),
    })
}

async fn create_pull(
    State(shared): State<Arc<Shared>>,
    Extension(CallerExt(caller)): Extension<CallerExt>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let new = body_object(&body).and_then(|b| parse_new(&b))?;
    let mut st = shared.lock();
    let id = st.next_id();
    let r = writable_repo(&mut st, &owner, &repo)?;
    let Some(head) = head_branch(r, &new.head) else {
        return Err(invalid_field(CREATE_DOCS, "head"));
    };
    if !r.refs.contains_key(&new.base) {
        return Err(invalid_field(CREATE_DOCS, "base"));
    }
    check_new(r, &head, &new.base)?;
    let now = chrono::Utc::now();
    let number = r.pulls.next_number();
    let head_sha = r.refs.get(&head).cloned().unwrap_or_default();
    let rec = PullRec {
        number,
        id,
        title: new.title,
        body: new.body,
        open: true,
        head_ref: head,
        head_sha,
        base_ref: new.base,
        user: caller.map_or_else(|| "fleet-bot".to_string(), |c| c.login),
        draft: new.draft,
        maintainer_can_modify: new.maintainer_can_modify,
        created_at: now,
        updated_at: now,
        closed_at: None,
        merged_at: None,
        merge_commit_sha: None,
        merged_by: None,
    };
    r.pulls.items.insert(number, rec.clone());
    let base = &shared.base_url;
    let mut resp = json_reply(StatusCode::CREATED, full_json(base, r, &rec));
    if let Ok(loc) =
        HeaderValue::from_str(&format!("{base}/repos/{}/pulls/{number}", r.full_name()))
    {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

/// The `head` filter: `owner:branch` (GitHub's documented form). A value without an owner is
/// read as a branch of the repository's owner.
fn head_filter(r: &Repo, head: &str) -> (String, String) {
    match head.split_once(':') {
        Some((o, b)) => (o.to_ascii_lowercase(), b.to_string()),
        None => (r.owner.to_ascii_lowercase(), head.to_string()),
    }
}

fn listed<'a>(r: &'a Repo, q: &HashMap<String, String>) -> Result<Vec<&'a PullRec>, Response> {
    let state = q.get("state").map(String::as_str).unwrap_or("open");
    if !matches!(state, "open" | "closed" | "all") {
        return Err(invalid(
            "state",
            &format!("\"{state}\" is not a member of [\"open\", \"closed\", \"all\"]"),
        ));
    }
    let head = q.get("head").map(|h| head_filter(r, h));
    let mut items: Vec<&PullRec> = r
        .pulls
        .items
        .values()
        .filter(|p| state == "all" || p.state() == state)
        .filter(|p| q.get("base").is_none_or(|b| *b == p.base_ref))
        .filter(|p| {
            head.as_ref()
                .is_none_or(|(o, b)| *o == r.owner.to_ascii_lowercase() && *b == p.head_ref)
        })
        .collect();
    let sort = q.get("sort").map(String::as_str).unwrap_or("created");
    match sort {
        "updated" => items.sort_by_key(|p| (p.updated_at, p.number)),
        _ => items.sort_by_key(|p| (p.created_at, p.number)),
    }
    let default_dir = if sort == "created" { "desc" } else { "asc" };
    if q.get("direction")
        .map(String::as_str)
        .unwrap_or(default_dir)
        == "desc"
    {
        items.reverse();
    }
    Ok(items)
}

/// The `Link` header of a filtered list: the filters are kept in every link, as GitHub does.
fn link_with_query(
    base: &str,
    path: &str,
    q: &HashMap<String, String>,
    pq: PageQuery,
    total: usize,
) -> Option<HeaderValue> {
    let mut keep: Vec<(&String, &String)> = q
        .iter()
        .filter(|(k, _)| *k != "page" && *k != "per_page")
        .collect();
    keep.sort();
    let extra: String = keep
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}&",
                url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            )
        })
        .collect();
    let last = total.div_ceil(pq.per_page).max(1);
    page_links(base, path, &extra, pq, last)
}

async fn list_pulls(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let st = shared.lock();
    let r = st.repo(&owner, &repo).ok_or_else(not_found)?;
    let items = listed(r, &q)?;
    let pq = PageQuery::from_query(&q, 30, 100);
    let total = items.len();
    let base = &shared.base_url;
    let page: Vec<Value> = items
        .into_iter()
        .skip((pq.page - 1).saturating_mul(pq.per_page))
        .take(pq.per_page)
        .map(|p| simple_json(base, r, p))
        .collect();
    let path = format!("/repos/{}/pulls", r.full_name());
    let link = link_with_query(base, &path, &q, pq, total);
    Ok(json_with_link(StatusCode::OK, Value::Array(page), link))
}

async fn get_pull(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, number)): Path<(String, String, String)>,
) -> Reply {
    let st = shared.lock();
    let r = st.repo(&owner, &repo).ok_or_else(not_found)?;
    let p = number
        .parse::<u64>()
        .ok()
        .and_then(|n| r.pulls.items.get(&n))
        .ok_or_else(not_found)?;
    Ok(json_reply(
        StatusCode::OK,
        full_json(&shared.base_url, r, p),
    ))
}

struct PullUpdate {
    title: Option<String>,
    body: Option<String>,
    has_body: bool,
    state: Option<String>,
    base: Option<String>,
    maintainer_can_modify: Option<bool>,
}

fn parse_update(body: &Map<String, Value>) -> Result<PullUpdate, Response> {
    let state = opt_str(body, "state")?;
    if let Some(s) = &state {
        if s != "open" && s != "closed" {
            return Err(invalid(
                "state",
                &format!("\"{s}\" is not a member of [\"open\", \"closed\"]"),
            ));
        }
    }
    Ok(PullUpdate {
        title: opt_str(body, "title")?,
        body: opt_str(body, "body")?,
        has_body: body.contains_key("body"),
        state,
        base: opt_str(body, "base")?,
        maintainer_can_modify: opt_bool(body, "maintainer_can_modify")?,
    })
}

/// Checks an update against the other pull requests and the branches.
fn check_update(r: &Repo, p: &PullRec, u: &PullUpdate) -> Result<(), Response> {
    let reopen = u.state.as_deref() == Some("open") && !p.open;
    if reopen && p.merged() {
        // Wording not seen in a public report; GitHub refuses to reopen a merged pull request.
        return Err(custom(
            UPDATE_DOCS,
            "state cannot be changed. The pull request has been merged.".to_string(),
        ));
    }
    let base = u.base.as_deref().unwrap_or(&p.base_ref);
    if u.base.is_some() && !r.refs.contains_key(base) {
        return Err(invalid_field(UPDATE_DOCS, "base"));
    }
    let will_be_open = u.state.as_deref().map_or(p.open, |s| s == "open");
    let clash =
        r.pulls.items.values().any(|o| {
            o.number != p.number && o.open && o.head_ref == p.head_ref && o.base_ref == base
        });
    if will_be_open && clash && (reopen || u.base.is_some()) {
        return Err(custom(
            UPDATE_DOCS,
            format!(
                "A pull request already exists for {}:{}.",
                r.owner, p.head_ref
            ),
        ));
    }
    if reopen && !r.refs.contains_key(&p.head_ref) {
        return Err(invalid_field(UPDATE_DOCS, "head"));
    }
    Ok(())
}

async fn update_pull(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, number)): Path<(String, String, String)>,
    body: Bytes,
) -> Reply {
    let u = body_object(&body).and_then(|b| parse_update(&b))?;
    let mut st = shared.lock();
    let r = writable_repo(&mut st, &owner, &repo)?;
    let n = number
        .parse::<u64>()
        .ok()
        .filter(|n| r.pulls.items.contains_key(n))
        .ok_or_else(not_found)?;
    let current = r.pulls.items.get(&n).cloned().ok_or_else(not_found)?;
    check_update(r, &current, &u)?;
    let head_now = r.refs.get(&current.head_ref).cloned();
    let now = chrono::Utc::now();
    let p = r.pulls.items.get_mut(&n).ok_or_else(not_found)?;
    if let Some(t) = u.title {
        p.title = t;
    }
    if u.has_body {
        p.body = u.body;
    }
    if let Some(b) = u.base {
        p.base_ref = b;
    }
    if let Some(m) = u.maintainer_can_modify {
        p.maintainer_can_modify = m;
    }
    match u.state.as_deref() {
        Some("closed") if p.open => {
            p.open = false;
            p.closed_at = Some(now);
            if let Some(h) = head_now {
                p.head_sha = h;
            }
        }
        Some("open") if !p.open => {
            p.open = true;
            p.closed_at = None;
        }
        _ => {}
    }
    p.updated_at = now;
    let p = p.clone();
    Ok(json_reply(
        StatusCode::OK,
        full_json(&shared.base_url, r, &p),
    ))
}
