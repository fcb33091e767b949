//! The run's one observer: everything a run tells the outside world while it runs — the
//! Prometheus metrics and the readiness health — behind one always-present value, so the
//! phases never branch on whether a daemon is listening.

use crate::api::Health;
use crate::apply::RepoResult;
use crate::dss::UnknownCause;
use crate::github::RequestStats;
use crate::metrics::Metrics;
use crate::plan::{RepoPlan, Stage};
use crate::store::Store;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Metrics and health, each optional inside (a `fleetctl plan` has neither).
#[derive(Clone, Default)]
pub struct RunObserver {
    metrics: Option<Arc<Metrics>>,
    health: Option<Arc<Health>>,
}

/// The statuses the per-status repo gauge always carries (zero when none).
const REPO_STATUSES: [&str; 7] = [
    "synced", "error", "drifted", "archived", "deleted", "orphaned", "conflict",
];

impl RunObserver {
    pub fn new(metrics: Option<Arc<Metrics>>, health: Option<Arc<Health>>) -> Self {
        RunObserver { metrics, health }
    }

    fn discovered(&self, node: &str, projects: usize, plugins: usize) {
        if let Some(m) = &self.metrics {
            m.projects_discovered
                .with_label_values(&[node, "project"])
                .set(projects as i64);
            m.projects_discovered
                .with_label_values(&[node, "plugin"])
                .set(plugins as i64);
        }
    }

    /// A node listed a plausible inventory.
    pub fn node_known(&self, node: &str, projects: usize, plugins: usize) {
        if let Some(h) = &self.health {
            h.set(node, Ok(projects + plugins));
        }
        if let Some(m) = &self.metrics {
            m.discovery_up.with_label_values(&[node]).set(1);
        }
        self.discovered(node, projects, plugins);
    }

    /// A node listed far fewer objects than last time: creates go on, removals are blocked.
    pub fn node_dropped(&self, node: &str, reason: &str, projects: usize, plugins: usize) {
        if let Some(h) = &self.health {
            h.set(node, Err(reason.to_string()));
        }
        if let Some(m) = &self.metrics {
            m.discovery_up.with_label_values(&[node]).set(0);
            m.discovery_errors
                .with_label_values(&[node, "suspicious_drop"])
                .inc();
        }
        self.discovered(node, projects, plugins);
    }

    /// A node's inventory is unknown this run.
    pub fn node_unknown(&self, node: &str, reason: &str, cause: UnknownCause) {
        if let Some(h) = &self.health {
            h.set(node, Err(reason.to_string()));
        }
        if let Some(m) = &self.metrics {
            m.discovery_up.with_label_values(&[node]).set(0);
            m.discovery_errors
                .with_label_values(&[node, cause.as_str()])
                .inc();
        }
    }

    /// A repo failed in `stage` for `cause`.
    pub fn repo_failed(&self, stage: Stage, cause: &str) {
        if let Some(m) = &self.metrics {
            m.repo_errors
                .with_label_values(&[stage.as_str(), cause])
                .inc();
        }
    }

    /// A repo that is not this install's was left alone.
    pub fn conflict(&self, cause: &str) {
        if let Some(m) = &self.metrics {
            m.ownership_conflicts.with_label_values(&[cause]).inc();
        }
    }

    /// A node's dev-plugin listing is not trusted for removals this run (its projects are).
    pub fn plugins_unknown(&self, node: &str, _reason: &str) {
        if let Some(m) = &self.metrics {
            m.discovery_errors
                .with_label_values(&[node, "plugin_listing"])
                .inc();
        }
    }

    /// Whether GitHub answered this run's reads (`Err(why)` when none succeeded).
    pub fn github_reachable(&self, outcome: Result<(), String>) {
        if let Some(m) = &self.metrics {
            m.github_up.set(i64::from(outcome.is_ok()));
        }
        if let Some(h) = &self.health {
            h.set_github(outcome);
        }
    }

    /// The drift findings of one repo's plan.
    pub fn drift(&self, plan: &RepoPlan) {
        if let Some(m) = &self.metrics {
            for d in &plan.drift {
                m.drift_events.with_label_values(&[d.kind.as_str()]).inc();
            }
        }
    }

    /// The steps one repo's apply ran.
    pub fn steps(&self, result: &RepoResult) {
        if let Some(m) = &self.metrics {
            for s in &result.results {
                m.apply_steps
                    .with_label_values(&[s.step.action.as_str(), s.outcome.as_str()])
                    .inc();
            }
        }
    }

    /// Removals the guard refused. The grace period is a wait, not a refusal, and an unknown
    /// discovery has its own metric and alert (one cause, one alert).
    pub fn guard_blocks(&self, reasons: &[&'static str]) {
        if let Some(m) = &self.metrics {
            for r in reasons
                .iter()
                .filter(|r| !matches!(**r, "grace_period" | "unknown_discovery"))
            {
                m.guard_blocked.with_label_values(&[r]).inc();
            }
        }
    }

    /// GitHub's request counters and rate limit.
    pub fn github(&self, stats: &RequestStats) {
        if let Some(m) = &self.metrics {
            m.observe_github(stats);
        }
    }

    /// Refreshes the per-repo gauges from the store. A store that cannot be read leaves
    /// the gauges as they were and says so: the run's own status carries the failure.
    pub fn repos(&self, store: &Store) {
        let Some(m) = &self.metrics else { return };
        let repos = match store.list_repos() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "repo gauges not refreshed: the state file cannot be read");
                return;
            }
        };
        m.repo_info.reset();
        m.repos_managed.reset();
        let mut by_status: BTreeMap<String, i64> = BTreeMap::new();
        for r in &repos {
            *by_status.entry(r.status.clone()).or_default() += 1;
            let drift = if r.drifted { "drifted" } else { "none" };
            let source = format!("{}:{}/{}", r.source_kind, r.node, r.source_key);
            m.repo_info
                .with_label_values(&[&r.name, &source, &r.status, drift])
                .set(1);
        }
        for s in REPO_STATUSES {
            m.repos_managed
                .with_label_values(&[s])
                .set(by_status.get(s).copied().unwrap_or(0));
        }
    }
}
