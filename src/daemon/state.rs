//! [`AppState`]: what the daemon's parts share — the store, metrics, discovery health, run
//! control, the schedule, and the loaded config with the engine built from it ([`Loaded`]),
//! which a reload replaces whole. The API handlers, the run loop and the signal handling all
//! work through it; nothing is wired with closures.

use super::control::{RunControl, Trigger};
use super::plans::{PlanError, PlanGate};
use super::schedule::Schedule;
use crate::api::Health;
use crate::config::{Config, SecretValue};
use crate::metrics::Metrics;
use crate::plan::{render_json, render_text, render_text_with, TextOptions};
use crate::reconcile::{Engine, Progress, ProgressFn, RunOptions, RunStatus, SetupError};
use crate::store::{RunCounts, Store};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::watch;

/// A config as the daemon runs it: the config, the engine built from it, the API token read
/// from it, and when it was loaded.
pub struct Loaded {
    /// The config.
    pub config: Arc<Config>,
    /// The engine (clients with their credentials) built from it.
    pub engine: Arc<Engine>,
    /// The bearer token POSTs need; `None` refuses every POST.
    pub token: Option<SecretValue>,
    /// When it was loaded.
    pub loaded_at: DateTime<Utc>,
}

impl Loaded {
    /// Builds the engine and reads the API token of a config (already validated).
    pub fn build(
        config: Arc<Config>,
        store: &Store,
        metrics: &Arc<Metrics>,
        health: &Arc<Health>,
    ) -> Result<Loaded, SetupError> {
        let token = match &config.raw.daemon.api_token {
            Some(src) => {
                Some(
                    src.read(&config.base_dir)
                        .map_err(|source| SetupError::Credential {
                            key: "daemon.api_token".into(),
                            source,
                        })?,
                )
            }
            None => None,
        };
        let engine = Engine::new(
            config.clone(),
            store.clone(),
            Some(metrics.clone()),
            Some(health.clone()),
        )?;
        Ok(Loaded {
            config,
            engine: Arc::new(engine),
            token,
            loaded_at: Utc::now(),
        })
    }
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// How it ended.
    pub status: RunStatus,
    /// Step counts by `action/outcome`.
    pub counts: RunCounts,
    /// GitHub requests sent.
    pub requests: i64,
    /// Primary rate-limit points charged.
    pub points: i64,
    /// One-line summary.
    pub summary: String,
    /// Why it failed.
    pub error: Option<String>,
}

/// The outcome of the last reload.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReloadRecord {
    /// When it was asked for.
    pub at: DateTime<Utc>,
    /// Whether the new config was taken.
    pub applied: bool,
    /// Why it was refused, or what only a restart changes.
    pub message: Option<String>,
}

