//! Versioned schema migrations, tracked in `PRAGMA user_version`. A file from a newer
//! version is refused rather than guessed at.

use super::{sqlite_err, Result, StoreError};
use rusqlite::Connection;
use std::path::Path;

/// Each entry moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // v1: the initial schema.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE runs (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        trigger       TEXT NOT NULL,
        project       TEXT,
        dry_run       INTEGER NOT NULL DEFAULT 0,
        status        TEXT NOT NULL,
        started_at    TEXT NOT NULL,
        finished_at   TEXT,
        counts        TEXT NOT NULL DEFAULT '{}',
        requests_sent INTEGER NOT NULL DEFAULT 0,
        rate_points   INTEGER NOT NULL DEFAULT 0,
        summary       TEXT NOT NULL DEFAULT '',
        error         TEXT
    );
    CREATE INDEX runs_started ON runs(started_at);
    CREATE TABLE repos (
        name          TEXT PRIMARY KEY,
        owner         TEXT NOT NULL,
        source_kind   TEXT NOT NULL,
        node          TEXT NOT NULL,
        source_key    TEXT NOT NULL,
        status        TEXT NOT NULL,
        drifted       INTEGER NOT NULL DEFAULT 0,
        last_error    TEXT,
        last_run_id   INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
    );
    CREATE TABLE resources (
        address       TEXT PRIMARY KEY,
        repo          TEXT NOT NULL,
        kind          TEXT NOT NULL,
        desired_fp    TEXT,
        applied_fp    TEXT,
        observed_fp   TEXT,
        applied_at    TEXT,
        remote_updated_at TEXT,
        status        TEXT NOT NULL,
        last_error    TEXT,
        updated_at    TEXT NOT NULL
    );
    CREATE INDEX resources_repo ON resources(repo);
    CREATE TABLE drift_events (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id        INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        repo          TEXT NOT NULL,
        address       TEXT NOT NULL,
        kind          TEXT NOT NULL,
        what          TEXT NOT NULL,
        seen_at       TEXT NOT NULL,
        repaired      INTEGER NOT NULL DEFAULT 0,
        repaired_at   TEXT
    );
    CREATE INDEX drift_repo ON drift_events(repo);
    CREATE TABLE tombstones (
        repo          TEXT PRIMARY KEY,
        source        TEXT NOT NULL,
        missing_since TEXT NOT NULL
    );
    CREATE TABLE etag_cache (
        url           TEXT PRIMARY KEY,
        etag          TEXT NOT NULL,
        body          BLOB NOT NULL,
        stored_at     TEXT NOT NULL
    );
    CREATE TABLE journal (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id        INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        step_key      TEXT NOT NULL,
        address       TEXT NOT NULL,
        action        TEXT NOT NULL,
        state         TEXT NOT NULL,
        started_at    TEXT NOT NULL,
        finished_at   TEXT,
        detail        TEXT
    );
    CREATE INDEX journal_state ON journal(state);
    CREATE INDEX journal_step ON journal(step_key);
    "#,
    // v2: a repo renamed on GitHub keeps the name fleetsync renders for it.
    r#"
    ALTER TABLE repos ADD COLUMN former_name TEXT;
    CREATE INDEX journal_address ON journal(address);
    "#,
    // v3: events that are not steps, drift or runs (guard blocks, sources gone, repo
    // failures, suspend and resume), for `fleetctl events`.
    r#"
    CREATE TABLE events (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id        INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        at            TEXT NOT NULL,
        kind          TEXT NOT NULL,
        repo          TEXT,
        reason        TEXT NOT NULL
    );
    CREATE INDEX events_repo ON events(repo);
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| sqlite_err(path, e))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let tx = conn.transaction().map_err(|e| sqlite_err(path, e))?;
        tx.execute_batch(sql).map_err(|e| sqlite_err(path, e))?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(|e| sqlite_err(path, e))?;
        tx.commit().map_err(|e| sqlite_err(path, e))?;
    }
    Ok(())
}
