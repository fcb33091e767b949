//! Response helpers: GitHub's error bodies (`basic-error`, `validation-error`), JSON replies,
//! request-body parsing with GitHub's 400/422 answers, timestamps and `Link` pagination.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

pub const DOCS: &str = "https://docs.github.com/rest";

/// What a handler returns: `Err` is a reply that ends the handler early (most often an error
/// answer from a helper, through `?`); both render the same way.
pub type Reply = Result<Response, Response>;

pub fn json_reply(status: StatusCode, v: Value) -> Response {
    (status, axum::Json(v)).into_response()
}

pub fn empty(status: StatusCode) -> Response {
    status.into_response()
}

/// `basic-error`.
pub fn error(status: StatusCode, message: &str) -> Response {
    json_reply(
        status,
        json!({"message": message, "documentation_url": DOCS, "status": status.as_u16().to_string()}),
    )
}

pub fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found")
}

pub async fn not_found_fallback() -> Response {
    not_found()
}

/// `validation-error`.
pub fn validation(message: &str, errors: Vec<Value>) -> Response {
    let mut body = json!({"message": message, "documentation_url": DOCS, "status": "422"});
    if !errors.is_empty() {
        body["errors"] = Value::Array(errors);
    }
    json_reply(StatusCode::UNPROCESSABLE_ENTITY, body)
}

/// 422 for a required key that was not sent.
pub fn missing(field: &str) -> Response {
    validation(
        &format!("Invalid request.\n\n\"{field}\" wasn't supplied."),
        vec![json!({"resource": "Request", "field": field, "code": "missing_field"})],
    )
}

/// 422 for a key of the wrong type.
pub fn invalid(field: &str, why: &str) -> Response {
    validation(
        &format!("Invalid request.\n\nFor '{field}', {why}."),
        vec![json!({"resource": "Request", "field": field, "code": "invalid"})],
    )
}

/// Parses a JSON object body; an empty body is `{}`. Non-JSON → 400 like GitHub.
pub fn body_object(bytes: &[u8]) -> Result<Map<String, Value>, Response> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err(error(StatusCode::BAD_REQUEST, "Problems parsing JSON")),
        Err(_) => Err(error(StatusCode::BAD_REQUEST, "Problems parsing JSON")),
    }
}

/// A required string key.
pub fn req_str(m: &Map<String, Value>, field: &str) -> Result<String, Response> {
    match m.get(field) {
        None | Some(Value::Null) => Err(missing(field)),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(invalid(field, &format!("{other} is not a string"))),
    }
}

/// An optional string key.
pub fn opt_str(m: &Map<String, Value>, field: &str) -> Result<Option<String>, Response> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid(field, &format!("{other} is not a string"))),
    }
}

/// An optional boolean key.
pub fn opt_bool(m: &Map<String, Value>, field: &str) -> Result<Option<bool>, Response> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(invalid(field, &format!("{other} is not a boolean"))),
    }
}

pub fn ts(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Page parameters from a query string.
#[derive(Debug, Clone, Copy)]
pub struct PageQuery {
    pub per_page: usize,
    pub page: usize,
}

impl PageQuery {
    /// Reads `per_page` (clamped to `max`, default `default`) and `page` (from 1).
    pub fn from_query(
        q: &std::collections::HashMap<String, String>,
        default: usize,
        max: usize,
    ) -> Self {
        let per_page = q
            .get("per_page")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(default)
            .min(max);
        let page = q
            .get("page")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(1);
        PageQuery { per_page, page }
    }
}

/// Cuts one page out of `items` and builds the `Link` header with absolute URLs.
pub fn paginate(
    items: Vec<Value>,
    pq: PageQuery,
    base_url: &str,
    path: &str,
) -> (Vec<Value>, Option<HeaderValue>) {
    let total = items.len();
    let last = total.div_ceil(pq.per_page).max(1);
    let start = (pq.page - 1).saturating_mul(pq.per_page);
    let page_items: Vec<Value> = items.into_iter().skip(start).take(pq.per_page).collect();
    (page_items, page_links(base_url, path, "", pq, last))
}

/// The `Link` header of page `pq` of `last` pages, with absolute URLs; `extra` (empty, or
/// `key=value&…&`) is kept in every link before `per_page` and `page`, as GitHub keeps a
/// list's filters.
pub fn page_links(
    base_url: &str,
    path: &str,
    extra: &str,
    pq: PageQuery,
    last: usize,
) -> Option<HeaderValue> {
    let url = |p: usize| {
        format!(
            "<{base_url}{path}?{extra}per_page={}&page={p}>",
            pq.per_page
        )
    };
    let mut parts = Vec::new();
    if pq.page > 1 {
        parts.push(format!("{}; rel=\"prev\"", url(pq.page - 1)));
    }
    if pq.page < last {
        parts.push(format!("{}; rel=\"next\"", url(pq.page + 1)));
        parts.push(format!("{}; rel=\"last\"", url(last)));
    }
    if pq.page > 1 {
        parts.push(format!("{}; rel=\"first\"", url(1)));
    }
    if parts.is_empty() {
        None
    } else {
        HeaderValue::from_str(&parts.join(", ")).ok()
    }
}

/// One page of a counted list (`{"total_count": n, "<key>": [...]}`) with its `Link` header,
/// as the secrets, variables and environments lists answer.
pub fn counted_page(
    items: Vec<Value>,
    key: &str,
    pq: PageQuery,
    base_url: &str,
    path: &str,
) -> Response {
    let total = items.len();
    let (page, link) = paginate(items, pq, base_url, path);
    let mut body = serde_json::Map::new();
    body.insert("total_count".into(), Value::from(total));
    body.insert(key.into(), Value::Array(page));
    json_with_link(StatusCode::OK, Value::Object(body), link)
}

/// A JSON reply with an optional `Link` header.
pub fn json_with_link(status: StatusCode, v: Value, link: Option<HeaderValue>) -> Response {
    let mut r = json_reply(status, v);
    if let Some(l) = link {
        r.headers_mut().insert(header::LINK, l);
    }
    r
}
