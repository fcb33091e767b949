//! Reliability, measured: the `fleetsync-harness chaos` scenarios at test size (small fleets,
//! short outages, few kills), run in this process by the harness with this package's fleetd.
//! Each scenario checks its own targets and exits 1 when one is missed; the README's figures
//! come from the full-size run of the same command.

use clap::Parser;
use serde_json::Value;

fn chaos(args: &[&str]) -> Value {
    let cli = fleetsync_harness::Cli::parse_from(
        ["fleetsync-harness", "chaos"].iter().chain(args).chain(&[
            "--json",
            "--fleetd",
            env!("CARGO_BIN_EXE_fleetd"),
        ]),
    );
    let out = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(fleetsync_harness::run(cli));
    let stdout = &out.stdout;
    let v: Value =
        serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}\n{stdout}\n{}", out.stderr));
    let missed: Vec<&Value> = v["figures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["pass"] != true)
        .collect();
    assert!(missed.is_empty(), "targets missed: {missed:#?}");
    assert_eq!(v["passed"], true);
    assert_eq!(out.code, 0);
    v
}

#[test]
fn faults_converge_without_duplicates_orphans_or_silent_failures() {
    let v = chaos(&[
        "--scenario",
        "faults",
        "--projects",
        "40",
        "--outage-secs",
        "3",
    ]);
    assert!(v["figures"].to_string().contains("runs to converge"));
}

#[test]
fn sigkilled_fleetd_converges_without_repeating_writes() {
    chaos(&[
        "--scenario",
        "crashes",
        "--crash-projects",
        "30",
        "--kills",
        "6",
    ]);
}

#[test]
fn discovery_failures_remove_nothing_and_show_on_readyz_and_metrics() {
    let v = chaos(&["--scenario", "discovery"]);
    let text = v["figures"].to_string();
    for mode in ["500", "timeout", "empty", "partial", "malformed"] {
        assert!(text.contains(&format!("{mode}: repos removed")), "{mode}");
    }
}

#[test]
fn ownership_no_write_to_unowned_repos_and_no_wrong_removal() {
    let v = chaos(&["--scenario", "ownership", "--ownership-projects", "20"]);
    let text = v["figures"].to_string();
    assert!(
        text.contains("writes to repos the writer does not own"),
        "{text}"
    );
}
