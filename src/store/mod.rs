//! The SQLite state file: runs, resources (desired / last-applied / observed fingerprints and
//! status), drift events, tombstones, the ETag cache and the step journal. WAL mode, foreign
//! keys on, a busy timeout, and versioned migrations run at open.

mod drift;
mod etag;
mod events;
mod journal;
mod lock;
mod migrations;
mod resources;
mod retention;
mod runs;
mod suspend;
mod tombstones;

pub use drift::{DriftEvent, NewDriftEvent};
pub use etag::{CachedResponse, StoreEtagCache};
pub use events::{repo_of_address, Event};
pub use journal::{Journal, JournalEntry, JournalState};
pub use lock::{lock_path, this_command, LockError, StateLock};
pub use migrations::SCHEMA_VERSION;
pub use resources::{RepoRecord, ResourceRecord};
pub use retention::{Pruned, Retention};
pub use runs::{RunCounts, RunRecord};
pub use suspend::Suspension;
pub use tombstones::Tombstone;

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Why the store could not do something.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("state file {path}: {source}")]
    Sqlite {
        /// The state file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer fleetsync.
    #[error("state file {path} has schema version {found}, but this fleetsync knows up to version {known}; upgrade fleetsync, or point daemon.state_path at another file")]
    TooNew {
        /// The state file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// The folder for the file could not be created.
    #[error("cannot create the folder of state file {path}: {reason}")]
    Folder {
        /// The state file.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
    /// `PRAGMA quick_check` found damage: nothing is read from or written on such a file.
    #[error("state file {path} is damaged (SQLite quick_check: {detail}); fleetsync will not run on it. Restore it from a backup, or move it away: a new state file is rebuilt from the ownership markers on GitHub")]
    Damaged {
        /// The state file.
        path: PathBuf,
        /// The first problems quick_check reported.
        detail: String,
    },
    /// A write handed to the blocking pool did not finish (the runtime is shutting down).
    #[error("state file {path}: the write did not finish: {reason}")]
    Interrupted {
        /// The state file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A stored value could not be decoded.
    #[error("state file {path}: corrupt value in {what}: {reason}")]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// Which table/column.
        what: String,
        /// Why.
        reason: String,
    },
}

/// A handle on the state file; clones share one connection.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// Result of store operations.
pub type Result<T> = std::result::Result<T, StoreError>;

impl Store {
    /// Opens (creating if needed) the state file and migrates it to the current schema.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Folder {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })?;
            }
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| sqlite_err(path, e))?;
        Self::setup(conn, path)
    }

    fn setup(mut conn: Connection, path: &Path) -> Result<Store> {
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| sqlite_err(path, e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| sqlite_err(path, e))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| sqlite_err(path, e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| sqlite_err(path, e))?;
        quick_check(&conn, path)?;
        migrations::migrate(&mut conn, path)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_path_buf(),
        })
    }

    /// The state file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: SQLite rolls back
        // an unfinished transaction when the next one begins.
        match self.conn.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Runs `f` on tokio's blocking pool with a handle on this state file, so the SQLite
    /// work (and the wait for the connection) parks no async worker.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self.clone();
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(r) => r,
            Err(e) => Err(StoreError::Interrupted {
                path: self.path.clone(),
                reason: e.to_string(),
            }),
        }
    }

    pub(crate) fn err(&self, e: rusqlite::Error) -> StoreError {
        sqlite_err(&self.path, e)
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound.
    pub fn integrity_check(&self) -> Result<String> {
        let c = self.conn();
        c.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64> {
        let c = self.conn();
        c.query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Reads a value from the `meta` table.
    pub fn meta_get(&self, key: &str) -> Result<Option<String>> {
        let c = self.conn();
        c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Writes a value to the `meta` table.
    pub fn meta_set(&self, key: &str, value: &str) -> Result<()> {
        let c = self.conn();
        c.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The installation's key for fingerprinting secret values (a random 32-byte key made
    /// on first use). Fingerprints are keyed hashes, never the values.
    pub fn fingerprint_key(&self) -> Result<Vec<u8>> {
        if let Some(hexkey) = self.meta_get("fingerprint_key")? {
            return hex::decode(&hexkey).map_err(|e| StoreError::Corrupt {
                path: self.path.clone(),
                what: "meta.fingerprint_key".into(),
                reason: e.to_string(),
            });
        }
        let key: [u8; 32] = rand::random();
        self.meta_set("fingerprint_key", &hex::encode(key))?;
        Ok(key.to_vec())
    }
}

/// `PRAGMA quick_check` at open: a file with a damaged page opens fine and fails only when
/// that page is read, maybe after GitHub writes the file can no longer account for. A
/// damaged file is refused whole. (An unreadable page can also surface as an error of the
/// pragma itself; both are `Damaged`.)
fn quick_check(conn: &Connection, path: &Path) -> Result<()> {
    let damaged = |detail: String| StoreError::Damaged {
        path: path.to_path_buf(),
        detail,
    };
    let mut st = conn
        .prepare("PRAGMA quick_check(5)")
        .map_err(|e| damaged(e.to_string()))?;
    let rows = st
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(|e| damaged(e.to_string()))?
        .collect::<rusqlite::Result<Vec<String>>>()
        .map_err(|e| damaged(e.to_string()))?;
    match rows.as_slice() {
        [ok] if ok == "ok" => Ok(()),
        [] => Err(damaged("no answer".into())),
        problems => Err(damaged(problems.join("; "))),
    }
}

fn sqlite_err(path: &Path, e: rusqlite::Error) -> StoreError {
    StoreError::Sqlite {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Now, as RFC 3339 text (how the store keeps times).
pub fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
