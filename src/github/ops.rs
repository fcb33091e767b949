//! Typed GitHub operations fleetsync uses: repos, contents, trees and refs, Actions secrets
//! and variables, branch protection. Reads that observe state are conditional (ETag cache);
//! collections are listed, never read item by item.

use super::error::GhError;
use super::routes;
use super::seal::seal_secret;
use super::transport::{GithubClient, Resp};
use super::wire;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use http::Method;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// What a new repo is created with.
#[derive(Debug, Clone)]
pub struct RepoCreate {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// `private`, `internal`, `public`.
    pub visibility: String,
    /// Create the repo with a first commit (README) on its default branch; `false` makes
    /// an empty repo that a first push fills.
    pub auto_init: bool,
    /// Custom property values it is created with (the ownership marker), in the same
    /// request.
    pub custom_properties: std::collections::BTreeMap<String, String>,
}

/// What a contents PUT made: the file's blob SHA and the commit's SHA.
#[derive(Debug, Clone)]
pub struct FileWritten {
    pub blob: String,
    pub commit: Option<String>,
}

/// A file to write.
#[derive(Debug, Clone)]
pub struct FileWrite<'a> {
    /// Path in the repo.
    pub path: &'a str,
    /// Content.
    pub content: &'a [u8],
    /// The current blob SHA when the file exists (required by GitHub to update).
    pub sha: Option<&'a str>,
    /// Branch.
    pub branch: &'a str,
    /// Commit message.
    pub message: &'a str,
}

/// Percent-encodes one path segment.
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes a path inside a repo, keeping its slashes.
pub fn path_segs(p: &str) -> String {
    p.split('/').map(seg).collect::<Vec<_>>().join("/")
}

pub(super) fn decode<T: DeserializeOwned>(
    r: &Resp,
    method: &str,
    path: &str,
) -> Result<T, GhError> {
    serde_json::from_str(&r.body).map_err(|e| GhError::Decode {
        method: method.to_string(),
        path: path.to_string(),
        reason: e.to_string(),
    })
}

/// The `next` page of a `Link` header, as a path and query (absolute URLs are reduced to
/// their path so the request keeps its authentication; see octocrab's App-auth pitfall).
pub(super) fn next_link(r: &Resp) -> Option<String> {
    let link = r.headers.get(http::header::LINK)?.to_str().ok()?;
    for part in link.split(',') {
        let mut pieces = part.split(';');
        let url = pieces
            .next()?
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>');
        if pieces.any(|p| p.trim() == "rel=\"next\"") {
            return match url::Url::parse(url) {
                Ok(u) => Some(match u.query() {
                    Some(q) => format!("{}?{q}", u.path()),
                    None => u.path().to_string(),
                }),
                Err(_) => Some(url.to_string()),
            };
        }
    }
    None
}

