//! Simulated Dataiku DSS design node (public API), see `shared/reference/dss-public-api.md`.
//!
//! This module owns the settings (`[sim.dss]`) and the server's lifecycle; the wire format is
//! in `routes`/`wire`, the state and the in-process handle in `state`, the seeded inventory in
//! `seed`, the `/_sim/dss` admin API in `admin` and the plugin archives in `archive`. Each
//! project's git repository is in `git`, its endpoints in `git_routes`, pushes/fetches to the
//! linked simulated GitHub in `git_net`, and the handle's git side in `handle_git`.

mod admin;
mod archive;
mod git;
mod git_net;
mod git_routes;
mod handle_git;
mod routes;
mod seed;
mod state;
mod wire;

pub use state::DssSimHandle;

use serde::Deserialize;
use std::net::SocketAddr;

/// Knobs of the simulated DSS node (the `[sim.dss]` table).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DssSimSettings {
    /// Projects generated at start.
    pub projects: usize,
    /// Dev plugins generated at start (two non-dev installed plugins are always added).
    pub plugins: usize,
    /// Seed of the generated inventory and of the error injection.
    pub seed: u64,
    /// Reported in the `DSS-Version` header.
    pub version: String,
    /// Delay added to every API request.
    pub latency_ms: u64,
    /// Fraction (0.0–1.0) of API requests answered 500 with a DSS error body.
    pub error_rate: f64,
    /// When true, every API request is answered 503.
    pub outage: bool,
    /// The deployer's lifecycle stages (DSS's stock ones by default).
    pub stages: Vec<String>,
    /// Deployer infrastructures.
    pub infras: Vec<SimInfra>,
}

/// One Project Deployer infrastructure.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SimInfra {
    /// Infrastructure id, e.g. `prod-automation`.
    pub id: String,
    /// Stage, e.g. `Production`.
    pub stage: String,
}

impl Default for DssSimSettings {
    fn default() -> Self {
        DssSimSettings {
            projects: 25,
            plugins: 2,
            seed: 1,
            version: "13.4.0".to_string(),
            latency_ms: 0,
            error_rate: 0.0,
            outage: false,
            // "DSS comes preconfigured with the classic Dev, Test and Prod stages"
            // (shared/reference/dss-public-api.md, facts checked later).
            stages: vec!["Development".into(), "Test".into(), "Production".into()],
            infras: vec![
                SimInfra {
                    id: "staging-automation".into(),
                    stage: "Test".into(),
                },
                SimInfra {
                    id: "prod-automation".into(),
                    stage: "Production".into(),
                },
            ],
        }
    }
}

/// A simulated DSS node serving on loopback. Dropping it stops the server.
#[derive(Debug)]
pub struct RunningDssSim {
    /// Base URL without an API prefix, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
    /// In-process control of the node's state.
    pub handle: DssSimHandle,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningDssSim {
    /// Stops the server gracefully and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningDssSim {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Starts a simulated DSS node on `bind` (port 0 picks a free port). Requests must carry one
/// of `api_keys`.
pub async fn start(
    settings: DssSimSettings,
    api_keys: Vec<String>,
    bind: SocketAddr,
) -> Result<RunningDssSim, std::io::Error> {
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let handle = DssSimHandle::new(&settings, api_keys);
    let app = routes::router(handle.clone()).merge(admin::router(handle.clone()));
    let app = routes::wrap(app, handle.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "simulated DSS node stopped with an error");
        }
    });
    Ok(RunningDssSim {
        url: format!("http://{addr}"),
        addr,
        handle,
        shutdown: Some(tx),
        task: Some(task),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_from_toml_with_defaults() {
        let s: DssSimSettings = toml::from_str(
            "projects = 3\nerror_rate = 0.25\n[[infras]]\nid = \"prod\"\nstage = \"Production\"\n",
        )
        .unwrap();
        assert_eq!(s.projects, 3);
        assert_eq!(s.plugins, 2);
        assert_eq!(s.version, "13.4.0");
        assert_eq!(s.infras.len(), 1);
        assert!(toml::from_str::<DssSimSettings>("projets = 3").is_err());
        assert_eq!(DssSimSettings::default().infras[1].id, "prod-automation");
    }
}
