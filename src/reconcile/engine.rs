//! The engine: holds the config, the store, the GitHub client and the DSS clients, and runs
//! one reconcile (or a dry run that stops after the plan).

use super::{record, sources};
use crate::api::Health;
use crate::apply::{apply_repo, ApplyContext, RepoResult};
use crate::config::{Config, GithubAuth};
use crate::daemon::{RunEngine, RunResult, Trigger};
use crate::desired::{self, RepoSpec};
use crate::dss::{Discovery, DssClient};
use crate::github::{GithubAuthSecret, GithubClient, GithubOptions};
use crate::guard::{guard, GuardInput};
use crate::metrics::Metrics;
use crate::observe::{observe, ObservedRepo};
use crate::plan::{self, Blocked, LastApplied, Plan, RepoPlan};
use crate::store::{RunCounts, Store};
use futures::future::BoxFuture;
use futures::StreamExt;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

/// Where a run is.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    /// `discover`, `observe`, `plan`, `apply`, `record`, `done`.
    pub phase: &'static str,
    pub done: usize,
    pub total: usize,
    pub counts: RunCounts,
}

/// Called as a run progresses.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// How to run.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// The run row (for the journal and records); `None` for ad-hoc runs.
    pub run_id: Option<i64>,
    /// Stop after the plan; write nothing to GitHub and record nothing.
    pub dry_run: bool,
    /// Limit to these project keys / plugin ids (nothing is removed in such a run).
    pub projects: Vec<String>,
    pub progress: Option<ProgressFn>,
    pub cancel: Option<watch::Receiver<bool>>,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// `succeeded`, `partial`, `failed`, `interrupted`, `planned`.
    pub status: String,
    pub plan: Plan,
    pub results: Vec<RepoResult>,
    /// `action/outcome` → count.
    pub counts: RunCounts,
    /// GitHub requests sent, and those charged to the primary limit.
    pub requests: u64,
    pub charged: u64,
    pub rate_limited: u64,
    pub repos: usize,
    pub duration_seconds: f64,
    pub summary: String,
    pub error: Option<String>,
}

/// One repo observed and planned, or why it could not be.
type Observed = Result<(ObservedRepo, LastApplied, RepoPlan), String>;

/// One configured fleet.
pub struct Engine {
    config: Arc<Config>,
    store: Store,
    gh: GithubClient,
    dss: Vec<DssClient>,
    metrics: Option<Arc<Metrics>>,
    health: Option<Arc<Health>>,
}

fn github_options(config: &Config) -> Result<GithubOptions, String> {
    let gh = &config.raw.github;
    let auth = match &gh.auth {
        GithubAuth::Pat(src) => GithubAuthSecret::Pat(
            src.read(&config.base_dir)
                .map_err(|e| format!("github.auth.pat: {e}"))?,
        ),
        GithubAuth::App(app) => GithubAuthSecret::App {
            app_id: app.app_id,
            installation_id: app.installation_id,
            private_key_pem: app
                .private_key
                .read(&config.base_dir)
                .map_err(|e| format!("github.auth.app.private_key: {e}"))?,
        },
    };
    let p = &config.raw.pacing;
    let mut o = GithubOptions::new(gh.api_url.get_ref().clone(), auth);
    o.max_in_flight = p.max_in_flight.max(1);
    o.writes_per_minute = p.writes_per_minute;
    o.writes_per_hour = p.writes_per_hour;
    o.request_timeout = p.request_timeout.0;
    o.max_attempts = p.max_attempts.max(1);
    Ok(o)
}

