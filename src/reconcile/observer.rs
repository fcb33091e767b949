//! The run's one observer: everything a run tells the outside world while it runs — the
//! Prometheus metrics and the readiness health — behind one always-present value, so the
//! phases never branch on whether a daemon is listening.

use crate::api::{Health, NodeCounts};
use crate::apply::RepoResult;
use crate::config::DeletionPolicy;
use crate::dss::UnknownCause;
use crate::github::RequestStats;
use crate::guard::pending_removal;
use crate::metrics::Metrics;
use crate::plan::{RepoPlan, Stage};
use crate::store::{Store, Tombstone};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Metrics and health, each optional inside (a `fleetctl plan` has neither).
#[derive(Clone, Default)]
pub struct RunObserver {
    metrics: Option<Arc<Metrics>>,
    health: Option<Arc<Health>>,
}

/// The statuses the per-status repo gauge always carries (zero when none).
const REPO_STATUSES: [&str; 8] = [
    "synced",
    "error",
    "drifted",
    PENDING_REMOVAL,
    "archived",
    "deleted",
    "orphaned",
    "conflict",
];

/// The status shown for a managed repo whose source is gone (until the guard removes it).
pub const PENDING_REMOVAL: &str = "pending-removal";

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
    pub fn node_known(&self, node: &str, counts: NodeCounts) {
        if let Some(h) = &self.health {
            h.set(node, Ok(counts));
        }
        if let Some(m) = &self.metrics {
            m.discovery_up.with_label_values(&[node]).set(1);
        }
        self.discovered(node, counts.projects, counts.plugins);
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

    /// Refreshes the repo gauges from the store: counts by status (a live repo whose source
    /// is gone counts as `pending-removal`, not by its last recorded status), one info series
    /// per repo (its recorded status), and the time each pending removal falls due.
    pub fn repos(&self, store: &Store, policy: DeletionPolicy, grace: chrono::Duration) {
        let Some(m) = &self.metrics else { return };
        let (repos, tombstones) = match store
            .list_repos()
            .and_then(|r| Ok((r, store.list_tombstones()?)))
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "repo gauges not refreshed: the state file cannot be read");
                return;
            }
        };
        let tombstones: BTreeMap<&str, &Tombstone> =
            tombstones.iter().map(|t| (t.repo.as_str(), t)).collect();
        m.repo_info.reset();
        m.repos_managed.reset();
        m.removal_due.reset();
        let mut by_status: BTreeMap<String, i64> = BTreeMap::new();
        for r in &repos {
            let pending =
                pending_removal(r, tombstones.get(r.name.as_str()).copied(), policy, grace);
            let status = match &pending {
                Some(p) => {
                    let due = chrono::DateTime::parse_from_rfc3339(&p.due_at)
                        .map(|d| d.timestamp())
                        .unwrap_or(0);
                    m.removal_due
                        .with_label_values(&[r.name.as_str(), p.action])
                        .set(due);
                    PENDING_REMOVAL
                }
                None => r.status.as_str(),
            };
            *by_status.entry(status.to_string()).or_default() += 1;
            let drift = if r.drifted { "drifted" } else { "none" };
            let source = format!("{}:{}/{}", r.source_kind, r.node, r.source_key);
            // The info series keeps the recorded status (an error on a repo being removed
            // still fires its alert); the due time has its own gauge.
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
