//! A client of one DSS node's public API over reqwest: the node's prefix, timeout and TLS
//! settings, Basic auth with the key as user name (as the official Python client does), and
//! errors that name the node, the request and DSS's error text but never the key.

use super::error::{chain, error_text, DssError};
use super::types::{DssInfra, DssPlugin, DssProject, InstanceInfo, PushOutcome};
use super::wire;
use crate::config::{DssNodeConfig, SecretValue};
use bytes::Bytes;
use reqwest::Method;
use serde::de::DeserializeOwned;
use std::path::Path;

/// A client of one DSS node.
#[derive(Clone)]
pub struct DssClient {
    node: String,
    base: url::Url,
    http: reqwest::Client,
    api_key: SecretValue,
}

impl std::fmt::Debug for DssClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DssClient")
            .field("node", &self.node)
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl DssClient {
    /// Builds the client for `node`; relative certificate paths are relative to `base_dir`
    /// (the config file's folder).
    pub fn new(
        node: &DssNodeConfig,
        api_key: SecretValue,
        base_dir: &Path,
    ) -> Result<DssClient, DssError> {
        let setup = |reason: String| DssError::Setup {
            node: node.name.clone(),
            reason,
        };
        let prefix = format!("/{}", node.api_prefix.trim_matches('/'));
        let text = format!("{}{}", node.url.get_ref().trim_end_matches('/'), prefix);
        let base = url::Url::parse(&text)
            .map_err(|e| setup(format!("{:?} is not a URL: {e}", node.url.get_ref())))?;
        if base.cannot_be_a_base() {
            return Err(setup(format!(
                "{:?} is not an http(s) URL",
                node.url.get_ref()
            )));
        }
        let mut builder = reqwest::Client::builder()
            .timeout(node.timeout.0)
            .user_agent(concat!("fleetsync/", env!("CARGO_PKG_VERSION")));
        if node.no_check_certificate {
            builder = builder.danger_accept_invalid_certs(true);
        }
        if let Some(ca) = &node.ca_certificate {
            let pem = read_file(base_dir, ca).map_err(setup)?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| setup(format!("CA certificate {}: {}", ca.display(), chain(&e))))?;
            builder = builder.add_root_certificate(cert);
        }
        if let Some(cc) = &node.client_certificate {
            let pem = read_file(base_dir, cc).map_err(setup)?;
            let id = reqwest::Identity::from_pem(&pem).map_err(|e| {
                setup(format!(
                    "client certificate {} (a PEM with the certificate and its key): {}",
                    cc.display(),
                    chain(&e)
                ))
            })?;
            builder = builder.identity(id);
        }
        let http = builder
            .build()
            .map_err(|e| setup(format!("cannot build the HTTP client: {}", chain(&e))))?;
        Ok(DssClient {
            node: node.name.clone(),
            base,
            http,
            api_key,
        })
    }

    /// The node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// `GET /projects/`: every project the key may read.
    pub async fn list_projects(&self) -> Result<Vec<DssProject>, DssError> {
        let items: Vec<wire::ProjectItem> = self.get_json(&["projects", ""]).await?;
        Ok(items.into_iter().map(DssProject::from).collect())
    }

    /// `GET /plugins/`: every installed plugin (dev or not).
    pub async fn list_plugins(&self) -> Result<Vec<DssPlugin>, DssError> {
        let items: Vec<wire::PluginItem> = self.get_json(&["plugins", ""]).await?;
        Ok(items.into_iter().map(DssPlugin::from).collect())
    }

    /// `GET /plugins/{id}/download`: the zip of a dev plugin.
    pub async fn download_plugin(&self, id: &str) -> Result<Bytes, DssError> {
        let segs = ["plugins", id, "download"];
        let resp = self.call(Method::GET, &segs, &[], None).await?;
        resp.bytes()
            .await
            .map_err(|e| self.transport(&Method::GET, &segs, &e))
    }

    /// `GET /projects/{key}/git/remotes/{name}`: the remote's URL, `None` when unset.
    pub async fn git_remote(&self, key: &str, name: &str) -> Result<Option<String>, DssError> {
        let r: wire::Remote = self
            .get_json(&["projects", key, "git", "remotes", name])
            .await?;
        Ok(r.url.filter(|u| !u.is_empty()))
    }

    /// `POST /projects/{key}/git/remotes/{name}` with `{"url": url}`.
    pub async fn set_git_remote(&self, key: &str, name: &str, url: &str) -> Result<(), DssError> {
        let body = serde_json::json!({ "url": url });
        let segs = ["projects", key, "git", "remotes", name];
        let resp = self.call(Method::POST, &segs, &[], Some(&body)).await?;
        // The answer is JSON the client ignores; read it so the connection can be reused.
        let _ = resp.bytes().await;
        Ok(())
    }

    /// `POST /projects/{key}/git/actions/push`, on `branch` or the current branch.
    pub async fn push(&self, key: &str, branch: Option<&str>) -> Result<PushOutcome, DssError> {
        let segs = ["projects", key, "git", "actions", "push"];
        let query: Vec<(&str, &str)> = branch.map(|b| ("branchName", b)).into_iter().collect();
        let resp = self.call(Method::POST, &segs, &query, None).await?;
        let p: wire::Push = self.decode(&Method::POST, &segs, resp).await?;
        Ok(p.into())
    }

    /// `POST /projects/{key}/git/actions/pullRebase`: the project pulls its branch from the
    /// remote, rebasing its own commits on top (git's output on failure).
    pub async fn pull_rebase(&self, key: &str) -> Result<PushOutcome, DssError> {
        let segs = ["projects", key, "git", "actions", "pullRebase"];
        let resp = self.call(Method::POST, &segs, &[], None).await?;
        let p: wire::Push = self.decode(&Method::POST, &segs, resp).await?;
        Ok(p.into())
    }

    /// `GET /projects/{key}/metadata`: the project's custom fields (`customFields`).
    pub async fn project_custom_fields(
        &self,
        key: &str,
    ) -> Result<std::collections::BTreeMap<String, serde_json::Value>, DssError> {
        let v: serde_json::Value = self.get_json(&["projects", key, "metadata"]).await?;
        Ok(v.get("customFields")
            .and_then(|c| c.as_object())
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }

    /// `GET /project-deployer/infras`.
    pub async fn list_infras(&self) -> Result<Vec<DssInfra>, DssError> {
        let items: Vec<wire::InfraItem> = self.get_json(&["project-deployer", "infras"]).await?;
        Ok(items.into_iter().map(DssInfra::from).collect())
    }

    /// `GET /instance-info`.
    pub async fn instance_info(&self) -> Result<InstanceInfo, DssError> {
        let i: wire::Instance = self.get_json(&["instance-info"]).await?;
        Ok(i.into())
    }

    async fn get_json<T: DeserializeOwned>(&self, segs: &[&str]) -> Result<T, DssError> {
        let resp = self.call(Method::GET, segs, &[], None).await?;
        self.decode(&Method::GET, segs, resp).await
    }

    async fn decode<T: DeserializeOwned>(
        &self,
        method: &Method,
        segs: &[&str],
        resp: reqwest::Response,
    ) -> Result<T, DssError> {
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.transport(method, segs, &e))?;
        serde_json::from_slice(&body).map_err(|e| DssError::Decode {
            node: self.node.clone(),
            method: method.to_string(),
            path: logical_path(segs),
            reason: e.to_string(),
        })
    }

    /// Sends one request; a status >= 400 becomes [`DssError::Http`] with DSS's error text.
    async fn call(
        &self,
        method: Method,
        segs: &[&str],
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<reqwest::Response, DssError> {
        let mut url = self.base.clone();
        match url.path_segments_mut() {
            Ok(mut p) => {
                p.pop_if_empty().extend(segs);
            }
            Err(()) => {
                return Err(DssError::Setup {
                    node: self.node.clone(),
                    reason: format!("{} cannot take a path", self.base),
                })
            }
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut req = self
            .http
            .request(method.clone(), url)
            .basic_auth(self.api_key.expose(), None::<&str>)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = body {
            req = req.json(b);
        }
        let started = std::time::Instant::now();
        let resp = req
            .send()
            .await
            .map_err(|e| self.transport(&method, segs, &e))?;
        let status = resp.status();
        tracing::debug!(
            node = %self.node,
            method = %method,
            path = %logical_path(segs),
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "DSS request"
        );
        if status.as_u16() >= 400 {
            let text = resp.text().await.unwrap_or_default();
            return Err(DssError::Http {
                node: self.node.clone(),
                method: method.to_string(),
                path: logical_path(segs),
                status: status.as_u16(),
                message: error_text(&text),
            });
        }
        Ok(resp)
    }

    fn transport(&self, method: &Method, segs: &[&str], e: &reqwest::Error) -> DssError {
        DssError::Transport {
            node: self.node.clone(),
            method: method.to_string(),
            path: logical_path(segs),
            reason: chain(e),
        }
    }
}

/// `/projects/KEY/git/...` as written in the reference (no prefix).
fn logical_path(segs: &[&str]) -> String {
    format!("/{}", segs.join("/"))
}

fn read_file(base_dir: &Path, p: &Path) -> Result<Vec<u8>, String> {
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base_dir.join(p)
    };
    std::fs::read(&full).map_err(|e| format!("cannot read {}: {e}", full.display()))
}