impl Engine {
    /// Builds the clients (reading the GitHub and DSS credentials).
    pub fn new(
        config: Arc<Config>,
        store: Store,
        metrics: Option<Arc<Metrics>>,
        health: Option<Arc<Health>>,
    ) -> Result<Engine, String> {
        let gh = GithubClient::new(github_options(&config)?, Some(store.clone()))
            .map_err(|e| e.to_string())?;
        let dss = sources::clients(&config)?;
        Ok(Engine {
            config,
            store,
            gh,
            dss,
            metrics,
            health,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn github(&self) -> &GithubClient {
        &self.gh
    }

    fn last_applied(&self, repo: &str) -> LastApplied {
        let mut l = LastApplied::default();
        if let Ok(rs) = self.store.list_resources(Some(repo)) {
            for r in rs {
                l.by_address
                    .insert(r.address, (r.applied_fp, r.remote_updated_at));
            }
        }
        l
    }

    async fn observe_one(
        &self,
        i: usize,
        spec: &RepoSpec,
        mode: crate::config::DriftMode,
    ) -> (usize, Observed) {
        let last = self.last_applied(&spec.full_name());
        let r = observe(&self.gh, spec).await.map(|obs| {
            let p = plan::plan_repo(spec, &obs, &last, mode);
            (obs, last, p)
        });
        (i, r.map_err(|e| e.to_string()))
    }

    /// The suspicious-drop rule: `Some(reason)` when node's listing of `listed` projects lost
    /// more than `max_listing_drop` of the last accepted listing (kept in the store's meta).
    fn suspicious_drop(&self, node: &str, listed: usize) -> Option<String> {
        let max_drop = self
            .config
            .raw
            .dss
            .iter()
            .find(|n| n.name == node)
            .map(|n| n.max_listing_drop)?;
        if max_drop >= 1.0 {
            return None;
        }
        let prev: usize = self
            .store
            .meta_get(&listed_key(node))
            .ok()
            .flatten()
            .and_then(|v| v.parse().ok())?;
        let floor = (prev as f64 * (1.0 - max_drop.max(0.0))).ceil() as usize;
        (listed < floor).then(|| {
            format!(
                "DSS node {node}: GET /projects/ listed {listed} projects, down from {prev} (more than dss.max_listing_drop = {max_drop} lost at once); treated as unknown for removals"
            )
        })
    }

    /// Runs one reconcile.
    pub async fn run(&self, opts: RunOptions) -> RunReport {
        let started = Instant::now();
        let before = self.gh.stats().snapshot();
        let progress = |phase: &'static str, done: usize, total: usize, counts: &RunCounts| {
            if let Some(p) = &opts.progress {
                p(&Progress {
                    phase,
                    done,
                    total,
                    counts: counts.clone(),
                });
            }
        };
        let mut counts = RunCounts::new();
        let cfg = &self.config;

        // discover
        progress("discover", 0, cfg.raw.dss.len(), &counts);
        let inventories = sources::discover_all(cfg, &self.dss).await;
        let mut known_nodes = BTreeSet::new();
        let mut plan = Plan::default();
        for inv in &inventories {
            match &inv.outcome {
                Discovery::Known {
                    projects,
                    plugins,
                    listed,
                } if self.suspicious_drop(&inv.node, *listed).is_some() => {
                    // Suspicious-drop rule: creates and updates go on, removals are blocked.
                    let reason = self.suspicious_drop(&inv.node, *listed).unwrap_or_default();
                    tracing::warn!(node = %inv.node, %reason, "DSS listing dropped suspiciously");
                    plan.unknown_nodes.push(Blocked {
                        repo: inv.node.clone(),
                        reason: reason.clone(),
                    });
                    if let Some(h) = &self.health {
                        h.set(&inv.node, Err(reason));
                    }
                    if let Some(m) = &self.metrics {
                        m.discovery_up.with_label_values(&[&inv.node]).set(0);
                        m.discovery_errors
                            .with_label_values(&[&inv.node, "suspicious_drop"])
                            .inc();
                        m.projects_discovered
                            .with_label_values(&[&inv.node, "project"])
                            .set(projects.len() as i64);
                        m.projects_discovered
                            .with_label_values(&[&inv.node, "plugin"])
                            .set(plugins.len() as i64);
                    }
                }
                Discovery::Known {
                    projects,
                    plugins,
                    listed,
                } => {
                    known_nodes.insert(inv.node.clone());
                    if !opts.dry_run {
                        let _ = self
                            .store
                            .meta_set(&listed_key(&inv.node), &listed.to_string());
                    }
                    if let Some(h) = &self.health {
                        h.set(&inv.node, Ok(projects.len() + plugins.len()));
                    }
                    if let Some(m) = &self.metrics {
                        m.discovery_up.with_label_values(&[&inv.node]).set(1);
                        m.projects_discovered
                            .with_label_values(&[&inv.node, "project"])
                            .set(projects.len() as i64);
                        m.projects_discovered
                            .with_label_values(&[&inv.node, "plugin"])
                            .set(plugins.len() as i64);
                    }
                }
                Discovery::Unknown { reason } => {
                    plan.unknown_nodes.push(Blocked {
                        repo: inv.node.clone(),
                        reason: reason.clone(),
                    });
                    if let Some(h) = &self.health {
                        h.set(&inv.node, Err(reason.clone()));
                    }
                    if let Some(m) = &self.metrics {
                        m.discovery_up.with_label_values(&[&inv.node]).set(0);
                        let cause = if reason.contains("empty") {
                            "empty"
                        } else {
                            "error"
                        };
                        m.discovery_errors
                            .with_label_values(&[&inv.node, cause])
                            .inc();
                    }
                }
            }
        }
        let mut srcs = sources::sources(cfg, &inventories);
        let partial = !opts.projects.is_empty();
        if partial {
            srcs.retain(|s| opts.projects.iter().any(|p| p == &s.key));
        }

        // desire
        let fp_key = self.store.fingerprint_key().unwrap_or_default();
        let (specs, desire_errors) = desired::build(cfg, &srcs, &fp_key);
        let mut wanted: BTreeSet<String> = specs
            .iter()
            .map(|s| s.full_name().to_ascii_lowercase())
            .collect();
        // A source whose spec failed still exists: its repo (if any) must not be removed.
        if let Ok(managed) = self.store.list_repos() {
            for e in &desire_errors {
                for r in &managed {
                    if r.node == e.node && r.source_key == e.key {
                        wanted.insert(r.name.to_ascii_lowercase());
                    }
                }
            }
        }
        for e in &desire_errors {
            plan.errors.push(Blocked {
                repo: format!("{}:{}/{}", e.kind.as_str(), e.node, e.key),
                reason: e.message.clone(),
            });
        }
        let protected = &cfg.raw.github.protected_repos;
        let specs: Vec<RepoSpec> = specs
            .into_iter()
            .filter(|s| {
                let p = protected.iter().any(|p| {
                    p.eq_ignore_ascii_case(&s.name) || p.eq_ignore_ascii_case(&s.full_name())
                });
                if p {
                    plan.blocked.push(Blocked {
                        repo: s.full_name(),
                        reason: "in github.protected_repos: never touched".into(),
                    });
                }
                !p
            })
            .collect();

        // observe + plan, concurrently per repo
        let total = specs.len();
        progress("observe", 0, total, &counts);
        let concurrency = cfg.raw.pacing.concurrency.max(1) as usize;
        let mode = cfg.raw.github.drift;
        let observe_futs: Vec<_> = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| self.observe_one(i, spec, mode))
            .collect();
        let observed: Vec<(usize, Observed)> = futures::stream::iter(observe_futs)
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let mut per_repo: BTreeMap<usize, (ObservedRepo, LastApplied, RepoPlan)> = BTreeMap::new();
        for (i, r) in observed {
            match r {
                Ok(v) => {
                    per_repo.insert(i, v);
                }
                Err(e) => plan.errors.push(Blocked {
                    repo: specs[i].full_name(),
                    reason: format!("could not observe: {e}"),
                }),
            }
        }
        progress("plan", total, total, &counts);

        // guard removals
        let managed = self.store.list_repos().unwrap_or_default();
        let tombstones: BTreeMap<String, crate::store::Tombstone> = self
            .store
            .list_tombstones()
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.repo.clone(), t))
            .collect();
        let gh_cfg = &cfg.raw.github;
        let g = guard(&GuardInput {
            managed: &managed,
            wanted: &wanted,
            known_nodes: &known_nodes,
            tombstones: &tombstones,
            protected,
            policy: gh_cfg.deletion_policy,
            grace: chrono::Duration::from_std(gh_cfg.grace_period.0)
                .unwrap_or(chrono::Duration::zero()),
            max_removals: gh_cfg.max_deletions_per_run,
            partial_run: partial,
            now: chrono::Utc::now(),
        });
        plan.blocked.extend(g.blocked.iter().cloned());
        let removal_plans: Vec<RepoPlan> = g
            .steps
            .iter()
            .map(|s| RepoPlan {
                repo: s.address.trim_start_matches("repo:").to_string(),
                source: managed
                    .iter()
                    .find(|r| format!("repo:{}", r.name) == s.address)
                    .map(|r| format!("{}:{}/{}", r.source_kind, r.node, r.source_key))
                    .unwrap_or_default(),
                steps: vec![s.clone()],
                drift: Vec::new(),
            })
            .collect();
        plan.repos = per_repo.values().map(|(_, _, p)| p.clone()).collect();
        plan.repos.extend(removal_plans.iter().cloned());

