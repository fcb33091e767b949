//! The SQLite store on a real file: WAL mode, migrations, refusal of a newer schema, and
//! round trips through every table.

use fleetsync::store::{
    JournalState, NewDriftEvent, RepoRecord, ResourceRecord, Store, StoreError, SCHEMA_VERSION,
};
use std::collections::BTreeMap;

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("state").join("fleet.db")).unwrap();
    (dir, store)
}

#[test]
fn opens_in_wal_mode_with_foreign_keys_and_current_schema() {
    let (dir, store) = temp_store();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let conn = rusqlite::Connection::open(dir.path().join("state/fleet.db")).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // Reopening does not re-run migrations.
    drop(store);
    let again = Store::open(&dir.path().join("state/fleet.db")).unwrap();
    assert_eq!(again.schema_version().unwrap(), SCHEMA_VERSION);
}

#[test]
fn refuses_a_file_from_a_newer_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 7)
            .unwrap();
    }
    match Store::open(&path) {
        Err(e @ StoreError::TooNew { .. }) => {
            let text = e.to_string();
            assert!(text.contains("upgrade fleetsync"), "{text}");
            assert!(text.contains(&format!("{}", SCHEMA_VERSION + 7)), "{text}");
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
}

#[test]
fn runs_repos_resources_drift_tombstones_etags_journal_round_trip() {
    let (_dir, s) = temp_store();
    let run = s.start_run("cli", Some("CHURN"), false).unwrap();
    let mut counts = BTreeMap::new();
    counts.insert("create/ok".to_string(), 3u64);
    s.finish_run(run, "succeeded", &counts, 42, 7, "3 created", None)
        .unwrap();
    let got = s.get_run(run).unwrap().unwrap();
    assert_eq!(got.status, "succeeded");
    assert_eq!(got.counts["create/ok"], 3);
    assert_eq!(got.requests_sent, 42);
    assert_eq!(s.last_successful_run().unwrap().unwrap().id, run);

    let running = s.start_run("schedule", None, false).unwrap();
    assert_eq!(s.mark_interrupted_runs().unwrap(), 1);
    assert_eq!(s.get_run(running).unwrap().unwrap().status, "interrupted");

    s.upsert_repo(&RepoRecord {
        name: "dss-churn".into(),
        owner: "acme".into(),
        source_kind: "project".into(),
        node: "design".into(),
        source_key: "CHURN".into(),
        status: "in_sync".into(),
        drifted: false,
        last_error: None,
        last_run_id: Some(run),
        created_at: String::new(),
        updated_at: String::new(),
    })
    .unwrap();
    assert_eq!(s.list_repos().unwrap().len(), 1);

    let res = ResourceRecord {
        address: "variable:acme/dss-churn/DATAIKU_PROJECT_KEY".into(),
        repo: "dss-churn".into(),
        kind: "variable".into(),
        desired_fp: Some("abc".into()),
        applied_fp: Some("abc".into()),
        observed_fp: Some("abc".into()),
        applied_at: Some("2026-01-01T00:00:00Z".into()),
        remote_updated_at: None,
        status: "in_sync".into(),
        last_error: None,
        updated_at: String::new(),
    };
    s.upsert_resources(std::slice::from_ref(&res)).unwrap();
    let listed = s.list_resources(Some("dss-churn")).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].applied_fp.as_deref(), Some("abc"));
    assert_eq!(s.list_resources(None).unwrap().len(), 1);

    s.record_drift(&[NewDriftEvent {
        run_id: Some(run),
        repo: "dss-churn".into(),
        address: res.address.clone(),
        kind: "variable".into(),
        what: "value changed on GitHub".into(),
        repaired: true,
    }])
    .unwrap();
    let drift = s.list_drift(Some("dss-churn"), 10).unwrap();
    assert_eq!(drift.len(), 1);
    assert!(drift[0].repaired && drift[0].repaired_at.is_some());

    s.add_tombstone("dss-churn", "project:design/CHURN", "2026-01-01T00:00:00Z")
        .unwrap();
    s.add_tombstone("dss-churn", "project:design/CHURN", "2027-01-01T00:00:00Z")
        .unwrap();
    let t = s.list_tombstones().unwrap();
    assert_eq!(
        t[0].missing_since, "2026-01-01T00:00:00Z",
        "first sighting kept"
    );
    s.clear_tombstone("dss-churn").unwrap();
    assert!(s.list_tombstones().unwrap().is_empty());

    s.etag_put("/repos/acme/dss-churn", "W/\"1\"", b"{}")
        .unwrap();
    assert_eq!(
        s.etag_get("/repos/acme/dss-churn").unwrap().unwrap().etag,
        "W/\"1\""
    );
    s.etag_forget_prefix("/repos/acme/dss-churn").unwrap();
    assert!(s.etag_get("/repos/acme/dss-churn").unwrap().is_none());

    let j = s
        .journal_start(Some(run), "k1", "repo:acme/dss-churn", "create")
        .unwrap();
    assert_eq!(s.journal_unfinished().unwrap().len(), 1);
    s.journal_finish(j, JournalState::Done, None).unwrap();
    assert!(s.journal_unfinished().unwrap().is_empty());
    assert_eq!(s.journal_of_run(run).unwrap().len(), 1);

    s.remove_repo("dss-churn").unwrap();
    assert!(s.list_repos().unwrap().is_empty());
    assert!(s.list_resources(None).unwrap().is_empty());

    let k1 = s.fingerprint_key().unwrap();
    assert_eq!(k1.len(), 32);
    assert_eq!(s.fingerprint_key().unwrap(), k1, "key is stable");
    assert_eq!(s.integrity_check().unwrap(), "ok");
}

#[test]
fn unwritable_location_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let err = Store::open(&file.join("sub").join("fleet.db")).unwrap_err();
    assert!(err.to_string().contains("a-file"), "{err}");
}
