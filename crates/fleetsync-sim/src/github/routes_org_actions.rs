//! Organisation-level Actions secrets and variables, as GitHub's REST description
//! (`@octokit/openapi` 23.0.2, operations `actions/*-org-*`) has them: a real X25519 key pair
//! per organisation (`GET /orgs/{org}/actions/secrets/public-key`), secrets sealed with it
//! (PUT 201 created `{}` / 204 updated; `visibility` required: all, private or selected, with
//! `selected_repository_ids` only for selected), variables (POST 201 `{}`, 409 on a duplicate
//! name; PATCH 204), lists paged as GitHub pages them (secrets `per_page` ≤ 100, default 30;
//! variables ≤ 30, default 10; selected repositories ≤ 100, default 30) with
//! `selected_repositories_url` on selected ones, and the selection managed through
//! `…/{name}/repositories` (GET the list, PUT the whole list, PUT/DELETE one by id; 409 where
//! the description says "visibility is not selected"). A deleted repository leaves every
//! selection. Ids that name no repository of the organisation are refused with 422 (GitHub's
//! wording for that case is not documented).

use super::reply::*;
use super::routes_actions::{is_base64, new_variable, valid_name};
use super::routes_repos::repo_json;
use super::state::SimState;
use super::{GithubSimHandle, Shared};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::Router;
use base64::Engine;
use chrono::{DateTime, Utc};
use crypto_box::SecretKey;
use rand::Rng;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// One organisation's Actions secrets and variables.
pub struct OrgActions {
    secret_key: SecretKey,
    key_id: String,
    secrets: BTreeMap<String, OrgItem>,
    variables: BTreeMap<String, OrgItem>,
}

/// A secret (its unsealed value) or a variable, with who may read it.
#[derive(Debug, Clone)]
pub struct OrgItem {
    pub value: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `all`, `private` or `selected`.
    pub visibility: String,
    /// Repository ids, when `selected`.
    pub selected: BTreeSet<u64>,
}

/// What tests see of an org secret or variable: the value, visibility, last update and the
/// full names of the selected repositories that exist.
#[derive(Debug, Clone)]
pub struct OrgItemView {
    pub value: String,
    pub visibility: String,
    pub updated_at: DateTime<Utc>,
    pub repos: Vec<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum What {
    Secrets,
    Variables,
}

impl What {
    fn path(self) -> &'static str {
        match self {
            What::Secrets => "secrets",
            What::Variables => "variables",
        }
    }
}

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/orgs/{org}/actions/secrets", get(list_secrets))
        .route("/orgs/{org}/actions/secrets/public-key", get(public_key))
        .route(
            "/orgs/{org}/actions/secrets/{secret_name}",
            get(get_secret).put(put_secret).delete(delete_secret),
        )
        .route(
            "/orgs/{org}/actions/secrets/{secret_name}/repositories",
            get(list_secret_repos).put(set_secret_repos),
        )
        .route(
            "/orgs/{org}/actions/secrets/{secret_name}/repositories/{repository_id}",
            put(add_secret_repo).delete(remove_secret_repo),
        )
        .route(
            "/orgs/{org}/actions/variables",
            get(list_variables).post(create_variable),
        )
        .route(
            "/orgs/{org}/actions/variables/{name}",
            get(get_variable)
                .patch(update_variable)
                .delete(delete_variable),
        )
        .route(
            "/orgs/{org}/actions/variables/{name}/repositories",
            get(list_variable_repos).put(set_variable_repos),
        )
        .route(
            "/orgs/{org}/actions/variables/{name}/repositories/{repository_id}",
            put(add_variable_repo).delete(remove_variable_repo),
        )
}

impl SimState {
    /// The organisation's canonical name and its Actions state (made on first use).
    fn org_actions(
        &mut self,
        org: &str,
    ) -> Result<(String, &mut OrgActions), axum::response::Response> {
        let name = self.org(org).ok_or_else(not_found)?;
        let key_id: String = (0..18)
            .map(|_| char::from(b'0' + self.rng.gen_range(0..10u8)))
            .collect();
        let a = self
            .org_actions
            .entry(name.to_ascii_lowercase())
            .or_insert_with(|| OrgActions {
                secret_key: SecretKey::generate(&mut rand::rngs::OsRng),
                key_id,
                secrets: BTreeMap::new(),
                variables: BTreeMap::new(),
            });
        Ok((name, a))
    }

