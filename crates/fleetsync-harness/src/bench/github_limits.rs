//! Scenario 6 of the benchmark: GitHub's real secondary limits (900 points per minute per
//! endpoint, 80 content-generating requests per minute and 500 per hour, 100 requests at
//! once), the recommended org-scoped layout, and a GitHub App. What is scaled, and how:
//!
//! - **6a cold start**: `--limits-projects` projects (default 100) on a clock shortened by
//!   `--time-scale` (default 20): the simulator's secondary windows and the pacer's windows
//!   are both divided by it, the budgets are GitHub's own. Wall time × time scale is the
//!   time on GitHub's clock (latency is not scaled).
//! - **6b no-op and rotation**: `--limits-fleet` repos (default 1,000), seeded with the limits
//!   off, ETags warmed, then a no-op and the rotation of one fleet-wide secret at GitHub's
//!   real limits **on GitHub's own clock** (time scale 1).
//! - **6c projections** for 1,000 and 10,000 repos on real GitHub from the measured per-repo
//!   costs, with the limit that binds each (GitHub's latency is not known here and left out).

use super::{measure, round, start_fleet, Measured};
use crate::args::BenchArgs;
use crate::fleet::{Fleet, Pacing};
use fleetsync::reconcile::RunOptions;
use fleetsync_sim::dss::DssSimSettings;
use fleetsync_sim::github::{GithubSimSettings, SimApp, TrafficCounters};
use serde_json::{json, Value};
use std::path::Path;

/// The simulator's App (the key pair of the tests' fixtures).
const APP_PUBLIC_KEY: &str = include_str!("../../../../tests/fixtures/sim-app-key.pub.pem");
const APP_PRIVATE_KEY: &str = include_str!("../../../../tests/fixtures/sim-app-key.pem");
const APP_AUTH: &str =
    r#"{ app = { app_id = 4242, installation_id = 77, private_key = { file = "app.pem" } } }"#;
const MINT: &str = "POST /app/installations/{installation_id}/access_tokens";

/// GitHub's published secondary limits on a clock `scale` times faster; the primary limit
/// out of the way (charged points are reported instead).
fn github_limits(args: &BenchArgs, scale: u32) -> GithubSimSettings {
    GithubSimSettings {
        time_scale: scale,
        primary_limit: 100_000_000,
        latency_ms: args.latency_ms,
        log_capacity: 1_000,
        apps: vec![SimApp {
            app_id: 4242,
            installation_id: 77,
            public_key_pem: APP_PUBLIC_KEY.to_string(),
            workflows: true,
            custom_properties: true,
        }],
        ..Default::default()
    }
}

/// fleetsync's defaults (GitHub's numbers) on the same clock.
fn github_pacing(args: &BenchArgs, scale: u32) -> Pacing {
    Pacing {
        concurrency: args.concurrency.max(1),
        max_in_flight: 64,
        writes_per_minute: 80,
        writes_per_hour: 500,
        points_per_minute: 900,
        time_scale: scale,
        request_timeout: None,
    }
}

async fn org_fleet(
    sim_rt: &tokio::runtime::Handle,
    dir: &Path,
    projects: usize,
    github: GithubSimSettings,
    pacing: Pacing,
    args: &BenchArgs,
) -> Result<Fleet, String> {
    let dss = DssSimSettings {
        projects,
        plugins: 0,
        latency_ms: args.latency_ms,
        ..Default::default()
    };
    let mut fleet = start_fleet(sim_rt, dir, dss, github, pacing).await?;
    let key = fleet.dir.join("app.pem");
    std::fs::write(&key, APP_PRIVATE_KEY).map_err(|e| format!("{}: {e}", key.display()))?;
    restrict(&key)?;
    fleet.github_auth = APP_AUTH.into();
    fleet.org_scoped = true;
    fleet.write_config()?;
    Ok(fleet)
}

#[cfg(unix)]
fn restrict(p: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", p.display()))
}

#[cfg(not(unix))]
fn restrict(_p: &Path) -> Result<(), String> {
    Ok(())
}

/// Reads of the busiest endpoint (route template) in a run.
fn busiest_reads(t: &TrafficCounters) -> (String, u64) {
    let mut by: std::collections::BTreeMap<String, u64> = Default::default();
    for (k, n) in &t.by_route {
        if let Some(rest) = k.strip_prefix("GET ") {
            let route = rest.rsplit_once(' ').map_or(rest, |(r, _)| r);
            *by.entry(route.to_string()).or_default() += n;
        }
    }
    by.into_iter().max_by_key(|(_, n)| *n).unwrap_or_default()
}

/// Points spent on the busiest endpoint in a run (GET 1, writes 5), and its name.
fn busiest_points(t: &TrafficCounters) -> (String, u64) {
    let mut by: std::collections::BTreeMap<String, u64> = Default::default();
    for (k, n) in &t.by_route {
        let (method, rest) = k.split_once(' ').unwrap_or(("GET", k));
        let route = rest.rsplit_once(' ').map_or(rest, |(r, _)| r);
        let p = if method == "GET" { 1 } else { 5 };
        *by.entry(format!("{method} {route}")).or_default() += n * p;
    }
    by.into_iter().max_by_key(|(_, n)| *n).unwrap_or_default()
}

