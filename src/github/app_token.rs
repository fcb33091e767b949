//! GitHub App installation tokens: one per installation, shared by every request of a client
//! and all its clones. The token is minted once (concurrent callers wait for the same mint),
//! re-minted shortly before it expires, and after a 401, once per stale token however many
//! requests saw it fail. GitHub limits token requests (2,000 an hour); a token lives an hour.

use super::error::GhError;
use super::routes;
use super::stats::RequestStats;
use crate::config::SecretValue;
use chrono::{DateTime, Utc};
use octocrab::Octocrab;
use std::sync::Arc;
use std::time::Duration;

/// Re-mint this long before expiry (or a tenth of the token's life, if that is shorter).
const REFRESH_BEFORE: Duration = Duration::from_secs(300);

/// A minted token.
#[derive(Clone)]
struct Minted {
    token: SecretValue,
    expires_at: DateTime<Utc>,
    /// When to mint the next one.
    refresh_at: DateTime<Utc>,
    generation: u64,
}

/// The token a request was sent with: its text and which mint it came from.
pub(super) struct Lease {
    pub token: SecretValue,
    pub generation: u64,
}

/// One installation's token, shared by every clone of a client.
pub(super) struct InstallationTokens {
    /// Authenticated as the App (a JWT per request).
    app: Octocrab,
    installation_id: u64,
    current: tokio::sync::Mutex<Option<Minted>>,
    stats: Arc<RequestStats>,
    timeout: Duration,
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    token: String,
    expires_at: DateTime<Utc>,
}

impl InstallationTokens {
    pub fn new(
        app: Octocrab,
        installation_id: u64,
        stats: Arc<RequestStats>,
        timeout: Duration,
    ) -> Self {
        InstallationTokens {
            app,
            installation_id,
            current: tokio::sync::Mutex::new(None),
            stats,
            timeout,
        }
    }

    /// The current token, minted first if there is none or it is about to expire.
    pub async fn lease(&self) -> Result<Lease, GhError> {
        let mut current = self.current.lock().await;
        let now = Utc::now();
        if let Some(m) = current.as_ref().filter(|m| m.refresh_at > now) {
            return Ok(Lease {
                token: m.token.clone(),
                generation: m.generation,
            });
        }
        let generation = current.as_ref().map_or(1, |m| m.generation + 1);
        let minted = self.mint(generation).await?;
        let lease = Lease {
            token: minted.token.clone(),
            generation,
        };
        *current = Some(minted);
        Ok(lease)
    }

    /// GitHub refused the token of mint `generation` (401): the next lease mints a new one,
    /// unless another request already did.
    pub async fn refused(&self, generation: u64) {
        let mut current = self.current.lock().await;
        if let Some(m) = current.as_mut().filter(|m| m.generation == generation) {
            m.refresh_at = DateTime::<Utc>::MIN_UTC;
        }
    }

    async fn mint(&self, generation: u64) -> Result<Minted, GhError> {
        let path = format!("/app/installations/{}/access_tokens", self.installation_id);
        let fail = |reason: String| GhError::Transport {
            method: "POST".into(),
            path: path.clone(),
            reason,
        };
        let req = http::Request::builder()
            .method(http::Method::POST)
            .uri(path.as_str())
            .header(http::header::ACCEPT, "application/vnd.github+json");
        let req = self
            .app
            .build_request(req, Some(&serde_json::json!({})))
            .map_err(|e| GhError::Setup(format!("POST {path}: {e}")))?;
        let answered = tokio::time::timeout(self.timeout, async {
            let resp = self.app.execute(req).await?;
            let status = resp.status().as_u16();
            let text = self.app.body_to_string(resp).await?;
            Ok::<_, octocrab::Error>((status, text))
        })
        .await;
        let (status, text) = match answered {
            Err(_) => {
                self.stats.record("POST", routes::ACCESS_TOKENS, 0, true);
                return Err(fail(format!("no answer within {:?}", self.timeout)));
            }
            Ok(Err(e)) => {
                self.stats.record("POST", routes::ACCESS_TOKENS, 0, true);
                return Err(fail(e.to_string()));
            }
            Ok(Ok(r)) => r,
        };
        self.stats
            .record("POST", routes::ACCESS_TOKENS, status, true);
        if status != 201 {
            return Err(GhError::Http {
                method: "POST".into(),
                path,
                status,
                message: super::transport::github_message(&text),
            });
        }
        let answer: TokenAnswer = serde_json::from_str(&text).map_err(|e| GhError::Decode {
            method: "POST".into(),
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let now = Utc::now();
        let life = (answer.expires_at - now).to_std().unwrap_or(Duration::ZERO);
        let early = REFRESH_BEFORE.min(life / 10);
        let refresh_at = answer.expires_at - chrono::Duration::from_std(early).unwrap_or_default();
        tracing::debug!(installation = self.installation_id, expires_at = %answer.expires_at, "installation token minted");
        Ok(Minted {
            token: SecretValue::new(answer.token),
            expires_at: answer.expires_at,
            refresh_at,
            generation,
        })
    }

    /// When the current token expires (none minted yet: `None`).
    pub async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.current.lock().await.as_ref().map(|m| m.expires_at)
    }
}