    /// Ids of the organisation's existing repositories.
    fn org_repo_ids(&self, org: &str) -> BTreeSet<u64> {
        self.repos
            .values()
            .filter(|r| r.owner.eq_ignore_ascii_case(org))
            .map(|r| r.id)
            .collect()
    }
}

fn items(a: &mut OrgActions, what: What) -> &mut BTreeMap<String, OrgItem> {
    match what {
        What::Secrets => &mut a.secrets,
        What::Variables => &mut a.variables,
    }
}

fn item_json(base: &str, org: &str, what: What, name: &str, it: &OrgItem) -> Value {
    let mut v = json!({
        "name": name,
        "created_at": ts(&it.created_at),
        "updated_at": ts(&it.updated_at),
        "visibility": it.visibility,
    });
    if what == What::Variables {
        v["value"] = json!(it.value);
    }
    if it.visibility == "selected" {
        v["selected_repositories_url"] = json!(format!(
            "{base}/orgs/{org}/actions/{}/{name}/repositories",
            what.path()
        ));
    }
    v
}

/// `visibility` and `selected_repository_ids` of a write; `required` when creating.
fn access(
    st: &SimState,
    org: &str,
    body: &Map<String, Value>,
    required: bool,
) -> Result<Option<(String, BTreeSet<u64>)>, axum::response::Response> {
    let visibility = match opt_str(body, "visibility")? {
        Some(v) => v,
        None if required => return Err(missing("visibility")),
        None => return Ok(None),
    };
    if !matches!(visibility.as_str(), "all" | "private" | "selected") {
        return Err(invalid(
            "visibility",
            "is not one of all, private, selected",
        ));
    }
    let ids = selected_ids(st, org, body)?;
    if visibility != "selected" && ids.as_ref().is_some_and(|i| !i.is_empty()) {
        return Err(validation(
            "You can only provide a list of repository ids when the visibility is set to selected",
            vec![],
        ));
    }
    Ok(Some((visibility, ids.unwrap_or_default())))
}

/// `selected_repository_ids`, each an id of one of the organisation's repositories.
fn selected_ids(
    st: &SimState,
    org: &str,
    body: &Map<String, Value>,
) -> Result<Option<BTreeSet<u64>>, axum::response::Response> {
    let Some(v) = body.get("selected_repository_ids") else {
        return Ok(None);
    };
    let arr = v
        .as_array()
        .ok_or_else(|| invalid("selected_repository_ids", "is not an array"))?;
    let known = st.org_repo_ids(org);
    let mut ids = BTreeSet::new();
    for x in arr {
        let id = x
            .as_u64()
            .ok_or_else(|| invalid("selected_repository_ids", "holds a non-integer"))?;
        if !known.contains(&id) {
            return Err(validation(
                &format!("Repository {id} was not found in the organization"),
                vec![],
            ));
        }
        ids.insert(id);
    }
    Ok(Some(ids))
}

fn list(shared: &Shared, org: &str, q: &HashMap<String, String>, what: What) -> Reply {
    let mut st = shared.lock();
    let (org, a) = st.org_actions(org)?;
    let list: Vec<Value> = items(a, what)
        .iter()
        .map(|(n, it)| item_json(&shared.base_url, &org, what, n, it))
        .collect();
    let pq = match what {
        What::Secrets => PageQuery::from_query(q, 30, 100),
        What::Variables => PageQuery::from_query(q, 10, 30),
    };
    let path = format!("/orgs/{org}/actions/{}", what.path());
    Ok(counted_page(list, what.path(), pq, &shared.base_url, &path))
}

fn get_one(shared: &Shared, org: &str, name: &str, what: What) -> Reply {
    let mut st = shared.lock();
    let (org, a) = st.org_actions(org)?;
    let upper = name.to_ascii_uppercase();
    let it = items(a, what).get(&upper).ok_or_else(not_found)?;
    Ok(json_reply(
        StatusCode::OK,
        item_json(&shared.base_url, &org, what, &upper, it),
    ))
}