impl GithubClient {
    /// `GET /repos/{owner}/{repo}`; `None` when it does not exist.
    pub async fn get_repo(&self, owner: &str, repo: &str) -> Result<Option<wire::Repo>, GhError> {
        let path = format!("/repos/{}/{}", seg(owner), seg(repo));
        match self
            .request(Method::GET, routes::REPO, &path, None, true)
            .await
        {
            Ok(r) => {
                let repo: wire::Repo = decode(&r, "GET", &path)?;
                self.remember_repo(owner, &repo);
                Ok(Some(repo))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /orgs/{org}/properties/schema/{name}`: the organisation's definition of a custom
    /// property; `None` when it defines none of that name.
    pub async fn get_property_definition(
        &self,
        org: &str,
        name: &str,
    ) -> Result<Option<wire::CustomProperty>, GhError> {
        let path = format!("/orgs/{}/properties/schema/{}", seg(org), seg(name));
        match self
            .request(Method::GET, routes::PROPERTY_SCHEMA, &path, None, true)
            .await
        {
            Ok(r) => decode(&r, "GET", &path).map(Some),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `PATCH /repos/{owner}/{repo}/properties/values`: sets one custom property value.
    pub async fn set_property_value(
        &self,
        owner: &str,
        repo: &str,
        name: &str,
        value: &str,
    ) -> Result<(), GhError> {
        let path = format!("/repos/{}/{}/properties/values", seg(owner), seg(repo));
        let body = json!({"properties": [{"property_name": name, "value": value}]});
        self.request(
            Method::PATCH,
            routes::PROPERTY_VALUES,
            &path,
            Some(&body),
            false,
        )
        .await
        .map(|_| ())
    }

    /// Every repo of the organisation (`GET /orgs/{org}/repos`, 100 a page), with their
    /// custom properties and topics.
    pub async fn list_org_repos(&self, org: &str) -> Result<Vec<wire::Repo>, GhError> {
        let first = format!("/orgs/{}/repos?per_page=100&type=all", seg(org));
        self.list_pages(routes::ORG_REPOS, first, |p: Vec<wire::Repo>| (0, p))
            .await
    }

    /// `POST /orgs/{org}/repos` with an initial commit on the default branch.
    pub async fn create_repo(&self, org: &str, spec: &RepoCreate) -> Result<wire::Repo, GhError> {
        let path = format!("/orgs/{}/repos", seg(org));
        let mut body = json!({
            "name": spec.name,
            "description": spec.description,
            "visibility": spec.visibility,
            "private": spec.visibility != "public",
            "auto_init": spec.auto_init,
            "has_wiki": false,
        });
        if !spec.custom_properties.is_empty() {
            body["custom_properties"] = json!(spec.custom_properties);
        }
        let r = self
            .request(Method::POST, routes::ORG_REPOS, &path, Some(&body), false)
            .await?;
        let repo: wire::Repo = decode(&r, "POST", &path)?;
        self.remember_repo(org, &repo);
        Ok(repo)
    }

    /// `PATCH /repos/{owner}/{repo}` (description, visibility, `archived`, …).
    pub async fn update_repo(
        &self,
        owner: &str,
        repo: &str,
        patch: &Value,
    ) -> Result<wire::Repo, GhError> {
        let path = format!("/repos/{}/{}", seg(owner), seg(repo));
        let r = self
            .request(Method::PATCH, routes::REPO, &path, Some(patch), false)
            .await?;
        decode(&r, "PATCH", &path)
    }

    /// `DELETE /repos/{owner}/{repo}`.
    pub async fn delete_repo(&self, owner: &str, repo: &str) -> Result<(), GhError> {
        let path = format!("/repos/{}/{}", seg(owner), seg(repo));
        self.request(Method::DELETE, routes::REPO, &path, None, false)
            .await
            .map(|_| ())
    }

    /// `PUT /repos/{owner}/{repo}/topics`.
    pub async fn replace_topics(
        &self,
        owner: &str,
        repo: &str,
        topics: &[String],
    ) -> Result<(), GhError> {
        let path = format!("/repos/{}/{}/topics", seg(owner), seg(repo));
        let body = json!({ "names": topics });
        self.request(Method::PUT, routes::TOPICS, &path, Some(&body), false)
            .await
            .map(|_| ())
    }

    /// The recursive tree of a branch; `None` for an empty repo (409) or a missing branch.
    pub async fn get_tree(
        &self,
        owner: &str,
        repo: &str,
        branch: &str,
    ) -> Result<Option<wire::Tree>, GhError> {
        let path = format!(
            "/repos/{}/{}/git/trees/{}?recursive=1",
            seg(owner),
            seg(repo),
            seg(branch)
        );
        match self
            .request(Method::GET, routes::GIT_TREE, &path, None, true)
            .await
        {
            Ok(r) => decode(&r, "GET", &path).map(Some),
            Err(e) if matches!(e.status(), Some(404) | Some(409)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /repos/{owner}/{repo}/git/ref/heads/{branch}`; `None` when the branch is absent.
    pub async fn get_branch_ref(
        &self,
        owner: &str,
        repo: &str,
        branch: &str,
    ) -> Result<Option<wire::GitRef>, GhError> {
        let path = format!(
            "/repos/{}/{}/git/ref/heads/{}",
            seg(owner),
            seg(repo),
            path_segs(branch)
        );
        match self
            .request(Method::GET, routes::GIT_REF, &path, None, false)
            .await
        {
            Ok(r) => decode(&r, "GET", &path).map(Some),
            Err(e) if matches!(e.status(), Some(404) | Some(409)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /repos/{owner}/{repo}/git/refs`: creates `refs/heads/{branch}` at `sha`.
    pub async fn create_branch(
        &self,
        owner: &str,
        repo: &str,
        branch: &str,
        sha: &str,
    ) -> Result<(), GhError> {
        let path = format!("/repos/{}/{}/git/refs", seg(owner), seg(repo));
        let body = json!({ "ref": format!("refs/heads/{branch}"), "sha": sha });
        self.request(Method::POST, routes::GIT_REFS, &path, Some(&body), false)
            .await
            .map(|_| ())
    }

    /// `GET /repos/{owner}/{repo}/contents/{path}?ref=BRANCH`: a file's current content
    /// (conditional); `None` when the file or branch is absent.
    pub async fn get_file(
        &self,
        owner: &str,
        repo: &str,
        file: &str,
        branch: &str,
    ) -> Result<Option<Vec<u8>>, GhError> {
        #[derive(serde::Deserialize)]
        struct Body {
            content: String,
            encoding: String,
        }
        let path = format!(
            "/repos/{}/{}/contents/{}?ref={}",
            seg(owner),
            seg(repo),
            path_segs(file),
            seg(branch)
        );
        let r = match self
            .request(Method::GET, routes::CONTENTS, &path, None, true)
            .await
        {
            Ok(r) => r,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let body: Body = decode(&r, "GET", &path)?;
        let bad = |reason: String| GhError::Decode {
            method: "GET".into(),
            path: path.clone(),
            reason,
        };
        if body.encoding != "base64" {
            return Err(bad(format!("content encoding {:?}", body.encoding)));
        }
        B64.decode(body.content.replace(['\n', '\r'], ""))
            .map(Some)
            .map_err(|e| bad(e.to_string()))
    }

    /// `PUT /repos/{owner}/{repo}/contents/{path}`; returns the new blob SHA.
    pub async fn put_file(
        &self,
        owner: &str,
        repo: &str,
        f: &FileWrite<'_>,
    ) -> Result<FileWritten, GhError> {
        let path = format!(
            "/repos/{}/{}/contents/{}",
            seg(owner),
            seg(repo),
            path_segs(f.path)
        );
        let mut body = json!({
            "message": f.message,
            "content": B64.encode(f.content),
            "branch": f.branch,
            "committer": {"name": "fleetsync", "email": "fleetsync@users.noreply.github.com"},
        });
        if let Some(sha) = f.sha {
            body["sha"] = json!(sha);
        }
        let r = self
            .request(Method::PUT, routes::CONTENTS, &path, Some(&body), false)
            .await
            .map_err(|e| match e {
                // GitHub tells a create of an existing file only by its message.
                GhError::Http {
                    status: 422,
                    path,
                    message,
                    ..
                } if f.sha.is_none() && message.contains("\"sha\"") => {
                    GhError::ShaRequired { path, message }
                }
                other => other,
            })?;
        let fc: wire::FileCommit = decode(&r, "PUT", &path)?;
        Ok(FileWritten {
            blob: fc.content.map(|c| c.sha).unwrap_or_default(),
            commit: fc.commit.map(|c| c.sha),
        })
    }

    /// `DELETE /repos/{owner}/{repo}/contents/{path}`: one commit removing the file, which
    /// must still have the blob `sha` (GitHub answers 409 otherwise). Returns the commit.
    pub async fn delete_file(
        &self,
        owner: &str,
        repo: &str,
        file: &str,
        sha: &str,
        branch: &str,
    ) -> Result<Option<String>, GhError> {
        let path = format!(
            "/repos/{}/{}/contents/{}",
            seg(owner),
            seg(repo),
            path_segs(file)
        );
        let body = json!({
            "message": format!("fleetsync: remove {file} (no longer in the config)"),
            "sha": sha,
            "branch": branch,
            "committer": {"name": "fleetsync", "email": "fleetsync@users.noreply.github.com"},
        });
        let r = self
            .request(Method::DELETE, routes::CONTENTS, &path, Some(&body), false)
            .await?;
        let fc: wire::FileCommit = decode(&r, "DELETE", &path)?;
        Ok(fc.commit.map(|c| c.sha))
    }

    pub(super) async fn list_pages<T: DeserializeOwned, I>(
        &self,
        route: &'static str,
        first: String,
        items: impl Fn(T) -> (u64, Vec<I>),
    ) -> Result<Vec<I>, GhError> {
        let mut out = Vec::new();
        let mut next = Some(first);
        while let Some(path) = next {
            let r = self.request(Method::GET, route, &path, None, true).await?;
            let page: T = decode(&r, "GET", &path)?;
            let (_total, mut got) = items(page);
            out.append(&mut got);
            next = next_link(&r);
        }
        Ok(out)
    }

    /// Every Actions secret of a repo (names and `updated_at`).
    pub async fn list_secrets(
        &self,
        owner: &str,
        repo: &str,
    ) -> Result<Vec<wire::Secret>, GhError> {
        let first = format!(
            "/repos/{}/{}/actions/secrets?per_page=100",
            seg(owner),
            seg(repo)
        );
        self.list_pages(routes::SECRETS, first, |p: wire::SecretList| {
            (p.total_count, p.secrets)
        })
        .await
    }

    /// Every Actions variable of a repo (30 a page, GitHub's maximum).
    pub async fn list_variables(
        &self,
        owner: &str,
        repo: &str,
    ) -> Result<Vec<wire::Variable>, GhError> {
        let first = format!(
            "/repos/{}/{}/actions/variables?per_page=30",
            seg(owner),
            seg(repo)
        );
        self.list_pages(routes::VARIABLES, first, |p: wire::VariableList| {
            (p.total_count, p.variables)
        })
        .await
    }

    /// `POST …/actions/variables` (GitHub answers 409 if it exists).
    pub async fn create_variable(
        &self,
        owner: &str,
        repo: &str,
        name: &str,
        value: &str,
    ) -> Result<(), GhError> {
        let path = format!("/repos/{}/{}/actions/variables", seg(owner), seg(repo));
        let body = json!({ "name": name, "value": value });
        self.request(Method::POST, routes::VARIABLES, &path, Some(&body), false)
            .await
            .map(|_| ())
    }

    /// `PATCH …/actions/variables/{name}`.
    pub async fn update_variable(
        &self,
        owner: &str,
        repo: &str,
        name: &str,
        value: &str,
    ) -> Result<(), GhError> {
        let path = format!(
            "/repos/{}/{}/actions/variables/{}",
            seg(owner),
            seg(repo),
            seg(name)
        );
        let body = json!({ "name": name, "value": value });
        self.request(Method::PATCH, routes::VARIABLE, &path, Some(&body), false)
            .await
            .map(|_| ())
    }

    /// `DELETE …/actions/variables/{name}`.
    pub async fn delete_variable(
        &self,
        owner: &str,
        repo: &str,
        name: &str,
    ) -> Result<(), GhError> {
        let path = format!(
            "/repos/{}/{}/actions/variables/{}",
            seg(owner),
            seg(repo),
            seg(name)
        );
        self.request(Method::DELETE, routes::VARIABLE, &path, None, false)
            .await
            .map(|_| ())
    }

    /// The repo's public key, cached per repo for the client's life.
    async fn public_key(&self, owner: &str, repo: &str) -> Result<(String, String), GhError> {
        let k = format!("{owner}/{repo}");
        if let Ok(m) = self.public_keys.lock() {
            if let Some(v) = m.get(&k) {
                return Ok(v.clone());
            }
        }
        let path = format!(
            "/repos/{}/{}/actions/secrets/public-key",
            seg(owner),
            seg(repo)
        );
        let r = self
            .request(Method::GET, routes::SECRETS_PUBLIC_KEY, &path, None, false)
            .await?;
        let pk: wire::PublicKey = decode(&r, "GET", &path)?;
        let v = (pk.key_id, pk.key);
        if let Ok(mut m) = self.public_keys.lock() {
            m.insert(k, v.clone());
        }
        Ok(v)
    }

    /// Seals `value` with the repo's public key and writes the secret. A 422 (e.g. the key
    /// was rotated) drops the cached key and tries once more with a fresh one.
    pub async fn put_secret(
        &self,
        owner: &str,
        repo: &str,
        name: &str,
        value: &[u8],
    ) -> Result<(), GhError> {
        let path = format!(
            "/repos/{}/{}/actions/secrets/{}",
            seg(owner),
            seg(repo),
            seg(name)
        );
        for round in 0..2 {
            let (key_id, key) = self.public_key(owner, repo).await?;
            let sealed = seal_secret(&key, value).map_err(|reason| GhError::Seal {
                repo: format!("{owner}/{repo}"),
                name: name.to_string(),
                reason,
            })?;
            let body = json!({ "encrypted_value": sealed, "key_id": key_id });
            match self
                .request(Method::PUT, routes::SECRET, &path, Some(&body), false)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if e.status() == Some(422) && round == 0 => {
                    if let Ok(mut m) = self.public_keys.lock() {
                        m.remove(&format!("{owner}/{repo}"));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(GhError::Seal {
            repo: format!("{owner}/{repo}"),
            name: name.to_string(),
            reason: "GitHub rejected the sealed value twice".into(),
        })
    }

    /// `DELETE …/actions/secrets/{name}`.
    pub async fn delete_secret(&self, owner: &str, repo: &str, name: &str) -> Result<(), GhError> {
        let path = format!(
            "/repos/{}/{}/actions/secrets/{}",
            seg(owner),
            seg(repo),
            seg(name)
        );
        self.request(Method::DELETE, routes::SECRET, &path, None, false)
            .await
            .map(|_| ())
    }

    /// Branch protection as GitHub reports it. `Ok(None)`: the branch exists but is not
    /// protected. `Err` 404 with "Branch not found": the branch does not exist.
    pub async fn get_protection(
        &self,
        owner: &str,
        repo: &str,
        branch: &str,
    ) -> Result<ProtectionState, GhError> {
        let path = format!(
            "/repos/{}/{}/branches/{}/protection",
            seg(owner),
            seg(repo),
            seg(branch)
        );
        match self
            .request(Method::GET, routes::PROTECTION, &path, None, true)
            .await
        {
            Ok(r) => decode::<Value>(&r, "GET", &path)
                .map(|v| ProtectionState::Protected(super::protection::from_get(&v))),
            Err(GhError::Http {
                status: 404,
                message,
                ..
            }) => {
                if message.to_ascii_lowercase().contains("not protected") {
                    Ok(ProtectionState::Unprotected)
                } else {
                    Ok(ProtectionState::NoBranch)
                }
            }
            Err(e) => Err(e),
        }
    }

    /// `PUT …/branches/{branch}/protection` with the request body shape.
    pub async fn put_protection(
        &self,
        owner: &str,
        repo: &str,
        branch: &str,
        protection: &crate::desired::ProtectionSpec,
    ) -> Result<(), GhError> {
        let body = &super::protection::put_body(protection);
        let path = format!(
            "/repos/{}/{}/branches/{}/protection",
            seg(owner),
            seg(repo),
            seg(branch)
        );
        self.request(Method::PUT, routes::PROTECTION, &path, Some(body), false)
            .await
            .map(|_| ())
    }
}

/// What `GET …/protection` found.
#[derive(Debug, Clone, PartialEq)]
pub enum ProtectionState {
    /// Protected, with these settings.
    Protected(crate::desired::ProtectionSpec),
    /// The branch exists without protection.
    Unprotected,
    /// The branch does not exist.
    NoBranch,
}
