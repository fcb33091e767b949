//! Smoke test of `fleetsync-harness bench` on a tiny fleet (a few seconds), run in this
//! process by the harness with this package's fleetd: every scenario runs, the JSON carries
//! the figures and the target checks, and the tiny fleet converges.

use clap::Parser;

#[test]
fn bench_runs_every_scenario_on_a_tiny_fleet() {
    let cli = fleetsync_harness::Cli::parse_from([
        "fleetsync-harness",
        "bench",
        "--json",
        "--projects",
        "4",
        "--plugins",
        "1",
        "--write-limit",
        "6000",
        "--latency-ms",
        "0",
        "--memory-repos",
        "12",
        "--fleetd",
        env!("CARGO_BIN_EXE_fleetd"),
    ]);
    let out = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(fleetsync_harness::run(cli));
    let stderr = &out.stderr;
    assert!(out.code == 0, "fleetsync-harness bench failed:\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    assert!(stderr.contains("| Target | Measured | Holds |"), "{stderr}");
    assert_eq!(v["cold_start"]["repos"], 5, "{v:#}");
    assert_eq!(v["cold_start"]["status"], "succeeded", "{v:#}");
    assert_eq!(v["cold_start"]["rate_limit_responses"], 0, "{v:#}");
    assert_eq!(v["noop"]["converged"], true, "{v:#}");
    assert_eq!(v["noop"]["steps_applied"], 0, "{v:#}");
    assert_eq!(v["baseline"]["failed_reads"], 0, "{v:#}");
    assert_eq!(v["new_project"]["converged"], true, "{v:#}");
    assert_eq!(v["new_project"]["status"], "succeeded", "{v:#}");
    assert_eq!(v["memory"]["repos"], 12, "{v:#}");
    assert_eq!(v["memory"]["noop_status"], "succeeded", "{v:#}");
    let targets = v["targets"].as_array().expect("targets");
    assert!(targets.len() >= 9);
    assert!(v["noop"]["requests_per_repo"].as_f64().unwrap() <= 5.0);
}
