//! A fleet under test: the simulator on loopback, a temp dir holding a config, templates'
//! paths, secret files and the state file.
#![allow(dead_code)]

use fleetsync::config::{load, Config};
use fleetsync::reconcile::{Engine, RunOptions, RunReport};
use fleetsync::store::Store;
use fleetsync_sim::dss::{self, DssSimSettings, RunningDssSim};
use fleetsync_sim::github::{self, GithubSimSettings, RunningGithubSim, SimToken};
use std::path::PathBuf;
use std::sync::Arc;

pub const DSS_KEY: &str = "dss-key-for-tests";
pub const GH_TOKEN: &str = "ghp_fleetTestToken";
pub const CANARY: &str = "CANARY-s3cr3t-8d1f0c";

pub struct Fleet {
    pub dir: tempfile::TempDir,
    pub dss: RunningDssSim,
    pub gh: RunningGithubSim,
    pub config_path: PathBuf,
    pub extra: String,
    /// Appended to the `[[dss]]` table.
    pub node_extra: String,
    /// Appended at the end of the config (more tables, more nodes).
    pub tail: String,
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Fleet {
    /// Starts the simulators; `extra` is appended to the `[github]` table.
    pub async fn start(
        projects: usize,
        plugins: usize,
        gh_settings: GithubSimSettings,
        extra: &str,
    ) -> Fleet {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dss = dss::start(
            DssSimSettings {
                projects,
                plugins,
                ..Default::default()
            },
            vec![DSS_KEY.into()],
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let gh = github::start(
            gh_settings,
            vec![SimToken::pat(GH_TOKEN)],
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        dss.handle.link_github(&gh.handle);
        let dir = tempfile::tempdir().unwrap();
        for (name, value) in [
            ("dss-key", DSS_KEY),
            ("gh-token", GH_TOKEN),
            ("dev-token", CANARY),
            ("staging-token", "staging-token-value"),
            ("prod-token", "prod-token-value"),
            (
                "client-cert",
                "-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n",
            ),
        ] {
            std::fs::write(dir.path().join(name), value).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(
                    dir.path().join(name),
                    std::fs::Permissions::from_mode(0o600),
                )
                .unwrap();
            }
        }
        let mut f = Fleet {
            config_path: dir.path().join("fleet.toml"),
            dir,
            dss,
            gh,
            extra: extra.to_string(),
            node_extra: String::new(),
            tail: String::new(),
        };
        f.write_config();
        f
    }

    pub fn config_text(&self) -> String {
        let t = repo_root().join("config/templates");
        format!(
            r#"
[daemon]
listen = "127.0.0.1:0"
state_path = "state.db"
schedule = "0 */10 * * * *"
api_token = {{ file = "gh-token" }}

[[dss]]
name = "design"
url = "{dss}"
api_key = {{ file = "dss-key" }}
{node_extra}

[dss.tags]
exclude = ["no-gitops"]

[github]
api_url = "{gh}"
owner = "acme"
auth = {{ pat = {{ file = "gh-token" }} }}
{extra}

{repo_tables}
[pacing]
concurrency = 8
max_in_flight = 16
writes_per_minute = 100000
writes_per_hour = 1000000
{tail}
"#,
            dss = self.dss.url,
            gh = self.gh.url,
            repo_tables =
                fleetsync_sim::fleet_config::repo_tables(&self.dss.url, &t.display().to_string()),
            extra = self.extra,
            node_extra = self.node_extra,
            tail = self.tail,
        )
    }

    pub fn write_config(&mut self) {
        std::fs::write(&self.config_path, self.config_text()).unwrap();
    }

    pub fn config(&self) -> Arc<Config> {
        Arc::new(load(&self.config_path).unwrap_or_else(|e| panic!("{e}")))
    }

    pub fn store(&self) -> Store {
        Store::open(&self.dir.path().join("state.db")).unwrap()
    }

    pub fn engine(&self) -> Engine {
        Engine::new(self.config(), self.store(), None, None).unwrap()
    }

    pub async fn run(&self) -> RunReport {
        self.engine().run(RunOptions::default()).await
    }

    pub async fn plan(&self) -> RunReport {
        self.engine()
            .run(RunOptions {
                dry_run: true,
                ..Default::default()
            })
            .await
    }
}

/// GitHub limits high enough that a test fleet converges without waiting out the
/// secondary limits (those are exercised by their own tests and the benchmark).
pub fn roomy_github() -> GithubSimSettings {
    GithubSimSettings {
        content_writes_per_minute: 5_000,
        content_writes_per_hour: 50_000,
        points_per_minute: 100_000,
        ..Default::default()
    }
}

/// A free loopback port (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Fleet {
    /// Rewrites the config with the daemon listening on `port`.
    pub fn listen_on(&mut self, port: u16) {
        let text = self.config_text().replace(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        );
        std::fs::write(&self.config_path, text).unwrap();
    }

    /// The daemon's API token (the config reads it from the `gh-token` file).
    pub fn api_token(&self) -> String {
        GH_TOKEN.to_string()
    }
}
