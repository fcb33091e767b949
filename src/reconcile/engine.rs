//! The engine: holds the config, the store, the GitHub client, the DSS clients and the run
//! observer, and runs one reconcile as a short sequence of phases, each in its own module:
//! discover → load state → name → guard → converge (and a retry round) → org (the fleet-level
//! secrets and variables) → remove → report.
//! A dry run stops after the plan and writes nothing.

use super::converge::PassContext;
use super::observer::RunObserver;
use super::removal::{GuardView, Removals};
use super::report::{self, RunFacts, RunReport};
use super::sources;
use super::status::{RunError, SetupError};
use crate::api::Health;
use crate::apply::{ApplyContext, RepoResult};
use crate::config::{Config, GithubAuth};
use crate::desired::SourceObject;
use crate::dss::DssClient;
use crate::github::{
    EtagCache, GithubAuthSecret, GithubClient, GithubOptions, PacingLimits, StatsSnapshot,
};
use crate::metrics::Metrics;
use crate::plan::Plan;
use crate::store::{RunCounts, Store, Suspension};
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::watch;

/// Where a run is.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    /// `discover`, `repos`, `done`.
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
    /// Repos (`owner/name`) to adopt in this run although they carry no marker
    /// (`fleetctl adopt`).
    pub adopt: Vec<String>,
    /// Apply only the steps of this saved plan, unchanged (`fleetctl apply PLAN`).
    pub saved: Option<Arc<crate::plan::SavedPlan>>,
}

impl RunOptions {
    fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| *c.borrow())
    }
}

/// One configured fleet.
pub struct Engine {
    pub(super) config: Arc<Config>,
    pub(super) store: Store,
    pub(super) gh: GithubClient,
    pub(super) dss: Vec<DssClient>,
    pub(super) observer: RunObserver,
    /// Where markers are written, learnt once for the engine's life (a daemon asks again
    /// after a restart or a config reload).
    pub(super) marker_mode: crate::ownership::ModeCell,
}

fn github_options(config: &Config) -> Result<GithubOptions, SetupError> {
    let credential = |key: &str| {
        let key = key.to_string();
        move |source| SetupError::Credential { key, source }
    };
    let gh = &config.raw.github;
    let auth = match &gh.auth {
        GithubAuth::Pat(src) => GithubAuthSecret::Pat(
            src.read(&config.base_dir)
                .map_err(credential("github.auth.pat"))?,
        ),
        GithubAuth::App(app) => GithubAuthSecret::App {
            app_id: app.app_id,
            installation_id: app.installation_id,
            private_key_pem: app
                .private_key
                .read(&config.base_dir)
                .map_err(credential("github.auth.app.private_key"))?,
        },
    };
    let p = &config.raw.pacing;
    let mut o = GithubOptions::new(gh.api_url.get_ref().clone(), auth);
    o.limits = pacing_limits(p);
    o.request_timeout = p.request_timeout.0;
    o.max_attempts = p.max_attempts.max(1);
    Ok(o)
}

/// What the run loaded before converging: the state its safety rests on and the key secrets
/// are fingerprinted with.
struct Loaded<'a> {
    state: &'a super::naming::RunState,
    fp_key: &'a [u8],
    ownership: &'a crate::ownership::Ownership,
    trust_secrets_before: Option<chrono::DateTime<chrono::Utc>>,
}

/// The pacer's budgets from `[pacing]`.
pub fn pacing_limits(p: &crate::config::PacingConfig) -> PacingLimits {
    PacingLimits {
        max_in_flight: p.max_in_flight.max(1),
        points_per_minute: p.points_per_minute,
        content_per_minute: p.writes_per_minute,
        content_per_hour: p.writes_per_hour,
        time_scale: f64::from(p.time_scale.max(1)),
    }
}

/// What the converge passes produced.
struct Passes {
    /// Each repo's final outcome.
    results: Vec<RepoResult>,
    /// Repos that failed outright.
    failed: BTreeSet<String>,
    interrupted: bool,
}

/// Reports progress: the phase, the repos done, the step counts so far and the requests.
struct ProgressReporter<'a> {
    engine: &'a Engine,
    before: StatsSnapshot,
    callback: Option<ProgressFn>,
    counts: Mutex<RunCounts>,
}

