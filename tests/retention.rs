//! Retention of the `runs` and `journal` tables: old finished runs and old journal rows are
//! deleted; the newest runs, the last successful run and anything of a run in progress stay;
//! drift events of a deleted run stay with the run reference cleared. `daemon.retention` in
//! the config is what `fleetctl reconcile --local` (and fleetd, after every run) applies.

mod common;

use common::*;
use fleetsync::store::{JournalState, NewDriftEvent, Retention, Store};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

const DAY: u64 = 86_400;

/// Moves a run (and its journal rows) `days` into the past.
fn backdate(path: &std::path::Path, run: i64, days: i64) {
    let c = rusqlite::Connection::open(path).unwrap();
    let at = (chrono::Utc::now() - chrono::Duration::days(days))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    c.execute(
        "UPDATE runs SET started_at = ?2 WHERE id = ?1",
        rusqlite::params![run, at],
    )
    .unwrap();
    c.execute(
        "UPDATE journal SET started_at = ?2 WHERE run_id = ?1",
        rusqlite::params![run, at],
    )
    .unwrap();
}

fn finished(s: &Store, status: &str) -> i64 {
    let id = s.start_run("schedule", None, false).unwrap();
    s.finish_run(id, status, &BTreeMap::new(), 1, 1, "x", None)
        .unwrap();
    let j = s
        .journal_start(Some(id), "k", "repo:acme/x", "create")
        .unwrap();
    s.journal_finish(j, JournalState::Done, None).unwrap();
    id
}

#[test]
fn old_runs_and_journal_rows_go_the_newest_the_last_success_and_running_ones_stay() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let s = Store::open(&path).unwrap();
    // Oldest first: a success 200 days ago, then failures, then a run still going.
    let success = finished(&s, "succeeded");
    backdate(&path, success, 200);
    let mut failed = Vec::new();
    for age in [150, 120, 100, 95, 40, 10] {
        let id = finished(&s, "failed");
        backdate(&path, id, age);
        failed.push(id);
    }
    let running = s.start_run("api", None, false).unwrap();
    s.journal_start(Some(running), "k", "repo:acme/y", "create")
        .unwrap();
    backdate(&path, running, 300);
    s.record_drift(&[NewDriftEvent {
        run_id: Some(failed[0]),
        repo: "acme/x".into(),
        address: "variable:acme/x/A".into(),
        kind: "variable".into(),
        what: "changed".into(),
        repaired: true,
    }])
    .unwrap();

    let pruned = s
        .prune(&Retention {
            runs: Duration::from_secs(90 * DAY),
            keep_runs: 4,
            journal: Duration::from_secs(30 * DAY),
        })
        .unwrap();
    let left: Vec<i64> = s.list_runs(100).unwrap().iter().map(|r| r.id).collect();
    // Kept: the newest four (the running one, 10, 40 and 95 days), and the last success.
    assert_eq!(
        left,
        vec![running, failed[5], failed[4], failed[3], success],
        "{pruned:?}"
    );
    assert_eq!(pruned.runs, 3);
    // Journal: only the rows of the 10-day-old run and of the running one are young or live.
    for id in [failed[0], failed[3], failed[4], success] {
        assert!(s.journal_of_run(id).unwrap().is_empty(), "run {id}");
    }
    assert_eq!(s.journal_of_run(failed[5]).unwrap().len(), 1);
    assert_eq!(s.journal_of_run(running).unwrap().len(), 1);
    // The drift event outlives its run.
    let drift = s.list_drift(None, 10).unwrap();
    assert_eq!(drift.len(), 1);
    assert_eq!(drift[0].run_id, None);
    assert_eq!(s.integrity_check().unwrap(), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_retention_is_applied_after_a_local_reconcile() {
    let mut f = Fleet::start(2, 0, roomy_github(), "").await;
    f.tail = "\n[daemon.retention]\nruns = \"0s\"\nkeep_runs = 2\njournal = \"0s\"\n".into();
    f.write_config();
    for _ in 0..4 {
        let out = Command::new(env!("CARGO_BIN_EXE_fleetctl"))
            .args(["reconcile", "--local", "--config"])
            .arg(&f.config_path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let runs = f.store().list_runs(100).unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0].id, 4);
    let c = rusqlite::Connection::open(f.dir.as_path().join("state.db")).unwrap();
    let journal: i64 = c
        .query_row("SELECT COUNT(*) FROM journal", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, 0);
}
