//! Organisation-level Actions secrets and variables with `visibility = "selected"`: list them
//! (conditional), list a selection's repositories, and write a value together with its
//! selection in one request (a secret sealed with the organisation's public key), or a
//! selection alone. Shapes and status codes from GitHub's REST description
//! (`actions/*-org-*` operations).

use super::error::GhError;
use super::ops::{decode, seg};
use super::routes;
use super::seal::seal_secret;
use super::transport::GithubClient;
use super::wire;
use http::Method;
use serde_json::json;

/// Which org-level collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgCollection {
    Secrets,
    Variables,
}

impl OrgCollection {
    fn segment(self) -> &'static str {
        match self {
            OrgCollection::Secrets => "secrets",
            OrgCollection::Variables => "variables",
        }
    }

    fn repos_route(self) -> &'static str {
        match self {
            OrgCollection::Secrets => routes::ORG_SECRET_REPOS,
            OrgCollection::Variables => routes::ORG_VARIABLE_REPOS,
        }
    }
}

impl GithubClient {
    /// Every org secret (name, `updated_at`, visibility).
    pub async fn list_org_secrets(&self, org: &str) -> Result<Vec<wire::OrgSecret>, GhError> {
        let first = format!("/orgs/{}/actions/secrets?per_page=100", seg(org));
        self.list_pages(routes::ORG_SECRETS, first, |p: wire::OrgSecretList| {
            (p.total_count, p.secrets)
        })
        .await
    }

    /// Every org variable (30 a page, GitHub's maximum).
    pub async fn list_org_variables(&self, org: &str) -> Result<Vec<wire::OrgVariable>, GhError> {
        let first = format!("/orgs/{}/actions/variables?per_page=30", seg(org));
        self.list_pages(routes::ORG_VARIABLES, first, |p: wire::OrgVariableList| {
            (p.total_count, p.variables)
        })
        .await
    }

    /// The repositories an org secret or variable is selected for (100 a page).
    pub async fn list_selected_repos(
        &self,
        what: OrgCollection,
        org: &str,
        name: &str,
    ) -> Result<Vec<wire::SelectedRepo>, GhError> {
        let first = format!(
            "/orgs/{}/actions/{}/{}/repositories?per_page=100",
            seg(org),
            what.segment(),
            seg(name)
        );
        self.list_pages(what.repos_route(), first, |p: wire::SelectedRepoList| {
            (p.total_count, p.repositories)
        })
        .await
    }

    /// Replaces the repositories an org secret or variable is selected for.
    pub async fn set_selected_repos(
        &self,
        what: OrgCollection,
        org: &str,
        name: &str,
        ids: &[u64],
    ) -> Result<(), GhError> {
        let path = format!(
            "/orgs/{}/actions/{}/{}/repositories",
            seg(org),
            what.segment(),
            seg(name)
        );
        let body = json!({ "selected_repository_ids": ids });
        self.request(Method::PUT, what.repos_route(), &path, Some(&body), false)
            .await
            .map(|_| ())
    }

    /// The organisation's public key, cached for the client's life.
    async fn org_public_key(&self, org: &str) -> Result<(String, String), GhError> {
        let k = format!("org:{org}");
        if let Ok(m) = self.public_keys.lock() {
            if let Some(v) = m.get(&k) {
                return Ok(v.clone());
            }
        }
        let path = format!("/orgs/{}/actions/secrets/public-key", seg(org));
        let r = self
            .request(
                Method::GET,
                routes::ORG_SECRETS_PUBLIC_KEY,
                &path,
                None,
                false,
            )
            .await?;
        let pk: wire::PublicKey = decode(&r, "GET", &path)?;
        let v = (pk.key_id, pk.key);
        if let Ok(mut m) = self.public_keys.lock() {
            m.insert(k, v.clone());
        }
        Ok(v)
    }

    /// Seals `value` with the organisation's key and writes the secret with visibility
    /// `selected` and `ids` as its repositories, in one request. A 422 (the key was
    /// rotated) drops the cached key and tries once more.
    pub async fn put_org_secret(
        &self,
        org: &str,
        name: &str,
        value: &[u8],
        ids: &[u64],
    ) -> Result<(), GhError> {
        let path = format!("/orgs/{}/actions/secrets/{}", seg(org), seg(name));
        for round in 0..2 {
            let (key_id, key) = self.org_public_key(org).await?;
            let sealed = seal_secret(&key, value).map_err(|reason| GhError::Seal {
                repo: org.to_string(),
                name: name.to_string(),
                reason,
            })?;
            let body = json!({
                "encrypted_value": sealed,
                "key_id": key_id,
                "visibility": "selected",
                "selected_repository_ids": ids,
            });
            match self
                .request(Method::PUT, routes::ORG_SECRET, &path, Some(&body), false)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if e.status() == Some(422) && round == 0 => {
                    if let Ok(mut m) = self.public_keys.lock() {
                        m.remove(&format!("org:{org}"));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(GhError::Seal {
            repo: org.to_string(),
            name: name.to_string(),
            reason: "GitHub rejected the sealed value twice".into(),
        })
    }

    /// `POST /orgs/{org}/actions/variables` with visibility `selected` (409 if it exists).
    pub async fn create_org_variable(
        &self,
        org: &str,
        name: &str,
        value: &str,
        ids: &[u64],
    ) -> Result<(), GhError> {
        let path = format!("/orgs/{}/actions/variables", seg(org));
        let body = json!({
            "name": name,
            "value": value,
            "visibility": "selected",
            "selected_repository_ids": ids,
        });
        self.request(
            Method::POST,
            routes::ORG_VARIABLES,
            &path,
            Some(&body),
            false,
        )
        .await
        .map(|_| ())
    }

    /// `PATCH /orgs/{org}/actions/variables/{name}`: value, visibility `selected` and
    /// selection in one request.
    pub async fn update_org_variable(
        &self,
        org: &str,
        name: &str,
        value: &str,
        ids: &[u64],
    ) -> Result<(), GhError> {
        let path = format!("/orgs/{}/actions/variables/{}", seg(org), seg(name));
        let body = json!({
            "name": name,
            "value": value,
            "visibility": "selected",
            "selected_repository_ids": ids,
        });
        self.request(
            Method::PATCH,
            routes::ORG_VARIABLE,
            &path,
            Some(&body),
            false,
        )
        .await
        .map(|_| ())
    }
}
