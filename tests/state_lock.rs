//! One writer per state file: while a `fleetctl reconcile --local` or a fleetd holds the state,
//! a second one (of either) exits non-zero naming the holder, and writes nothing.

mod common;

use common::*;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn reconcile_local(f: &Fleet) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fleetctl"));
    c.args(["reconcile", "--local", "--config"])
        .arg(&f.config_path);
    c
}

/// Waits until the lock file names a holder with `pid`.
fn wait_for_holder(f: &Fleet, pid: u32) {
    let lock = f.dir.as_path().join("state.db.lock");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&lock).unwrap_or_default();
        if text.contains(&format!("pid {pid},")) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no holder in {}: {text:?}",
            lock.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_refused(out: &Output, holder_pid: u32, holder_cmd: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the second writer ran: {err}");
    assert!(
        err.contains("is in use by another process")
            && err.contains(&format!("pid {holder_pid},"))
            && err.contains(holder_cmd),
        "{err}"
    );
}

fn kill(mut c: Child) {
    let _ = c.kill();
    let _ = c.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_local_reconciles_at_once_the_second_is_refused_naming_the_first() {
    let mut gh = roomy_github();
    // Slow enough that the first run is still going when the second starts.
    gh.latency_ms = 40;
    let f = Fleet::start(12, 0, gh, "").await;
    let first = reconcile_local(&f)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_holder(&f, first.id());
    let before = f.gh.handle.counters().writes();
    let second = tokio::task::spawn_blocking({
        let mut c = reconcile_local(&f);
        move || c.output().unwrap()
    })
    .await
    .unwrap();
    assert_refused(&second, first.id(), "fleetctl reconcile --local");
    let out = tokio::task::spawn_blocking(move || first.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        f.gh.handle.counters().writes() > before,
        "the first one went on"
    );
    // One run recorded: the refused one wrote no row.
    assert_eq!(f.store().list_runs(10).unwrap().len(), 1);
    // Once the first is done, the state is free again.
    let third = reconcile_local(&f).output().unwrap();
    assert!(
        third.status.success(),
        "{}",
        String::from_utf8_lossy(&third.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleetd_holds_the_state_against_reconcile_local_and_a_second_fleetd() {
    let mut f = Fleet::start(2, 0, roomy_github(), "").await;
    let port = free_port();
    f.listen_on(port);
    let fleetd = |stderr: Stdio| {
        Command::new(env!("CARGO_BIN_EXE_fleetd"))
            .arg("--config")
            .arg(&f.config_path)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap()
    };
    let d = fleetd(Stdio::null());
    wait_for_holder(&f, d.id());
    let local = reconcile_local(&f).output().unwrap();
    assert_refused(&local, d.id(), "fleetd --config");
    let second = fleetd(Stdio::piped()).wait_with_output().unwrap();
    assert_eq!(second.status.code(), Some(2));
    assert_refused(&second, d.id(), "fleetd --config");
    kill(d);
    // A killed holder leaves no stale lock: the next one starts.
    let after = reconcile_local(&f).output().unwrap();
    assert!(
        after.status.success(),
        "{}",
        String::from_utf8_lossy(&after.stderr)
    );
}
