//! Crash safety: `fleetctl reconcile --local` is SIGKILLed mid-apply, then run again. It
//! converges, no non-idempotent write is repeated (the simulator's request log shows it), and
//! the SQLite file passes `PRAGMA integrity_check`. Also checks the canary secret never shows
//! in fleetctl's output or logs.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn fleetctl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fleetctl"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_apply_then_rerun_converges_without_repeating_writes() {
    let mut settings = roomy_github();
    settings.latency_ms = 15;
    let f = Fleet::start(12, 1, settings, "").await;
    let mut child = fleetctl()
        .args(["reconcile", "--local", "--config"])
        .arg(&f.config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the apply is under way: some repos created, not all.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let created = f.gh.handle.counters().count("POST /orgs/{org}/repos 201");
        if created >= 4 {
            break;
        }
        assert!(Instant::now() < deadline, "apply never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    let created_before = f.gh.handle.repo_names().len();
    assert!(
        created_before < 12,
        "the kill came too late to test anything ({created_before} repos)"
    );

    let out = fleetctl()
        .args(["reconcile", "--local", "--output", "json", "--config"])
        .arg(&f.config_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains(CANARY) && !stderr.contains(CANARY));
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["status"], "succeeded");

    // Every repo complete.
    let names = f.gh.handle.repo_names();
    assert_eq!(names.len(), 12);
    for n in &names {
        let r = f.gh.handle.repo(n).unwrap();
        if n.starts_with("acme/dss-plugin-") {
            // A plugin repo (no [plugin_repo] table): its mirrored files, nothing of a project's.
            assert!(r.files.contains_key("plugin.json"), "{n}");
            assert!(r.secrets.is_empty() && r.variables.is_empty(), "{n}");
            assert!(r.protection.is_empty(), "{n}");
            continue;
        }
        assert_eq!(r.secrets.len(), 4, "{n}");
        assert_eq!(r.variables.len(), 6, "{n}");
        assert!(r.protection.contains_key("prod"), "{n}");
    }
    // No non-idempotent write was repeated: each POST path succeeded at most once and none
    // was refused as a duplicate.
    let mut posts: BTreeMap<String, u32> = BTreeMap::new();
    for r in f.gh.handle.requests() {
        if r.method == "POST" {
            assert!(
                r.status != 422 && r.status != 409,
                "repeated non-idempotent write: {r:?}"
            );
            if r.status < 300 {
                let key = format!("{} {}", r.path, r.status);
                *posts.entry(key).or_default() += 1;
            }
        }
    }
    let creates: Vec<_> = posts
        .iter()
        .filter(|(k, _)| k.starts_with("/orgs/acme/repos"))
        .collect();
    assert_eq!(creates.len(), 1);
    assert_eq!(*creates[0].1, 12, "one repo creation per repo");
    assert_eq!(f.store().integrity_check().unwrap(), "ok");

    // A third run has nothing to do.
    let out = fleetctl()
        .args(["plan", "--exit-code", "--config"])
        .arg(&f.config_path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains(CANARY));
}
