//! Renamed and transferred repositories. GitHub keeps the old `owner/name` pointing at the
//! repository (until a repository takes the old name again) and answers requests to it with a
//! redirect to the repository's id-based URL: `301` for GET/HEAD, `307` for other methods,
//! `Location: {api}/repositories/{id}{rest of the path}` and the body
//! `{"message": "Moved Permanently", "url": <Location>, "documentation_url": …}`. That is what
//! GitHub answered in octokit/fixtures' recorded `rename-repository` scenario (GET → 301,
//! PATCH and DELETE → 307, all with "Moved Permanently") and in later public transcripts (the
//! `documentation_url` below). `/repositories/{id}/…` is then served like the repository's
//! `/repos/{owner}/{name}/…`.

use super::reply::json_reply;
use super::state::{Repo, SimState};
use super::Shared;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;
use std::sync::Arc;

/// The documentation link of GitHub's redirect answers.
pub const REDIRECT_DOCS: &str =
    "https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects";

/// The path a request had before `/repositories/{id}` was rewritten (for the request log).
#[derive(Clone)]
pub struct OriginalPath(pub String);

fn lower(owner: &str, name: &str) -> (String, String) {
    (owner.to_ascii_lowercase(), name.to_ascii_lowercase())
}

impl SimState {
    /// The id of the repository that used to be at `owner/name`.
    pub fn moved_id(&self, owner: &str, name: &str) -> Option<u64> {
        self.moved.get(&lower(owner, name)).copied()
    }

    pub fn repo_by_id(&self, id: u64) -> Option<&Repo> {
        self.repos.values().find(|r| r.id == id)
    }

    /// Moves the repository at `owner/name` to `new_owner/new_name` (a rename when the owner
    /// stays, a transfer otherwise) and remembers the old place. `Err` says why not.
    pub fn relocate(
        &mut self,
        owner: &str,
        name: &str,
        new_owner: &str,
        new_name: &str,
    ) -> Result<(), String> {
        let Some(org) = self.org(new_owner) else {
            return Err(format!("no organisation {new_owner}"));
        };
        let same = owner.eq_ignore_ascii_case(&org) && name.eq_ignore_ascii_case(new_name);
        if !same && self.repo(&org, new_name).is_some() {
            return Err(format!("{org}/{new_name} already exists"));
        }
        let Some(mut r) = self.remove_repo(owner, name) else {
            return Err(format!("no repository {owner}/{name}"));
        };
        let old = lower(&r.owner, &r.name);
        r.owner = org;
        r.name = new_name.to_string();
        r.updated_at = chrono::Utc::now();
        let id = r.id;
        let new = lower(&r.owner, &r.name);
        self.repos.insert(new.clone(), r);
        if old != new {
            self.moved.insert(old, id);
        }
        // A repository at a name that used to redirect ends that redirect.
        self.moved.remove(&new);
        Ok(())
    }
}

/// `/repos/{owner}/{name}…` split into the owner, the name and the rest of the path.
fn repo_path(path: &str) -> Option<(&str, &str, &str)> {
    let rest = path.strip_prefix("/repos/")?;
    let (owner, rest) = rest.split_once('/')?;
    let (name, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    (!owner.is_empty() && !name.is_empty()).then_some((owner, name, tail))
}

/// GitHub's redirect for a request to a moved repository's old name, if this is one.
pub fn redirect(st: &SimState, base_url: &str, method: &Method, uri: &Uri) -> Option<Response> {
    let (owner, name, tail) = repo_path(uri.path())?;
    if st.repo(owner, name).is_some() {
        return None;
    }
    let id = st.moved_id(owner, name)?;
    st.repo_by_id(id)?;
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let location = format!("{base_url}/repositories/{id}{tail}{query}");
    let status = if method == Method::GET || method == Method::HEAD {
        StatusCode::MOVED_PERMANENTLY
    } else {
        StatusCode::TEMPORARY_REDIRECT
    };
    let mut resp = json_reply(
        status,
        json!({"message": "Moved Permanently", "url": location, "documentation_url": REDIRECT_DOCS}),
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Some(resp)
}

/// Rewrites `/repositories/{id}…` to the repository's `/repos/{owner}/{name}…` before routing.
/// An unknown id is left alone (and answered 404 by the router).
pub async fn rewrite_by_id(
    State(shared): State<Arc<Shared>>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    if let Some(rest) = path.strip_prefix("/repositories/") {
        let (id, tail) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let target = id.parse::<u64>().ok().and_then(|id| {
            let st = shared.lock();
            st.repo_by_id(id)
                .map(|r| format!("/repos/{}/{}{tail}", r.owner, r.name))
        });
        if let Some(new_path) = target {
            let pq = match req.uri().query() {
                Some(q) => format!("{new_path}?{q}"),
                None => new_path,
            };
            if let Ok(uri) = pq.parse::<Uri>() {
                req.extensions_mut().insert(OriginalPath(path));
                *req.uri_mut() = uri;
            }
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_paths_split() {
        assert_eq!(
            repo_path("/repos/acme/x/contents/a/b"),
            Some(("acme", "x", "/contents/a/b"))
        );
        assert_eq!(repo_path("/repos/acme/x"), Some(("acme", "x", "")));
        assert_eq!(repo_path("/orgs/acme/repos"), None);
    }
}
