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
        let cached = match (&self.etags, conditional && !write) {
            (Some(cache), true) => etag_cache::lookup(cache, path).await,
            _ => None,
        };
        let mut call = Call {
            m: method.as_str().to_string(),
            idempotent: is_idempotent(&method, route),
            method,
            route,
            path,
            write,
            fill_cache: conditional && !write,
            attempt: 0,
        };
        let mut reminted = false;
        loop {
            call.attempt += 1;
            let (generation, sent) = self.send_once(&call, body, cached.as_ref()).await?;
            let next = match sent {
                Err(reason) => {
                    self.stats.record(&call.m, route, 0, call.write);
                    self.after_no_answer(&call, reason)
                }
                Ok(answer) => {
                    self.stats.record(&call.m, route, answer.status, call.write);
                    if self
                        .remint_once(&call, answer.status, generation, &mut reminted)
                        .await
                    {
                        continue;
                    }
                    self.after_answer(&call, answer, cached.as_ref()).await
                }
            };
            match next {
                Next::Done(result) => return result,
                Next::Retry { after } => {
                    self.stats.record_retry();
                    tokio::time::sleep(after).await;
                }
            }
        }
    }

    /// One attempt: waits for a slot and the pacer, sends the request (with the token and
    /// the cached ETag) and reads the answer, within the request timeout. `Err` is a request
    /// that could not be built; `Ok((generation, Err(reason)))` one that got no answer.
    async fn send_once(
        &self,
        call: &Call<'_>,
        body: Option<&serde_json::Value>,
        cached: Option<&crate::store::CachedResponse>,
    ) -> Result<(Option<u64>, Result<Answer, String>), GhError> {
        let slot = self.pacer.slot().await;
        self.pacer.permit(&call.method, call.route).await;
        let mut req = http::Request::builder()
            .method(call.method.clone())
            .uri(call.path);
        let mut generation = None;
        if let Some(tokens) = &self.tokens {
            let lease = tokens.lease().await?;
            let mut v = http::HeaderValue::from_str(&format!("Bearer {}", lease.token.expose()))
                .map_err(|_| {
                    GhError::Setup("the installation token is not a valid header".into())
                })?;
            v.set_sensitive(true);
            req = req.header(http::header::AUTHORIZATION, v);
            generation = Some(lease.generation);
        }
        if let Some(c) = cached {
            req = req.header(http::header::IF_NONE_MATCH, c.etag.as_str());
        }
        req = req.header(http::header::ACCEPT, "application/vnd.github+json");
        let req = self
            .octo
            .build_request(req, body)
            .map_err(|e| GhError::Setup(format!("{} {}: {e}", call.m, call.path)))?;
        let sent = tokio::time::timeout(self.opts.request_timeout, async {
            let resp = self.octo.execute(req).await?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let text = self.octo.body_to_string(resp).await?;
            Ok::<_, octocrab::Error>(Answer {
                status,
                headers,
                text,
            })
        })
        .await;
        drop(slot);
        let answer = match sent {
            Ok(Ok(a)) => Ok(a),
            Err(_) => Err(format!("no answer within {:?}", self.opts.request_timeout)),
            Ok(Err(e)) => Err(transport_reason(&e)),
        };
        Ok((generation, answer))
    }

    /// No answer (timeout, reset): retried with backoff when the request is idempotent, an
    /// ambiguous outcome otherwise (the caller re-observes before anything is written again).
    fn after_no_answer(&self, call: &Call<'_>, reason: String) -> Next {
        if !call.idempotent {
            return Next::Done(Err(GhError::Ambiguous {
                method: call.m.clone(),
                path: call.path.to_string(),
                reason,
            }));
        }
        if call.attempt >= self.opts.max_attempts {
            return Next::Done(Err(GhError::Transport {
                method: call.m.clone(),
                path: call.path.to_string(),
                reason: format!("{reason} (after {} attempts)", call.attempt),
            }));
        }
        Next::Retry {
            after: self.backoff(call.attempt),
        }
    }

    /// A 401 with an App token: revoked or expired early, so one new token and one more try.
    async fn remint_once(
        &self,
        call: &Call<'_>,
        status: u16,
        generation: Option<u64>,
        reminted: &mut bool,
    ) -> bool {
        let (401, Some(tokens), Some(g), false) = (status, &self.tokens, generation, *reminted)
        else {
            return false;
        };
        tracing::info!(method = %call.m, path = call.path, "installation token refused; minting a new one");
        tokens.refused(g).await;
        *reminted = true;
        true
    }

    /// An answer: the cached body for a 304, a wait for a rate limit, backoff for a 5xx, the
    /// response for a 2xx (its ETag kept), an error otherwise.
    async fn after_answer(
        &self,
        call: &Call<'_>,
        answer: Answer,
        cached: Option<&crate::store::CachedResponse>,
    ) -> Next {
        let Answer {
            status,
            headers,
            text,
        } = answer;
        self.stats.record_headers(
            header_i64(&headers, "x-ratelimit-remaining"),
            header_i64(&headers, "x-ratelimit-used"),
            header_i64(&headers, "x-ratelimit-limit"),
            header_i64(&headers, "x-ratelimit-reset"),
        );
        if let (304, Some(c)) = (status, cached) {
            return Next::Done(Ok(Resp {
                status: 200,
                headers,
                body: String::from_utf8_lossy(&c.body).into_owned(),
                from_cache: true,
            }));
        }
        let now = chrono::Utc::now().timestamp();
        let limit = classify(status, &headers, &text, now);
        if !matches!(limit, Limit::None) {
            return self.after_rate_limit(call, limit, &text);
        }
        if status >= 500 {
            if !call.idempotent {
                return Next::Done(Err(GhError::Ambiguous {
                    method: call.m.clone(),
                    path: call.path.to_string(),
                    reason: format!("HTTP {status}: {}", github_message(&text)),
                }));
            }
            if call.attempt < self.opts.max_attempts {
                return Next::Retry {
                    after: self.backoff(call.attempt),
                };
            }
        }
        if (200..300).contains(&status) {
            if call.fill_cache {
                let etag = headers
                    .get(http::header::ETAG)
                    .and_then(|v| v.to_str().ok());
                if let (Some(cache), Some(etag)) = (&self.etags, etag) {
                    etag_cache::keep(cache, call.path, etag, text.as_bytes()).await;
                }
            }
            return Next::Done(Ok(Resp {
                status,
                headers,
                body: text,
                from_cache: false,
            }));
        }
        Next::Done(Err(GhError::Http {
            method: call.m.clone(),
            path: call.path.to_string(),
            status,
            message: github_message(&text),
        }))
    }

    /// A primary or secondary rate limit: wait as GitHub asks (a secondary one also holds
    /// and slows the endpoint), unless that is too long or the attempts are spent.
    fn after_rate_limit(&self, call: &Call<'_>, limit: Limit, text: &str) -> Next {
        self.stats.record_rate_limited();
        let (kind, wait) = match limit {
            Limit::Secondary { wait } => ("secondary limit", wait),
            Limit::Primary { wait } => ("rate limit", wait),
            Limit::None => ("rate limit", Duration::ZERO),
        };
        if call.attempt >= self.opts.max_attempts || wait > self.opts.max_wait {
            return Next::Done(Err(GhError::RateLimited {
                method: call.m.clone(),
                path: call.path.to_string(),
                detail: format!("{kind}, GitHub asks to wait {}s", wait.as_secs()),
                attempts: call.attempt,
            }));
        }
        if matches!(limit, Limit::Secondary { .. }) {
            // Not ours (the pacer keeps within the limits): another client on the same
            // identity. Hold this endpoint, then slow it.
            let content = text.to_ascii_lowercase().contains("content creation")
                && is_content_write(&call.method, call.route);
            self.pacer.penalise(call.route, content, wait);
            self.stats.record_secondary_limited();
        }
        tracing::warn!(method = %call.m, path = call.path, wait_s = wait.as_secs(), "GitHub {kind}; waiting before retrying");
        Next::Retry {
            after: wait + jitter(Duration::from_millis(250)),
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

/// One request as the retry loop carries it.
struct Call<'a> {
    method: Method,
    /// The method as text, for errors and metrics.
    m: String,
    route: &'static str,
    path: &'a str,
    write: bool,
    /// Safe to send again after no answer or a 5xx.
    idempotent: bool,
    /// A conditional GET: a 2xx's ETag goes into the cache.
    fill_cache: bool,
    /// 1 for the first try.
    attempt: u32,
}

/// What GitHub answered.
struct Answer {
    status: u16,
    headers: HeaderMap,
    text: String,
}

/// What an attempt's outcome asks of the retry loop.
enum Next {
    Done(Result<Resp, GhError>),
    Retry { after: Duration },
}

/// Whether a request may be sent again when its outcome is unknown. Git Data objects are
/// content-addressed: creating a blob, tree or commit twice does no harm (a commit made twice
/// is left unreferenced), so those POSTs may be retried; other POSTs may not.
fn is_idempotent(method: &Method, route: &str) -> bool {
    *method != Method::POST
        || matches!(
            route,
            routes::GIT_BLOBS | routes::GIT_TREES | routes::GIT_COMMITS
        )
}
