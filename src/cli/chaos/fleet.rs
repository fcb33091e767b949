//! A throw-away fleet for one chaos scenario: the simulated DSS node and GitHub on loopback
//! (in this process, so the scenario can turn their knobs and read their request logs), and a
//! temp folder holding a config, the workflow templates, the secret files (every secret value
//! carries the marker [`CANARY`]) and the SQLite state. fleetd runs as a child process.

use crate::config::{load, Config};
use crate::reconcile::Engine;
use crate::store::Store;
use fleetsync_sim::dss::{self as dss_sim, DssSimSettings, RunningDssSim};
use fleetsync_sim::github::{self as gh_sim, GithubSimSettings, RunningGithubSim, SimToken};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Every secret value of a chaos fleet contains this marker; finding it anywhere it should
/// not be is a leak.
pub const CANARY: &str = "CANARY";

const GH_TOKEN: &str = "ghp_CANARY-github-token-41f2";
const DSS_KEY: &str = "CANARY-dss-api-key-93ab";
/// The daemon's API token (POSTs need it).
pub const API_TOKEN: &str = "CANARY-api-token-7c1e";

const SECRETS: &[(&str, &str)] = &[
    ("gh-token", GH_TOKEN),
    ("dss-key", DSS_KEY),
    ("api-token", API_TOKEN),
    ("dev-token", "CANARY-dev-ci-token-0d9e"),
    ("staging-token", "CANARY-staging-ci-token-5a77"),
    ("prod-token", "CANARY-prod-ci-token-e210"),
    (
        "client-cert",
        "-----BEGIN CERTIFICATE-----\nCANARY-client-certificate-b3c4\n-----END CERTIFICATE-----\n",
    ),
];

const TEMPLATES: &[(&str, &str)] = &[
    ("pr.yml", include_str!("../../../config/templates/pr.yml")),
    (
        "release.yml",
        include_str!("../../../config/templates/release.yml"),
    ),
];

/// GitHub limits high enough that a fleet converges without waiting out the documented
/// limits (the chaos knobs add their own secondary-limit answers). The primary limit is raised
/// too: a 500-repo cold start needs more than a PAT's 5,000 requests an hour, so against real
/// GitHub it is paced by the primary limit over more than an hour, which is not what the
/// fault scenario measures.
pub fn roomy_github() -> GithubSimSettings {
    GithubSimSettings {
        primary_limit: 1_000_000,
        content_writes_per_minute: 100_000,
        content_writes_per_hour: 1_000_000,
        points_per_minute: 1_000_000,
        ..Default::default()
    }
}

/// A free loopback port (bound and released).
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// One fleet under test.
pub struct ChaosFleet {
    pub dir: PathBuf,
    pub dss: RunningDssSim,
    pub gh: RunningGithubSim,
    pub config_path: PathBuf,
    /// The daemon's API port.
    pub port: u16,
    /// Extra lines of the `[github]` table.
    pub github_extra: String,
    /// Extra lines of the `[[dss]]` table.
    pub dss_extra: String,
    /// `daemon.log_level`.
    pub log_level: String,
}

