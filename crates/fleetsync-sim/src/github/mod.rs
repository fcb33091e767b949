//! Simulated GitHub REST API, written from `shared/reference/github-rest.md` and the OpenAPI
//! subset beside it (never from fleetsync's client types). Stateful and strict: exact status
//! codes, 422 `validation-error` bodies, real git blob/tree SHAs, real X25519 sealed-box secrets,
//! primary and secondary rate limits with GitHub's headers and bodies, ETags with free 304s,
//! absolute `Link` pagination, installation tokens that expire, and knobs for latency, errors,
//! connection resets and outages. A request log and counters let tests assert on traffic.
//!
//! Git history is real (`crate::git`): every write makes commits with parents; compare and
//! pull requests read the graph (`routes_compare`, `routes_pulls`, `pulls`); protected
//! branches refuse direct writes (`protect`); renamed and transferred repositories redirect
//! (`moved`); a simulated DSS node pushes and fetches in process (`transport`, `handle_git`).

// Handlers answer errors with a ready `Response`; boxing them would only add noise.
#![allow(clippy::result_large_err)]

mod admin;
mod auth;
mod gate;
mod handle_git;
mod limits;
mod moved;
mod protect;
mod pulls;
mod record;
mod reply;
mod routes_actions;
mod routes_compare;
mod routes_contents;
mod routes_gitdata;
mod routes_misc;
mod routes_org_actions;
mod routes_properties;
mod routes_protection;
mod routes_pulls;
mod routes_repos;
mod settings;
mod state;
mod transport;

pub use super::git::blob_sha;
pub use handle_git::PullView;
pub use protect::THROUGH_PR;
pub use record::{RequestRecord, TrafficCounters};
pub use routes_org_actions::OrgItemView;
pub use settings::{GithubSimSettings, SimApp, SimCustomProperty, SimToken};
pub use state::RepoView;
pub use transport::{GitHosts, Pushed, Refusal};

use axum::Router;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::oneshot;

/// Shared by every handler: the state behind one lock (short critical sections, no awaits).
pub(crate) struct Shared {
    pub(crate) base_url: String,
    pub(crate) state: Mutex<state::SimState>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, state::SimState> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// A running simulated GitHub.
pub struct RunningGithubSim {
    /// Base URL, e.g. `http://127.0.0.1:41234` (what a client uses as `api_url`).
    pub url: String,
    /// In-process access to the state, knobs and traffic records.
    pub handle: GithubSimHandle,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningGithubSim {
    /// Stops serving and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for RunningGithubSim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts the simulated GitHub on `bind` (port 0 picks a free port). `tokens` are the PATs it
/// accepts; GitHub Apps come from `settings.apps`.
pub async fn start(
    settings: GithubSimSettings,
    tokens: Vec<SimToken>,
    bind: SocketAddr,
) -> std::io::Result<RunningGithubSim> {
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}");
    let state = state::SimState::new(settings, tokens)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let shared = Arc::new(Shared {
        base_url: url.clone(),
        state: Mutex::new(state),
    });
    // `/repositories/{id}/…` is rewritten before the API routes it (see `moved`): the rewrite
    // is a layer of an outer router whose only service is the API router.
    let app = Router::new()
        .fallback_service(router(shared.clone()))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            moved::rewrite_by_id,
        ));
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stop_rx.await;
        });
        if let Err(e) = serve.await {
            tracing::warn!(error = %e, "simulated GitHub stopped");
        }
    });
    Ok(RunningGithubSim {
        url,
        handle: GithubSimHandle { shared },
        stop: Some(stop_tx),
        task,
    })
}

fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .merge(routes_repos::routes())
        .merge(routes_contents::routes())
        .merge(routes_gitdata::routes())
        .merge(routes_actions::routes())
        .merge(routes_protection::routes())
        .merge(routes_properties::routes())
        .merge(routes_misc::routes())
        .merge(routes_org_actions::routes())
        .merge(routes_compare::routes())
        .merge(routes_pulls::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            gate::gate,
        ))
        .fallback(reply::not_found_fallback);
    Router::new()
        .nest("/_sim/github", admin::routes())
        .merge(api)
        .with_state(shared)
}

/// In-process access to a running simulated GitHub, for tests, the benchmark and `--dev`.
#[derive(Clone)]
pub struct GithubSimHandle {
    shared: Arc<Shared>,
}