        if opts.dry_run {
            let stats = self.gh.stats().snapshot().since(&before);
            let summary = plan::summary_line(&plan);
            return RunReport {
                status: "planned".into(),
                results: Vec::new(),
                counts,
                requests: stats.requests,
                charged: stats.charged,
                rate_limited: stats.rate_limited,
                repos: total,
                duration_seconds: started.elapsed().as_secs_f64(),
                summary,
                error: None,
                plan,
            };
        }

        // Tombstones: record new ones, clear returned sources.
        for (repo, source, since) in &g.tombstone_add {
            let _ = self.store.add_tombstone(repo, source, since);
        }
        for repo in &g.tombstone_clear {
            let _ = self.store.clear_tombstone(repo);
        }
        if let Some(m) = &self.metrics {
            for r in &g.block_reasons {
                if *r != "grace_period" {
                    m.guard_blocked.with_label_values(&[r]).inc();
                }
            }
        }

        // apply
        let ctx = ApplyContext {
            gh: &self.gh,
            store: &self.store,
            run_id: opts.run_id,
        };
        let work: Vec<(Option<&RepoSpec>, &RepoPlan)> = per_repo
            .iter()
            .filter(|(_, (_, _, p))| !p.steps.is_empty())
            .map(|(i, (_, _, p))| (Some(&specs[*i]), p))
            .chain(removal_plans.iter().map(|p| (None, p)))
            .collect();
        let apply_total = work.len();
        progress("apply", 0, apply_total, &counts);
        let cancel = opts.cancel.clone();
        let mut results: Vec<RepoResult> = Vec::new();
        let mut interrupted = false;
        {
            let ctx = &ctx;
            let apply_futs: Vec<_> = work
                .into_iter()
                .map(|(spec, p)| apply_one(ctx, spec, p, cancel.clone()))
                .collect();
            let mut stream = futures::stream::iter(apply_futs).buffer_unordered(concurrency);
            let mut done = 0;
            while let Some(r) = stream.next().await {
                done += 1;
                match r {
                    Some(r) => {
                        for s in &r.results {
                            *counts
                                .entry(format!("{}/{}", s.step.action.as_str(), s.outcome.as_str()))
                                .or_default() += 1;
                            if let Some(m) = &self.metrics {
                                m.apply_steps
                                    .with_label_values(&[
                                        s.step.action.as_str(),
                                        s.outcome.as_str(),
                                    ])
                                    .inc();
                            }
                        }
                        results.push(r);
                    }
                    None => interrupted = true,
                }
                progress("apply", done, apply_total, &counts);
            }
        }

