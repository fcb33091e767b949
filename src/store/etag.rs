//! The `etag_cache` table: the last `ETag` and body of each conditional GET, so a repeat
//! request sends `If-None-Match` and an unchanged answer (304) costs no rate-limit points.

use super::{now_text, Result, Store};
use rusqlite::{params, OptionalExtension};

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
        let c = self.conn();
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
        .map_err(|e| self.err(e))
    }

    /// Stores a response for a URL.
    pub fn etag_put(&self, url: &str, etag: &str, body: &[u8]) -> Result<()> {
        let c = self.conn();
        c.execute(
            "INSERT INTO etag_cache(url, etag, body, stored_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(url) DO UPDATE SET etag = excluded.etag, body = excluded.body,
                stored_at = excluded.stored_at",
            params![url, etag, body, now_text()],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
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
