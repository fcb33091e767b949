//! Sending one GitHub request: pacing, the in-flight bound, conditional requests from the
//! ETag cache, rate-limit waits and backoff, and accounting. Every request is paced by GitHub's
//! points per endpoint, content-generating ones by the content budget too (see
//! [`super::pacing`]); a secondary-limit answer holds and slows its endpoint. A write whose
//! outcome is unknown (timeout, reset, 5xx on a POST) is never retried here: the caller
//! re-observes first, so a non-idempotent write is not repeated.

use super::app_token::InstallationTokens;
use super::error::GhError;
use super::etag_cache::{self, EtagCache};
use super::pacing::{is_content_write, Pacer, PacingLimits};
use super::ratelimit::{classify, header_i64, Limit};
use super::routes;
use super::stats::RequestStats;
use super::wire as wire_repo;
use crate::config::SecretValue;
use http::{HeaderMap, Method};
use octocrab::service::middleware::retry::RetryConfig;
use octocrab::Octocrab;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How fleetsync authenticates to GitHub.
#[derive(Clone)]
pub enum GithubAuthSecret {
    /// A personal access token.
    Pat(SecretValue),
    /// A GitHub App installation: one installation token for every request and clone of the
    /// client, re-minted shortly before it expires and once after a 401 (see
    /// [`super::app_token`]).
    App {
        /// App id.
        app_id: u64,
        /// Installation id.
        installation_id: u64,
        /// The App's PEM private key.
        private_key_pem: SecretValue,
    },
}

impl std::fmt::Debug for GithubAuthSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GithubAuthSecret::Pat(_) => f.write_str("Pat([redacted])"),
            GithubAuthSecret::App {
                app_id,
                installation_id,
                ..
            } => write!(f, "App {{ app_id: {app_id}, installation_id: {installation_id}, private_key: [redacted] }}"),
        }
    }
}

/// Settings of a client.
#[derive(Debug, Clone)]
pub struct GithubOptions {
    /// REST base URL.
    pub api_url: String,
    /// Credentials.
    pub auth: GithubAuthSecret,
    /// The pacer's budgets (GitHub's secondary limits by default).
    pub limits: PacingLimits,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// Attempts per request (rate-limit waits and retries included).
    pub max_attempts: u32,
    /// The longest single wait for a rate limit; a longer one ends the request with
    /// [`GhError::RateLimited`] so the run can finish and report.
    pub max_wait: Duration,
    /// First backoff delay after a 5xx or transport error (doubles each attempt).
    pub backoff_base: Duration,
}

impl GithubOptions {
    /// Options with the pacing defaults of the config.
    pub fn new(api_url: impl Into<String>, auth: GithubAuthSecret) -> Self {
        GithubOptions {
            api_url: api_url.into(),
            auth,
            limits: PacingLimits::github(),
            request_timeout: Duration::from_secs(30),
            max_attempts: 5,
            max_wait: Duration::from_secs(900),
            backoff_base: Duration::from_millis(500),
        }
    }
}

/// An answered request.
#[derive(Debug, Clone)]
pub struct Resp {
    /// Status (a 304 is reported as 200 with the cached body, `from_cache` set).
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body text.
    pub body: String,
    /// Served from the ETag cache after a 304.
    pub from_cache: bool,
}

/// The GitHub client. Clones share the connection pool, pacer, stats, caches and the
/// installation token.
#[derive(Clone)]
pub struct GithubClient {
    octo: Octocrab,
    /// With App auth: the installation's token, minted for all clones.
    tokens: Option<Arc<InstallationTokens>>,
    pacer: Pacer,
    stats: Arc<RequestStats>,
    /// Where conditional GETs keep their ETags (none: no conditional requests).
    etags: Option<Arc<dyn EtagCache>>,
    opts: Arc<GithubOptions>,
    pub(super) public_keys: Arc<Mutex<HashMap<String, (String, String)>>>,
    /// Ids of the repos this client has read or created (lower-cased `owner/name`), which
    /// org secret and variable selections name.
    pub(super) repo_ids: Arc<Mutex<HashMap<String, u64>>>,
}

