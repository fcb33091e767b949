//! A store read or write that safety depends on fails the run; it never degrades it. Each
//! test breaks the real state file (a second SQLite connection renames a table, corrupts a
//! value or installs a trigger that refuses a write) at one of the places the run reads or
//! writes it, and shows that nothing is rewritten or removed and the run says why.

mod common;

use common::{roomy_github, Fleet};

fn sql(f: &Fleet, statements: &str) {
    let c = rusqlite::Connection::open(f.dir.join("state.db")).unwrap();
    c.execute_batch(statements).unwrap();
}

async fn converge(f: &Fleet) {
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{} {:?}", r.summary, r.error);
    let r = f.run().await;
    assert_eq!(r.plan.step_count(), 0, "{}", r.summary);
}

fn writes(f: &Fleet) -> u64 {
    f.gh.handle.counters().writes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_fingerprint_key_fails_the_run_and_rewrites_no_secret() {
    let f = Fleet::start(4, 0, roomy_github(), "").await;
    converge(&f).await;
    sql(
        &f,
        "UPDATE meta SET value = 'not-hex' WHERE key = 'fingerprint_key'",
    );
    f.gh.handle.reset_counters();
    let r = f.run().await;
    assert_eq!(r.status, "failed", "{}", r.summary);
    let error = r.error.unwrap_or_default();
    assert!(error.contains("fingerprint key"), "{error}");
    assert_eq!(writes(&f), 0, "{:?}", f.gh.handle.counters().by_route);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_last_applied_fails_the_run_and_rewrites_no_secret() {
    let f = Fleet::start(4, 0, roomy_github(), "").await;
    converge(&f).await;
    sql(&f, "ALTER TABLE resources RENAME TO resources_hidden");
    f.gh.handle.reset_counters();
    let r = f.run().await;
    assert_eq!(r.status, "failed", "{}", r.summary);
    assert!(
        r.error
            .as_deref()
            .unwrap_or("")
            .contains("reading what was applied"),
        "{:?}",
        r.error
    );
    assert_eq!(writes(&f), 0, "{:?}", f.gh.handle.counters().by_route);
    assert!(!r.plan.errors.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_last_listing_fails_the_run_and_removes_nothing() {
    let f = Fleet::start(
        8,
        0,
        roomy_github(),
        "grace_period = \"0s\"\ndeletion_policy = \"delete\"\nmax_deletions_per_run = 100",
    )
    .await;
    converge(&f).await;
    let before = f.gh.handle.repo_names();
    // Six of eight projects vanish at once: the suspicious-drop rule must hold them.
    let keys: Vec<String> = f
        .store()
        .list_repos()
        .unwrap()
        .into_iter()
        .map(|r| r.source_key)
        .collect();
    for k in keys.iter().take(6) {
        assert!(f.dss.handle.remove_project(k));
    }
    sql(&f, "ALTER TABLE meta RENAME TO meta_hidden");
    f.gh.handle.reset_counters();
    let r = f.run().await;
    assert_eq!(r.status, "failed", "{}", r.summary);
    assert!(
        r.error.as_deref().unwrap_or("").contains("dss.listed"),
        "{:?}",
        r.error
    );
    assert_eq!(f.gh.handle.repo_names(), before);
    assert_eq!(writes(&f), 0, "{:?}", f.gh.handle.counters().by_route);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tombstone_that_cannot_be_written_fails_the_run() {
    let f = Fleet::start(4, 0, roomy_github(), "grace_period = \"1h\"").await;
    converge(&f).await;
    let key = f.store().list_repos().unwrap()[0].source_key.clone();
    assert!(f.dss.handle.remove_project(&key));
    sql(
        &f,
        "CREATE TRIGGER refuse_tombstones BEFORE INSERT ON tombstones
         BEGIN SELECT RAISE(ABORT, 'disk full (injected)'); END;",
    );
    let r = f.run().await;
    assert_eq!(r.status, "failed", "{}", r.summary);
    assert!(
        r.error.as_deref().unwrap_or("").contains("tombstone"),
        "{:?}",
        r.error
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tombstone_that_cannot_be_cleared_fails_the_run_and_removes_nothing() {
    let f = Fleet::start(4, 0, roomy_github(), "grace_period = \"1h\"").await;
    converge(&f).await;
    let rec = f.store().list_repos().unwrap()[0].clone();
    assert!(f.dss.handle.remove_project(&rec.source_key));
    let r = f.run().await;
    assert!(
        r.plan.blocked.iter().any(|b| b.repo == rec.name),
        "{}",
        r.summary
    );
    assert_eq!(f.store().list_tombstones().unwrap().len(), 1);
    // The project comes back, but its tombstone cannot be cleared: left in place, a later
    // disappearance would skip the grace period.
    f.dss.handle.add_project(&rec.source_key, "back", &[]);
    sql(
        &f,
        "CREATE TRIGGER keep_tombstones BEFORE DELETE ON tombstones
         BEGIN SELECT RAISE(ABORT, 'read-only (injected)'); END;",
    );
    let r = f.run().await;
    assert_eq!(r.status, "failed", "{}", r.summary);
    assert!(
        r.error.as_deref().unwrap_or("").contains("tombstone"),
        "{:?}",
        r.error
    );
}