fn delete_one(shared: &Shared, org: &str, name: &str, what: What) -> Reply {
    let mut st = shared.lock();
    let (_, a) = st.org_actions(org)?;
    items(a, what)
        .remove(&name.to_ascii_uppercase())
        .ok_or_else(not_found)?;
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn list_secrets(
    State(shared): State<Arc<Shared>>,
    Path(org): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    list(&shared, &org, &q, What::Secrets)
}

async fn list_variables(
    State(shared): State<Arc<Shared>>,
    Path(org): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    list(&shared, &org, &q, What::Variables)
}

async fn public_key(State(shared): State<Arc<Shared>>, Path(org): Path<String>) -> Reply {
    let mut st = shared.lock();
    let (_, a) = st.org_actions(&org)?;
    let key =
        base64::engine::general_purpose::STANDARD.encode(a.secret_key.public_key().as_bytes());
    Ok(json_reply(
        StatusCode::OK,
        json!({"key_id": a.key_id, "key": key}),
    ))
}

async fn get_secret(
    State(shared): State<Arc<Shared>>,
    Path((org, name)): Path<(String, String)>,
) -> Reply {
    get_one(&shared, &org, &name, What::Secrets)
}

async fn get_variable(
    State(shared): State<Arc<Shared>>,
    Path((org, name)): Path<(String, String)>,
) -> Reply {
    get_one(&shared, &org, &name, What::Variables)
}

async fn delete_secret(
    State(shared): State<Arc<Shared>>,
    Path((org, name)): Path<(String, String)>,
) -> Reply {
    delete_one(&shared, &org, &name, What::Secrets)
}

async fn delete_variable(
    State(shared): State<Arc<Shared>>,
    Path((org, name)): Path<(String, String)>,
) -> Reply {
    delete_one(&shared, &org, &name, What::Variables)
}

/// The value of an org secret write: unsealed with the organisation's key.
fn unseal(
    a: &OrgActions,
    body: &Map<String, Value>,
) -> Result<Option<String>, axum::response::Response> {
    let Some(encrypted) = opt_str(body, "encrypted_value")? else {
        return Ok(None);
    };
    if !is_base64(&encrypted) {
        return Err(invalid(
            "encrypted_value",
            "does not match the pattern of a Base64 string",
        ));
    }
    let key_id = req_str(body, "key_id")?;
    if key_id != a.key_id {
        return Err(validation(
            "Bad request - key_id does not match the organization public key",
            vec![],
        ));
    }
    let Ok(ciphertext) = base64::engine::general_purpose::STANDARD.decode(&encrypted) else {
        return Err(invalid("encrypted_value", "is not valid Base64"));
    };
    let plain = a.secret_key.unseal(&ciphertext).map_err(|_| {
        validation(
            "Bad request - could not decrypt the encrypted_value with the organization key",
            vec![],
        )
    })?;
    Ok(Some(String::from_utf8_lossy(&plain).into_owned()))
}

async fn put_secret(
    State(shared): State<Arc<Shared>>,
    Path((org, name)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = body_object(&body)?;
    if !valid_name(&name) {
        return Err(validation(
            "Invalid request.\n\nSecret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_). Spaces are not allowed. Must start with a letter ([a-z], [A-Z]) or underscores (_).",
            vec![],
        ));
    }
    let mut st = shared.lock();
    let org_name = st.org(&org).ok_or_else(not_found)?;
    let Some((visibility, ids)) = access(&st, &org_name, &body, true)? else {
        return Err(missing("visibility"));
    };
    let (_, a) = st.org_actions(&org)?;
    let value = unseal(a, &body)?;
    let upper = name.to_ascii_uppercase();
    let now = Utc::now();
    Ok(match a.secrets.get_mut(&upper) {
        Some(s) => {
            if let Some(v) = value {
                s.value = v;
            }
            s.visibility = visibility;
            s.selected = ids;
            s.updated_at = now;
            empty(StatusCode::NO_CONTENT)
        }
        None => {
            let value = value.ok_or_else(|| missing("encrypted_value"))?;
            a.secrets.insert(
                upper,
                OrgItem {
                    value,
                    created_at: now,
                    updated_at: now,
                    visibility,
                    selected: ids,
                },
            );
            json_reply(StatusCode::CREATED, json!({}))
        }
    })
}

async fn create_variable(
    State(shared): State<Arc<Shared>>,
    Path(org): Path<String>,
    body: Bytes,
) -> Reply {
    let body = body_object(&body)?;
    let (name, value) = new_variable(&body)?;
    let mut st = shared.lock();
    let org_name = st.org(&org).ok_or_else(not_found)?;
    let Some((visibility, ids)) = access(&st, &org_name, &body, true)? else {
        return Err(missing("visibility"));
    };
    let (_, a) = st.org_actions(&org)?;
    let upper = name.to_ascii_uppercase();
    if a.variables.contains_key(&upper) {
        return Err(error(
            StatusCode::CONFLICT,
            "Already exists - Variable already exists",
        ));
    }
    let now = Utc::now();
    a.variables.insert(
        upper,
        OrgItem {
            value,
            created_at: now,
            updated_at: now,
            visibility,
            selected: ids,
        },
    );
    Ok(json_reply(StatusCode::CREATED, json!({})))
}

async fn update_variable(
    State(shared): State<Arc<Shared>>,
    Path((org, name)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = body_object(&body)?;
    let value = opt_str(&body, "value")?;
    let mut st = shared.lock();
    let org_name = st.org(&org).ok_or_else(not_found)?;
    let access = access(&st, &org_name, &body, false)?;
    let ids_alone = selected_ids(&st, &org_name, &body)?;
    let (_, a) = st.org_actions(&org)?;
    let v = a
        .variables
        .get_mut(&name.to_ascii_uppercase())
        .ok_or_else(not_found)?;
    if let Some(value) = value {
        v.value = value;
    }
    match (access, ids_alone) {
        (Some((visibility, ids)), _) => {
            v.visibility = visibility;
            v.selected = ids;
        }
        (None, Some(ids)) if v.visibility == "selected" => v.selected = ids,
        (None, Some(_)) => return Err(validation(
            "You can only provide a list of repository ids when the visibility is set to selected",
            vec![],
        )),
        (None, None) => {}
    }
    v.updated_at = Utc::now();
    Ok(empty(StatusCode::NO_CONTENT))
}

/// GET `…/{name}/repositories`: the selected repositories that still exist, paged.
fn list_repos(
    shared: &Shared,
    org: &str,
    name: &str,
    q: &HashMap<String, String>,
    what: What,
) -> Reply {
    let mut st = shared.lock();
    let (org, a) = st.org_actions(org)?;
    let upper = name.to_ascii_uppercase();
    let it = items(a, what).get(&upper).ok_or_else(not_found)?;
    if what == What::Variables && it.visibility != "selected" {
        return Err(empty(StatusCode::CONFLICT));
    }
    let selected = it.selected.clone();
    let mut repos: Vec<&super::state::Repo> = st
        .repos
        .values()
        .filter(|r| r.owner.eq_ignore_ascii_case(&org) && selected.contains(&r.id))
        .collect();
    repos.sort_by_key(|r| r.id);
    let list: Vec<Value> = repos
        .into_iter()
        .map(|r| repo_json(r, &shared.base_url))
        .collect();
    let pq = PageQuery::from_query(q, 30, 100);
    let path = format!("/orgs/{org}/actions/{}/{upper}/repositories", what.path());
    Ok(counted_page(
        list,
        "repositories",
        pq,
        &shared.base_url,
        &path,
    ))
}

/// PUT `…/{name}/repositories`: replaces the whole list.
fn set_repos(shared: &Shared, org: &str, name: &str, body: &[u8], what: What) -> Reply {
    let body = body_object(body)?;
    let mut st = shared.lock();
    let org_name = st.org(org).ok_or_else(not_found)?;
    let ids =
        selected_ids(&st, &org_name, &body)?.ok_or_else(|| missing("selected_repository_ids"))?;
    let (_, a) = st.org_actions(org)?;
    let it = items(a, what)
        .get_mut(&name.to_ascii_uppercase())
        .ok_or_else(not_found)?;
    if what == What::Variables && it.visibility != "selected" {
        return Err(empty(StatusCode::CONFLICT));
    }
    it.selected = ids;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// PUT/DELETE `…/{name}/repositories/{repository_id}`: one repository in or out.
fn toggle_repo(shared: &Shared, org: &str, name: &str, id: &str, what: What, add: bool) -> Reply {
    let id: u64 = id.parse().map_err(|_| not_found())?;
    let mut st = shared.lock();
    let org_name = st.org(org).ok_or_else(not_found)?;
    if !st.org_repo_ids(&org_name).contains(&id) {
        return Err(not_found());
    }
    let (_, a) = st.org_actions(org)?;
    let it = items(a, what)
        .get_mut(&name.to_ascii_uppercase())
        .ok_or_else(not_found)?;
    if it.visibility != "selected" {
        return Err(empty(StatusCode::CONFLICT));
    }
    if add {
        it.selected.insert(id);
    } else {
        it.selected.remove(&id);
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn list_secret_repos(
    State(shared): State<Arc<Shared>>,
    Path((org, name)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    list_repos(&shared, &org, &name, &q, What::Secrets)
}

async fn list_variable_repos(
    State(shared): State<Arc<Shared>>,
    Path((org, name)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    list_repos(&shared, &org, &name, &q, What::Variables)
}

async fn set_secret_repos(
    State(shared): State<Arc<Shared>>,
    Path((org, name)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    set_repos(&shared, &org, &name, &body, What::Secrets)
}

async fn set_variable_repos(
    State(shared): State<Arc<Shared>>,
    Path((org, name)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    set_repos(&shared, &org, &name, &body, What::Variables)
}

async fn add_secret_repo(
    State(shared): State<Arc<Shared>>,
    Path((org, name, id)): Path<(String, String, String)>,
) -> Reply {
    toggle_repo(&shared, &org, &name, &id, What::Secrets, true)
}

async fn remove_secret_repo(
    State(shared): State<Arc<Shared>>,
    Path((org, name, id)): Path<(String, String, String)>,
) -> Reply {
    toggle_repo(&shared, &org, &name, &id, What::Secrets, false)
}

async fn add_variable_repo(
    State(shared): State<Arc<Shared>>,
    Path((org, name, id)): Path<(String, String, String)>,
) -> Reply {
    toggle_repo(&shared, &org, &name, &id, What::Variables, true)
}

async fn remove_variable_repo(
    State(shared): State<Arc<Shared>>,
    Path((org, name, id)): Path<(String, String, String)>,
) -> Reply {
    toggle_repo(&shared, &org, &name, &id, What::Variables, false)
}

impl SimState {
    fn org_item_view(&self, org: &str, name: &str, what: What) -> Option<OrgItemView> {
        let a = self.org_actions.get(&org.to_ascii_lowercase())?;
        let it = match what {
            What::Secrets => a.secrets.get(&name.to_ascii_uppercase()),
            What::Variables => a.variables.get(&name.to_ascii_uppercase()),
        }?;
        let mut repos: Vec<String> = self
            .repos
            .values()
            .filter(|r| r.owner.eq_ignore_ascii_case(org) && it.selected.contains(&r.id))
            .map(|r| r.full_name())
            .collect();
        repos.sort();
        Some(OrgItemView {
            value: it.value.clone(),
            visibility: it.visibility.clone(),
            updated_at: it.updated_at,
            repos,
        })
    }

    fn org_item_mut(&mut self, org: &str, name: &str, what: What) -> Option<&mut OrgItem> {
        let a = self.org_actions.get_mut(&org.to_ascii_lowercase())?;
        match what {
            What::Secrets => a.secrets.get_mut(&name.to_ascii_uppercase()),
            What::Variables => a.variables.get_mut(&name.to_ascii_uppercase()),
        }
    }
}

impl GithubSimHandle {
    /// An organisation secret (its unsealed value) and who may read it.
    pub fn org_secret(&self, org: &str, name: &str) -> Option<OrgItemView> {
        self.shared.lock().org_item_view(org, name, What::Secrets)
    }

    /// An organisation variable and who may read it.
    pub fn org_variable(&self, org: &str, name: &str) -> Option<OrgItemView> {
        self.shared.lock().org_item_view(org, name, What::Variables)
    }

    /// Someone re-sets an org secret on GitHub (its `updated_at` moves).
    pub fn overwrite_org_secret(&self, org: &str, name: &str, value: &str) -> bool {
        let mut st = self.shared.lock();
        st.org_item_mut(org, name, What::Secrets)
            .map(|s| {
                s.value = value.to_string();
                s.updated_at = Utc::now();
            })
            .is_some()
    }

    /// Someone changes an org variable's value on GitHub.
    pub fn set_org_variable(&self, org: &str, name: &str, value: &str) -> bool {
        let mut st = self.shared.lock();
        st.org_item_mut(org, name, What::Variables)
            .map(|v| {
                v.value = value.to_string();
                v.updated_at = Utc::now();
            })
            .is_some()
    }

    /// Someone adds (`add`) or removes a repository from an org secret's (`secret`) or
    /// variable's selection on GitHub.
    pub fn toggle_org_selection(
        &self,
        org: &str,
        name: &str,
        secret: bool,
        repo: &str,
        add: bool,
    ) -> bool {
        let mut st = self.shared.lock();
        let Some(id) = st.repo_view_id(repo) else {
            return false;
        };
        let what = if secret {
            What::Secrets
        } else {
            What::Variables
        };
        st.org_item_mut(org, name, what)
            .map(|it| {
                if add {
                    it.selected.insert(id);
                } else {
                    it.selected.remove(&id);
                }
            })
            .is_some()
    }
}

impl SimState {
    fn repo_view_id(&self, full: &str) -> Option<u64> {
        let (o, n) = full.split_once('/')?;
        self.repo(o, n).map(|r| r.id)
    }
}
