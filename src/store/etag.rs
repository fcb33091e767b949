//! The `etag_cache` table: the last `ETag` and body of each conditional GET, so a repeat
//! request sends `If-None-Match` and an unchanged answer (304) costs no rate-limit points.

use super::{now_text, sqlite_err, Result, Store};
use crate::github::etag_cache::{CacheError, EtagCache};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// A cached response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedResponse {
    /// The `ETag` header as GitHub sent it.
    pub etag: String,
    /// The body it came with.
    pub body: Vec<u8>,
}

impl Store {
    /// The cached response for a URL.
    pub fn etag_get(&self, url: &str) -> Result<Option<CachedResponse>> {
        get_on(&self.conn(), url).map_err(|e| self.err(e))
    }

    /// Stores a response for a URL.
    pub fn etag_put(&self, url: &str, etag: &str, body: &[u8]) -> Result<()> {
        put_on(&self.conn(), url, etag, body).map_err(|e| self.err(e))
    }

    /// Drops cached responses whose URL starts with `prefix` (e.g. a deleted repo's).
    pub fn etag_forget_prefix(&self, prefix: &str) -> Result<()> {
        let c = self.conn();
        c.execute(
            "DELETE FROM etag_cache WHERE substr(url, 1, length(?1)) = ?1",
            [prefix],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }
}

fn get_on(c: &Connection, url: &str) -> rusqlite::Result<Option<CachedResponse>> {
    c.query_row(
        "SELECT etag, body FROM etag_cache WHERE url = ?1",
        [url],
        |r| {
            Ok(CachedResponse {
                etag: r.get(0)?,
                body: r.get(1)?,
            })
        },
    )
    .optional()
}

fn put_on(c: &Connection, url: &str, etag: &str, body: &[u8]) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO etag_cache(url, etag, body, stored_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(url) DO UPDATE SET etag = excluded.etag, body = excluded.body,
            stored_at = excluded.stored_at",
        params![url, etag, body, now_text()],
    )
    .map(|_| ())
}

/// The ETag cache of a state file on its own connection (WAL: it reads beside the
/// engine's connection and waits only for another writer), for the GitHub client.
pub struct StoreEtagCache {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl StoreEtagCache {
    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        match self.conn.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl EtagCache for StoreEtagCache {
    fn get(&self, url: &str) -> std::result::Result<Option<CachedResponse>, CacheError> {
        get_on(&self.conn(), url).map_err(|e| Box::new(sqlite_err(&self.path, e)) as CacheError)
    }

    fn put(&self, url: &str, etag: &str, body: &[u8]) -> std::result::Result<(), CacheError> {
        put_on(&self.conn(), url, etag, body)
            .map_err(|e| Box::new(sqlite_err(&self.path, e)) as CacheError)
    }
}

/// The store's own connection also serves as a cache (tests, tools).
impl EtagCache for Store {
    fn get(&self, url: &str) -> std::result::Result<Option<CachedResponse>, CacheError> {
        self.etag_get(url).map_err(|e| Box::new(e) as CacheError)
    }

    fn put(&self, url: &str, etag: &str, body: &[u8]) -> std::result::Result<(), CacheError> {
        self.etag_put(url, etag, body)
            .map_err(|e| Box::new(e) as CacheError)
    }
}

impl Store {
    /// The ETag cache on a second connection to this state file (opened after the
    /// migrations of `open`, so the table exists).
    pub fn etag_cache(&self) -> Result<StoreEtagCache> {
        let path = self.path.clone();
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| sqlite_err(&path, e))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| sqlite_err(&path, e))?;
        Ok(StoreEtagCache {
            conn: Mutex::new(conn),
            path,
        })
    }
}
