//! One throw-away fleet, for the tests, `bench` and `chaos`: the simulated DSS node and GitHub
//! on loopback (in this process, so the caller can turn their knobs and read their request
//! logs), and a folder holding a fleet config, the workflow templates, the secret files and
//! the SQLite state. An engine runs on it in process ([`Fleet::engine`]), fleetd as a child
//! process ([`crate::fleetd`]).

use crate::fleet_config::repo_tables_scoped;
use fleetsync::config::{load, Config};
use fleetsync::reconcile::{Engine, RunOptions, RunReport};
use fleetsync::store::Store;
use fleetsync_sim::dss::{self, DssSimSettings, RunningDssSim};
use fleetsync_sim::github::{self, GithubSimSettings, RunningGithubSim, SimToken};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The credentials and secret values a fleet's files hold. Each written to the file of the
/// same name: `dss-key`, `gh-token`, `api-token`, `dev-token`, `staging-token`, `prod-token`,
/// `client-cert`.
#[derive(Debug, Clone, Copy)]
pub struct Secrets {
    /// The simulated DSS node's API key.
    pub dss_key: &'static str,
    /// The PAT the simulated GitHub accepts.
    pub gh_token: &'static str,
    /// fleetd's API token (POSTs need it).
    pub api_token: &'static str,
    /// The values of the four repo secrets of [`crate::fleet_config::repo_tables`].
    pub dev_token: &'static str,
    pub staging_token: &'static str,
    pub prod_token: &'static str,
    pub client_cert: &'static str,
}

impl Secrets {
    fn files(&self) -> [(&'static str, &'static str); 7] {
        [
            ("dss-key", self.dss_key),
            ("gh-token", self.gh_token),
            ("api-token", self.api_token),
            ("dev-token", self.dev_token),
            ("staging-token", self.staging_token),
            ("prod-token", self.prod_token),
            ("client-cert", self.client_cert),
        ]
    }
}

/// The `[pacing]` table of a fleet's config.
#[derive(Debug, Clone)]
pub struct Pacing {
    pub concurrency: u32,
    pub max_in_flight: u32,
    pub writes_per_minute: u32,
    pub writes_per_hour: u32,
    /// Points per minute per endpoint.
    pub points_per_minute: u32,
    /// The pacer's `time_scale` (1: GitHub's clock).
    pub time_scale: u32,
    /// `request_timeout`, when set.
    pub request_timeout: Option<String>,
}

impl Default for Pacing {
    /// High enough write budgets that a small fleet converges without waiting.
    fn default() -> Self {
        Pacing {
            concurrency: 8,
            max_in_flight: 16,
            writes_per_minute: 100_000,
            writes_per_hour: 1_000_000,
            points_per_minute: 100_000,
            time_scale: 1,
            request_timeout: None,
        }
    }
}

/// What to start.
#[derive(Debug, Clone)]
pub struct FleetSpec {
    pub dss: DssSimSettings,
    pub github: GithubSimSettings,
    pub secrets: Secrets,
    /// Where the simulators run (default: the caller's runtime). The benchmark gives them
    /// their own, so their CPU time can be told apart.
    pub sim_runtime: Option<tokio::runtime::Handle>,
    /// The folder (created). Default: a fresh one under the system temp folder, removed
    /// when the fleet is dropped (unless `FLEETSYNC_KEEP` is set).
    pub dir: Option<PathBuf>,
}

impl FleetSpec {
    /// `projects` projects and `plugins` dev plugins, every other knob at its default.
    pub fn new(
        projects: usize,
        plugins: usize,
        github: GithubSimSettings,
        secrets: Secrets,
    ) -> Self {
        FleetSpec {
            dss: DssSimSettings {
                projects,
                plugins,
                ..Default::default()
            },
            github,
            secrets,
            sim_runtime: None,
            dir: None,
        }
    }
}