impl GithubSimHandle {
    /// A snapshot of one repo (`owner/name`, case-insensitive), secrets unsealed.
    pub fn repo(&self, full_name: &str) -> Option<RepoView> {
        self.shared.lock().repo_view(full_name)
    }
    /// Every repo's full name, sorted.
    pub fn repo_names(&self) -> Vec<String> {
        self.shared.lock().repo_names()
    }
    /// The files of a branch (path → content), `None` if the repo or branch does not exist.
    pub fn branch_files(
        &self,
        full_name: &str,
        branch: &str,
    ) -> Option<std::collections::BTreeMap<String, Vec<u8>>> {
        let st = self.shared.lock();
        let (o, n) = full_name.split_once('/')?;
        let r = st.repo(o, n)?;
        let files = r.branch_files(Some(branch))?;
        Some(
            files
                .iter()
                .map(|(p, sha)| {
                    (
                        p.clone(),
                        r.objects.blobs.get(sha).cloned().unwrap_or_default(),
                    )
                })
                .collect(),
        )
    }

    /// The unsealed value of an Actions secret.
    pub fn secret_value(&self, full_name: &str, secret: &str) -> Option<String> {
        self.repo(full_name)
            .and_then(|r| r.secrets.get(secret).map(|s| s.value.clone()))
    }
    /// Traffic counters since start (or the last reset).
    pub fn counters(&self) -> TrafficCounters {
        self.shared.lock().record.counters.clone()
    }
    /// The most recent requests (oldest first).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().record.log.iter().cloned().collect()
    }
    /// Clears the request log and counters.
    pub fn reset_counters(&self) {
        self.shared.lock().record.reset();
    }
    /// Current knobs and limits.
    pub fn settings(&self) -> GithubSimSettings {
        self.shared.lock().settings.clone()
    }
    /// Changes knobs and limits while running.
    pub fn update_settings(&self, f: impl FnOnce(&mut GithubSimSettings)) {
        let mut st = self.shared.lock();
        f(&mut st.settings);
    }
    /// Adds a PAT.
    pub fn add_token(&self, token: SimToken) {
        self.shared.lock().auth.add_pat(token);
    }
    /// Revokes a PAT now (its next use gets 401 `Bad credentials`); false if unknown.
    pub fn revoke_token(&self, token: &str) -> bool {
        self.shared.lock().auth.revoke_pat(token)
    }
    /// Expires every installation token now (the next use gets 401).
    pub fn expire_installation_tokens(&self) {
        self.shared.lock().auth.expire_installation_tokens();
    }
    /// Someone edits a file on GitHub (a commit on `branch`, default branch if `None`).
    pub fn edit_file(
        &self,
        full_name: &str,
        branch: Option<&str>,
        path: &str,
        content: &[u8],
    ) -> bool {
        self.shared
            .lock()
            .edit_file(full_name, branch, path, content)
    }
    /// Someone changes a variable's value on GitHub (creates it if missing).
    pub fn set_variable(&self, full_name: &str, name: &str, value: &str) -> bool {
        self.shared.lock().set_variable(full_name, name, value)
    }
    /// Someone deletes a variable on GitHub.
    pub fn delete_variable(&self, full_name: &str, name: &str) -> bool {
        self.shared.lock().delete_variable(full_name, name)
    }
    /// Someone re-sets a secret on GitHub (its `updated_at` moves).
    pub fn overwrite_secret(&self, full_name: &str, name: &str, value: &str) -> bool {
        self.shared.lock().overwrite_secret(full_name, name, value)
    }
    /// Someone removes branch protection.
    pub fn remove_protection(&self, full_name: &str, branch: &str) -> bool {
        self.shared.lock().remove_protection(full_name, branch)
    }
    /// Someone archives or unarchives the repo.
    pub fn set_archived(&self, full_name: &str, archived: bool) -> bool {
        self.shared.lock().set_archived(full_name, archived)
    }
    /// Creates a repo directly (as if made by hand), with an initial commit.
    pub fn create_repo_directly(&self, org: &str, name: &str) -> bool {
        self.shared.lock().create_repo_directly(org, name)
    }
    /// An organisation owner sets (`Some`) or unsets a custom property value on a repo, as
    /// in the repo's settings page (no definition check: tests may set anything).
    pub fn set_custom_property(&self, full_name: &str, name: &str, value: Option<&str>) -> bool {
        self.shared
            .lock()
            .with_repo(full_name, |r| {
                match value {
                    Some(v) => r
                        .custom_properties
                        .insert(name.to_string(), serde_json::Value::String(v.to_string())),
                    None => r.custom_properties.remove(name),
                };
                r.updated_at = chrono::Utc::now();
            })
            .is_some()
    }
    /// Someone replaces the repo's topics in its settings page.
    pub fn set_topics(&self, full_name: &str, topics: &[&str]) -> bool {
        self.shared
            .lock()
            .with_repo(full_name, |r| {
                r.topics = topics.iter().map(|t| t.to_string()).collect();
                r.updated_at = chrono::Utc::now();
            })
            .is_some()
    }
}
