//! The public API routes, served identically under `/public/api` and `/dip/publicapi`, and the
//! gate every request goes through: request counters, latency, outage (503), authentication
//! (Basic `key:`, Basic `:key`, Bearer; else 401), injected 500s, and the `DSS-Version` /
//! `DSS-API-Version` headers on every response.

use super::state::DssSimHandle;
use super::{archive, wire};
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};
use std::collections::HashMap;

/// The `DSS-API-Version` header value.
const API_VERSION: &str = "1";

/// Both API prefixes over the same routes.
pub(crate) fn router(h: DssSimHandle) -> Router {
    let api = Router::new()
        .route("/projects/", get(list_projects))
        .route("/projects/{key}", get(get_project))
        .route("/projects/{key}/metadata", get(get_metadata))
        .route(
            "/projects/{key}/git/remotes/{name}",
            get(get_remote).post(set_remote).delete(delete_remote),
        )
        .route("/plugins/", get(list_plugins))
        .route("/plugins/{id}/download", get(download_plugin))
        .route("/project-deployer/stages", get(stages))
        .route("/project-deployer/infras", get(infras))
        .route("/instance-info", get(instance_info))
        .route("/auth/info", get(auth_info))
        .merge(super::git_routes::routes())
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(h);
    Router::new()
        .nest("/public/api", api.clone())
        .nest("/dip/publicapi", api)
}

/// Adds the fallback and the gate around the whole app (API and admin routes).
pub(crate) fn wrap(app: Router, h: DssSimHandle) -> Router {
    app.fallback(not_found)
        .layer(middleware::from_fn_with_state(h, gate))
}

enum Verdict {
    Pass,
    Outage,
    Unauthorized,
    Injected,
}

async fn gate(State(h): State<DssSimHandle>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let (version, latency, verdict) = {
        let mut s = h.lock();
        let version = s.version.clone();
        if path.starts_with("/_sim/") {
            (version, 0, Verdict::Pass)
        } else {
            s.requests += 1;
            *s.routes.entry(route_key(req.method(), &path)).or_insert(0) += 1;
            let verdict = if s.outage {
                Verdict::Outage
            } else if !authorized(req.headers(), &s.api_keys) {
                Verdict::Unauthorized
            } else if s.roll_error() {
                Verdict::Injected
            } else {
                Verdict::Pass
            };
            (version, s.latency_ms, verdict)
        }
    };
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    let mut resp = match verdict {
        Verdict::Pass => next.run(req).await,
        Verdict::Outage => wire::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "com.dataiku.dip.exceptions.ServiceUnavailableException",
            "ERR_SERVICE_UNAVAILABLE",
            "DSS backend is not available (simulated outage)",
        ),
        Verdict::Unauthorized => wire::error(
            StatusCode::UNAUTHORIZED,
            "com.dataiku.dip.exceptions.UnauthorizedException",
            "ERR_SECURITY_API_KEY_INVALID",
            "Failed to authenticate API key",
        ),
        Verdict::Injected => wire::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "java.lang.IllegalStateException",
            "ERR_INTERNAL",
            "Internal server error (simulated)",
        ),
    };
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&version) {
        headers.insert("DSS-Version", v);
    }
    headers.insert("DSS-API-Version", HeaderValue::from_static(API_VERSION));
    resp
}

/// Whether the request carries an accepted key: Basic `key:` or `:key`, or Bearer `key`.
fn authorized(headers: &HeaderMap, keys: &[String]) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
    let candidate = if scheme.eq_ignore_ascii_case("basic") {
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(rest.trim()) else {
            return false;
        };
        let Ok(text) = String::from_utf8(raw) else {
            return false;
        };
        match text.split_once(':') {
            Some((user, "")) => user.to_string(),
            Some(("", pass)) => pass.to_string(),
            _ => return false,
        }
    } else if scheme.eq_ignore_ascii_case("bearer") {
        rest.trim().to_string()
    } else {
        return false;
    };
    !candidate.is_empty() && keys.contains(&candidate)
}

