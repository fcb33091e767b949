//! The middleware every API request passes: knobs (latency, outage, injected 5xx, connection
//! resets), authentication, primary and secondary rate limits, ETags with free 304s,
//! `x-ratelimit-*` headers, and the request record.

use super::auth::{AuthFail, Caller};
use super::limits::{PrimaryView, Verdict};
use super::record::RequestRecord;
use super::reply::{error, json_reply};
use super::Shared;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use rand::Rng;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The caller, as handlers see it (`None` for App-JWT routes and anonymous `/rate_limit`).
#[derive(Clone)]
pub struct CallerExt(pub Option<Caller>);

const PRIMARY_DOCS: &str = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";
const SECONDARY_DOCS: &str =
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits";

/// Requests GitHub counts as content-generating.
fn is_content_write(method: &Method, route: &str) -> bool {
    matches!(
        (method.as_str(), route),
        ("POST", "/orgs/{org}/repos")
            | ("PUT", "/repos/{owner}/{repo}/contents/{*path}")
            | ("DELETE", "/repos/{owner}/{repo}/contents/{*path}")
            | ("POST", "/repos/{owner}/{repo}/git/refs")
            | ("POST", "/repos/{owner}/{repo}/git/commits")
            | ("PATCH", "/repos/{owner}/{repo}/git/refs/heads/{*branch}")
            | ("POST", "/repos/{owner}/{repo}/pulls")
    )
}

