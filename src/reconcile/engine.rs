//! The engine: holds the config, the store, the GitHub client and the DSS clients, and runs
//! one reconcile (or a dry run that stops after the plan).

use super::{record, sources};
use crate::api::Health;
use crate::apply::{apply_repo, ApplyContext, RepoResult};
use crate::config::{Config, GithubAuth};
use crate::daemon::{RunEngine, RunResult, Trigger};
use crate::desired;
use crate::dss::{Discovery, DssClient};
use crate::github::{GithubAuthSecret, GithubClient, GithubOptions};
use crate::guard::{guard, GuardInput};
use crate::metrics::Metrics;
use crate::observe::observe;
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
    /// GitHub requests sent so far in this run, and those charged.
    pub requests: u64,
    pub charged: u64,
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

/// What became of one repo in a run.
struct RepoOutcome {
    /// The source again when a step failed, for the run's second pass.
    retry: Option<crate::desired::SourceObject>,
    plan: Option<RepoPlan>,
    result: Option<RepoResult>,
    error: Option<Blocked>,
    interrupted: bool,
    record_error: Option<String>,
}

impl RepoOutcome {
    fn failed(repo: String, reason: String) -> Self {
        RepoOutcome {
            retry: None,
            plan: None,
            result: None,
            error: Some(Blocked { repo, reason }),
            interrupted: false,
            record_error: None,
        }
    }
    fn planned(p: RepoPlan) -> Self {
        RepoOutcome {
            retry: None,
            plan: Some(p),
            result: None,
            error: None,
            interrupted: false,
            record_error: None,
        }
    }
}

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

    fn count_steps(&self, r: &RepoResult, counts: &mut RunCounts) {
        for s in &r.results {
            *counts
                .entry(format!("{}/{}", s.step.action.as_str(), s.outcome.as_str()))
                .or_default() += 1;
            if let Some(m) = &self.metrics {
                m.apply_steps
                    .with_label_values(&[s.step.action.as_str(), s.outcome.as_str()])
                    .inc();
            }
        }
    }

    /// One repo through build → observe → plan → apply → record.
    async fn process_one(
        &self,
        ctx: &ApplyContext<'_>,
        src: crate::desired::SourceObject,
        fp_key: &[u8],
        mode: crate::config::DriftMode,
        dry_run: bool,
        cancel: Option<watch::Receiver<bool>>,
    ) -> RepoOutcome {
        let label = format!("{}:{}/{}", src.kind.as_str(), src.node, src.key);
        let spec = match desired::build_one(&self.config, &src, fp_key) {
            Ok(s) => s,
            Err(reason) => return RepoOutcome::failed(label, reason),
        };
        let full = spec.full_name();
        let last = self.last_applied(&full);
        let mut obs = match observe(&self.gh, &spec).await {
            Ok(o) => o,
            Err(e) => return RepoOutcome::failed(full, format!("could not observe: {e}")),
        };
        if let Some(link) = &spec.dss_link {
            if let Some(client) = self.dss.iter().find(|c| c.node() == link.node) {
                obs.dss_remote = Some(crate::observe::observe_dss(client, link).await);
            }
        }
        let p = plan::plan_repo(&spec, &obs, &last, mode);
        if dry_run {
            return RepoOutcome::planned(p);
        }
        if cancel.as_ref().is_some_and(|c| *c.borrow()) {
            let mut o = RepoOutcome::planned(p);
            o.interrupted = true;
            return o;
        }
        let result = if p.steps.is_empty() {
            None
        } else {
            Some(apply_repo(ctx, Some(&spec), &p).await)
        };
        let mut record_error = None;
        if result.is_some() || record::needs_record(&self.store, &spec, &p, &last) {
            if let Err(e) = record::record_repo(
                &self.store,
                ctx.run_id,
                &spec,
                &p,
                result.as_ref(),
                &obs,
                &last,
            ) {
                record_error = Some(e.to_string());
            }
        }
        let retry = result.as_ref().filter(|r| r.failed()).map(|_| src);
        RepoOutcome {
            retry,
            plan: Some(p),
            result,
            error: None,
            interrupted: false,
            record_error,
        }
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
                let st = self.gh.stats().snapshot().since(&before);
                p(&Progress {
                    phase,
                    done,
                    total,
                    counts: counts.clone(),
                    requests: st.requests,
                    charged: st.charged,
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
            let dropped = match &inv.outcome {
                Discovery::Known { listed, .. } => self.suspicious_drop(&inv.node, *listed),
                Discovery::Unknown { .. } => None,
            };
            match (&inv.outcome, dropped) {
                (
                    Discovery::Known {
                        projects, plugins, ..
                    },
                    Some(reason),
                ) => {
                    // Suspicious-drop rule: creates and updates go on, removals are blocked.
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
                (
                    Discovery::Known {
                        projects,
                        plugins,
                        listed,
                    },
                    None,
                ) => {
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
                (Discovery::Unknown { reason }, _) => {
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
        drop(inventories);
        let partial = !opts.projects.is_empty();
        if partial {
            srcs.retain(|s| opts.projects.iter().any(|p| p == &s.key));
        }
        sources::enrich(cfg, &self.dss, &mut srcs).await;

        // desire, names first: collisions are found before anything is built or created
        let fp_key = self.store.fingerprint_key().unwrap_or_default();
        let owner = cfg.raw.github.owner.clone();
        let (named, desire_errors) = desired::names(cfg, srcs);
        let mut wanted: BTreeSet<String> = named
            .iter()
            .map(|(_, n)| format!("{owner}/{n}").to_ascii_lowercase())
            .collect();
        let managed = self.store.list_repos().unwrap_or_default();
        // A source that could not be named still exists: its repo (if any) is not removed.
        for e in &desire_errors {
            for r in &managed {
                if r.node == e.node && r.source_key == e.key {
                    wanted.insert(r.name.to_ascii_lowercase());
                }
            }
            plan.errors.push(Blocked {
                repo: format!("{}:{}/{}", e.kind.as_str(), e.node, e.key),
                reason: e.message.clone(),
            });
        }
        let protected = &cfg.raw.github.protected_repos;
        let named: Vec<(crate::desired::SourceObject, String)> = named
            .into_iter()
            .filter(|(_, n)| {
                let full = format!("{owner}/{n}");
                let p = protected
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(n) || p.eq_ignore_ascii_case(&full));
                if p {
                    plan.blocked.push(Blocked {
                        repo: full,
                        reason: "in github.protected_repos: never touched".into(),
                    });
                }
                !p
            })
            .collect();

        // guard removals (it needs only the wanted names and the discovery outcome)
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
        if !opts.dry_run {
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
        }

        // Per repo: build, observe, plan, apply, record — streamed with bounded concurrency,
        // so only the repos in flight are held in memory.
        let total = named.len();
        let concurrency = cfg.raw.pacing.concurrency.max(1) as usize;
        let mode = cfg.raw.github.drift;
        let ctx = ApplyContext {
            gh: &self.gh,
            dss: &self.dss,
            store: &self.store,
            run_id: opts.run_id,
        };
        progress("repos", 0, total, &counts);
        let mut results: Vec<RepoResult> = Vec::new();
        let mut retry: Vec<crate::desired::SourceObject> = Vec::new();
        let mut interrupted = false;
        let mut record_error = None;
        {
            let ctx = &ctx;
            let fp_key = &fp_key;
            // Futures are made as the stream pulls them, so only `concurrency` repos (and
            // their futures) exist at a time.
            let dry_run = opts.dry_run;
            let cancel = opts.cancel.clone();
            let mut stream = futures::stream::iter(named)
                .map(move |(src, _)| {
                    self.process_one(ctx, src, fp_key, mode, dry_run, cancel.clone())
                })
                .buffer_unordered(concurrency);
            let mut done = 0;
            while let Some(out) = stream.next().await {
                done += 1;
                if let Some(e) = out.error {
                    plan.errors.push(e);
                }
                interrupted |= out.interrupted;
                if out.record_error.is_some() {
                    record_error = out.record_error;
                }
                if let Some(p) = out.plan {
                    if let Some(m) = &self.metrics {
                        if !opts.dry_run {
                            for d in &p.drift {
                                m.drift_events.with_label_values(&[d.kind]).inc();
                            }
                        }
                    }
                    if !p.steps.is_empty() || !p.drift.is_empty() {
                        plan.repos.push(p);
                    }
                }
                if let Some(r) = out.result {
                    self.count_steps(&r, &mut counts);
                    results.push(r);
                }
                retry.extend(out.retry);
                progress("repos", done, total, &counts);
            }
        }
        // Second pass: repos with a failed step (a 5xx, a lost answer, a rate-limit wait that
        // ran out) are observed and applied once more after a pause, so a transient fault
        // does not wait for the next scheduled run.
        let cancelled = || opts.cancel.as_ref().is_some_and(|c| *c.borrow());
        if !retry.is_empty() && !opts.dry_run && !interrupted && !cancelled() {
            tracing::info!(repos = retry.len(), "retrying repos with failed steps");
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            let ctx = &ctx;
            let fp_key = &fp_key;
            let cancel = opts.cancel.clone();
            let mut stream = futures::stream::iter(retry)
                .map(move |src| self.process_one(ctx, src, fp_key, mode, false, cancel.clone()))
                .buffer_unordered(concurrency);
            while let Some(out) = stream.next().await {
                if let Some(e) = out.error {
                    plan.errors.push(e);
                }
                interrupted |= out.interrupted;
                if out.record_error.is_some() {
                    record_error = out.record_error;
                }
                let repo = out.plan.as_ref().map(|p| p.repo.clone());
                if let Some(repo) = repo {
                    // The second pass's outcome is the repo's outcome.
                    results.retain(|r| r.repo != repo);
                }
                if let Some(r) = out.result {
                    self.count_steps(&r, &mut counts);
                    results.push(r);
                }
            }
        }
        plan.repos.sort_by(|a, b| a.repo.cmp(&b.repo));
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

        // removals, after the repos that stay
        for p in &removal_plans {
            if opts.cancel.as_ref().is_some_and(|c| *c.borrow()) {
                interrupted = true;
                break;
            }
            let res = apply_repo(&ctx, None, p).await;
            self.count_steps(&res, &mut counts);
            if let Some(rec) = managed.iter().find(|r| r.name == p.repo) {
                if let Err(e) = record::record_removal(&self.store, opts.run_id, rec, &res) {
                    record_error = Some(e.to_string());
                }
            }
            results.push(res);
        }
        self.update_repo_metrics();

        let stats = self.gh.stats().snapshot().since(&before);
        if let Some(m) = &self.metrics {
            m.observe_github(self.gh.stats());
        }
        // Failed steps of the repos' final outcomes (after the second pass).
        let failed_steps: u64 = results
            .iter()
            .flat_map(|r| r.results.iter())
            .filter(|s| matches!(s.outcome, crate::apply::Outcome::Failed(_)))
            .count() as u64;
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
            "{} {status}: {total} repos, {ok} steps applied, {failed_steps} failed, {} drift finding(s), {} removal(s) blocked, {} GitHub requests ({} charged)",
            plan::summary_line(&plan),
            plan.repos.iter().map(|r| r.drift.len()).sum::<usize>(),
            plan.blocked.len(),
            stats.requests,
            stats.charged
        );
        progress("done", total, total, &counts);
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
                let _ = store.update_run_progress(
                    run_id,
                    &p.counts,
                    p.requests as i64,
                    p.charged as i64,
                );
                let _ = store.set_run_phase(run_id, &format!("{} {}/{}", p.phase, p.done, p.total));
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