impl ProgressReporter<'_> {
    fn report(&self, phase: &'static str, done: usize, total: usize, result: Option<&RepoResult>) {
        let Some(p) = &self.callback else { return };
        let counts = match self.counts.lock() {
            Ok(mut c) => {
                if let Some(r) = result {
                    for (k, v) in report::count_steps(std::slice::from_ref(r)) {
                        *c.entry(k).or_default() += v;
                    }
                }
                c.clone()
            }
            Err(_) => RunCounts::new(),
        };
        let st = self.engine.gh.stats().snapshot().since(&self.before);
        p(&Progress {
            phase,
            done,
            total,
            counts,
            requests: st.requests,
            charged: st.charged,
        });
    }
}

impl Engine {
    /// Builds the clients (reading the GitHub and DSS credentials).
    pub fn new(
        config: Arc<Config>,
        store: Store,
        metrics: Option<Arc<Metrics>>,
        health: Option<Arc<Health>>,
    ) -> Result<Engine, SetupError> {
        let etags: Arc<dyn EtagCache> = Arc::new(store.etag_cache().map_err(SetupError::Store)?);
        let gh = GithubClient::new(github_options(&config)?, Some(etags))?;
        let dss = sources::clients(&config)?;
        Ok(Engine {
            config,
            store,
            gh,
            dss,
            observer: RunObserver::new(metrics, health),
            marker_mode: Default::default(),
        })
    }

    /// The config this engine runs.
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn github(&self) -> &GithubClient {
        &self.gh
    }

    /// Refreshes the per-repo gauges from the store.
    pub fn update_repo_metrics(&self) {
        let (policy, grace) = self.removal_policy();
        self.observer.repos(&self.store, policy, grace);
    }

    /// What a removal does and the grace period before it (as the guard reads them).
    pub fn removal_policy(&self) -> (crate::config::DeletionPolicy, chrono::Duration) {
        let gh = &self.config.raw.github;
        let grace =
            chrono::Duration::from_std(gh.grace_period.0).unwrap_or(chrono::Duration::zero());
        (gh.deletion_policy, grace)
    }

    /// What is suspended; a suspended fleet ends a real run here, before GitHub is read.
    fn suspension(&self, opts: &RunOptions, plan: &mut Plan) -> Result<Suspension, RunError> {
        let s = self
            .store
            .suspension()
            .map_err(|e| RunError::store("reading what is suspended", e))?;
        if let (false, Some(since)) = (opts.dry_run, &s.fleet) {
            return Err(RunError::Suspended(since.clone()));
        }
        for (repo, since) in &s.repos {
            plan.notices.push(format!(
                "{repo} is suspended since {since}: a run leaves it alone (`fleetctl resume --repo {repo}`)"
            ));
        }
        Ok(s)
    }

    /// Runs one reconcile.
    pub async fn run(&self, opts: RunOptions) -> RunReport {
        let started = Instant::now();
        let progress = ProgressReporter {
            engine: self,
            before: self.gh.stats().snapshot(),
            callback: opts.progress.clone(),
            counts: Mutex::new(RunCounts::new()),
        };
        progress.report("discover", 0, self.config.raw.dss.len(), None);
        let mut plan = Plan::default();
        let mut facts = match self.run_phases(&opts, &progress, &mut plan).await {
            Ok(f) => f,
            // A run that failed early still shows what was found before the failure.
            Err(fatal) => RunFacts {
                plan,
                results: Vec::new(),
                repos: 0,
                failed_repos: 0,
                unnamed: 0,
                interrupted: false,
                dry_run: opts.dry_run,
                fatal: Some(fatal),
                stats: StatsSnapshot::default(),
                duration_seconds: 0.0,
            },
        };
        // The run's caller reports a fatal error (fleetd's "reconcile run finished" line,
        // fleetctl's `error:` line); logging it here too printed it twice.
        if let Some(e) = &facts.fatal {
            tracing::debug!(error = %e, "run failed");
        }
        if !opts.dry_run {
            self.update_repo_metrics();
            self.observer.github(self.gh.stats());
        }
        facts.stats = self.gh.stats().snapshot().since(&progress.before);
        facts.duration_seconds = started.elapsed().as_secs_f64();
        progress.report("done", facts.repos, facts.repos, None);
        report::report(facts)
    }

