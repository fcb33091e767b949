//! The report phase: a run's status, summary line and [`RunReport`], derived from typed
//! outcomes in one place for real runs, dry runs and runs that failed early.

use super::status::{RunError, RunStatus};
use crate::apply::{Outcome, RepoResult};
use crate::github::StatsSnapshot;
use crate::plan::{self, Plan};
use crate::store::RunCounts;
use serde::Serialize;

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub status: RunStatus,
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
    /// The cause label of the failure that failed the run ([`RunError::cause`]), if any.
    pub cause: Option<&'static str>,
}

/// Everything a report is made from.
pub struct RunFacts {
    pub plan: Plan,
    pub results: Vec<RepoResult>,
    pub repos: usize,
    /// Repos that failed outright: before their apply (desire, state, observe) or with no
    /// step of their apply succeeding.
    pub failed_repos: usize,
    /// Projects and plugins that could not even be named.
    pub unnamed: usize,
    pub interrupted: bool,
    pub dry_run: bool,
    /// The failure that makes the run fail, if any.
    pub fatal: Option<RunError>,
    pub stats: StatsSnapshot,
    pub duration_seconds: f64,
}

/// `action/outcome` → count over the repos' final results.
pub fn count_steps(results: &[RepoResult]) -> RunCounts {
    let mut counts = RunCounts::new();
    for s in results.iter().flat_map(|r| r.results.iter()) {
        *counts
            .entry(format!("{}/{}", s.step.action.as_str(), s.outcome.as_str()))
            .or_default() += 1;
    }
    counts
}

fn failed_steps(results: &[RepoResult]) -> u64 {
    results
        .iter()
        .flat_map(|r| r.results.iter())
        .filter(|s| matches!(s.outcome, Outcome::Failed(_)))
        .count() as u64
}

/// The status of a run from its facts.
pub fn status(f: &RunFacts) -> RunStatus {
    if f.dry_run && f.fatal.is_none() {
        RunStatus::Planned
    } else if f.interrupted {
        RunStatus::Interrupted
    } else if f.fatal.is_some() || (f.repos > 0 && f.failed_repos >= f.repos) {
        RunStatus::Failed
    } else if failed_steps(&f.results) > 0
        || !f.plan.errors.is_empty()
        || !f.plan.unknown_nodes.is_empty()
        || !f.plan.conflicts.is_empty()
    {
        RunStatus::Partial
    } else {
        RunStatus::Succeeded
    }
}

/// Builds the report.
pub fn report(f: RunFacts) -> RunReport {
    let status = status(&f);
    let mut counts = count_steps(&f.results);
    if f.failed_repos + f.unnamed > 0 {
        counts.insert("repos/failed".into(), (f.failed_repos + f.unnamed) as u64);
    }
    let error = match &f.fatal {
        Some(e) => Some(e.to_string()),
        None => f
            .plan
            .errors
            .first()
            .map(|e| format!("{} ({}): {}", e.repo, e.stage.as_str(), e.reason))
            .or_else(|| f.results.iter().find_map(|r| r.first_error())),
    };
    let summary = if status == RunStatus::Planned {
        plan::summary_line(&f.plan)
    } else {
        summary(&f, status, &counts)
    };
    RunReport {
        status,
        counts,
        requests: f.stats.requests,
        charged: f.stats.charged,
        rate_limited: f.stats.rate_limited,
        repos: f.repos,
        duration_seconds: f.duration_seconds,
        summary,
        error,
        cause: f.fatal.as_ref().map(RunError::cause),
        results: if f.dry_run { Vec::new() } else { f.results },
        plan: f.plan,
    }
}

fn summary(f: &RunFacts, status: RunStatus, counts: &RunCounts) -> String {
    let ok: u64 = counts
        .iter()
        .filter(|(k, _)| k.ends_with("/ok"))
        .map(|(_, v)| *v)
        .sum();
    format!(
        "{} {status}: {} repos, {ok} steps applied, {} step(s) failed, {} repo(s) failed, {} drift finding(s), {} removal(s) blocked, {} ownership conflict(s), {} GitHub requests ({} charged)",
        plan::summary_line(&f.plan),
        f.repos,
        failed_steps(&f.results),
        f.failed_repos + f.unnamed,
        f.plan.repos.iter().map(|r| r.drift.len()).sum::<usize>(),
        f.plan.blocked.len(),
        f.plan.conflicts.len(),
        f.stats.requests,
        f.stats.charged
    )
}

/// Whether no step of a repo's apply succeeded.
pub fn wholly_failed(r: &RepoResult) -> bool {
    r.failed() && !r.results.iter().any(|s| s.outcome == Outcome::Ok)
}