fn secondary(m: &Measured) -> u64 {
    m.traffic.secondary_limited
}

/// 6a: a cold start at GitHub's limits on a shortened clock.
async fn cold_start(
    args: &BenchArgs,
    root: &Path,
    sim_rt: &tokio::runtime::Handle,
) -> Result<Value, String> {
    let k = args.time_scale.max(1);
    let n = args.limits_projects;
    super::progress(
        false,
        &format!("6a cold start at GitHub's limits: {n} projects, org-scoped, clock x{k}"),
    );
    let fleet = org_fleet(
        sim_rt,
        &root.join("limits-cold"),
        n,
        github_limits(args, k),
        github_pacing(args, k),
        args,
    )
    .await?;
    let engine = fleet.engine()?;
    let cold = measure(&fleet, &engine, RunOptions::default()).await;
    let repos = cold.report.repos.max(1) as f64;
    let t = &cold.traffic;
    let org_requests = t.count("GET /orgs/")
        + t.count("PUT /orgs/")
        + t.count("POST /orgs/{org}/actions")
        + t.count("PATCH /orgs/");
    let github_seconds = cold.seconds * f64::from(k);
    let content_rate = t.content_writes as f64 / (github_seconds / 60.0).max(1e-9);
    let (ep, ep_points) = busiest_points(t);
    drop(engine);
    fleet.shutdown().await;
    Ok(json!({
        "repos": cold.report.repos,
        "status": cold.report.status,
        "time_scale": k,
        "wall_seconds": round(cold.seconds, 2),
        "github_clock_seconds": round(github_seconds, 1),
        "requests": t.requests,
        "requests_per_repo": round(t.requests as f64 / repos, 3),
        "requests_per_repo_without_org_phase": round((t.requests - org_requests - t.count(MINT)) as f64 / repos, 3),
        "org_phase_requests": org_requests,
        "content_writes_per_repo": round(t.content_writes as f64 / repos, 3),
        "secondary_limit_responses": t.secondary_limited,
        "token_requests": t.count(MINT),
        "content_writes_per_github_minute": round(content_rate, 1),
        "content_ratio_of_allowed": round(content_rate / 80.0, 3),
        "busiest_endpoint": ep,
        "busiest_endpoint_points_per_repo": round(ep_points as f64 / repos, 2),
        "per_repo_by_route": t.by_route.iter().map(|(k, v)| (k.clone(), json!(round(*v as f64 / repos, 3)))).collect::<serde_json::Map<_, _>>(),
    }))
}

/// 6b: a no-op and a rotation of `--limits-fleet` repos at GitHub's limits, real time.
async fn fleet_runs(
    args: &BenchArgs,
    root: &Path,
    sim_rt: &tokio::runtime::Handle,
) -> Result<Value, String> {
    let n = args.limits_fleet;
    super::progress(
        false,
        &format!("6b seeding {n} org-scoped repos (limits off), warming the ETags"),
    );
    let off = GithubSimSettings {
        content_writes_per_minute: 0,
        content_writes_per_hour: 0,
        points_per_minute: 0,
        max_concurrent: 0,
        latency_ms: 0,
        ..github_limits(args, 1)
    };
    let fast = Pacing {
        concurrency: 32,
        max_in_flight: 64,
        writes_per_minute: 10_000_000,
        writes_per_hour: 100_000_000,
        points_per_minute: 100_000_000,
        time_scale: 1,
        request_timeout: None,
    };
    let mut fleet = org_fleet(sim_rt, &root.join("limits-fleet"), n, off, fast, args).await?;
    let seed_engine = fleet.engine()?;
    let seed = measure(&fleet, &seed_engine, RunOptions::default()).await;
    let warm = measure(&fleet, &seed_engine, RunOptions::default()).await;
    drop(seed_engine);
    // GitHub's limits, GitHub's clock, fleetsync's defaults.
    let real = github_limits(args, 1);
    fleet.gh.handle.update_settings(|s| *s = real);
    fleet.pacing = github_pacing(args, 1);
    fleet.write_config()?;
    let engine = fleet.engine()?;
    super::progress(false, "6b no-op at GitHub's limits (real time)");
    let noop = measure(&fleet, &engine, RunOptions::default()).await;
    let (route, reads) = busiest_reads(&noop.traffic);
    let floor = reads as f64 / 900.0 * 60.0;
    super::progress(false, "6b rotation of one fleet-wide secret");
    let token = fleet.dir.join("prod-token");
    std::fs::write(&token, "bench-prod-token-rotated")
        .map_err(|e| format!("{}: {e}", token.display()))?;
    let rot = measure(&fleet, &engine, RunOptions::default()).await;
    let rot_writes: Vec<String> = rot
        .traffic
        .by_route
        .iter()
        .filter(|(k, _)| !k.starts_with("GET "))
        .map(|(k, v)| format!("{k} x{v}"))
        .collect();
    let rotated = fleet
        .gh
        .handle
        .org_secret("acme", "DATAIKU_INSTANCE_PROD_CI_API_TOKEN")
        .map(|s| s.value == "bench-prod-token-rotated" && s.repos.len() == n)
        .unwrap_or(false);
    let mints = noop.traffic.count(MINT) + rot.traffic.count(MINT);
    drop(engine);
    fleet.shutdown().await;
    Ok(json!({
        "repos": noop.report.repos,
        "seed_seconds": round(seed.seconds, 1),
        "seed_status": seed.report.status,
        "etag_warm_status": warm.report.status,
        "noop": {
            "status": noop.report.status,
            "wall_seconds": round(noop.seconds, 2),
            "requests": noop.traffic.requests,
            "requests_per_repo": round(noop.traffic.requests as f64 / n.max(1) as f64, 3),
            "charged_primary_points": noop.traffic.charged,
            "writes": noop.traffic.writes(),
            "secondary_limit_responses": secondary(&noop),
            "busiest_endpoint": route,
            "busiest_endpoint_reads": reads,
            "floor_seconds": round(floor, 2),
            "wall_over_floor": round(noop.seconds / floor.max(1e-9), 3),
        },
        "rotation": {
            "status": rot.report.status,
            "wall_seconds": round(rot.seconds, 2),
            "requests": rot.traffic.requests,
            "rotation_requests": rot.traffic.requests.saturating_sub(noop.traffic.requests),
            "writes": rot_writes,
            "secondary_limit_responses": secondary(&rot),
            "every_repo_reads_the_new_value": rotated,
        },
        "token_requests_in_steady_runs": mints,
    }))
}