    /// The phases. `plan` collects what is known so far, so an early failure still reports it.
    async fn run_phases(
        &self,
        opts: &RunOptions,
        progress: &ProgressReporter<'_>,
        plan: &mut Plan,
    ) -> Result<RunFacts, RunError> {
        let mut state = self.load_state()?;
        let found = self.discover(opts.dry_run, &opts.projects, &state).await?;
        plan.unknown_nodes = found.unknown;
        state.suspension = self.suspension(opts, plan)?;
        let own = self.ownership(&opts.adopt);
        let rebuilt = self.rebuild_if_new(&own, opts.dry_run).await?;
        plan.notices.extend(rebuilt.notice.clone());
        if !rebuilt.records.is_empty() {
            // A new state file: the repos recognised by their markers are managed (kept in
            // memory only by a dry run).
            state = if opts.dry_run {
                let mut s = state;
                s.managed.extend(rebuilt.records);
                s
            } else {
                self.load_state()?
            };
        }
        let fp_key = self.fingerprint_key()?;
        let named = self.name(found.sources, &state);
        plan.errors = named.errors;
        plan.blocked = named.protected;
        let removals = self.guard_removals(
            &GuardView {
                state: &state,
                wanted: &named.wanted,
                known_nodes: &found.known_nodes,
                known_plugin_nodes: &found.known_plugin_nodes,
                partial_run: !opts.projects.is_empty(),
                run_id: opts.run_id,
            },
            opts.dry_run,
        )?;
        plan.blocked.extend(removals.blocked.iter().cloned());
        let loaded = Loaded {
            state: &state,
            fp_key: &fp_key,
            ownership: &own,
            trust_secrets_before: rebuilt.trust_secrets_before,
        };
        self.converge_and_remove(opts, progress, &loaded, named.named, removals, plan)
            .await
    }

    /// Converges the repos that stay (a first pass, then a retry round for repos with a
    /// failed step), then applies the removals.
    async fn converge_and_remove(
        &self,
        opts: &RunOptions,
        progress: &ProgressReporter<'_>,
        loaded: &Loaded<'_>,
        sources: Vec<(SourceObject, String)>,
        removals: Removals,
        plan: &mut Plan,
    ) -> Result<RunFacts, RunError> {
        let total = sources.len();
        let unnamed = plan.errors.len();
        let journal = crate::store::Journal::new(self.store.clone());
        let ctx = PassContext {
            apply: ApplyContext {
                gh: &self.gh,
                dss: &self.dss,
                journal: &journal,
                run_id: opts.run_id,
                expected: opts.saved.as_deref(),
            },
            fp_key: loaded.fp_key,
            ownership: loaded.ownership,
            trust_secrets_before: loaded.trust_secrets_before,
            mode: self.config.raw.github.drift,
            dry_run: opts.dry_run,
            cancel: opts.cancel.clone(),
            store_fault: Mutex::new(None),
            org_members: Default::default(),
            suspension: &loaded.state.suspension,
        };
        let passes = self
            .converge_passes(opts, &ctx, progress, sources, plan)
            .await;
        let (mut results, failed, mut interrupted) =
            (passes.results, passes.failed, passes.interrupted);
        if !interrupted {
            self.org_phase(opts, &ctx, loaded.state, &removals, plan, &mut results)
                .await;
        }
        plan.repos.sort_by(|a, b| a.repo.cmp(&b.repo));
        plan.repos
            .extend(removals.allowed.iter().map(|r| r.plan.clone()));
        let mut fatal = ctx.take_fault();
        if !opts.dry_run && fatal.is_none() && !interrupted {
            let cancelled = || opts.cancelled();
            let (removed, stopped, fault) = self.remove(&ctx, &removals.allowed, &cancelled).await;
            results.extend(removed.results);
            plan.conflicts.extend(removed.conflicts);
            interrupted |= stopped;
            fatal = fault;
        }
        if fatal.is_none() && !opts.dry_run {
            fatal = self.all_unknown(plan);
        }
        Ok(RunFacts {
            plan: std::mem::take(plan),
            results,
            repos: total,
            failed_repos: failed.len(),
            unnamed,
            interrupted,
            dry_run: opts.dry_run,
            fatal,
            stats: StatsSnapshot::default(),
            duration_seconds: 0.0,
        })
    }