impl std::fmt::Debug for GithubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubClient")
            .field("api_url", &self.opts.api_url)
            .field("auth", &self.opts.auth)
            .finish()
    }
}

impl GithubClient {
    /// Builds a client. `etags` is the ETag cache (none: no conditional requests).
    pub fn new(opts: GithubOptions, etags: Option<Arc<dyn EtagCache>>) -> Result<Self, GhError> {
        // octocrab's TLS stack needs a process-wide rustls provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let setup = |e: octocrab::Error| GhError::Setup(format!("building the HTTP client: {e}"));
        let stats = Arc::new(RequestStats::new());
        let (octo, tokens) = match &opts.auth {
            GithubAuthSecret::Pat(tok) => (
                octocrab_builder(&opts)?
                    .personal_token(tok.expose().to_string())
                    .build()
                    .map_err(setup)?,
                None,
            ),
            GithubAuthSecret::App {
                app_id,
                installation_id,
                private_key_pem,
            } => {
                let key = octocrab::jsonwebtoken::EncodingKey::from_rsa_pem(
                    private_key_pem.expose().as_bytes(),
                )
                .map_err(|e| {
                    GhError::Setup(format!(
                        "the GitHub App private key is not a valid RSA PEM key: {e}"
                    ))
                })?;
                let app = octocrab_builder(&opts)?
                    .app(octocrab::models::AppId(*app_id), key)
                    .build()
                    .map_err(setup)?;
                // Requests carry the installation token themselves (one for all clones).
                let plain = octocrab_builder(&opts)?.build().map_err(setup)?;
                let tokens = InstallationTokens::new(
                    app,
                    *installation_id,
                    stats.clone(),
                    opts.request_timeout,
                );
                (plain, Some(Arc::new(tokens)))
            }
        };
        Ok(GithubClient {
            octo,
            tokens,
            pacer: Pacer::new(opts.limits),
            stats,
            etags,
            opts: Arc::new(opts),
            public_keys: Arc::new(Mutex::new(HashMap::new())),
            repo_ids: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// When the current installation token expires (App auth, once one is minted).
    pub async fn installation_token_expiry(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        match &self.tokens {
            Some(t) => t.expires_at().await,
            None => None,
        }
    }

    /// The request counters.
    pub fn stats(&self) -> &Arc<RequestStats> {
        &self.stats
    }

    /// GitHub's id of a repo this client has read or created (`owner/name`).
    pub fn repo_id(&self, full_name: &str) -> Option<u64> {
        let m = self.repo_ids.lock().ok()?;
        m.get(&full_name.to_ascii_lowercase()).copied()
    }

    pub(super) fn remember_repo(&self, owner: &str, repo: &wire_repo::Repo) {
        if let Ok(mut m) = self.repo_ids.lock() {
            m.insert(
                format!("{owner}/{}", repo.name).to_ascii_lowercase(),
                repo.id,
            );
        }
    }

    /// The pacer (its budgets and how far a secondary limit slowed an endpoint).
    pub fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    /// Sends a request. `route` is the endpoint template (for metrics); `path` is the
    /// concrete path and query. `conditional` uses and fills the ETag cache (GETs only).
    pub async fn request(
        &self,
        method: Method,
        route: &'static str,
        path: &str,
        body: Option<&serde_json::Value>,
        conditional: bool,
    ) -> Result<Resp, GhError> {
        let write = method != Method::GET && method != Method::HEAD;
        // Git Data objects are content-addressed: creating a blob, tree or commit twice does
        // no harm (a commit made twice is left unreferenced), so those POSTs may be retried.
        let idempotent = method != Method::POST
            || matches!(
                route,
                routes::GIT_BLOBS | routes::GIT_TREES | routes::GIT_COMMITS
            );
        let m = method.as_str().to_string();
        let cached = match (&self.etags, conditional && !write) {
            (Some(cache), true) => etag_cache::lookup(cache, path).await,
            _ => None,
        };
        let mut attempt: u32 = 0;
        let mut reminted = false;
        loop {
            attempt += 1;
            let slot = self.pacer.slot().await;
            self.pacer.permit(&method, route).await;
            let mut req = http::Request::builder().method(method.clone()).uri(path);
            let mut generation = None;
            if let Some(tokens) = &self.tokens {
                let lease = tokens.lease().await?;
                let mut v =
                    http::HeaderValue::from_str(&format!("Bearer {}", lease.token.expose()))
                        .map_err(|_| {
                            GhError::Setup("the installation token is not a valid header".into())
                        })?;
                v.set_sensitive(true);
                req = req.header(http::header::AUTHORIZATION, v);
                generation = Some(lease.generation);
            }
            if let Some(c) = &cached {
                req = req.header(http::header::IF_NONE_MATCH, c.etag.as_str());
            }
            req = req.header(http::header::ACCEPT, "application/vnd.github+json");
            let req = self
                .octo
                .build_request(req, body)
                .map_err(|e| GhError::Setup(format!("{m} {path}: {e}")))?;
            let sent = tokio::time::timeout(self.opts.request_timeout, async {
                let resp = self.octo.execute(req).await?;
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let text = self.octo.body_to_string(resp).await?;
                Ok::<_, octocrab::Error>((status, headers, text))
            })
            .await;
            drop(slot);
            let (status, headers, text) = match sent {
                Ok(Ok(r)) => r,
                failed => {
                    let reason = match failed {
                        Err(_) => format!("no answer within {:?}", self.opts.request_timeout),
                        Ok(Err(e)) => transport_reason(&e),
                        Ok(Ok(_)) => String::new(),
                    };
                    self.stats.record(&m, route, 0, write);
                    if !idempotent {
                        return Err(GhError::Ambiguous {
                            method: m,
                            path: path.to_string(),
                            reason,
                        });
                    }
                    if attempt >= self.opts.max_attempts {
                        return Err(GhError::Transport {
                            method: m,
                            path: path.to_string(),
                            reason: format!("{reason} (after {attempt} attempts)"),
                        });
                    }
                    self.stats.record_retry();
                    tokio::time::sleep(self.backoff(attempt)).await;
                    continue;
                }
            };
            self.stats.record(&m, route, status, write);
            if let (401, Some(tokens), Some(g), false) =
                (status, &self.tokens, generation, reminted)
            {
                // Revoked or expired early: one new token, one more try.
                tracing::info!(method = %m, path, "installation token refused; minting a new one");
                tokens.refused(g).await;
                reminted = true;
                continue;
            }
            self.stats.record_headers(
                header_i64(&headers, "x-ratelimit-remaining"),
                header_i64(&headers, "x-ratelimit-used"),
                header_i64(&headers, "x-ratelimit-limit"),
                header_i64(&headers, "x-ratelimit-reset"),
            );
            if status == 304 {
                if let Some(c) = &cached {
                    return Ok(Resp {
                        status: 200,
                        headers,
                        body: String::from_utf8_lossy(&c.body).into_owned(),
                        from_cache: true,
                    });
                }
            }
            let now = chrono::Utc::now().timestamp();
            match classify(status, &headers, &text, now) {
                Limit::None => {}
                limit @ (Limit::Primary { .. } | Limit::Secondary { .. }) => {
                    self.stats.record_rate_limited();
                    let (kind, wait) = match limit {
                        Limit::Secondary { wait } => ("secondary limit", wait),
                        Limit::Primary { wait } => ("rate limit", wait),
                        Limit::None => ("rate limit", Duration::ZERO),
                    };
                    if attempt >= self.opts.max_attempts || wait > self.opts.max_wait {
                        return Err(GhError::RateLimited {
                            method: m,
                            path: path.to_string(),
                            detail: format!("{kind}, GitHub asks to wait {}s", wait.as_secs()),
                            attempts: attempt,
                        });
                    }
                    if matches!(limit, Limit::Secondary { .. }) {
                        // Not ours (the pacer keeps within the limits): another client on
                        // the same identity. Hold this endpoint, then slow it.
                        let content = text.to_ascii_lowercase().contains("content creation")
                            && is_content_write(&method, route);
                        self.pacer.penalise(route, content, wait);
                        self.stats.record_secondary_limited();
                    }
                    tracing::warn!(method = %m, path, wait_s = wait.as_secs(), "GitHub {kind}; waiting before retrying");
                    self.stats.record_retry();
                    tokio::time::sleep(wait + jitter(Duration::from_millis(250))).await;
                    continue;
                }
            }
            if status >= 500 {
                if !idempotent {
                    return Err(GhError::Ambiguous {
                        method: m,
                        path: path.to_string(),
                        reason: format!("HTTP {status}: {}", github_message(&text)),
                    });
                }
                if attempt < self.opts.max_attempts {
                    self.stats.record_retry();
                    tokio::time::sleep(self.backoff(attempt)).await;
                    continue;
                }
            }
            if (200..300).contains(&status) {
                if conditional && !write {
                    if let (Some(cache), Some(etag)) = (
                        &self.etags,
                        headers
                            .get(http::header::ETAG)
                            .and_then(|v| v.to_str().ok()),
                    ) {
                        etag_cache::keep(cache, path, etag, text.as_bytes()).await;
                    }
                }
                return Ok(Resp {
                    status,
                    headers,
                    body: text,
                    from_cache: false,
                });
            }
            return Err(GhError::Http {
                method: m,
                path: path.to_string(),
                status,
                message: github_message(&text),
            });
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.opts.backoff_base * 2u32.saturating_pow(attempt.saturating_sub(1).min(6));
        exp.min(Duration::from_secs(30)) + jitter(self.opts.backoff_base)
    }
}

/// An octocrab builder for `opts` (base URL, timeouts, no retries of its own).
fn octocrab_builder(
    opts: &GithubOptions,
) -> Result<
    octocrab::OctocrabBuilder<
        octocrab::NoSvc,
        octocrab::DefaultOctocrabBuilderConfig,
        octocrab::NoAuth,
        octocrab::NotLayerReady,
    >,
    GhError,
> {
    Ok(Octocrab::builder()
        .base_uri(opts.api_url.as_str())
        .map_err(|e| GhError::Setup(format!("invalid github.api_url {:?}: {e}", opts.api_url)))?
        // Retries are ours: octocrab's would repeat writes at once.
        .add_retry_config(RetryConfig::None)
        .set_connect_timeout(Some(Duration::from_secs(10)))
        .set_read_timeout(Some(opts.request_timeout)))
}

fn jitter(max: Duration) -> Duration {
    let ms = max.as_millis().max(1) as u64;
    Duration::from_millis(rand::random::<u64>() % ms)
}

fn transport_reason(e: &octocrab::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// GitHub's `message`, plus the validation errors of a 422, from an error body.
pub(crate) fn github_message(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        let t = body.trim();
        return if t.is_empty() {
            "(empty body)".to_string()
        } else {
            t.chars().take(300).collect()
        };
    };
    let mut msg = v
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or("(no message)")
        .to_string();
    if let Some(errs) = v.get("errors").and_then(|e| e.as_array()) {
        let parts: Vec<String> = errs
            .iter()
            .map(|e| match e {
                serde_json::Value::String(s) => s.clone(),
                other => other
                    .get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
                    .unwrap_or_else(|| {
                        format!(
                            "{} {} {}",
                            other.get("resource").and_then(|x| x.as_str()).unwrap_or(""),
                            other.get("field").and_then(|x| x.as_str()).unwrap_or(""),
                            other.get("code").and_then(|x| x.as_str()).unwrap_or("")
                        )
                        .trim()
                        .to_string()
                    }),
            })
            .collect();
        if !parts.is_empty() {
            msg.push_str(" (");
            msg.push_str(&parts.join("; "));
            msg.push(')');
        }
    }
    msg
}
