//! Prometheus metrics, `fleet_*`: base units, `_total` counters, `_seconds` histograms, one
//! info-style gauge per managed repo carrying its sync and drift status as labels.

use crate::github::RequestStats;
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Every fleetsync metric, registered in one registry.
pub struct Metrics {
    registry: Registry,
    /// Projects discovered, per DSS node.
    pub projects_discovered: IntGaugeVec,
    /// Whether the last discovery of a node succeeded (1) or not (0).
    pub discovery_up: IntGaugeVec,
    /// DSS discovery errors, per node and cause.
    pub discovery_errors: IntCounterVec,
    /// Managed repos by status.
    pub repos_managed: IntGaugeVec,
    /// One series per repo, value 1, with sync and drift status labels.
    pub repo_info: IntGaugeVec,
    /// `fleet_repo_removal_due_timestamp_seconds{repo, action}`: when the grace period of a
    /// repo whose source is gone ends.
    pub removal_due: IntGaugeVec,
    /// `fleet_suspended{repo}`: 1 while `fleetctl suspend` holds the fleet (`repo=""`) or a
    /// repo; no GitHub writes for it then.
    pub suspended: IntGaugeVec,
    /// Drift events by resource kind.
    pub drift_events: IntCounterVec,
    /// Reconcile runs by trigger and outcome.
    pub runs: IntCounterVec,
    /// Reconcile duration.
    pub run_duration: HistogramVec,
    /// Apply steps by action and outcome.
    pub apply_steps: IntCounterVec,
    /// GitHub requests by method, route and status.
    pub github_requests: IntCounterVec,
    /// Primary rate limit remaining.
    pub rate_limit_remaining: IntGauge,
    /// Primary rate limit used.
    pub rate_limit_used: IntGauge,
    /// Deletions the guard refused, by reason.
    pub guard_blocked: IntCounterVec,
    /// Repos that failed before or during their apply, by stage and cause.
    pub repo_errors: IntCounterVec,
    /// Repos left alone because they are not this install's (no marker, another owner's),
    /// by cause.
    pub ownership_conflicts: IntCounterVec,
    /// Whether the last run could reach GitHub (1) or not (0).
    pub github_up: IntGauge,
    /// Unix time of the last successful run.
    pub last_success: Gauge,
    /// Whether a run is in progress.
    pub run_in_progress: IntGauge,
    /// The loaded config's hash (one series, value 1).
    pub config_info: IntGaugeVec,
    /// Unix time at which the running config was loaded.
    pub config_loaded: Gauge,
    /// 1 when the last reload (SIGHUP) took the new config, 0 when it was refused.
    pub config_reload_ok: IntGauge,
    /// Reloads, by outcome (`applied`, `refused`).
    pub config_reloads: IntCounterVec,
    /// Per GitHub client (see [`RequestStats::id`]): the counts already added.
    seen_requests: Mutex<Vec<(u64, RouteCounts)>>,
}

type RouteCounts = BTreeMap<(String, String, u16), u64>;

