//! `fleetsync-harness bench`: starts the simulated DSS node and GitHub with a configurable fleet and
//! latency, runs fleetsync's engine (in process, and fleetd as a child process) against
//! them, and prints a table of figures against the performance targets, plus JSON.
//!
//! Scenarios, all in one invocation so their ratios are measured side by side:
//!
//! 1. cold start of `--projects` projects and `--plugins` dev plugins, GitHub empty, the
//!    simulator allowing W content writes per minute (`--write-limit`);
//! 2. no-op reconcile of the converged fleet, measured after one no-op refreshed the ETag
//!    cache (in process; CPU and peak RSS also measured on fleetd);
//! 3. the same refresh done per resource, Terraform-style ([`baseline`]);
//! 4. one project added: `POST /api/v1/reconcile {"projects":[KEY]}` to fleetd until the
//!    run is done and the project's repo is converged;
//! 5. fleetd's memory with `--memory-repos` managed repos, idle and during a no-op run;
//! 6. GitHub's real secondary limits with the org-scoped layout and App auth
//!    ([`github_limits`]): a cold start on a shortened clock, a no-op and a rotation of
//!    `--limits-fleet` repos on GitHub's clock, and projections for 1,000 and 10,000 repos.

mod baseline;
mod github_limits;
mod report;

use crate::args::BenchArgs;
use crate::fleet::{Fleet, FleetSpec, Pacing, Secrets};
use crate::fleetd::{fleetd_path, Fleetd};
use crate::proc_stats::{self, CpuSplit};
use crate::Report;
use fleetsync::reconcile::{Engine, RunOptions, RunReport};
use fleetsync_sim::dss::DssSimSettings;
use fleetsync_sim::github::{GithubSimSettings, TrafficCounters};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// The benchmark fleets' credentials and secret values.
const SECRETS: Secrets = Secrets {
    dss_key: "bench-dss-key",
    gh_token: "ghp_fleetBenchToken",
    api_token: "bench-api-token",
    dev_token: "bench-dev-token",
    staging_token: "bench-staging-token",
    prod_token: "bench-prod-token",
    client_cert: "-----BEGIN CERTIFICATE-----\nbench\n-----END CERTIFICATE-----\n",
};

/// Name prefix of the simulator runtime's threads.
const SIM_THREAD: &str = "fleetsim";

/// How long a run on fleetd may take before the benchmark gives up.
const DAEMON_RUN_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// The key of the project added in scenario 4.
const NEW_PROJECT: &str = "BENCHNEW";

/// One engine run, with the simulator's view of its traffic.
struct Measured {
    report: RunReport,
    seconds: f64,
    traffic: TrafficCounters,
    cpu_fleetsync: f64,
    cpu_sim: f64,
}

