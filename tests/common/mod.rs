//! The tests' fleet: [`fleetsync_harness::Fleet`] with the tests' credentials and secret
//! values, and panicking shorthands (a test fails at the first thing that does not work).
#![allow(dead_code)]

use fleetsync::config::Config;
use fleetsync::reconcile::{Engine, RunReport};
use fleetsync::store::Store;
use fleetsync_harness::{FleetSpec, Secrets};
use fleetsync_sim::github::GithubSimSettings;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::Arc;

pub const DSS_KEY: &str = "dss-key-for-tests";
pub const GH_TOKEN: &str = "ghp_fleetTestToken";
pub const CANARY: &str = "CANARY-s3cr3t-8d1f0c";

/// The tests' secret files (the daemon's API token is the GitHub token).
const SECRETS: Secrets = Secrets {
    dss_key: DSS_KEY,
    gh_token: GH_TOKEN,
    api_token: GH_TOKEN,
    dev_token: CANARY,
    staging_token: "staging-token-value",
    prod_token: "prod-token-value",
    client_cert: "-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n",
};

/// A fleet under test (see [`fleetsync_harness::Fleet`] for its fields).
pub struct Fleet(pub fleetsync_harness::Fleet);

impl Deref for Fleet {
    type Target = fleetsync_harness::Fleet;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Fleet {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
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
        let spec = FleetSpec::new(projects, plugins, gh_settings, SECRETS);
        let mut f = Fleet(fleetsync_harness::Fleet::start(spec).await.unwrap());
        f.github_extra = extra.to_string();
        f.write_config();
        f
    }

    pub fn write_config(&mut self) {
        self.0.write_config().unwrap();
    }

    pub fn config(&self) -> Arc<Config> {
        self.0.config().unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn store(&self) -> Store {
        self.0.store().unwrap()
    }

    pub fn engine(&self) -> Engine {
        self.0.engine().unwrap()
    }

    pub async fn run(&self) -> RunReport {
        self.0.run().await.unwrap()
    }

    pub async fn plan(&self) -> RunReport {
        self.0.plan().await.unwrap()
    }

    /// Rewrites the config with the daemon listening on `port`.
    pub fn listen_on(&mut self, port: u16) {
        self.listen_port = port;
        self.write_config();
    }

    /// The daemon's API token.
    pub fn api_token(&self) -> String {
        self.secrets.api_token.to_string()
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
    fleetsync_harness::free_port().unwrap()
}
