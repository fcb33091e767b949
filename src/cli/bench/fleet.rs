//! A benchmark fleet: a temporary folder holding a fleet config, its secret files, templates
//! and state file, and the simulated DSS node and GitHub it points at. The simulators run on
//! their own Tokio runtime (threads named `fleetsim`), so the CPU time they use can be told
//! apart from fleetsync's.

use crate::config::{load, Config};
use crate::reconcile::Engine;
use crate::store::Store;
use fleetsync_sim::dss::{self, DssSimSettings, RunningDssSim};
use fleetsync_sim::github::{self, GithubSimSettings, RunningGithubSim, SimToken};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const DSS_KEY: &str = "bench-dss-key";
const GH_TOKEN: &str = "ghp_fleetBenchToken";
/// Bearer token of fleetd's API in the benchmark configs.
pub const API_TOKEN: &str = "bench-api-token";
/// Name prefix of the simulator runtime's threads.
pub const SIM_THREAD: &str = "fleetsim";

const PR_YML: &str = include_str!("../../../config/templates/pr.yml");
const RELEASE_YML: &str = include_str!("../../../config/templates/release.yml");

/// The client side of a fleet's config.
#[derive(Debug, Clone)]
pub struct Pacing {
    pub concurrency: u32,
    pub max_in_flight: u32,
    pub writes_per_minute: u32,
    pub writes_per_hour: u32,
}

/// What to start.
#[derive(Debug, Clone)]
pub struct FleetSpec {
    pub projects: usize,
    pub plugins: usize,
    pub latency_ms: u64,
    pub github: GithubSimSettings,
    pub pacing: Pacing,
}

/// A running fleet.
pub struct BenchFleet {
    pub dir: PathBuf,
    pub config_path: PathBuf,
    pub dss: RunningDssSim,
    pub gh: RunningGithubSim,
    pub pacing: Pacing,
    /// fleetd's `daemon.listen` port in the config.
    pub listen_port: u16,
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A free loopback port (bound, then released).
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind(loopback())
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

fn write_secret(dir: &Path, name: &str, value: &str) -> Result<(), String> {
    let p = dir.join(name);
    std::fs::write(&p, value).map_err(|e| format!("writing {}: {e}", p.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("chmod {}: {e}", p.display()))?;
    }
    Ok(())
}

impl BenchFleet {
    /// Starts the simulators on `sim_rt` and writes the config into `dir` (created).
    pub async fn start(
        sim_rt: &tokio::runtime::Handle,
        dir: PathBuf,
        spec: &FleetSpec,
    ) -> Result<BenchFleet, String> {
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let dss_settings = DssSimSettings {
            projects: spec.projects,
            plugins: spec.plugins,
            latency_ms: spec.latency_ms,
            ..Default::default()
        };
        let dss = sim_rt
            .spawn(dss::start(dss_settings, vec![DSS_KEY.into()], loopback()))
            .await
            .map_err(|e| format!("simulated DSS: {e}"))?
            .map_err(|e| format!("simulated DSS: {e}"))?;
        let gh = sim_rt
            .spawn(github::start(
                spec.github.clone(),
                vec![SimToken::pat(GH_TOKEN)],
                loopback(),
            ))
            .await
            .map_err(|e| format!("simulated GitHub: {e}"))?
            .map_err(|e| format!("simulated GitHub: {e}"))?;
        dss.handle.link_github(&gh.handle);
        for (name, value) in [
            ("dss-key", DSS_KEY),
            ("gh-token", GH_TOKEN),
            ("api-token", API_TOKEN),
            ("dev-token", "bench-dev-token"),
            ("staging-token", "bench-staging-token"),
            ("prod-token", "bench-prod-token"),
            (
                "client-cert",
                "-----BEGIN CERTIFICATE-----\nbench\n-----END CERTIFICATE-----\n",
            ),
        ] {
            write_secret(&dir, name, value)?;
        }
        for (name, text) in [("pr.yml", PR_YML), ("release.yml", RELEASE_YML)] {
            let p = dir.join(name);
            std::fs::write(&p, text).map_err(|e| format!("writing {}: {e}", p.display()))?;
        }
        let f = BenchFleet {
            config_path: dir.join("fleet.toml"),
            dir,
            dss,
            gh,
            pacing: spec.pacing.clone(),
            listen_port: free_port()?,
        };
        std::fs::write(&f.config_path, f.config_text())
            .map_err(|e| format!("writing {}: {e}", f.config_path.display()))?;
        Ok(f)
    }

    /// The fleet config (the repo layout of the design notes: 2 workflows, 4 secrets,
    /// 6 variables, a protected `prod` branch, topics).
    pub fn config_text(&self) -> String {
        let p = &self.pacing;
        format!(
            r#"# Written by `fleetctl bench`.
[daemon]
listen = "127.0.0.1:{port}"
state_path = "state.db"
# Never fires during a benchmark: runs are triggered through the API.
schedule = "0 0 3 1 1 *"
api_token = {{ file = "api-token" }}
log_level = "warn"

[[dss]]
name = "design"
url = "{dss}"
api_key = {{ file = "dss-key" }}

[github]
api_url = "{gh}"
owner = "acme"
auth = {{ pat = {{ file = "gh-token" }} }}

{repo_tables}
[pacing]
concurrency = {concurrency}
max_in_flight = {max_in_flight}
writes_per_minute = {wpm}
writes_per_hour = {wph}
"#,
            port = self.listen_port,
            dss = self.dss.url,
            gh = self.gh.url,
            repo_tables = fleetsync_sim::fleet_config::repo_tables(&self.dss.url, ""),
            concurrency = p.concurrency,
            max_in_flight = p.max_in_flight,
            wpm = p.writes_per_minute,
            wph = p.writes_per_hour,
        )
    }

    /// The loaded config.
    pub fn config(&self) -> Result<Arc<Config>, String> {
        load(&self.config_path)
            .map(Arc::new)
            .map_err(|e| format!("the benchmark config does not load: {e}"))
    }

    /// Path of the state file.
    pub fn state_path(&self) -> PathBuf {
        self.dir.join("state.db")
    }

    /// A fresh engine over the fleet's state file (no metrics, no health).
    pub fn engine(&self) -> Result<Engine, String> {
        let store = Store::open(&self.state_path()).map_err(|e| e.to_string())?;
        Engine::new(self.config()?, store, None, None)
    }

    /// Stops both simulators.
    pub async fn shutdown(self) {
        self.gh.shutdown().await;
        self.dss.shutdown().await;
    }
}

/// The PAT the simulated GitHub accepts in the benchmark.
pub fn gh_token() -> &'static str {
    GH_TOKEN
}
