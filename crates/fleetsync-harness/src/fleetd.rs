//! fleetd as a child process on a fleet's config, for what is measured on the daemon itself:
//! runs triggered through `POST /api/v1/reconcile` (what `fleetctl reconcile --now` sends)
//! and awaited through `GET /api/v1/runs/{id}` while the child's memory is sampled from
//! `/proc/<pid>`, SIGKILLs, and the API under load.

use crate::fleet::Fleet;
use crate::proc_stats;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running fleetd. SIGKILLed when dropped.
pub struct Fleetd {
    child: Child,
    base: String,
    token: String,
    http: reqwest::Client,
    log: PathBuf,
}

/// A finished run, as fleetd recorded it, plus what was sampled while it ran.
#[derive(Debug, Clone, Default)]
pub struct DaemonRun {
    pub id: i64,
    pub status: String,
    pub requests: i64,
    pub points: i64,
    /// From the trigger to the run's end being visible through the API.
    pub seconds: f64,
    /// The largest `VmRSS` sampled during the run, MiB.
    pub max_rss_mib: f64,
    pub summary: String,
}

/// The fleetd binary: `explicit`, else `fleetd` beside the running executable (integration
/// tests run from `target/<profile>/deps`, so one folder up too).
pub fn fleetd_path(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let exe = std::env::current_exe().map_err(|e| format!("current executable: {e}"))?;
    let dir = exe
        .parent()
        .ok_or_else(|| "the executable has no folder".to_string())?;
    [dir.join("fleetd"), dir.join("../fleetd")]
        .into_iter()
        .find(|c| c.exists())
        .ok_or_else(|| {
            format!(
                "no fleetd beside {} (build it with `cargo build --bins`, or pass --fleetd)",
                exe.display()
            )
        })
}

impl Fleetd {
    /// Starts `bin --config config` with stdout and stderr appended to `log`; the API is
    /// expected on `base` (see [`Fleetd::wait_healthy`]) and POSTs carry `token`.
    pub fn spawn(
        bin: &Path,
        config: &Path,
        base: &str,
        token: &str,
        log: &Path,
    ) -> Result<Fleetd, String> {
        let open = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .map_err(|e| format!("{}: {e}", log.display()))
        };
        let child = Command::new(bin)
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(open()?)
            .stderr(open()?)
            .spawn()
            .map_err(|e| format!("starting {}: {e} (pass --fleetd PATH)", bin.display()))?;
        Ok(Fleetd {
            child,
            base: base.to_string(),
            token: token.to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .map_err(|e| format!("HTTP client: {e}"))?,
            log: log.to_path_buf(),
        })
    }

    /// fleetd on `fleet` ([`Fleetd::spawn`] on its config, base URL and API token), then
    /// [`Fleetd::wait_healthy`].
    pub async fn start(
        bin: &Path,
        fleet: &Fleet,
        log: &Path,
        timeout: Duration,
    ) -> Result<Fleetd, String> {
        let base = fleet.base();
        let token = fleet.secrets.api_token;
        let mut d = Fleetd::spawn(bin, &fleet.config_path, &base, token, log)?;
        d.wait_healthy(timeout).await?;
        Ok(d)
    }

    /// Waits until the API answers `/healthz`; an error when the child exits first or
    /// `timeout` passes.
    pub async fn wait_healthy(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "fleetd exited at start ({status}); see {}",
                    self.log.display()
                ));
            }
            if let Ok(r) = self.http.get(format!("{}/healthz", self.base)).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "fleetd did not come up within {}s; see {}",
                    timeout.as_secs(),
                    self.log.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The API's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The HTTP client the harness talks to the API with.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `GET path` as JSON (or as a JSON string when the body is not JSON).
    pub async fn get(&self, path: &str) -> Result<Value, String> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        if !r.status().is_success() {
            return Err(format!("GET {path}: HTTP {}", r.status()));
        }
        let text = r.text().await.map_err(|e| format!("GET {path}: {e}"))?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Asks for a run of `projects` (all when empty) with the token; returns its id.
    pub async fn trigger(&self, projects: &[String]) -> Result<i64, String> {
        let accepted: Value = self
            .http
            .post(format!("{}/api/v1/reconcile", self.base))
            .bearer_auth(&self.token)
            .json(&json!({ "projects": projects }))
            .send()
            .await
            .map_err(|e| format!("POST /api/v1/reconcile: {e}"))?
            .json()
            .await
            .map_err(|e| format!("POST /api/v1/reconcile: {e}"))?;
        accepted
            .get("run_id")
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("POST /api/v1/reconcile answered {accepted}"))
    }

    /// Waits for run `id` to end (polling every `sample`, sampling the child's RSS), up to
    /// `timeout`.
    pub async fn wait_run(
        &self,
        id: i64,
        sample: Duration,
        timeout: Duration,
    ) -> Result<DaemonRun, String> {
        let started = Instant::now();
        let pid = Some(self.pid());
        let mut max_rss = proc_stats::rss_mib(pid).unwrap_or(0.0);
        while started.elapsed() < timeout {
            tokio::time::sleep(sample).await;
            max_rss = max_rss.max(proc_stats::rss_mib(pid).unwrap_or(0.0));
            let Ok(v) = self.get(&format!("/api/v1/runs/{id}")).await else {
                continue;
            };
            let text = |p: &str| {
                v.pointer(p)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let number = |p: &str| v.pointer(p).and_then(Value::as_i64).unwrap_or(0);
            let status = text("/run/status");
            if !matches!(status.as_str(), "" | "queued" | "running") {
                return Ok(DaemonRun {
                    id,
                    status,
                    requests: number("/run/requests_sent"),
                    points: number("/run/rate_points"),
                    seconds: started.elapsed().as_secs_f64(),
                    max_rss_mib: max_rss,
                    summary: text("/run/summary"),
                });
            }
        }
        Err(format!(
            "run {id} did not finish within {}s",
            timeout.as_secs()
        ))
    }

    /// [`Fleetd::trigger`], then [`Fleetd::wait_run`] with the time of the trigger counted.
    pub async fn run(
        &self,
        projects: &[String],
        sample: Duration,
        timeout: Duration,
    ) -> Result<DaemonRun, String> {
        let started = Instant::now();
        let id = self.trigger(projects).await?;
        let mut run = self.wait_run(id, sample, timeout).await?;
        run.seconds = started.elapsed().as_secs_f64();
        Ok(run)
    }

    /// Waits until no run is queued or running; returns the last run's status.
    pub async fn wait_idle(&self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(v) = self.get("/api/v1/runs").await {
                let runs = v["runs"].as_array().cloned().unwrap_or_default();
                let busy = runs
                    .iter()
                    .any(|r| matches!(r["status"].as_str(), Some("queued") | Some("running")));
                if !runs.is_empty() && !busy {
                    return runs
                        .iter()
                        .max_by_key(|r| r["id"].as_i64().unwrap_or(0))
                        .and_then(|r| r["status"].as_str().map(str::to_string));
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }

    /// SIGKILLs the child and reaps it.
    pub fn kill(mut self) {
        self.reap();
    }

    fn reap(&mut self) {
        // Already gone is fine: what matters is that it is not running afterwards.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Fleetd {
    fn drop(&mut self) {
        self.reap();
    }
}