/// `GET /projects/{key}/git/remotes/{name}`-style key of a request, for the counters.
pub(crate) fn route_key(method: &Method, path: &str) -> String {
    let rest = path
        .strip_prefix("/public/api")
        .or_else(|| path.strip_prefix("/dip/publicapi"))
        .unwrap_or(path);
    let segs: Vec<&str> = rest.split('/').collect();
    let mut out: Vec<&str> = Vec::with_capacity(segs.len());
    for (i, seg) in segs.iter().enumerate() {
        let prev = if i > 0 { segs[i - 1] } else { "" };
        let norm = match prev {
            _ if seg.is_empty() => seg,
            "projects" if i == 2 => "{key}",
            "plugins" if i == 2 && *seg != "actions" => "{id}",
            "remotes" => "{name}",
            _ => seg,
        };
        out.push(norm);
    }
    format!("{method} {}", out.join("/"))
}

/// DSS answers a method a path does not serve with its JSON error body (the official client
/// builds its exception from it), not an empty 405. The wording is the Spring MVC message DSS's
/// backend relays.
async fn method_not_allowed(method: Method) -> Response {
    wire::error(
        StatusCode::METHOD_NOT_ALLOWED,
        "org.springframework.web.HttpRequestMethodNotSupportedException",
        "ERR_METHOD_NOT_ALLOWED",
        &format!("Request method '{method}' is not supported"),
    )
}

async fn not_found(method: Method, uri: axum::http::Uri) -> Response {
    wire::error(
        StatusCode::NOT_FOUND,
        "com.dataiku.dip.exceptions.NotFoundException",
        "ERR_NOT_FOUND",
        &format!("No endpoint for {method} {}", uri.path()),
    )
}

async fn list_projects(
    State(h): State<DssSimHandle>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let with_location = match q.get("includeLocation").map(|v| wire::parse_bool(v)) {
        None => false,
        Some(Some(b)) => b,
        Some(None) => return wire::bad_request("includeLocation must be true or false"),
    };
    let wanted: Vec<&str> = q
        .get("tags")
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let s = h.lock();
    if s.empty_listing {
        return Json(json!([])).into_response();
    }
    if s.malformed_listing {
        return (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            "[{\"projectKey\": \"TRUNC",
        )
            .into_response();
    }
    let keep = match s.partial_listing {
        Some(f) => (s.projects.len() as f64 * f).floor() as usize,
        None => s.projects.len(),
    };
    let items: Vec<Value> = s
        .projects
        .values()
        .take(keep)
        .filter(|p| wanted.is_empty() || p.tags.iter().any(|t| wanted.contains(&t.as_str())))
        .map(|p| {
            let mut item = wire::project_item(p);
            if with_location {
                item["projectLocation"] = json!({"folderId": "ROOT", "path": "/"});
            }
            item
        })
        .collect();
    Json(Value::Array(items)).into_response()
}

async fn get_project(State(h): State<DssSimHandle>, Path(key): Path<String>) -> Response {
    match h.lock().projects.get(&key) {
        Some(p) => Json(wire::project_item(p)).into_response(),
        None => wire::unknown_project(&key),
    }
}

async fn get_metadata(State(h): State<DssSimHandle>, Path(key): Path<String>) -> Response {
    match h.lock().projects.get(&key) {
        Some(p) => Json(wire::project_metadata(p)).into_response(),
        None => wire::unknown_project(&key),
    }
}

async fn get_remote(
    State(h): State<DssSimHandle>,
    Path((key, name)): Path<(String, String)>,
) -> Response {
    match h.lock().projects.get(&key) {
        Some(p) => match p.remotes.get(&name) {
            Some(url) => Json(json!({"name": name, "url": url})).into_response(),
            None => Json(json!({})).into_response(),
        },
        None => wire::unknown_project(&key),
    }
}

