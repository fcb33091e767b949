//! fleetd as a child process, for the scenarios measured on the daemon itself: a run
//! triggered through `POST /api/v1/reconcile` (what `fleetctl reconcile --now` sends) and
//! awaited through `GET /api/v1/runs/{id}`, while the child's memory and CPU are sampled
//! from `/proc/<pid>`.

use super::proc_stats;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running fleetd. Killed when dropped.
pub struct Fleetd {
    child: Child,
    base: String,
    token: String,
    http: reqwest::Client,
}

/// A finished run, as fleetd recorded it, plus what was sampled while it ran.
#[derive(Debug, Clone, Default)]
pub struct DaemonRun {
    pub status: String,
    pub requests: i64,
    pub points: i64,
    /// From the trigger to the run's end being visible through the API.
    pub seconds: f64,
    /// The largest `VmRSS` sampled during the run, MiB.
    pub max_rss_mib: f64,
    pub summary: String,
}

impl Fleetd {
    /// Starts `fleetd --config config` (logs to `log`) and waits until its API answers.
    pub async fn spawn(
        bin: &Path,
        config: &Path,
        port: u16,
        token: &str,
        log: &Path,
    ) -> Result<Fleetd, String> {
        let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let child = Command::new(bin)
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| format!("starting {}: {e} (pass --fleetd PATH)", bin.display()))?;
        let mut d = Fleetd {
            child,
            base: format!("http://127.0.0.1:{port}"),
            token: token.to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .map_err(|e| format!("HTTP client: {e}"))?,
        };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = d.child.try_wait() {
                return Err(format!(
                    "fleetd exited at start ({status}); see {}",
                    log.display()
                ));
            }
            if d.get("/healthz").await.is_ok() {
                return Ok(d);
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err(format!(
                    "fleetd did not answer within 60 s; see {}",
                    log.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!("GET {path}: HTTP {}", r.status()));
        }
        let text = r.text().await.map_err(|e| e.to_string())?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Triggers a run (of `projects`, or all) and waits for it, sampling the child's RSS
    /// every `sample`.
    pub async fn run(&self, projects: &[String], sample: Duration) -> Result<DaemonRun, String> {
        let started = Instant::now();
        let r = self
            .http
            .post(format!("{}/api/v1/reconcile", self.base))
            .bearer_auth(&self.token)
            .json(&json!({ "projects": projects }))
            .send()
            .await
            .map_err(|e| format!("POST /api/v1/reconcile: {e}"))?;
        let accepted: Value = r
            .json()
            .await
            .map_err(|e| format!("POST /api/v1/reconcile: {e}"))?;
        let id = accepted
            .get("run_id")
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("POST /api/v1/reconcile answered {accepted}"))?;
        let pid = Some(self.pid());
        let mut max_rss = proc_stats::rss_mib(pid).unwrap_or(0.0);
        loop {
            tokio::time::sleep(sample).await;
            max_rss = max_rss.max(proc_stats::rss_mib(pid).unwrap_or(0.0));
            let v = self.get(&format!("/api/v1/runs/{id}")).await?;
            let status = v
                .pointer("/run/status")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if status != "queued" && status != "running" && !status.is_empty() {
                return Ok(DaemonRun {
                    status,
                    requests: v
                        .pointer("/run/requests_sent")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                    points: v
                        .pointer("/run/rate_points")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                    seconds: started.elapsed().as_secs_f64(),
                    max_rss_mib: max_rss,
                    summary: v
                        .pointer("/run/summary")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                });
            }
        }
    }

    /// Stops the child.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Fleetd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