/// 6c: from the measured per-repo costs, the time on real GitHub for `n` repos, and the limit
/// that binds it. Cold start: content-generating requests (80/min, 500/h), the busiest
/// endpoint's points (900/min) and the primary limit (5,000 requests/h for a PAT; an App
/// installation gets more with more repos, up to 12,500/h). No-op with warm ETags: the busiest
/// endpoint's reads (900/min); 304s cost no primary points.
fn projections(cold: &Value) -> Value {
    let per = |k: &str| cold[k].as_f64().unwrap_or(0.0);
    let (req, content, ep) = (
        per("requests_per_repo"),
        per("content_writes_per_repo"),
        per("busiest_endpoint_points_per_repo"),
    );
    let mut out = serde_json::Map::new();
    for n in [1_000f64, 10_000f64] {
        let c = n * content;
        let content_min = if c <= 500.0 {
            c / 80.0
        } else {
            // 500 an hour; the last hour's 500 at up to 80 a minute.
            (c - 500.0) / 500.0 * 60.0 + 500.0 / 80.0
        };
        let points_min = n * ep / 900.0;
        let primary_pat_min = n * req / 5_000.0 * 60.0;
        let app_limit = (5_000.0 + 50.0 * (n - 20.0).max(0.0)).min(12_500.0);
        let primary_app_min = n * req / app_limit * 60.0;
        let cold = [
            ("content-generating requests (500/h, 80/min)", content_min),
            ("points per endpoint (900/min)", points_min),
            ("primary, GitHub App installation", primary_app_min),
        ];
        let (binds, minutes) = cold
            .iter()
            .cloned()
            .fold(("", 0.0), |a, b| if b.1 > a.1 { b } else { a });
        out.insert(
            format!("{n}"),
            json!({
                "cold_start_minutes": round(minutes, 1),
                "cold_start_binding_limit": binds,
                "cold_start_content_minutes": round(content_min, 1),
                "cold_start_points_minutes": round(points_min, 1),
                "cold_start_primary_minutes_pat": round(primary_pat_min, 1),
                "cold_start_primary_minutes_app": round(primary_app_min, 1),
                "noop_minutes": round(n / 900.0, 2),
                "noop_binding_limit": "points per endpoint (900/min): each repo is read once on each of its endpoints",
            }),
        );
    }
    Value::Object(out)
}

/// Scenario 6.
pub async fn run(
    args: &BenchArgs,
    root: &Path,
    sim_rt: &tokio::runtime::Handle,
) -> Result<Value, String> {
    let cold = cold_start(args, root, sim_rt).await?;
    let fleet = if args.limits_fleet > 0 {
        fleet_runs(args, root, sim_rt).await?
    } else {
        Value::Null
    };
    let projected = projections(&cold);
    Ok(json!({
        "limits": {
            "points_per_minute_per_endpoint": 900,
            "content_writes_per_minute": 80,
            "content_writes_per_hour": 500,
            "max_concurrent": 100,
        },
        "layout": "org-scoped: 4 secrets and 5 variables at org level, DATAIKU_PROJECT_KEY per repo",
        "auth": "GitHub App installation",
        "cold_start": cold,
        "fleet": fleet,
        "projected": projected,
    }))
}
