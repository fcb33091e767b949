//! Faults: a cold start of `--projects` projects while the simulated GitHub answers 10 % of
//! requests 502, drops 2 % of connections after doing the work, answers 2 % with a
//! secondary-limit 403 and `retry-after`, and has a full outage of `--outage-secs` once half
//! the repos exist. Up to three runs (the faults stay on); after each, a read-only plan with
//! the faults off tells whether the fleet has converged.

use super::{panics, roomy_github, start_fleet, Figures};
use crate::args::ChaosArgs;
use fleetsync::apply::Outcome;
use fleetsync::reconcile::{RunOptions, RunReport};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The fault mix of the issue.
pub fn fault_settings(seed: u64) -> fleetsync_sim::github::GithubSimSettings {
    let mut gh = roomy_github();
    gh.error_rate = 0.10;
    gh.reset_rate = 0.02;
    gh.secondary_rate = 0.02;
    gh.secondary_retry_after_secs = 1;
    gh.seed = seed;
    gh
}

/// A short label of a failure's cause, from its message.
pub fn cause_of(msg: &str) -> &'static str {
    let m = msg.to_ascii_lowercase();
    if m.contains("503") {
        "503 outage"
    } else if m.contains("502") || m.contains("http 5") {
        "5xx"
    } else if m.contains("secondary") || m.contains("rate limit") {
        "rate limit"
    } else if m.contains("reset")
        || m.contains("connection")
        || m.contains("no answer")
        || m.contains("transport")
        || m.contains("ambiguous")
        || m.contains("body")
    {
        "transport"
    } else if m.trim().is_empty() {
        "none"
    } else {
        "other"
    }
}

/// Every failure of a run: `(where, message)`.
pub fn failures(report: &RunReport) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for r in &report.results {
        for s in &r.results {
            if let Outcome::Failed(m) = &s.outcome {
                out.push((s.step.address.to_string(), m.clone()));
            }
        }
    }
    for e in &report.plan.errors {
        out.push((e.repo.clone(), e.reason.clone()));
    }
    for e in &report.plan.unknown_nodes {
        out.push((e.node.clone(), e.reason.clone()));
    }
    out
}