/// Clients whose counts are remembered (the current one, and one still running after a
/// reload replaced it, with room to spare).
const CLIENTS_REMEMBERED: usize = 4;

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn counter(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn gauge_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntGaugeVec> {
    let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> prometheus::Result<Self> {
        let r = Registry::new();
        let run_duration = HistogramVec::new(
            HistogramOpts::new(
                "fleet_reconcile_duration_seconds",
                "Wall time of reconcile runs.",
            )
            .buckets(vec![
                0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0,
            ]),
            &["trigger"],
        )?;
        r.register(Box::new(run_duration.clone()))?;
        let rate_limit_remaining = IntGauge::new(
            "fleet_github_rate_limit_remaining",
            "GitHub primary rate limit remaining, from the last response.",
        )?;
        r.register(Box::new(rate_limit_remaining.clone()))?;
        let rate_limit_used = IntGauge::new(
            "fleet_github_rate_limit_used",
            "GitHub primary rate limit used in the current window, from the last response.",
        )?;
        r.register(Box::new(rate_limit_used.clone()))?;
        let last_success = Gauge::new(
            "fleet_last_successful_reconcile_timestamp_seconds",
            "Unix time at which the last successful reconcile run ended.",
        )?;
        r.register(Box::new(last_success.clone()))?;
        let run_in_progress = IntGauge::new(
            "fleet_reconcile_in_progress",
            "1 while a reconcile run is in progress.",
        )?;
        r.register(Box::new(run_in_progress.clone()))?;
        let github_up = IntGauge::new(
            "fleet_github_up",
            "1 if the last run could read from GitHub, 0 if every read failed (unreachable, 5xx, bad token).",
        )?;
        r.register(Box::new(github_up.clone()))?;
        let config_loaded = Gauge::new(
            "fleet_config_loaded_timestamp_seconds",
            "Unix time at which fleetd loaded the config it runs.",
        )?;
        r.register(Box::new(config_loaded.clone()))?;
        let config_reload_ok = IntGauge::new(
            "fleet_config_last_reload_successful",
            "1 if the last config reload (SIGHUP) was applied, 0 if the new config was refused.",
        )?;
        r.register(Box::new(config_reload_ok.clone()))?;
        config_reload_ok.set(1);
        gauge_vec(
            &r,
            "fleet_build_info",
            "The fleetd build (value 1): version, git commit and build date.",
            &["version", "commit", "built"],
        )?
        .with_label_values(&[
            crate::build_info::VERSION,
            crate::build_info::COMMIT,
            crate::build_info::BUILD_DATE,
        ])
        .set(1);
        Ok(Metrics {
            config_info: gauge_vec(
                &r,
                "fleet_config_info",
                "The config fleetd runs (value 1): SHA-256 of the file and its templates.",
                &["hash"],
            )?,
            config_loaded,
            config_reload_ok,
            config_reloads: counter(
                &r,
                "fleet_config_reloads_total",
                "Config reloads asked for with SIGHUP, by outcome (applied, refused).",
                &["outcome"],
            )?,
            github_up,
            repo_errors: counter(
                &r,
                "fleet_repo_errors_total",
                "Repos that failed in a run, by pipeline stage and cause.",
                &["stage", "cause"],
            )?,
            ownership_conflicts: counter(
                &r,
                "fleet_ownership_conflicts_total",
                "Repos not written to because they do not carry this install's ownership marker, by cause.",
                &["cause"],
            )?,
            projects_discovered: gauge_vec(
                &r,
                "fleet_projects_discovered",
                "DSS projects discovered (after filters) in the last successful discovery.",
                &["node", "kind"],
            )?,
            discovery_up: gauge_vec(
                &r,
                "fleet_dss_discovery_up",
                "1 if the last discovery of the node succeeded, else 0.",
                &["node"],
            )?,
            discovery_errors: counter(
                &r,
                "fleet_dss_discovery_errors_total",
                "Failed or untrusted DSS discoveries.",
                &["node", "cause"],
            )?,
            repos_managed: gauge_vec(
                &r,
                "fleet_repos_managed",
                "Managed repos by status.",
                &["status"],
            )?,
            repo_info: gauge_vec(
                &r,
                "fleet_repo_info",
                "One series per managed repo (value 1) with its sync and drift status.",
                &["repo", "source", "sync_status", "drift_status"],
            )?,
            removal_due: gauge_vec(
                &r,
                "fleet_repo_removal_due_timestamp_seconds",
                "Repos whose DSS project or plugin is gone: when the grace period ends and the deletion policy's action (archive, delete, orphan) falls due.",
                &["repo", "action"],
            )?,
            suspended: gauge_vec(
                &r,
                "fleet_suspended",
                "1 while fleetctl suspend holds the whole fleet (repo=\"\") or one repo: no GitHub writes for it.",
                &["repo"],
            )?,
            drift_events: counter(
                &r,
                "fleet_drift_events_total",
                "Drift events seen, by resource kind.",
                &["kind"],
            )?,
            runs: counter(
                &r,
                "fleet_reconcile_runs_total",
                "Reconcile runs, by trigger and outcome.",
                &["trigger", "outcome"],
            )?,
            run_duration,
            apply_steps: counter(
                &r,
                "fleet_apply_steps_total",
                "Apply steps, by action and outcome.",
                &["action", "outcome"],
            )?,
            github_requests: counter(
                &r,
                "fleet_github_requests_total",
                "GitHub requests, by method, route template and status (0: no response).",
                &["method", "route", "status"],
            )?,
            rate_limit_remaining,
            rate_limit_used,
            guard_blocked: counter(
                &r,
                "fleet_deletion_guard_blocked_total",
                "Archive/delete steps the deletion guard held back, by reason.",
                &["reason"],
            )?,
            last_success,
            run_in_progress,
            registry: r,
            seen_requests: Mutex::new(Vec::new()),
        })
    }

    /// Brings the GitHub request counters and rate-limit gauges up to date from a client's
    /// stats (counters only ever grow by the difference since the last call for that client;
    /// a new client, e.g. after a config reload, adds all of its own counts).
    pub fn observe_github(&self, stats: &RequestStats) {
        let now = stats.by_route();
        let mut clients = match self.seen_requests.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let idx = match clients.iter().position(|(id, _)| *id == stats.id()) {
            Some(i) => i,
            None => {
                if clients.len() >= CLIENTS_REMEMBERED {
                    clients.remove(0);
                }
                clients.push((stats.id(), RouteCounts::new()));
                clients.len() - 1
            }
        };
        let seen = &mut clients[idx].1;
        for (key, count) in now {
            let before = seen.get(&key).copied().unwrap_or(0);
            if count > before {
                let (method, route, status) = &key;
                self.github_requests
                    .with_label_values(&[
                        method.as_str(),
                        route.as_str(),
                        status.to_string().as_str(),
                    ])
                    .inc_by(count - before);
            }
            seen.insert(key, count);
        }
        let snap = stats.snapshot();
        if snap.remaining >= 0 {
            self.rate_limit_remaining.set(snap.remaining);
        }
        if snap.used >= 0 {
            self.rate_limit_used.set(snap.used);
        }
    }

    /// Records the config now running: its hash and load time.
    pub fn config_loaded(&self, hash: &str, at: chrono::DateTime<chrono::Utc>) {
        self.config_info.reset();
        self.config_info.with_label_values(&[hash]).set(1);
        self.config_loaded
            .set(at.timestamp_millis() as f64 / 1000.0);
    }

    /// Shows what is suspended: the fleet (`repo=""`, always present, 0 or 1) and each
    /// suspended repo.
    pub fn suspension(&self, s: &crate::store::Suspension) {
        self.suspended.reset();
        self.suspended
            .with_label_values(&[""])
            .set(i64::from(s.fleet.is_some()));
        for repo in s.repos.keys() {
            self.suspended.with_label_values(&[repo.as_str()]).set(1);
        }
    }

    /// Records the outcome of a reload.
    pub fn config_reloaded(&self, applied: bool) {
        self.config_reload_ok.set(i64::from(applied));
        self.config_reloads
            .with_label_values(&[if applied { "applied" } else { "refused" }])
            .inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let families = self.registry.gather();
        if TextEncoder::new().encode(&families, &mut buf).is_err() {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_fleet_metrics() {
        let m = Metrics::new().unwrap();
        m.runs.with_label_values(&["api", "succeeded"]).inc();
        m.repo_info
            .with_label_values(&["dss-a", "project:design/A", "in_sync", "none"])
            .set(1);
        let text = m.render();
        assert!(
            text.contains("fleet_reconcile_runs_total{outcome=\"succeeded\",trigger=\"api\"} 1")
        );
        assert!(text.contains("fleet_repo_info{"));
    }

    #[test]
    fn a_replaced_github_client_adds_all_its_requests() {
        let m = Metrics::new().unwrap();
        let count = |m: &Metrics| {
            m.github_requests
                .with_label_values(&["GET", "/orgs/{org}/repos", "200"])
                .get()
        };
        let old = RequestStats::new();
        for _ in 0..5 {
            old.record("GET", "/orgs/{org}/repos", 200, false);
        }
        m.observe_github(&old);
        m.observe_github(&old);
        assert_eq!(count(&m), 5);
        // After a reload: a new client with fewer requests of its own, while the old one
        // still finishes a run; both are counted, once each.
        let new = RequestStats::new();
        for _ in 0..3 {
            new.record("GET", "/orgs/{org}/repos", 200, false);
        }
        m.observe_github(&new);
        old.record("GET", "/orgs/{org}/repos", 200, false);
        m.observe_github(&old);
        m.observe_github(&new);
        assert_eq!(count(&m), 9);
    }
}