/// A running fleet. The fields after `secrets` shape the config; change them, then
/// [`Fleet::write_config`].
pub struct Fleet {
    pub dir: PathBuf,
    pub config_path: PathBuf,
    pub dss: RunningDssSim,
    pub gh: RunningGithubSim,
    pub secrets: Secrets,
    /// `daemon.listen`'s port (0: any).
    pub listen_port: u16,
    /// `daemon.schedule`.
    pub schedule: String,
    /// `daemon.run_at_start` (off here: tests, bench and chaos trigger the runs they measure).
    pub run_at_start: bool,
    /// `daemon.log_format` and `daemon.log_level`, when set.
    pub log_format: Option<String>,
    pub log_level: Option<String>,
    /// The `[[dss]]` node's `timeout`, when set.
    pub dss_timeout: Option<String>,
    /// Appended to the `[[dss]]` table.
    pub node_extra: String,
    /// `[dss.tags] exclude = ["no-gitops"]` (the simulator tags every tenth project so).
    pub exclude_no_gitops: bool,
    /// The `[github] auth` value (default: the PAT in `gh-token`).
    pub github_auth: String,
    /// The recommended fleet layout: fleet-wide secrets and variables org-scoped.
    pub org_scoped: bool,
    /// Appended to the `[github]` table.
    pub github_extra: String,
    pub pacing: Pacing,
    /// Appended at the end of the config (more tables, more nodes).
    pub tail: String,
    _folder: TempFolder,
}

/// Removes a fleet's own temp folder when the fleet is dropped.
struct TempFolder(Option<PathBuf>);

impl Drop for TempFolder {
    fn drop(&mut self) {
        let Some(dir) = &self.0 else { return };
        // FLEETSYNC_KEEP=1 keeps the folder (config, state, fleetd's log) for a post-mortem.
        if std::env::var_os("FLEETSYNC_KEEP").is_some() {
            eprintln!("kept {}", dir.display());
            return;
        }
        // Best effort: a temp folder left behind is not a failure of what was measured.
        let _ = std::fs::remove_dir_all(dir);
    }
}

const TEMPLATES: &[(&str, &str)] = &[
    ("pr.yml", include_str!("../../../config/templates/pr.yml")),
    (
        "release.yml",
        include_str!("../../../config/templates/release.yml"),
    ),
];

