//! A GitHub outage as an operator sees it through a running fleetd: `fleetctl repos` shows
//! every repo in error with the cause in its message column, `fleetctl status` counts them,
//! `/readyz` is 503 naming GitHub, and all of it clears when GitHub is back.

mod common;

use common::*;
use fleetsync_harness::fleetd::{fleetd_path, Fleetd};
use std::process::Command;
use std::time::Duration;

fn fleetctl_ok(addr: &str, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_fleetctl"))
        .args(args)
        .args(["--addr", addr])
        .env_remove("FLEETD_TOKEN")
        .env_remove("FLEETD_ADDR")
        .env_remove("FLEETSYNC_TOKEN")
        .env_remove("FLEETSYNC_ADDR")
        .env_remove("FLEETSYNC_CONFIG")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "fleetctl {args:?}: {out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// A run triggered through the API, to its end; its status.
async fn run(d: &Fleetd) -> Result<String, String> {
    d.run(&[], Duration::from_millis(100), Duration::from_secs(120))
        .await
        .map(|r| r.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_outage_shows_in_repos_status_and_readyz() {
    let mut f = Fleet::start(3, 0, roomy_github(), "").await;
    let text = std::fs::read_to_string(&f.config_path).unwrap();
    std::fs::write(
        &f.config_path,
        text.replacen("[pacing]\n", "[pacing]\nmax_attempts = 1\n", 1),
    )
    .unwrap();
    f.listen_on(free_port());
    let bin = fleetd_path(Some(std::path::Path::new(env!("CARGO_BIN_EXE_fleetd")))).unwrap();
    let log = f.dir.join("fleetd.log");
    let d = Fleetd::start(&bin, &f.0, &log, Duration::from_secs(30))
        .await
        .unwrap();
    let addr = format!("127.0.0.1:{}", f.listen_port);
    assert_eq!(run(&d).await.unwrap(), "succeeded");
    let repos = f.wanted_project_repos();

    f.gh.handle.update_settings(|s| s.outage = true);
    assert_eq!(run(&d).await.unwrap(), "failed");
    let table = fleetctl_ok(&addr, &["repos"]);
    for repo in &repos {
        let line = table
            .lines()
            .find(|l| l.starts_with(repo.as_str()))
            .unwrap_or_else(|| panic!("{repo} not in\n{table}"));
        assert!(line.contains(" error "), "{line}");
        assert!(line.contains("observe:") && line.contains("503"), "{line}");
    }
    let status = fleetctl_ok(&addr, &["status"]);
    assert!(
        status.contains(&format!("error: {}", repos.len())),
        "{status}"
    );
    let ready = d
        .http()
        .get(format!("{}/readyz", d.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    let body = ready.text().await.unwrap();
    assert!(
        body.contains("unreachable") && body.contains("503"),
        "{body}"
    );
    let logs = std::fs::read_to_string(&log).unwrap();
    for repo in &repos {
        assert!(
            logs.lines()
                .any(|l| l.contains("WARN") && l.contains(repo.as_str())),
            "no WARN naming {repo}"
        );
    }

    f.gh.handle.update_settings(|s| s.outage = false);
    assert_eq!(run(&d).await.unwrap(), "succeeded");
    let table = fleetctl_ok(&addr, &["repos"]);
    assert!(!table.contains(" error "), "{table}");
    let ready = d
        .http()
        .get(format!("{}/readyz", d.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200);
}
