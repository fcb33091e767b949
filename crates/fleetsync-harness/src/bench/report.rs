//! The benchmark's output: the targets of issue 6 checked against the measured figures, and
//! a Markdown table (the one the README's Performance section shows).

use serde_json::{json, Value};
use std::fmt::Write;

fn num(v: &Value, ptr: &str) -> Option<f64> {
    v.pointer(ptr).and_then(Value::as_f64)
}

fn check(name: &str, measured: Option<f64>, op: &str, limit: f64, unit: &str) -> Value {
    let holds = measured.map(|m| match op {
        "<=" => m <= limit,
        ">=" => m >= limit,
        _ => m == limit,
    });
    json!({
        "target": format!("{name} {op} {limit}{unit}"),
        "measured": measured,
        "holds": holds,
    })
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        (Some(a), Some(_)) if a > 0.0 => Some(f64::INFINITY),
        _ => None,
    }
}

/// The targets of scenario 6 (issue 16), at GitHub's real limits.
fn limit_targets(r: &Value) -> Vec<Value> {
    let g = "/github_limits";
    let mut t = vec![
        check(
            "6a cold start (org-scoped) requests/new repo",
            num(r, &format!("{g}/cold_start/requests_per_repo")),
            "<=",
            8.0,
            "",
        ),
        check(
            "6a cold start content-generating requests/new repo",
            num(r, &format!("{g}/cold_start/content_writes_per_repo")),
            "<=",
            3.0,
            "",
        ),
        check(
            "6a cold start secondary-limit responses",
            num(r, &format!("{g}/cold_start/secondary_limit_responses")),
            "==",
            0.0,
            "",
        ),
    ];
    if !r.pointer(&format!("{g}/fleet")).is_some_and(Value::is_null) {
        let f = format!("{g}/fleet");
        t.extend([
            check(
                "6b rotation of one fleet-wide secret, requests",
                num(r, &format!("{f}/rotation/rotation_requests")),
                "<=",
                3.0,
                "",
            ),
            check(
                "6b no-op secondary-limit responses",
                num(r, &format!("{f}/noop/secondary_limit_responses")),
                "==",
                0.0,
                "",
            ),
            check(
                "6b no-op charged primary points (warm ETags)",
                num(r, &format!("{f}/noop/charged_primary_points")),
                "==",
                0.0,
                "",
            ),
            check(
                "6b no-op wall time / busiest endpoint's floor",
                num(r, &format!("{f}/noop/wall_over_floor")),
                "<=",
                1.2,
                "x",
            ),
            check(
                "6b App token requests in steady runs",
                num(r, &format!("{f}/token_requests_in_steady_runs")),
                "<=",
                1.0,
                "",
            ),
        ]);
    }
    t
}

/// Every target, with its measurement and whether it holds.
pub fn targets(r: &Value) -> Value {
    if r.get("cold_start").is_none() {
        return Value::Array(limit_targets(r));
    }
    let noop_req = num(r, "/noop/requests_per_repo");
    let noop_pts = num(r, "/noop/charged_points_per_repo");
    let base_req = num(r, "/baseline/requests_per_repo");
    let base_pts = num(r, "/baseline/charged_points_per_repo");
    let pts_ratio = ratio(base_pts, noop_pts).map(|x| if x.is_finite() { x } else { 1e9 });
    let mut t = vec![
        check("no-op requests/repo", noop_req, "<=", 5.0, ""),
        check(
            "no-op charged points/repo (warm ETags)",
            noop_pts,
            "<=",
            0.05,
            "",
        ),
        check(
            "baseline/no-op requests",
            ratio(base_req, noop_req),
            ">=",
            3.0,
            "x",
        ),
        check("baseline/no-op points", pts_ratio, ">=", 50.0, "x"),
        check(
            "no-op wall time",
            num(r, "/noop/wall_seconds"),
            "<=",
            15.0,
            " s",
        ),
        check(
            "cold start content writes/min as a ratio of W",
            num(r, "/cold_start/achieved_ratio_of_w"),
            ">=",
            0.9,
            "",
        ),
        check(
            "cold start rate-limit responses",
            num(r, "/cold_start/rate_limit_responses"),
            "==",
            0.0,
            "",
        ),
        check(
            "cold start requests/new repo",
            num(r, "/cold_start/requests_per_repo"),
            "<=",
            16.0,
            "",
        ),
        check(
            "one new project, trigger to converged",
            num(r, "/new_project/seconds_to_converged"),
            "<=",
            2.0,
            " s",
        ),
    ];
    t.extend(limit_targets(r));
    if !r["memory"].is_null() {
        t.push(check(
            "fleetd idle RSS",
            num(r, "/memory/fleetd_idle_rss_mib"),
            "<=",
            64.0,
            " MiB",
        ));
        t.push(check(
            "fleetd peak RSS during a no-op",
            num(r, "/memory/fleetd_peak_rss_mib"),
            "<=",
            64.0,
            " MiB",
        ));
    }
    Value::Array(t)
}

