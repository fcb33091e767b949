//! `fleetctl` commands that talk to a running fleetd over HTTP: `status`, `repos`, `drift`,
//! `runs`, `reconcile --now [--wait]` and `plan`. The address and token come from flags,
//! the environment (`FLEETD_ADDR`, `FLEETD_TOKEN`) or the config.

use super::args::Output;
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
    #[error("cannot reach fleetd at {base}: {reason} (is it running? set --addr or FLEETD_ADDR)")]
    Unreachable {
        /// Address.
        base: String,
        /// Why.
        reason: String,
    },
    /// fleetd answered with an error.
    #[error("fleetd {path}: HTTP {status}: {message}")]
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
                reason: e.to_string(),
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
            reason: e.to_string(),
        })?;
        Self::json(path, resp).await
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
            return Err(ClientError::Http {
                path: path.to_string(),
                status,
                message,
            });
        }
        Ok(v)
    }
}

/// Prints a value as JSON, or as text through `text`.
pub fn print(output: Output, v: &Value, text: impl FnOnce(&Value) -> String) {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(v).unwrap_or_default()),
        Output::Text => print!("{}", text(v)),
    }
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(|x| x.as_str()).unwrap_or("-")
}

/// Text for `fleetctl status`.
pub fn status_text(v: &Value) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "projects discovered: {}\n",
        v.get("projects").cloned().unwrap_or(Value::Null)
    ));
    if let Some(nodes) = v.get("dss_nodes").and_then(|n| n.as_object()) {
        for (name, n) in nodes {
            if n.get("ok").and_then(|o| o.as_bool()) == Some(true) {
                out.push_str(&format!("  {name}: ok, {} projects\n", n["projects"]));
            } else {
                out.push_str(&format!("  {name}: FAILING: {}\n", s(n, "/error")));
            }
        }
    }
    out.push_str(&format!(
        "repos managed: {} (drifted: {})\n",
        v.pointer("/repos/total").cloned().unwrap_or(Value::Null),
        v.pointer("/repos/drifted").cloned().unwrap_or(Value::Null)
    ));
    if let Some(by) = v.pointer("/repos/by_status").and_then(|b| b.as_object()) {
        for (k, n) in by {
            out.push_str(&format!("  {k}: {n}\n"));
        }
    }
    match v.get("last_run").filter(|r| !r.is_null()) {
        Some(r) => out.push_str(&format!(
            "last run: #{} {} ({}), started {}: {}\n",
            r["id"],
            s(r, "/status"),
            s(r, "/trigger"),
            s(r, "/started_at"),
            s(r, "/summary")
        )),
        None => out.push_str("last run: none yet\n"),
    }
    if let Some(id) = v.get("running_run").filter(|r| !r.is_null()) {
        out.push_str(&format!("running now: #{id}\n"));
    }
    if let Some(id) = v.get("queued_run").filter(|r| !r.is_null()) {
        out.push_str(&format!("queued: #{id}\n"));
    }
    match v.get("next_scheduled_run").and_then(|t| t.as_str()) {
        Some(t) => out.push_str(&format!("next scheduled run: {t}{}\n", from_now(t))),
        None => out.push_str("next scheduled run: none\n"),
    }
    if let Some(c) = v.get("config").filter(|c| !c.is_null()) {
        out.push_str(&format!(
            "config: {} ({}…, loaded {})\n",
            s(c, "/path"),
            s(c, "/hash").get(..12).unwrap_or("-"),
            s(c, "/loaded_at")
        ));
        if let Some(r) = c.get("last_reload").filter(|r| !r.is_null()) {
            let outcome = if r["applied"].as_bool() == Some(true) {
                "applied"
            } else {
                "REFUSED"
            };
            let msg = r
                .get("message")
                .and_then(|m| m.as_str())
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            out.push_str(&format!("last reload: {outcome} at {}{msg}\n", s(r, "/at")));
        }
    }
    out
}

/// ` (in 4m 10s)` for an RFC 3339 time in the future.
fn from_now(t: &str) -> String {
    let Ok(at) = chrono::DateTime::parse_from_rfc3339(t) else {
        return String::new();
    };
    let secs = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds();
    if secs < 0 {
        return String::new();
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!(" (in {h}h {m}m)")
    } else if m > 0 {
        format!(" (in {m}m {s}s)")
    } else {
        format!(" (in {s}s)")
    }
}

/// Text for `fleetctl repos`.
pub fn repos_text(v: &Value) -> String {
    let mut out = format!(
        "{:<40} {:<10} {:<8} {}\n",
        "REPO", "STATUS", "DRIFT", "SOURCE"
    );
    for r in v["repos"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:<40} {:<10} {:<8} {}:{}/{}{}\n",
            s(r, "/name"),
            s(r, "/status"),
            if r["drifted"].as_bool() == Some(true) {
                "yes"
            } else {
                "no"
            },
            s(r, "/source_kind"),
            s(r, "/node"),
            s(r, "/source_key"),
            r.get("last_error")
                .and_then(|e| e.as_str())
                .map(|e| format!("  error: {e}"))
                .unwrap_or_default()
        ));
    }
    out
}

/// Text for `fleetctl runs`.
pub fn runs_text(v: &Value) -> String {
    let mut out = format!(
        "{:<6} {:<12} {:<12} {:<25} {:>8} {}\n",
        "RUN", "STATUS", "TRIGGER", "STARTED", "REQUESTS", "SUMMARY"
    );
    for r in v["runs"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:<6} {:<12} {:<12} {:<25} {:>8} {}\n",
            r["id"],
            s(r, "/status"),
            s(r, "/trigger"),
            s(r, "/started_at"),
            r["requests_sent"],
            s(r, "/summary")
        ));
    }
    out
}

/// Text for `fleetctl drift`.
pub fn drift_text(v: &Value) -> String {
    let mut out = format!(
        "{:<25} {:<60} {:<9} {}\n",
        "SEEN", "RESOURCE", "REPAIRED", "WHAT"
    );
    for d in v["drift"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:<25} {:<60} {:<9} {}\n",
            s(d, "/seen_at"),
            s(d, "/address"),
            if d["repaired"].as_bool() == Some(true) {
                "yes"
            } else {
                "no"
            },
            s(d, "/what")
        ));
    }
    if v["drift"].as_array().map(|a| a.is_empty()).unwrap_or(true) {
        out.push_str("no drift recorded\n");
    }
    out
}