/// Shared by the API, the run loop and the signal handling. Clones share everything.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    control: RunControl,
    loaded: RwLock<Arc<Loaded>>,
    running: Mutex<Option<Arc<Loaded>>>,
    last_reload: Mutex<Option<ReloadRecord>>,
    plans: PlanGate,
    schedule: Schedule,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl AppState {
    /// The daemon's state around a first loaded config.
    pub fn new(loaded: Loaded, store: Store, metrics: Arc<Metrics>, health: Arc<Health>) -> Self {
        metrics.config_loaded(&loaded.config.hash, loaded.loaded_at);
        match store.suspension() {
            Ok(s) => metrics.suspension(&s),
            Err(e) => {
                tracing::warn!(error = %e, "suspension gauge not set: the state file cannot be read")
            }
        }
        loaded.engine.update_repo_metrics();
        AppState {
            inner: Arc::new(Inner {
                store,
                metrics,
                health,
                control: RunControl::new(),
                loaded: RwLock::new(Arc::new(loaded)),
                running: Mutex::new(None),
                last_reload: Mutex::new(None),
                plans: PlanGate::default(),
                schedule: Schedule::default(),
            }),
        }
    }

    /// The state file.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// Discovery health per DSS node.
    pub fn health(&self) -> &Arc<Health> {
        &self.inner.health
    }

    /// Run control (the queue of runs).
    pub fn control(&self) -> &RunControl {
        &self.inner.control
    }

    /// The cron schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.inner.schedule
    }

    /// The config running now (runs and plans that start from now on use it).
    pub fn loaded(&self) -> Arc<Loaded> {
        match self.inner.loaded.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub(super) fn swap(&self, new: Loaded) -> Arc<Loaded> {
        let new = Arc::new(new);
        let mut g = match self.inner.loaded.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        std::mem::replace(&mut *g, new)
    }

    pub(super) fn record_reload(&self, r: ReloadRecord) {
        *lock(&self.inner.last_reload) = Some(r);
    }

    /// The bearer token POSTs need (from the running config).
    pub fn token(&self) -> Option<SecretValue> {
        self.loaded().token.clone()
    }

    /// The running config, for `/api/v1/status`: path, hash, load time, last reload.
    pub fn config_status(&self) -> Value {
        let l = self.loaded();
        json!({
            "path": l.config.path.display().to_string(),
            "hash": l.config.hash,
            "loaded_at": l.loaded_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "last_reload": *lock(&self.inner.last_reload),
        })
    }

    /// Brings the GitHub request metrics up to date (the running config's client, and the
    /// one of a run still going on a config a reload replaced).
    pub fn scrape(&self) {
        let m = &self.inner.metrics;
        m.observe_github(self.loaded().engine.github().stats());
        if let Some(r) = lock(&self.inner.running).as_ref() {
            m.observe_github(r.engine.github().stats());
        }
    }

    /// Runs the reconcile for `run_id` with the running config; stops at the next checkpoint
    /// once `cancel` is true.
    pub async fn run(
        &self,
        run_id: i64,
        trigger: &Trigger,
        cancel: watch::Receiver<bool>,
    ) -> RunResult {
        let loaded = self.loaded();
        *lock(&self.inner.running) = Some(loaded.clone());
        let store = self.inner.store.clone();
        let progress: ProgressFn = Arc::new(move |p: &Progress| {
            if let Err(e) =
                store.update_run_progress(run_id, &p.counts, p.requests as i64, p.charged as i64)
            {
                tracing::warn!(run = run_id, error = %e, "cannot record the run's progress");
            }
            if let Err(e) =
                store.set_run_phase(run_id, &format!("{} {}/{}", p.phase, p.done, p.total))
            {
                tracing::warn!(run = run_id, error = %e, "cannot record the run's phase");
            }
        });
        let report = loaded
            .engine
            .run(RunOptions {
                run_id: Some(run_id),
                dry_run: false,
                projects: trigger.projects.clone(),
                progress: Some(progress),
                cancel: Some(cancel),
                adopt: Vec::new(),
                saved: None,
            })
            .await;
        *lock(&self.inner.running) = None;
        RunResult {
            status: report.status,
            counts: report.counts.clone(),
            requests: report.requests as i64,
            points: report.charged as i64,
            summary: report.summary.clone(),
            error: report.error.clone(),
        }
    }

    /// A dry run for `POST /api/v1/plan`. One at a time: a request that arrives while a plan
    /// for the same projects is being made is answered by the next plan that starts after
    /// it arrived, so N concurrent requests cost at most two observations of the fleet.
    pub async fn plan(&self, projects: Vec<String>) -> Result<Value, PlanError> {
        self.inner
            .plans
            .plan(projects, |projects| async move {
                let loaded = self.loaded();
                let report = loaded
                    .engine
                    .run(RunOptions {
                        dry_run: true,
                        projects,
                        ..Default::default()
                    })
                    .await;
                if let (RunStatus::Failed, Some(e)) = (report.status, &report.error) {
                    return Err(PlanError {
                        bad_request: report.cause == Some("unknown_project"),
                        message: e.clone(),
                    });
                }
                let whole = TextOptions { diff_lines: None };
                Ok(json!({
                    "text": render_text(&report.plan),
                    "text_whole_diffs": render_text_with(&report.plan, whole),
                    "plan": render_json(&report.plan),
                    "config_hash": loaded.config.hash,
                }))
            })
            .await
    }
}