/// Runs the scenario, adding its figures to `figs`; an error means it could not run.
pub async fn run(args: &ChaosArgs, figs: &mut Figures) -> Result<(), String> {
    let panics_before = panics();
    let fleet =
        Arc::new(start_fleet(args.projects, 2, fault_settings(args.seed), args.seed).await?);
    let wanted = fleet.wanted_project_repos();
    let store = fleet.store()?;
    let started = Instant::now();
    let mut converged_after: Option<usize> = None;
    let mut failures_total = 0u64;
    let mut uncaused = 0u64;
    let mut causes: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut statuses = Vec::new();
    let mut outage_done = false;
    for run_no in 1..=3usize {
        let run_id = store
            .start_run("chaos", None, false)
            .map_err(|e| e.to_string())?;
        let f = fleet.clone();
        let task = tokio::spawn(async move {
            let engine = f.engine()?;
            Ok::<RunReport, String>(
                engine
                    .run(RunOptions {
                        run_id: Some(run_id),
                        ..Default::default()
                    })
                    .await,
            )
        });
        // The outage: once half the project repos exist, during the first run.
        if !outage_done {
            outage_done = true;
            let half = (wanted.len() / 2).max(1) as u64;
            loop {
                let created = fleet
                    .gh
                    .handle
                    .counters()
                    .count("POST /orgs/{org}/repos 201");
                if created >= half || task.is_finished() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if !task.is_finished() {
                eprintln!(
                    "chaos: GitHub outage for {}s at {:.0}s",
                    args.outage_secs,
                    started.elapsed().as_secs_f64()
                );
                fleet.gh.handle.update_settings(|s| s.outage = true);
                tokio::time::sleep(Duration::from_secs(args.outage_secs)).await;
                fleet.gh.handle.update_settings(|s| s.outage = false);
                figs.add(
                    "GitHub outage in the middle of run 1",
                    format!("{}s", args.outage_secs),
                    "during the cold start",
                    !task.is_finished(),
                );
            }
        }
        let report = match task.await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err(e),
            Err(e) => {
                return Err(format!(
                    "run {run_no} did not finish (panicked: {}): {e}",
                    e.is_panic()
                ));
            }
        };
        let _ = store.finish_run(
            run_id,
            report.status.as_str(),
            &report.counts,
            report.requests as i64,
            report.charged as i64,
            &report.summary,
            report.error.as_deref(),
        );
        for (_, msg) in failures(&report) {
            failures_total += 1;
            let c = cause_of(&msg);
            if c == "none" {
                uncaused += 1;
            }
            *causes.entry(c).or_default() += 1;
        }
        if report.status != "succeeded" && report.error.as_deref().unwrap_or("").is_empty() {
            uncaused += 1;
        }
        statuses.push(report.status.to_string());
        eprintln!(
            "chaos: run {run_no} {} in {:.0}s",
            report.summary, report.duration_seconds
        );
        // Converged? A read-only plan with the faults off.
        let saved = fleet.gh.handle.settings();
        fleet.gh.handle.update_settings(|s| {
            s.error_rate = 0.0;
            s.reset_rate = 0.0;
            s.secondary_rate = 0.0;
        });
        let plan = fleet.plan().await?;
        fleet.gh.handle.update_settings(|s| *s = saved);
        if plan.plan.step_count() == 0 && plan.plan.errors.is_empty() {
            converged_after = Some(run_no);
            break;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    figs.add(
        "projects in the cold start",
        format!("{} ({} managed)", args.projects, wanted.len()),
        "500 (issue 7)",
        true,
    );
    figs.add(
        "runs to converge",
        converged_after
            .map(|n| n.to_string())
            .unwrap_or_else(|| "not within 3".into()),
        "<= 3",
        converged_after.is_some(),
    );
    figs.add("run outcomes", statuses.join(", "), "-", true);
    figs.add("wall time", format!("{elapsed:.0}s"), "-", true);

    // Duplicates and orphans, from GitHub's side and the store's.
    let c = fleet.gh.handle.counters();
    let on_github: BTreeSet<String> = fleet
        .gh
        .handle
        .repo_names()
        .into_iter()
        .map(|n| n.to_ascii_lowercase())
        .collect();
    let managed: BTreeSet<String> = store
        .list_repos()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|r| r.name.to_ascii_lowercase())
        .collect();
    let created_201 = c.count("POST /orgs/{org}/repos 201");
    let refused_dup = c.count("POST /orgs/{org}/repos 422");
    let duplicates = created_201.saturating_sub(on_github.len() as u64) + refused_dup;
    figs.zero(
        "duplicate repo creations (201s beyond one per repo, 422s)",
        duplicates,
    );
    let orphans = on_github.difference(&managed).count() + managed.difference(&on_github).count();
    figs.zero("orphan repos (on GitHub xor in the store)", orphans as u64);
    let missing = wanted
        .iter()
        .filter(|w| !on_github.contains(&w.to_ascii_lowercase()))
        .count();
    figs.zero("wanted project repos missing", missing as u64);
    figs.zero("panics", panics().saturating_sub(panics_before));
    figs.add(
        "failures recorded (cause: count)",
        format!(
            "{failures_total} ({})",
            causes
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "each with a cause",
        uncaused == 0,
    );
    // Every repo left in error in the store says why.
    let silent = store
        .list_repos()
        .map_err(|e| e.to_string())?
        .iter()
        .filter(|r| r.status == "error" && r.last_error.as_deref().unwrap_or("").trim().is_empty())
        .count();
    figs.zero("repos in error without a recorded cause", silent as u64);
    figs.add(
        "injected: 5xx / resets / secondary 403 / requests",
        format!(
            "{} / {} / {} / {}",
            c.injected_errors, c.connection_resets, c.secondary_limited, c.requests
        ),
        "-",
        true,
    );
    Ok(())
}
