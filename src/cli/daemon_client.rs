//! `fleetctl` commands that talk to a running fleetd over HTTP: `status`, `repos`, `drift`,
//! `runs`, `events`, `suspend`, `resume`, `reconcile --now [--wait]` and `plan`. The address
//! and token come from flags, the environment (`FLEETSYNC_ADDR`, `FLEETSYNC_TOKEN`) or the config.

use serde_json::Value;
use std::time::Duration;

/// Where fleetd is and how to authenticate.
#[derive(Debug, Clone)]
pub struct DaemonTarget {
    /// Base URL, e.g. `http://127.0.0.1:9464`.
    pub base: String,
    /// Bearer token for POSTs.
    pub token: Option<crate::config::SecretValue>,
}

/// A failed call, with what the user can do about it.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// fleetd did not answer.
    #[error(
        "cannot reach fleetd at {base}: {reason} (is it running? set --addr or FLEETSYNC_ADDR)"
    )]
    Unreachable {
        /// Address.
        base: String,
        /// Why.
        reason: String,
    },
    /// fleetd refused the token (or there was none).
    #[error("fleetd {path}: HTTP 401: {message}; give the API token with --token, the FLEETSYNC_TOKEN environment variable, or --config FILE (its daemon.api_token source)")]
    Unauthorized {
        /// Path.
        path: String,
        /// Its message.
        message: String,
    },
    /// fleetd refused the token that was given.
    #[error("fleetd {path}: HTTP 401: {message}; fleetd refused the API token given (by --token, FLEETSYNC_TOKEN or the config's daemon.api_token source): it is not the one in fleetd's config")]
    Rejected {
        /// Path.
        path: String,
        /// Its message.
        message: String,
    },
    /// fleetd answered with an error.
    #[error("{message} (fleetd answered HTTP {status} to {path})")]
    Http {
        /// Path.
        path: String,
        /// Status.
        status: u16,
        /// Its message.
        message: String,
    },
}

impl DaemonTarget {
    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(130))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new())
    }

    /// GET a JSON document.
    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        let resp = Self::client()
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(|e| ClientError::Unreachable {
                base: self.base.clone(),
                reason: causes(&e),
            })?;
        Self::json(path, resp).await
    }

    /// The hash and load time of the config the daemon runs; `None` when no daemon answers
    /// within `timeout` (or it is too old to say).
    pub async fn running_config(&self, timeout: Duration) -> Option<(String, String)> {
        let client = reqwest::Client::builder().timeout(timeout).build().ok()?;
        let resp = client
            .get(format!("{}/api/v1/status", self.base))
            .send()
            .await
            .ok()?;
        let v: Value = resp.json().await.ok()?;
        let hash = v.pointer("/config/hash")?.as_str()?.to_string();
        let at = v
            .pointer("/config/loaded_at")
            .and_then(|t| t.as_str())
            .unwrap_or("?")
            .to_string();
        Some((hash, at))
    }

    /// POST a JSON body with the bearer token.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let mut req = Self::client()
            .post(format!("{}{path}", self.base))
            .json(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.expose());
        }
        let resp = req.send().await.map_err(|e| ClientError::Unreachable {
            base: self.base.clone(),
            reason: causes(&e),
        })?;
        match Self::json(path, resp).await {
            Err(ClientError::Unauthorized { path, message }) if self.token.is_some() => {
                Err(ClientError::Rejected { path, message })
            }
            other => other,
        }
    }

    async fn json(path: &str, resp: reqwest::Response) -> Result<Value, ClientError> {
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status >= 400 {
            let message = v
                .pointer("/error/message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            if status == 401 {
                return Err(ClientError::Unauthorized {
                    path: path.to_string(),
                    message,
                });
            }
            return Err(ClientError::Http {
                path: path.replace("%2F", "/"),
                status,
                message,
            });
        }
        Ok(v)
    }
}

/// An error with its causes (`error sending request: client error (Connect): tcp connect
/// error: Connection refused (os error 111)`), so the root cause is said.
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
        source = cause.source();
    }
    text
}
