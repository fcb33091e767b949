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

/// Every target, with its measurement and whether it holds.
pub fn targets(r: &Value) -> Value {
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
    ];
    let _ = writeln!(s, "| Scenario | Figure | Measured |");
    let _ = writeln!(s, "|---|---|---:|");
    for (sc, label, ptr) in rows {
        if ptr.starts_with("/memory") && r["memory"].is_null() {
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