/// GitHub's answer to a request over a secondary limit (not the content-creation one).
pub(crate) fn secondary_reply(settings: &super::GithubSimSettings, retry_after: u64) -> Response {
    let status = StatusCode::from_u16(settings.secondary_status).unwrap_or(StatusCode::FORBIDDEN);
    let mut resp = json_reply(
        status,
        json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID SIM:0000:0000.", "documentation_url": SECONDARY_DOCS}),
    );
    if settings.send_retry_after {
        let retry_after = settings.retry_after_override.unwrap_or(retry_after);
        if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    resp
}

fn epoch() -> i64 {
    chrono::Utc::now().timestamp()
}

struct InFlight {
    shared: Arc<Shared>,
    bucket: String,
    done: bool,
}

impl InFlight {
    fn finish(mut self, charge: bool) {
        self.done = true;
        self.shared
            .lock()
            .limits
            .finish(&self.bucket, charge, epoch());
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.done {
            self.shared
                .lock()
                .limits
                .finish(&self.bucket, true, epoch());
        }
    }
}

fn rate_headers(h: &mut HeaderMap, p: &PrimaryView) {
    let pairs = [
        ("x-ratelimit-limit", p.limit.to_string()),
        ("x-ratelimit-remaining", p.remaining().to_string()),
        ("x-ratelimit-used", p.used.to_string()),
        ("x-ratelimit-reset", p.reset.to_string()),
        ("x-ratelimit-resource", "core".to_string()),
    ];
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
}

/// The middleware.
pub async fn gate(
    State(shared): State<Arc<Shared>>,
    matched: Option<MatchedPath>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = matched
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let path = req
        .extensions()
        .get::<super::moved::OriginalPath>()
        .map(|p| p.0.clone())
        .unwrap_or_else(|| req.uri().path().to_string());
    let (latency, outage, inject_error, inject_reset, inject_secondary) = {
        let mut st = shared.lock();
        let s = st.settings.clone();
        let e = s.error_rate > 0.0 && st.rng.gen_bool(s.error_rate.clamp(0.0, 1.0));
        let r = s.reset_rate > 0.0 && st.rng.gen_bool(s.reset_rate.clamp(0.0, 1.0));
        let sec = s.secondary_rate > 0.0 && st.rng.gen_bool(s.secondary_rate.clamp(0.0, 1.0));
        (s.latency_ms, s.outage, e, r, sec)
    };
    let mut rec = RequestRecord {
        method: method.to_string(),
        route: route.clone(),
        path,
        status: 0,
        charged: false,
        points: 0,
        content_write: false,
        at_ms: chrono::Utc::now().timestamp_millis(),
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if outage {
        let mut st = shared.lock();
        st.record.counters.injected_errors += 1;
        return finish_record(
            &mut st.record,
            rec,
            error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
        );
    }
    if inject_error {
        let mut st = shared.lock();
        st.record.counters.injected_errors += 1;
        return finish_record(
            &mut st.record,
            rec,
            error(StatusCode::BAD_GATEWAY, "Server Error"),
        );
    }

    let is_rate_limit = route == "/rate_limit";
    let is_app = route.starts_with("/app/");
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let if_none_match = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);

    let now_epoch = epoch();
    let caller = if is_app {
        None
    } else {
        let mut st = shared.lock();
        match st.auth.caller(authorization.as_deref(), now_epoch) {
            Ok(c) => Some(c),
            Err(AuthFail::Missing) if is_rate_limit => None,
            Err(AuthFail::Missing) => {
                return finish_record(
                    &mut st.record,
                    rec,
                    error(StatusCode::UNAUTHORIZED, "Requires authentication"),
                );
            }
            Err(AuthFail::Bad) => {
                return finish_record(
                    &mut st.record,
                    rec,
                    error(StatusCode::UNAUTHORIZED, "Bad credentials"),
                );
            }
        }
    };

    // The `secondary_rate` knob: a random secondary-limit answer (authenticated API only).
    if inject_secondary && caller.is_some() && !is_rate_limit {
        let mut st = shared.lock();
        let settings = st.settings.clone();
        let status =
            StatusCode::from_u16(settings.secondary_status).unwrap_or(StatusCode::FORBIDDEN);
        let mut resp = json_reply(
            status,
            json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID SIM:0000:0000.", "documentation_url": SECONDARY_DOCS}),
        );
        if settings.send_retry_after {
            if let Ok(v) = HeaderValue::from_str(&settings.secondary_retry_after_secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        st.record.counters.secondary_limited += 1;
        return finish_record(&mut st.record, rec, resp);
    }

    // Admission against the limits (not for /rate_limit or the token mint).
    let points: u32 = if method == Method::GET || method == Method::HEAD {
        1
    } else {
        5
    };
    let content_write = is_content_write(&method, &route);
    let mut in_flight = None;
    if let (Some(c), false) = (&caller, is_rate_limit) {
        let mut st = shared.lock();
        let settings = st.settings.clone();
        let route_key = format!("{method} {route}");
        let verdict = st.limits.admit(
            &settings,
            &c.bucket,
            &route_key,
            points,
            content_write,
            now_epoch,
            Instant::now(),
        );
        match verdict {
            Verdict::Allowed => {
                rec.points = points;
                rec.content_write = content_write;
                in_flight = Some(InFlight {
                    shared: shared.clone(),
                    bucket: c.bucket.clone(),
                    done: false,
                });
            }
            Verdict::Primary => {
                let who = match c.installation {
                    Some(id) => format!("installation ID {id}"),
                    None => format!("user ID {}", c.login),
                };
                let mut resp = json_reply(
                    StatusCode::FORBIDDEN,
                    json!({"message": format!("API rate limit exceeded for {who}."), "documentation_url": PRIMARY_DOCS}),
                );
                let p = st.limits.primary(&settings, &c.bucket, now_epoch);
                rate_headers(resp.headers_mut(), &p);
                st.record.counters.primary_limited += 1;
                return finish_record(&mut st.record, rec, resp);
            }
            Verdict::Secondary {
                retry_after,
                content,
            } => {
                let message = if content {
                    "You have exceeded a secondary rate limit and have been temporarily blocked from content creation. Please retry your request again later. If you reach out to GitHub Support for help, please include the request ID SIM:0000:0000."
                } else {
                    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID SIM:0000:0000."
                };
                let status = StatusCode::from_u16(settings.secondary_status)
                    .unwrap_or(StatusCode::FORBIDDEN);
                let mut resp = json_reply(
                    status,
                    json!({"message": message, "documentation_url": SECONDARY_DOCS}),
                );
                // A rejected request still costs a primary request.
                st.limits.charge(&c.bucket, now_epoch);
                rec.charged = true;
                let p = st.limits.primary(&settings, &c.bucket, now_epoch);
                rate_headers(resp.headers_mut(), &p);
                if settings.send_retry_after {
                    let retry_after = settings.retry_after_override.unwrap_or(retry_after);
                    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                        resp.headers_mut().insert(header::RETRY_AFTER, v);
                    }
                }
                st.record.counters.secondary_limited += 1;
                return finish_record(&mut st.record, rec, resp);
            }
        }
    }

    // A moved repository's old name answers GitHub's redirect instead.
    let redirect = {
        let st = shared.lock();
        super::moved::redirect(&st, &shared.base_url, &method, req.uri())
    };
    req.extensions_mut().insert(CallerExt(caller.clone()));
    let resp = match redirect {
        Some(r) => r,
        None => next.run(req).await,
    };
    let (mut parts, body) = resp.into_parts();

    // ETags on every successful GET; a matching If-None-Match gets a free 304.
    let mut body_out = Body::empty();
    let mut not_modified = false;
    if method == Method::GET && parts.status == StatusCode::OK {
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        let etag = format!("W/\"{}\"", hex::encode(Sha256::digest(&bytes)));
        if let Ok(v) = HeaderValue::from_str(&etag) {
            parts.headers.insert(header::ETAG, v);
        }
        if if_none_match
            .as_deref()
            .is_some_and(|inm| inm.split(',').any(|t| t.trim() == etag))
        {
            not_modified = true;
            parts.status = StatusCode::NOT_MODIFIED;
            parts.headers.remove(header::CONTENT_TYPE);
            parts.headers.remove(header::CONTENT_LENGTH);
        } else {
            body_out = Body::from(bytes);
        }
    } else {
        body_out = body;
    }

    let charge = caller.is_some() && !is_rate_limit && !not_modified;
    if let Some(f) = in_flight {
        f.finish(charge);
    }
    rec.charged = charge;
    let mut st = shared.lock();
    if let Some(c) = &caller {
        let settings = st.settings.clone();
        let p = st.limits.primary(&settings, &c.bucket, epoch());
        rate_headers(&mut parts.headers, &p);
    }
    parts.headers.insert(
        "x-github-request-id",
        HeaderValue::from_static("SIM:0000:0000:0000"),
    );
    if inject_reset {
        st.record.counters.connection_resets += 1;
        let failing = futures::stream::once(async {
            Err::<Bytes, std::io::Error>(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "simulated connection reset",
            ))
        });
        parts.headers.remove(header::CONTENT_LENGTH);
        body_out = Body::from_stream(failing);
    }
    let _ = started;
    finish_record(&mut st.record, rec, Response::from_parts(parts, body_out))
}

fn finish_record(
    record: &mut super::record::Record,
    mut rec: RequestRecord,
    resp: Response,
) -> Response {
    rec.status = resp.status().as_u16();
    record.push(rec);
    resp
}