impl Drop for ChaosFleet {
    fn drop(&mut self) {
        // FLEETSYNC_CHAOS_KEEP=1 keeps the folder (config, state, fleetd's log) for a post-mortem.
        if std::env::var_os("FLEETSYNC_CHAOS_KEEP").is_some() {
            eprintln!("chaos: kept {}", self.dir.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl ChaosFleet {
    /// Starts the simulators (DSS with `projects` projects and `plugins` dev plugins) and
    /// writes the config.
    pub async fn start(
        projects: usize,
        plugins: usize,
        gh_settings: GithubSimSettings,
        seed: u64,
    ) -> Result<ChaosFleet, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let loopback: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
        let dss = dss_sim::start(
            DssSimSettings {
                projects,
                plugins,
                seed,
                ..Default::default()
            },
            vec![DSS_KEY.into()],
            loopback,
        )
        .await
        .map_err(|e| format!("simulated DSS: {e}"))?;
        let gh = gh_sim::start(gh_settings, vec![SimToken::pat(GH_TOKEN)], loopback)
            .await
            .map_err(|e| format!("simulated GitHub: {e}"))?;
        dss.handle.link_github(&gh.handle);
        let dir = std::env::temp_dir().join(format!(
            "fleetsync-chaos-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let io = |e: std::io::Error| format!("{}: {e}", dir.display());
        std::fs::create_dir_all(dir.join("templates")).map_err(io)?;
        for (name, value) in SECRETS {
            let path = dir.join(name);
            std::fs::write(&path, value).map_err(io)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .map_err(io)?;
            }
        }
        for (name, text) in TEMPLATES {
            std::fs::write(dir.join("templates").join(name), text).map_err(io)?;
        }
        let fleet = ChaosFleet {
            config_path: dir.join("fleet.toml"),
            dir,
            dss,
            gh,
            port: free_port()?,
            github_extra: String::new(),
            dss_extra: String::new(),
            log_level: "info".into(),
        };
        fleet.write_config()?;
        Ok(fleet)
    }

    /// The config text.
    pub fn config_text(&self) -> String {
        format!(
            r#"
[daemon]
listen = "127.0.0.1:{port}"
state_path = "state.db"
schedule = "0 0 0 1 1 *"
api_token = {{ file = "api-token" }}
log_format = "json"
log_level = "{log_level}"

[[dss]]
name = "design"
url = "{dss}"
api_key = {{ file = "dss-key" }}
timeout = "2s"
{dss_extra}

[dss.tags]
exclude = ["no-gitops"]

[github]
api_url = "{gh}"
owner = "acme"
auth = {{ pat = {{ file = "gh-token" }} }}
{github_extra}

{repo_tables}
[pacing]
concurrency = 8
max_in_flight = 16
writes_per_minute = 1000000
writes_per_hour = 10000000
request_timeout = "10s"
"#,
            port = self.port,
            log_level = self.log_level,
            dss = self.dss.url,
            gh = self.gh.url,
            repo_tables = fleetsync_sim::fleet_config::repo_tables(&self.dss.url, "templates"),
            dss_extra = self.dss_extra,
            github_extra = self.github_extra,
        )
    }

    /// (Re)writes the config file.
    pub fn write_config(&self) -> Result<(), String> {
        std::fs::write(&self.config_path, self.config_text())
            .map_err(|e| format!("{}: {e}", self.config_path.display()))
    }

    pub fn config(&self) -> Result<Arc<Config>, String> {
        load(&self.config_path)
            .map(Arc::new)
            .map_err(|e| e.to_string())
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.join("state.db")
    }

    pub fn store(&self) -> Result<Store, String> {
        Store::open(&self.state_path()).map_err(|e| e.to_string())
    }

    /// An in-process engine over this fleet's config and state.
    pub fn engine(&self) -> Result<Engine, String> {
        Engine::new(self.config()?, self.store()?, None, None)
    }

    /// Repo names (`acme/dss-…`) of the DSS projects that should have a repo (not opted
    /// out with the `no-gitops` tag).
    pub fn wanted_project_repos(&self) -> Vec<String> {
        let h = &self.dss.handle;
        h.project_keys()
            .into_iter()
            .filter(|k| {
                !h.project_tags(k)
                    .unwrap_or_default()
                    .iter()
                    .any(|t| t == "no-gitops")
            })
            .map(|k| format!("acme/dss-{}", k.to_lowercase()))
            .collect()
    }

    /// Starts fleetd on this fleet's config; its stdout and stderr go to `log` (appended).
    pub fn spawn_fleetd(&self, bin: &Path, log: &Path) -> Result<Child, String> {
        let open = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .map_err(|e| format!("{}: {e}", log.display()))
        };
        Command::new(bin)
            .arg("--config")
            .arg(&self.config_path)
            .stdin(Stdio::null())
            .stdout(open()?)
            .stderr(open()?)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))
    }

    /// The daemon's base URL.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Waits until fleetd answers `/healthz` (or `timeout` passes).
pub async fn wait_healthy(http: &reqwest::Client, base: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

/// Stops a child (SIGKILL) and reaps it.
pub fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The fleetd binary: `explicit`, else `fleetd` beside the running executable.
pub fn fleetd_path(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let exe = std::env::current_exe().map_err(|e| format!("current executable: {e}"))?;
    let dir = exe
        .parent()
        .ok_or_else(|| "the executable has no folder".to_string())?;
    // Integration tests run from target/<profile>/deps; the binaries are one level up.
    for cand in [dir.join("fleetd"), dir.join("../fleetd")] {
        if cand.exists() {
            return Ok(cand);
        }
    }
    Err(format!(
        "no fleetd beside {} (build it, or pass --fleetd)",
        exe.display()
    ))
}