/// The body is read as bytes and parsed here: the Python client sends no Content-Type.
async fn set_remote(
    State(h): State<DssSimHandle>,
    Path((key, name)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let url = match serde_json::from_slice::<Value>(&body) {
        Ok(v) => match v.get("url").and_then(Value::as_str) {
            Some(u) if !u.trim().is_empty() => u.to_string(),
            _ => return wire::bad_request("the body must be {\"url\": \"...\"}"),
        },
        Err(e) => return wire::bad_request(&format!("the body is not JSON: {e}")),
    };
    let mut s = h.lock();
    match s.projects.get_mut(&key) {
        Some(p) => {
            p.remotes.insert(name, url);
            Json(json!({})).into_response()
        }
        None => wire::unknown_project(&key),
    }
}

async fn delete_remote(
    State(h): State<DssSimHandle>,
    Path((key, name)): Path<(String, String)>,
) -> Response {
    let mut s = h.lock();
    match s.projects.get_mut(&key) {
        Some(p) => {
            p.remotes.remove(&name);
            Json(json!({})).into_response()
        }
        None => wire::unknown_project(&key),
    }
}

async fn list_plugins(State(h): State<DssSimHandle>) -> Response {
    let items: Vec<Value> = h.lock().plugins.values().map(wire::plugin_item).collect();
    Json(Value::Array(items)).into_response()
}

async fn download_plugin(State(h): State<DssSimHandle>, Path(id): Path<String>) -> Response {
    let plugin = h.lock().plugins.get(&id).cloned();
    let Some(p) = plugin else {
        return wire::unknown_plugin(&id, "does not exist");
    };
    if !p.is_dev {
        return wire::unknown_plugin(&id, "is not a development plugin");
    }
    match archive::plugin_zip(&p) {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/zip".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{id}.zip\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => wire::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "java.io.IOException",
            "ERR_INTERNAL",
            &format!("cannot build the plugin archive: {e}"),
        ),
    }
}

async fn stages(State(h): State<DssSimHandle>) -> Response {
    let items: Vec<Value> = h
        .lock()
        .stages
        .iter()
        .map(|s| json!({"id": s, "desc": ""}))
        .collect();
    Json(Value::Array(items)).into_response()
}

async fn infras(State(h): State<DssSimHandle>) -> Response {
    let items: Vec<Value> = h
        .lock()
        .infras
        .iter()
        .map(|i| json!({"infraBasicInfo": {"id": i.id, "stage": i.stage}, "canDeploy": true}))
        .collect();
    Json(Value::Array(items)).into_response()
}

async fn instance_info() -> Response {
    Json(json!({
        "nodeId": "sim-design",
        "nodeName": "Simulated design node",
        "nodeType": "DESIGN",
    }))
    .into_response()
}

async fn auth_info() -> Response {
    Json(json!({
        "authIdentifier": "admin",
        "groups": ["administrators"],
        "associatedDSSUser": "admin",
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_keys_are_normalised() {
        let k = route_key(&Method::GET, "/public/api/projects/ABC/git/remotes/origin");
        assert_eq!(k, "GET /projects/{key}/git/remotes/{name}");
        assert_eq!(
            route_key(&Method::GET, "/dip/publicapi/projects/"),
            "GET /projects/"
        );
        assert_eq!(
            route_key(&Method::GET, "/public/api/plugins/x/download"),
            "GET /plugins/{id}/download"
        );
    }

    #[test]
    fn auth_accepts_three_forms() {
        let keys = vec!["k1".to_string()];
        let mut h = HeaderMap::new();
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        for value in [
            format!("Basic {}", b64("k1:")),
            format!("Basic {}", b64(":k1")),
            "Bearer k1".to_string(),
        ] {
            h.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(&value).unwrap(),
            );
            assert!(authorized(&h, &keys), "{value}");
        }
        for value in [format!("Basic {}", b64("k2:")), "Bearer ".to_string()] {
            h.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(&value).unwrap(),
            );
            assert!(!authorized(&h, &keys), "{value}");
        }
    }
}
