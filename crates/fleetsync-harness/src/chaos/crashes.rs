//! Crashes: fleetd (a child process) starts a cold start of `--crash-projects` projects and is
//! SIGKILLed `--kills` times at random points, restarted each time (its startup run resumes).
//! Then it runs to the end. The fleet must converge, SQLite's `integrity_check` must be ok,
//! and the simulated GitHub's request log must show no repeated non-idempotent write: no POST
//! answered 409/422 and exactly one 201 per repo creation.

use super::{roomy_github, start_fleet, start_fleetd, Figures};
use crate::args::ChaosArgs;
use crate::fleetd::fleetd_path;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

/// Runs the scenario, adding its figures to `figs`; an error means it could not run.
pub async fn run(args: &ChaosArgs, figs: &mut Figures) -> Result<(), String> {
    let bin = fleetd_path(args.fleetd.as_deref())?;
    let mut gh = roomy_github();
    gh.latency_ms = 15;
    let fleet = start_fleet(args.crash_projects, 1, gh, args.seed).await?;
    let wanted = fleet.wanted_project_repos();
    let log = fleet.dir.join("fleetd.log");
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let mut kill_points = Vec::new();
    let started = Instant::now();
    for _ in 0..args.kills {
        let d = start_fleetd(&bin, &fleet, &log).await?;
        d.trigger(&[]).await?;
        tokio::time::sleep(Duration::from_millis(rng.gen_range(50..=700))).await;
        d.kill(); // SIGKILL
        kill_points.push(fleet.gh.handle.repo_names().len());
    }
    // The last start runs to the end.
    let d = start_fleetd(&bin, &fleet, &log)
        .await
        .map_err(|e| format!("after the kills: {e}"))?;
    d.trigger(&[]).await?;
    let last = d.wait_idle(Duration::from_secs(600)).await;
    d.kill();
    let elapsed = started.elapsed().as_secs_f64();

    let during = kill_points.iter().filter(|n| **n < wanted.len()).count();
    figs.add(
        "SIGKILLs (during the cold start)",
        format!("{} ({during})", kill_points.len()),
        &format!("{}", args.kills),
        kill_points.len() as u32 == args.kills && during > 0,
    );
    figs.add(
        "repos existing at the kills (min..max)",
        format!(
            "{}..{} of {}",
            kill_points.iter().min().copied().unwrap_or(0),
            kill_points.iter().max().copied().unwrap_or(0),
            wanted.len() + 1
        ),
        "-",
        true,
    );
    figs.add(
        "final run after restart",
        last.clone().unwrap_or_else(|| "did not finish".into()),
        "succeeded",
        last.as_deref() == Some("succeeded"),
    );
    let plan = fleet.plan().await?;
    let pending = plan.plan.step_count() + plan.plan.errors.len();
    figs.add(
        "converged (pending steps after)",
        pending,
        "0",
        pending == 0,
    );
    let integrity = fleet
        .store()?
        .integrity_check()
        .unwrap_or_else(|e| e.to_string());
    figs.add(
        "SQLite integrity_check",
        &integrity,
        "ok",
        integrity == "ok",
    );
    let reqs = fleet.gh.handle.requests();
    let refused = reqs
        .iter()
        .filter(|r| r.method == "POST" && (r.status == 409 || r.status == 422))
        .count();
    figs.zero("POSTs answered 409/422 (repeated writes)", refused as u64);
    let creates = reqs
        .iter()
        .filter(|r| r.method == "POST" && r.route == "/orgs/{org}/repos" && r.status == 201)
        .count();
    let repos = fleet.gh.handle.repo_names().len();
    figs.add(
        "repo creations answered 201 / repos",
        format!("{creates} / {repos}"),
        "equal",
        creates == repos && repos >= wanted.len(),
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    figs.zero(
        "panics in fleetd's log",
        text.matches("panicked at").count() as u64,
    );
    figs.add("wall time", format!("{elapsed:.0}s"), "-", true);
    Ok(())
}