    /// The first pass over every repo, and the retry round for repos with a failed step.
    async fn converge_passes(
        &self,
        opts: &RunOptions,
        ctx: &PassContext<'_>,
        progress: &ProgressReporter<'_>,
        sources: Vec<(SourceObject, String)>,
        plan: &mut Plan,
    ) -> Passes {
        let total = sources.len();
        progress.report("repos", 0, total, None);
        let on_done =
            |done: usize, r: Option<&RepoResult>| progress.report("repos", done, total, r);
        let first = self.converge(ctx, sources, &on_done).await;
        if !opts.dry_run {
            self.observer.github_reachable(github_reachability(&first));
        }
        let mut interrupted = first.interrupted;
        let mut failed: BTreeSet<String> = first.errors.iter().map(|e| e.repo.clone()).collect();
        plan.errors.extend(first.errors);
        plan.conflicts.extend(first.conflicts);
        plan.repos.extend(
            first
                .plans
                .into_iter()
                .filter(|p| !p.steps.is_empty() || !p.drift.is_empty()),
        );
        // A repo whose first pass applied something has not failed outright, whatever its
        // retry does.
        let progressed: BTreeSet<String> = first
            .results
            .iter()
            .filter(|r| !report::wholly_failed(r))
            .map(|r| r.repo.clone())
            .collect();
        let mut results = first.results;
        if self.should_retry(opts, ctx, &first.retry, interrupted) {
            let second = self.retry_round(ctx, first.retry).await;
            interrupted |= second.interrupted;
            failed.extend(second.errors.iter().map(|e| e.repo.clone()));
            plan.errors.extend(second.errors);
            plan.conflicts.extend(second.conflicts);
            // The second pass's outcome is the repo's outcome.
            results.retain(|r| !second.results.iter().any(|s| s.repo == r.repo));
            results.extend(second.results);
        }
        failed.extend(
            results
                .iter()
                .filter(|r| report::wholly_failed(r) && !progressed.contains(&r.repo))
                .map(|r| r.repo.clone()),
        );
        Passes {
            results,
            failed,
            interrupted,
        }
    }

    /// The fleet-level phase (org-scoped secrets and variables), after the repos converged
    /// (it needs the ids of the repos they created) and before removals.
    async fn org_phase(
        &self,
        opts: &RunOptions,
        ctx: &PassContext<'_>,
        state: &super::naming::RunState,
        removals: &Removals,
        plan: &mut Plan,
        results: &mut Vec<RepoResult>,
    ) {
        let rules = super::org::SelectionRules {
            state,
            removed: removals
                .allowed
                .iter()
                .filter(|r| {
                    r.plan.steps.iter().any(|s| {
                        matches!(
                            s.action,
                            crate::plan::Action::Archive | crate::plan::Action::Delete
                        )
                    })
                })
                .map(|r| r.record.name.to_ascii_lowercase())
                .collect(),
            partial: !opts.projects.is_empty(),
        };
        let org = self.converge_org(ctx, &rules).await;
        plan.errors.extend(org.errors);
        if let Some(p) = org.plan {
            if !opts.dry_run {
                self.observer.drift(&p);
            }
            if !p.steps.is_empty() || !p.drift.is_empty() {
                plan.repos.push(p);
            }
        }
        if let Some(r) = org.result {
            self.observer.steps(&r);
            results.push(r);
        }
    }

    fn should_retry(
        &self,
        opts: &RunOptions,
        ctx: &PassContext<'_>,
        retry: &[(SourceObject, String)],
        interrupted: bool,
    ) -> bool {
        !retry.is_empty() && !opts.dry_run && !interrupted && !opts.cancelled() && !ctx.faulted()
    }

    /// Repos with a failed step (a 5xx, a lost answer, a rate-limit wait that ran out) are
    /// observed and applied once more after a pause, so a transient fault does not wait for
    /// the next scheduled run.
    async fn retry_round(
        &self,
        ctx: &PassContext<'_>,
        retry: Vec<(SourceObject, String)>,
    ) -> super::converge::PassOutcome {
        tracing::info!(repos = retry.len(), "retrying repos with failed steps");
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        self.converge(ctx, retry, &|_, _| {}).await
    }

    /// The run-level failure when no node's discovery is trusted.
    fn all_unknown(&self, plan: &Plan) -> Option<RunError> {
        let nodes = self.config.raw.dss.len();
        let unknown = || {
            plan.unknown_nodes
                .iter()
                .filter(|u| u.listing == crate::desired::SourceKind::Project)
        };
        if nodes == 0 || unknown().count() < nodes {
            return None;
        }
        Some(RunError::AllDiscoveryUnknown(
            unknown()
                .map(|b| format!("{}: {}", b.node, b.reason))
                .collect::<Vec<_>>()
                .join("; "),
        ))
    }
}

/// GitHub is unreachable for the run when every repo's reads failed on GitHub's side and
/// none succeeded; one success (or nothing to read) says it answers.
fn github_reachability(pass: &super::converge::PassOutcome) -> Result<(), String> {
    match (pass.observed, pass.unobservable.first()) {
        (0, Some(first)) => Err(format!(
            "every GitHub read of the run failed ({} repos); first: {first}",
            pass.unobservable.len()
        )),
        _ => Ok(()),
    }
}