        // record
        progress("record", 0, total, &counts);
        let by_repo: BTreeMap<&str, &RepoResult> =
            results.iter().map(|r| (r.repo.as_str(), r)).collect();
        let mut record_error = None;
        for (i, (obs, last, p)) in &per_repo {
            let res = by_repo.get(p.repo.as_str()).copied();
            if !p.steps.is_empty() && res.is_none() {
                continue; // not applied (interrupted): leave its records as they were
            }
            if let Err(e) =
                record::record_repo(&self.store, opts.run_id, &specs[*i], p, res, obs, last)
            {
                record_error = Some(e.to_string());
            }
            if let Some(m) = &self.metrics {
                for d in &p.drift {
                    m.drift_events.with_label_values(&[d.kind]).inc();
                }
            }
        }
        for p in &removal_plans {
            if let (Some(res), Some(rec)) = (
                by_repo.get(p.repo.as_str()),
                managed.iter().find(|r| r.name == p.repo),
            ) {
                if let Err(e) = record::record_removal(&self.store, opts.run_id, rec, res) {
                    record_error = Some(e.to_string());
                }
            }
        }
        self.update_repo_metrics();

        let stats = self.gh.stats().snapshot().since(&before);
        if let Some(m) = &self.metrics {
            m.observe_github(self.gh.stats());
        }
        let failed_steps: u64 = counts
            .iter()
            .filter(|(k, _)| k.ends_with("/failed"))
            .map(|(_, v)| *v)
            .sum();
        let all_unknown = !cfg.raw.dss.is_empty() && known_nodes.is_empty();
        let status = if interrupted {
            "interrupted"
        } else if all_unknown || record_error.is_some() {
            "failed"
        } else if failed_steps > 0 || !plan.errors.is_empty() || !plan.unknown_nodes.is_empty() {
            "partial"
        } else {
            "succeeded"
        };
        let error = if let Some(e) = record_error {
            Some(format!("recording the run: {e}"))
        } else if all_unknown {
            Some(format!(
                "discovery failed on every DSS node: {}",
                plan.unknown_nodes
                    .iter()
                    .map(|b| format!("{}: {}", b.repo, b.reason))
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        } else {
            results.iter().find_map(|r| r.first_error())
        };
        let ok: u64 = counts
            .iter()
            .filter(|(k, _)| k.ends_with("/ok"))
            .map(|(_, v)| *v)
            .sum();
        let summary = format!(
            "{status}: {total} repos, {ok} steps applied, {failed_steps} failed, {} drift finding(s), {} removal(s) blocked, {} GitHub requests ({} charged)",
            plan.repos.iter().map(|r| r.drift.len()).sum::<usize>(),
            plan.blocked.len(),
            stats.requests,
            stats.charged
        );
        progress("done", apply_total, apply_total, &counts);
        RunReport {
            status: status.into(),
            plan,
            results,
            counts,
            requests: stats.requests,
            charged: stats.charged,
            rate_limited: stats.rate_limited,
            repos: total,
            duration_seconds: started.elapsed().as_secs_f64(),
            summary,
            error,
        }
    }

    /// Refreshes the per-repo gauges from the store.
    pub fn update_repo_metrics(&self) {
        let Some(m) = &self.metrics else { return };
        let Ok(repos) = self.store.list_repos() else {
            return;
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
        for s in [
            "synced", "error", "drifted", "archived", "deleted", "orphaned",
        ] {
            m.repos_managed
                .with_label_values(&[s])
                .set(by_status.get(s).copied().unwrap_or(0));
        }
    }
}

impl RunEngine for Engine {
    fn run<'a>(
        &'a self,
        run_id: i64,
        trigger: &'a Trigger,
        cancel: watch::Receiver<bool>,
    ) -> BoxFuture<'a, RunResult> {
        Box::pin(async move {
            let store = self.store.clone();
            let progress: ProgressFn = Arc::new(move |p: &Progress| {
                let _ = store.update_run_progress(run_id, &p.counts, 0, 0);
            });
            let report = Engine::run(
                self,
                RunOptions {
                    run_id: Some(run_id),
                    dry_run: false,
                    projects: trigger.projects.clone(),
                    progress: Some(progress),
                    cancel: Some(cancel),
                },
            )
            .await;
            RunResult {
                status: report.status.clone(),
                counts: report.counts.clone(),
                requests: report.requests as i64,
                points: report.charged as i64,
                summary: report.summary.clone(),
                error: report.error.clone(),
            }
        })
    }
}

/// The store's meta key of a node's last accepted listing size.
fn listed_key(node: &str) -> String {
    format!("dss.listed.{node}")
}

async fn apply_one(
    ctx: &ApplyContext<'_>,
    spec: Option<&RepoSpec>,
    p: &RepoPlan,
    cancel: Option<watch::Receiver<bool>>,
) -> Option<RepoResult> {
    if cancel.as_ref().is_some_and(|c| *c.borrow()) {
        return None;
    }
    Some(apply_repo(ctx, spec, p).await)
}