fn fmt(v: &Value, ptr: &str) -> String {
    match v.pointer(ptr) {
        Some(Value::Number(n)) => {
            let f = n.as_f64().unwrap_or(0.0);
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{}", f as i64)
            } else {
                format!("{f}")
            }
        }
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Null) | None => "n/a".to_string(),
        Some(other) => other.to_string(),
    }
}

/// The figures and the targets as Markdown tables.
pub fn table(r: &Value) -> String {
    let mut s = String::new();
    let rows: &[(&str, &str, &str)] = &[
        ("1 cold start", "repos", "/cold_start/repos"),
        ("1 cold start", "wall time (s)", "/cold_start/wall_seconds"),
        (
            "1 cold start",
            "requests/repo",
            "/cold_start/requests_per_repo",
        ),
        ("1 cold start", "writes/repo", "/cold_start/writes_per_repo"),
        (
            "1 cold start",
            "content writes/min achieved",
            "/cold_start/achieved_content_writes_per_minute",
        ),
        (
            "1 cold start",
            "ratio of W",
            "/cold_start/achieved_ratio_of_w",
        ),
        (
            "1 cold start",
            "rate-limit responses",
            "/cold_start/rate_limit_responses",
        ),
        (
            "2 no-op (warm ETags)",
            "wall time (s)",
            "/noop/wall_seconds",
        ),
        (
            "2 no-op (warm ETags)",
            "requests/repo",
            "/noop/requests_per_repo",
        ),
        (
            "2 no-op (warm ETags)",
            "charged primary points/repo",
            "/noop/charged_points_per_repo",
        ),
        (
            "2 no-op (warm ETags)",
            "CPU s, fleetsync in process",
            "/noop/cpu_seconds_fleetsync",
        ),
        (
            "2 no-op (warm ETags)",
            "peak RSS MiB, bench process (engine + simulator)",
            "/noop/peak_rss_mib_bench_process",
        ),
        (
            "2 no-op on fleetd",
            "wall time (s), API trigger to done",
            "/noop/fleetd/wall_seconds",
        ),
        (
            "2 no-op on fleetd",
            "CPU s, fleetd",
            "/noop/fleetd/cpu_seconds",
        ),
        (
            "2 no-op on fleetd",
            "peak RSS MiB, fleetd",
            "/noop/fleetd/peak_rss_mib",
        ),
        (
            "2 no-op (cold ETags)",
            "requests/repo",
            "/noop/first_noop_cold_etag_cache/requests_per_repo",
        ),
        (
            "2 no-op (cold ETags)",
            "charged points/repo",
            "/noop/first_noop_cold_etag_cache/charged_points_per_repo",
        ),
        (
            "3 baseline per-resource",
            "wall time (s)",
            "/baseline/wall_seconds",
        ),
        (
            "3 baseline per-resource",
            "requests/repo",
            "/baseline/requests_per_repo",
        ),
        (
            "3 baseline per-resource",
            "charged primary points/repo",
            "/baseline/charged_points_per_repo",
        ),
        (
            "4 one new project",
            "trigger to converged (s)",
            "/new_project/seconds_to_converged",
        ),
        ("4 one new project", "requests", "/new_project/requests"),
        ("4 one new project", "converged", "/new_project/converged"),
        ("5 memory", "managed repos", "/memory/repos"),
        (
            "5 memory",
            "fleetd idle RSS MiB",
            "/memory/fleetd_idle_rss_mib",
        ),
        (
            "5 memory",
            "fleetd max RSS MiB sampled during no-op",
            "/memory/fleetd_noop_max_rss_mib_sampled",
        ),
        (
            "5 memory",
            "fleetd peak RSS MiB (VmHWM)",
            "/memory/fleetd_peak_rss_mib",
        ),
        (
            "5 memory",
            "no-op wall time (s)",
            "/memory/noop_wall_seconds",
        ),
        ("5 memory", "no-op requests", "/memory/noop_requests"),
        (
            "6a cold start, GitHub's limits",
            "repos",
            "/github_limits/cold_start/repos",
        ),
        (
            "6a cold start, GitHub's limits",
            "clock speed-up",
            "/github_limits/cold_start/time_scale",
        ),
        (
            "6a cold start, GitHub's limits",
            "wall time (s)",
            "/github_limits/cold_start/wall_seconds",
        ),
        (
            "6a cold start, GitHub's limits",
            "time on GitHub's clock (s)",
            "/github_limits/cold_start/github_clock_seconds",
        ),
        (
            "6a cold start, GitHub's limits",
            "requests/repo",
            "/github_limits/cold_start/requests_per_repo",
        ),
        (
            "6a cold start, GitHub's limits",
            "requests/repo without the org phase",
            "/github_limits/cold_start/requests_per_repo_without_org_phase",
        ),
        (
            "6a cold start, GitHub's limits",
            "org phase requests (whole fleet)",
            "/github_limits/cold_start/org_phase_requests",
        ),
        (
            "6a cold start, GitHub's limits",
            "content-generating/repo",
            "/github_limits/cold_start/content_writes_per_repo",
        ),
        (
            "6a cold start, GitHub's limits",
            "content writes per GitHub minute",
            "/github_limits/cold_start/content_writes_per_github_minute",
        ),
        (
            "6a cold start, GitHub's limits",
            "ratio of the allowed 80/min",
            "/github_limits/cold_start/content_ratio_of_allowed",
        ),
        (
            "6a cold start, GitHub's limits",
            "secondary-limit responses",
            "/github_limits/cold_start/secondary_limit_responses",
        ),
        (
            "6a cold start, GitHub's limits",
            "App token requests",
            "/github_limits/cold_start/token_requests",
        ),
        (
            "6b no-op, GitHub's limits, real time",
            "repos",
            "/github_limits/fleet/repos",
        ),
        (
            "6b no-op, GitHub's limits, real time",
            "wall time (s)",
            "/github_limits/fleet/noop/wall_seconds",
        ),
        (
            "6b no-op, GitHub's limits, real time",
            "busiest endpoint",
            "/github_limits/fleet/noop/busiest_endpoint",
        ),
        (
            "6b no-op, GitHub's limits, real time",
            "its reads",
            "/github_limits/fleet/noop/busiest_endpoint_reads",
        ),
        (
            "6b no-op, GitHub's limits, real time",
            "floor: reads / 900 per min (s)",
            "/github_limits/fleet/noop/floor_seconds",
        ),
        (
            "6b no-op, GitHub's limits, real time",
            "wall / floor",
            "/github_limits/fleet/noop/wall_over_floor",
        ),
        (
            "6b no-op, GitHub's limits, real time",
            "requests/repo",
            "/github_limits/fleet/noop/requests_per_repo",
        ),
        (
            "6b no-op, GitHub's limits, real time",
            "charged primary points",
            "/github_limits/fleet/noop/charged_primary_points",
        ),
        (
            "6b no-op, GitHub's limits, real time",
            "secondary-limit responses",
            "/github_limits/fleet/noop/secondary_limit_responses",
        ),
        (
            "6b rotation, GitHub's limits",
            "requests of the rotation (run − no-op)",
            "/github_limits/fleet/rotation/rotation_requests",
        ),
        (
            "6b rotation, GitHub's limits",
            "every repo reads the new value",
            "/github_limits/fleet/rotation/every_repo_reads_the_new_value",
        ),
        (
            "6b steady runs",
            "App token requests",
            "/github_limits/fleet/token_requests_in_steady_runs",
        ),
        (
            "6c projected, 1,000 repos",
            "cold start (min)",
            "/github_limits/projected/1000/cold_start_minutes",
        ),
        (
            "6c projected, 1,000 repos",
            "binding limit",
            "/github_limits/projected/1000/cold_start_binding_limit",
        ),
        (
            "6c projected, 1,000 repos",
            "no-op (min)",
            "/github_limits/projected/1000/noop_minutes",
        ),
        (
            "6c projected, 10,000 repos",
            "cold start (min)",
            "/github_limits/projected/10000/cold_start_minutes",
        ),
        (
            "6c projected, 10,000 repos",
            "binding limit",
            "/github_limits/projected/10000/cold_start_binding_limit",
        ),
        (
            "6c projected, 10,000 repos",
            "no-op (min)",
            "/github_limits/projected/10000/noop_minutes",
        ),
    ];
    let _ = writeln!(s, "| Scenario | Figure | Measured |");
    let _ = writeln!(s, "|---|---|---:|");
    for (sc, label, ptr) in rows {
        if ptr.starts_with("/memory") && r["memory"].is_null() {
            continue;
        }
        if !ptr.starts_with("/github_limits") && r.get("cold_start").is_none() {
            continue;
        }
        let _ = writeln!(s, "| {sc} | {label} | {} |", fmt(r, ptr));
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "| Target | Measured | Holds |");
    let _ = writeln!(s, "|---|---:|---|");
    if let Some(ts) = r["targets"].as_array() {
        for t in ts {
            let measured = match t["measured"].as_f64() {
                Some(m) if m >= 1e9 => "∞".to_string(),
                Some(m) => format!("{}", (m * 1000.0).round() / 1000.0),
                None => "n/a".to_string(),
            };
            let holds = match t["holds"].as_bool() {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "n/a",
            };
            let _ = writeln!(
                s,
                "| {} | {measured} | {holds} |",
                t["target"].as_str().unwrap_or("")
            );
        }
    }
    s
}