impl Measured {
    fn applied(&self) -> u64 {
        self.report
            .counts
            .iter()
            .filter(|(k, _)| k.ends_with("/ok"))
            .map(|(_, v)| *v)
            .sum()
    }
    fn per_repo(&self, n: u64) -> f64 {
        n as f64 / self.report.repos.max(1) as f64
    }
    fn json(&self) -> Value {
        let t = &self.traffic;
        json!({
            "status": self.report.status,
            "repos": self.report.repos,
            "wall_seconds": round(self.seconds, 2),
            "requests": t.requests,
            "requests_per_repo": round(self.per_repo(t.requests), 3),
            "writes": t.writes(),
            "writes_per_repo": round(self.per_repo(t.writes()), 3),
            "content_writes": t.content_writes,
            "not_modified": t.not_modified,
            "charged_points": t.charged,
            "charged_points_per_repo": round(self.per_repo(t.charged), 4),
            "rate_limit_responses": t.primary_limited + t.secondary_limited,
            "client_rate_limited": self.report.rate_limited,
            "steps_applied": self.applied(),
            "cpu_seconds_fleetsync": round(self.cpu_fleetsync, 2),
            "cpu_seconds_simulator": round(self.cpu_sim, 2),
            "summary": self.report.summary,
        })
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

async fn measure(fleet: &Fleet, engine: &Engine, opts: RunOptions) -> Measured {
    fleet.gh.handle.reset_counters();
    let cpu0 = CpuSplit::now(SIM_THREAD);
    let t = Instant::now();
    let report = engine.run(opts).await;
    let seconds = t.elapsed().as_secs_f64();
    let cpu1 = CpuSplit::now(SIM_THREAD);
    Measured {
        report,
        seconds,
        traffic: fleet.gh.handle.counters(),
        cpu_fleetsync: cpu1.fleetsync_since(&cpu0),
        cpu_sim: cpu1.sim_since(&cpu0),
    }
}

fn progress(quiet: bool, msg: &str) {
    if !quiet {
        eprintln!("bench: {msg}");
    }
}

/// The simulator's GitHub for the main fleet: content writes limited to W/min (and 60·W/h),
/// GitHub's 900 points/min/endpoint scaled by W/80 like the content limit, the primary
/// limit out of the way (charged points are reported instead).
fn main_github(args: &BenchArgs) -> GithubSimSettings {
    let w = args.write_limit.max(1);
    GithubSimSettings {
        content_writes_per_minute: w,
        content_writes_per_hour: w.saturating_mul(60),
        points_per_minute: (900u64 * u64::from(w) / 80).max(900) as u32,
        primary_limit: 100_000_000,
        latency_ms: args.latency_ms,
        log_capacity: 1_000,
        // The organisation defines the ownership marker property (written in the creating
        // POST: no request of its own).
        custom_properties: vec![fleetsync_sim::github::SimCustomProperty::org_string(
            "fleetsync",
        )],
        ..Default::default()
    }
}

/// A benchmark fleet in `dir`: its simulators on `sim_rt`, the config's `[daemon]` as the
/// benchmark wants it (runs only through the API, logs at `warn`), no tag filter.
async fn start_fleet(
    sim_rt: &tokio::runtime::Handle,
    dir: &Path,
    dss: DssSimSettings,
    github: GithubSimSettings,
    pacing: Pacing,
) -> Result<Fleet, String> {
    let mut fleet = Fleet::start(FleetSpec {
        dss,
        github,
        secrets: SECRETS,
        sim_runtime: Some(sim_rt.clone()),
        dir: Some(dir.to_path_buf()),
    })
    .await?;
    fleet.listen_port = crate::fleet::free_port()?;
    // Never fires during a benchmark: runs are triggered through the API.
    fleet.schedule = "0 0 3 1 1 *".into();
    fleet.log_level = Some("warn".into());
    fleet.exclude_no_gitops = false;
    fleet.pacing = pacing;
    fleet.write_config()?;
    Ok(fleet)
}

/// Starts fleetd on a benchmark fleet (its log in `log`).
async fn start_fleetd(bin: &Path, fleet: &Fleet, log: &Path) -> Result<Fleetd, String> {
    Fleetd::start(bin, fleet, log, Duration::from_secs(60)).await
}

/// `fleetsync-harness bench`.
pub async fn run(args: &BenchArgs) -> Report {
    let root = std::env::temp_dir().join(format!(
        "fleetsync-bench-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    ));
    let sim_rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(SIM_THREAD)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return failed(format!("simulator runtime: {e}")),
    };
    let res = scenarios(args, &root, sim_rt.handle()).await;
    sim_rt.shutdown_background();
    if args.keep {
        eprintln!("bench: files kept in {}", root.display());
    } else {
        // Best effort: a temp folder left behind does not change the figures.
        let _ = std::fs::remove_dir_all(&root);
    }
    match res {
        Ok(results) => {
            let table = report::table(&results);
            let json =
                serde_json::to_string_pretty(&results).unwrap_or_else(|_| results.to_string());
            if args.json {
                Report {
                    stdout: format!("{json}\n"),
                    stderr: table,
                    code: 0,
                }
            } else {
                Report {
                    stdout: table,
                    stderr: String::new(),
                    code: 0,
                }
            }
        }
        Err(e) => failed(e),
    }
}

fn failed(e: String) -> Report {
    Report {
        stdout: String::new(),
        stderr: format!("error: {e}\n"),
        code: 1,
    }
}

async fn scenarios(
    args: &BenchArgs,
    root: &Path,
    sim_rt: &tokio::runtime::Handle,
) -> Result<Value, String> {
    if args.github_limits_only {
        let limits = github_limits::run(args, root, sim_rt).await?;
        let mut results = json!({
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "settings": settings_json(args, None, None),
            "github_limits": limits,
        });
        results["targets"] = report::targets(&results);
        return Ok(results);
    }
    let quiet = false;
    let w = args.write_limit.max(1);
    let pacing = Pacing {
        concurrency: args.concurrency.max(1),
        max_in_flight: args.max_in_flight.max(1),
        // Just under W: the pacer's small burst must not push a 60 s window over W.
        writes_per_minute: (w as u64 * 98 / 100).max(1) as u32,
        writes_per_hour: w.saturating_mul(60),
        points_per_minute: main_github(args).points_per_minute,
        time_scale: 1,
        request_timeout: None,
    };
    let gh_settings = main_github(args);
    let dss = DssSimSettings {
        projects: args.projects,
        plugins: args.plugins,
        latency_ms: args.latency_ms,
        ..Default::default()
    };
    let fleet = start_fleet(
        sim_rt,
        &root.join("fleet"),
        dss,
        gh_settings.clone(),
        pacing.clone(),
    )
    .await?;
    let engine = fleet.engine()?;

    // 1. Cold start.
    progress(
        quiet,
        &format!(
            "1/5 cold start: {} projects + {} plugins, W = {w}/min, latency {} ms",
            args.projects, args.plugins, args.latency_ms
        ),
    );
    let cold = measure(&fleet, &engine, RunOptions::default()).await;
    let repos = cold.report.repos.max(1);
    let achieved_per_min = cold.traffic.content_writes as f64 / cold.seconds.max(1e-9) * 60.0;
    let mut by_route = serde_json::Map::new();
    for (k, n) in &cold.traffic.by_route {
        by_route.insert(k.clone(), json!(round(*n as f64 / repos as f64, 3)));
    }
    let mut cold_json = cold.json();
    cold_json["achieved_content_writes_per_minute"] = json!(round(achieved_per_min, 1));
    cold_json["achieved_ratio_of_w"] = json!(round(achieved_per_min / w as f64, 3));
    cold_json["per_repo_by_route"] = Value::Object(by_route);

    // 2. No-op, cold ETag cache then warm.
    progress(
        quiet,
        "2/5 no-op reconcile (first refreshes the ETag cache)",
    );
    let noop_cold = measure(&fleet, &engine, RunOptions::default()).await;
    let peak_reset = proc_stats::reset_peak();
    let noop = measure(&fleet, &engine, RunOptions::default()).await;
    let peak = proc_stats::peak_rss_mib(None);
    let mut noop_json = noop.json();
    noop_json["converged"] = json!(noop.applied() == 0 && !noop.report.plan.has_changes());
    noop_json["peak_rss_mib_bench_process"] = json!(peak.map(|m| round(m, 1)));
    noop_json["peak_rss_is_since_reset"] = json!(peak_reset);
    noop_json["first_noop_cold_etag_cache"] = noop_cold.json();

    // 3. Baseline.
    progress(quiet, "3/5 baseline: per-resource refresh");
    let config = fleet.config()?;
    let names = fleet.gh.handle.repo_names();
    let plugin_repos: std::collections::BTreeSet<String> = fleet
        .store()?
        .list_repos()
        .map_err(|e| format!("reading the repos of the state file: {e}"))?
        .into_iter()
        .filter(|r| r.source_kind == "plugin")
        .map(|r| r.name)
        .collect();
    let scoped: Vec<(String, fleetsync::config::Scope)> = names
        .iter()
        .map(|n| {
            let scope = if plugin_repos.contains(n) {
                fleetsync::config::Scope::Plugin
            } else {
                fleetsync::config::Scope::Project
            };
            (n.clone(), scope)
        })
        .collect();
    fleet.gh.handle.reset_counters();
    let base = baseline::refresh(
        &config,
        &fleet.gh.url,
        SECRETS.gh_token,
        &scoped,
        pacing.concurrency as usize,
        pacing.max_in_flight,
    )
    .await?;
    let bt = fleet.gh.handle.counters();
    let n = names.len().max(1) as f64;
    let base_json = json!({
        "repos": names.len(),
        "wall_seconds": round(base.seconds, 2),
        "requests": bt.requests,
        "requests_per_repo": round(bt.requests as f64 / n, 3),
        "failed_reads": base.failed,
        "charged_points": bt.charged,
        "charged_points_per_repo": round(bt.charged as f64 / n, 3),
        "rate_limit_responses": bt.primary_limited + bt.secondary_limited,
    });
    drop(engine);

    // 4 (and fleetd's view of 2). One new project through fleetd.
    progress(
        quiet,
        "4/5 one new project through fleetd (and a full no-op on fleetd)",
    );
    let bin = fleetd_path(args.fleetd.as_deref())?;
    let d = start_fleetd(&bin, &fleet, &root.join("fleetd-main.log")).await?;
    let pid = Some(d.pid());
    // A full no-op on the daemon: its CPU time and peak RSS (fleetd alone).
    let cpu0 = proc_stats::cpu_seconds(pid).unwrap_or(0.0);
    let dnoop = d
        .run(&[], Duration::from_millis(50), DAEMON_RUN_TIMEOUT)
        .await?;
    let cpu1 = proc_stats::cpu_seconds(pid).unwrap_or(0.0);
    let daemon_noop = json!({
        "status": dnoop.status,
        "wall_seconds": round(dnoop.seconds, 2),
        "requests": dnoop.requests,
        "charged_points": dnoop.points,
        "cpu_seconds": round(cpu1 - cpu0, 2),
        "max_rss_mib_sampled": round(dnoop.max_rss_mib, 1),
        "peak_rss_mib": proc_stats::peak_rss_mib(pid).map(|m| round(m, 1)),
    });
    noop_json["fleetd"] = daemon_noop;
    fleet
        .dss
        .handle
        .add_project(NEW_PROJECT, "Added by the benchmark", &[]);
    fleet.gh.handle.reset_counters();
    let one = d
        .run(
            &[NEW_PROJECT.to_string()],
            Duration::from_millis(10),
            DAEMON_RUN_TIMEOUT,
        )
        .await?;
    let one_traffic = fleet.gh.handle.counters();
    d.kill();
    let check = fleet
        .engine()?
        .run(RunOptions {
            dry_run: true,
            projects: vec![NEW_PROJECT.to_string()],
            ..Default::default()
        })
        .await;
    let new_json = json!({
        "project": NEW_PROJECT,
        "status": one.status,
        "seconds_to_converged": round(one.seconds, 3),
        "requests": one_traffic.requests,
        "writes": one_traffic.writes(),
        "content_writes": one_traffic.content_writes,
        "rate_limit_responses": one_traffic.primary_limited + one_traffic.secondary_limited,
        "converged": check.repos == 1 && !check.plan.has_changes() && check.plan.errors.is_empty(),
        "summary": one.summary,
    });
    fleet.shutdown().await;

    // 5. Memory at scale.
    let mem_json = if args.memory_repos > 0 {
        memory(args, root, sim_rt, &bin).await?
    } else {
        json!(null)
    };

    // 6. GitHub's real limits.
    let limits = github_limits::run(args, root, sim_rt).await?;

    let results = json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "settings": settings_json(args, Some(&pacing), Some(&gh_settings)),
        "github_limits": limits,
        "cold_start": cold_json,
        "noop": noop_json,
        "baseline": base_json,
        "new_project": new_json,
        "memory": mem_json,
    });
    let targets = report::targets(&results);
    let mut results = results;
    results["targets"] = targets;
    Ok(results)
}

/// The settings of the scaled scenarios (1–5; `None` when only scenario 6 ran).
fn settings_json(
    args: &BenchArgs,
    pacing: Option<&Pacing>,
    gh: Option<&GithubSimSettings>,
) -> Value {
    json!({
        "projects": args.projects,
        "plugins": args.plugins,
        "write_limit_w_per_minute": args.write_limit,
        "latency_ms": args.latency_ms,
        "limits_projects": args.limits_projects,
        "limits_fleet": args.limits_fleet,
        "time_scale": args.time_scale,
        "pacing": pacing.map(|p| json!({
            "concurrency": p.concurrency,
            "max_in_flight": p.max_in_flight,
            "writes_per_minute": p.writes_per_minute,
            "writes_per_hour": p.writes_per_hour,
            "points_per_minute": p.points_per_minute,
        })),
        "simulator_github": gh.map(|g| json!({
            "content_writes_per_minute": g.content_writes_per_minute,
            "content_writes_per_hour": g.content_writes_per_hour,
            "points_per_minute_per_endpoint": g.points_per_minute,
            "max_concurrent": g.max_concurrent,
            "primary_limit_per_hour": g.primary_limit,
        })),
        "memory_repos": args.memory_repos,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
    })
}

/// Scenario 5: a fleet of `--memory-repos` converged repos (cold-started in process with
/// the limits off, latency 0, then one no-op to fill the ETag cache), then fleetd started on
/// it: RSS at idle and during a no-op run.
async fn memory(
    args: &BenchArgs,
    root: &Path,
    sim_rt: &tokio::runtime::Handle,
    bin: &Path,
) -> Result<Value, String> {
    let n = args.memory_repos;
    progress(
        false,
        &format!("5/5 memory: seeding {n} converged repos (limits off, latency 0)"),
    );
    let dss = DssSimSettings {
        projects: n,
        plugins: 0,
        latency_ms: 0,
        ..Default::default()
    };
    let github = GithubSimSettings {
        content_writes_per_minute: 0,
        content_writes_per_hour: 0,
        points_per_minute: 0,
        max_concurrent: 0,
        primary_limit: u64::MAX / 2,
        log_capacity: 1_000,
        ..Default::default()
    };
    let pacing = Pacing {
        concurrency: 32,
        max_in_flight: 64,
        writes_per_minute: 10_000_000,
        writes_per_hour: 100_000_000,
        points_per_minute: 100_000_000,
        time_scale: 1,
        request_timeout: None,
    };
    let fleet = start_fleet(sim_rt, &root.join("memory"), dss, github, pacing).await?;
    let engine = fleet.engine()?;
    let seed = measure(&fleet, &engine, RunOptions::default()).await;
    let fill = measure(&fleet, &engine, RunOptions::default()).await;
    drop(engine);
    progress(false, "5/5 memory: fleetd idle, then a no-op run");
    let d = start_fleetd(bin, &fleet, &root.join("fleetd-memory.log")).await?;
    let pid = Some(d.pid());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = proc_stats::rss_mib(pid);
    let idle_peak = proc_stats::peak_rss_mib(pid);
    fleet.gh.handle.reset_counters();
    let cpu0 = proc_stats::cpu_seconds(pid).unwrap_or(0.0);
    let run = d
        .run(&[], Duration::from_millis(100), DAEMON_RUN_TIMEOUT)
        .await?;
    let cpu1 = proc_stats::cpu_seconds(pid).unwrap_or(0.0);
    let after_rss = proc_stats::rss_mib(pid);
    let peak = proc_stats::peak_rss_mib(pid);
    let t = fleet.gh.handle.counters();
    d.kill();
    fleet.shutdown().await;
    Ok(json!({
        "repos": seed.report.repos,
        "seed_seconds": round(seed.seconds, 1),
        "seed_status": seed.report.status,
        "etag_fill_seconds": round(fill.seconds, 1),
        "fleetd_idle_rss_mib": idle_rss.map(|m| round(m, 1)),
        "fleetd_idle_peak_rss_mib": idle_peak.map(|m| round(m, 1)),
        "noop_status": run.status,
        "noop_wall_seconds": round(run.seconds, 2),
        "noop_requests": t.requests,
        "noop_charged_points": t.charged,
        "noop_cpu_seconds": round(cpu1 - cpu0, 2),
        "fleetd_noop_max_rss_mib_sampled": round(run.max_rss_mib, 1),
        "fleetd_rss_after_noop_mib": after_rss.map(|m| round(m, 1)),
        "fleetd_peak_rss_mib": peak.map(|m| round(m, 1)),
    }))
}