static SEQ: AtomicU64 = AtomicU64::new(0);

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A free loopback port (bound, then released).
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind(loopback())
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Writes a file readable by its owner only (as the config loader wants secret files).
fn write_private(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value).map_err(|e| format!("writing {}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("chmod {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Starts both simulators (on the spec's runtime when given), the DSS node's git remotes
/// pointing at the simulated GitHub.
async fn start_sims(spec: &FleetSpec) -> Result<(RunningDssSim, RunningGithubSim), String> {
    let dss_fut = dss::start(
        spec.dss.clone(),
        vec![spec.secrets.dss_key.into()],
        loopback(),
    );
    let gh_fut = github::start(
        spec.github.clone(),
        vec![SimToken::pat(spec.secrets.gh_token)],
        loopback(),
    );
    let (dss, gh) = match &spec.sim_runtime {
        Some(rt) => (
            rt.spawn(dss_fut)
                .await
                .map_err(|e| format!("simulated DSS: {e}"))?,
            rt.spawn(gh_fut)
                .await
                .map_err(|e| format!("simulated GitHub: {e}"))?,
        ),
        None => (dss_fut.await, gh_fut.await),
    };
    let dss = dss.map_err(|e| format!("simulated DSS: {e}"))?;
    let gh = gh.map_err(|e| format!("simulated GitHub: {e}"))?;
    // DSS pushes of linked projects reach this GitHub.
    dss.handle.link_github(&gh.handle);
    Ok((dss, gh))
}

impl Fleet {
    /// Starts the simulators and writes the folder: secrets, templates and a config with
    /// the defaults (any port, a schedule every 10 minutes, `no-gitops` excluded,
    /// [`Pacing::default`]).
    pub async fn start(spec: FleetSpec) -> Result<Fleet, String> {
        // Several crates bring a rustls provider; the process needs exactly one installed.
        // An error here only means one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (dss, gh) = start_sims(&spec).await?;
        let (dir, own) = match spec.dir {
            Some(d) => (d, false),
            None => (
                std::env::temp_dir().join(format!(
                    "fleetsync-fleet-{}-{}",
                    std::process::id(),
                    SEQ.fetch_add(1, Ordering::Relaxed)
                )),
                true,
            ),
        };
        let folder = TempFolder(own.then(|| dir.clone()));
        let templates = dir.join("templates");
        std::fs::create_dir_all(&templates)
            .map_err(|e| format!("creating {}: {e}", templates.display()))?;
        for (name, value) in spec.secrets.files() {
            write_private(&dir.join(name), value)?;
        }
        for (name, text) in TEMPLATES {
            let p = templates.join(name);
            std::fs::write(&p, text).map_err(|e| format!("writing {}: {e}", p.display()))?;
        }
        let fleet = Fleet {
            config_path: dir.join("fleet.toml"),
            dir,
            dss,
            gh,
            secrets: spec.secrets,
            listen_port: 0,
            schedule: "0 */10 * * * *".into(),
            run_at_start: false,
            log_format: None,
            log_level: None,
            dss_timeout: None,
            node_extra: String::new(),
            exclude_no_gitops: true,
            github_auth: r#"{ pat = { file = "gh-token" } }"#.into(),
            org_scoped: false,
            github_extra: String::new(),
            pacing: Pacing::default(),
            tail: String::new(),
            _folder: folder,
        };
        fleet.write_config()?;
        Ok(fleet)
    }

    /// The config text.
    pub fn config_text(&self) -> String {
        let opt = |key: &str, v: &Option<String>| match v {
            Some(v) => format!("{key} = \"{v}\"\n"),
            None => String::new(),
        };
        let p = &self.pacing;
        format!(
            r#"
[daemon]
listen = "127.0.0.1:{port}"
state_path = "state.db"
schedule = "{schedule}"
run_at_start = {run_at_start}
api_token = {{ file = "api-token" }}
{log_format}{log_level}
[[dss]]
name = "design"
url = "{dss}"
api_key = {{ file = "dss-key" }}
{timeout}{node_extra}
{tags}
[github]
api_url = "{gh}"
owner = "acme"
auth = {github_auth}
{github_extra}

{repo_tables}
[pacing]
concurrency = {concurrency}
max_in_flight = {max_in_flight}
writes_per_minute = {wpm}
writes_per_hour = {wph}
points_per_minute = {ppm}
time_scale = {time_scale}
{request_timeout}{tail}
"#,
            port = self.listen_port,
            schedule = self.schedule,
            run_at_start = self.run_at_start,
            log_format = opt("log_format", &self.log_format),
            log_level = opt("log_level", &self.log_level),
            dss = self.dss.url,
            timeout = opt("timeout", &self.dss_timeout),
            node_extra = self.node_extra,
            tags = if self.exclude_no_gitops {
                "\n[dss.tags]\nexclude = [\"no-gitops\"]\n"
            } else {
                ""
            },
            gh = self.gh.url,
            github_auth = self.github_auth,
            github_extra = self.github_extra,
            repo_tables = repo_tables_scoped(&self.dss.url, "templates", self.org_scoped),
            concurrency = p.concurrency,
            max_in_flight = p.max_in_flight,
            wpm = p.writes_per_minute,
            wph = p.writes_per_hour,
            ppm = p.points_per_minute,
            time_scale = p.time_scale,
            request_timeout = opt("request_timeout", &p.request_timeout),
            tail = self.tail,
        )
    }

    /// (Re)writes the config file.
    pub fn write_config(&self) -> Result<(), String> {
        std::fs::write(&self.config_path, self.config_text())
            .map_err(|e| format!("{}: {e}", self.config_path.display()))
    }

    /// The loaded config.
    pub fn config(&self) -> Result<Arc<Config>, String> {
        load(&self.config_path)
            .map(Arc::new)
            .map_err(|e| format!("the fleet's config does not load: {e}"))
    }

    /// Path of the state file.
    pub fn state_path(&self) -> PathBuf {
        self.dir.join("state.db")
    }

    /// The fleet's store.
    pub fn store(&self) -> Result<Store, String> {
        Store::open(&self.state_path()).map_err(|e| e.to_string())
    }

    /// A fresh in-process engine over the fleet's config and state (no metrics, no health).
    pub fn engine(&self) -> Result<Engine, String> {
        Engine::new(self.config()?, self.store()?, None, None).map_err(|e| e.to_string())
    }

    /// One reconcile in process.
    pub async fn run(&self) -> Result<RunReport, String> {
        Ok(self.engine()?.run(RunOptions::default()).await)
    }

    /// One dry run in process.
    pub async fn plan(&self) -> Result<RunReport, String> {
        let opts = RunOptions {
            dry_run: true,
            ..Default::default()
        };
        Ok(self.engine()?.run(opts).await)
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

    /// The daemon's base URL.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.listen_port)
    }

    /// Stops both simulators.
    pub async fn shutdown(self) {
        self.gh.shutdown().await;
        self.dss.shutdown().await;
    }
}
