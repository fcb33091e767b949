//! The `tombstones` table: repos whose DSS project or plugin is gone, and since when. The
//! guard waits out the grace period from `missing_since` before touching such a repo.

use super::{Result, Store};
use rusqlite::{params, Row};
use serde::{Deserialize, Serialize};

/// A repo whose source is gone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tombstone {
    /// Repo name.
    pub repo: String,
    /// The source, e.g. `project:design/CHURN`.
    pub source: String,
    /// When the source was first found missing (RFC 3339).
    pub missing_since: String,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Tombstone> {
    Ok(Tombstone {
        repo: r.get("repo")?,
        source: r.get("source")?,
        missing_since: r.get("missing_since")?,
    })
}

impl Store {
    /// Starts the clock for a repo (keeps an existing `missing_since`).
    pub fn add_tombstone(&self, repo: &str, source: &str, missing_since: &str) -> Result<()> {
        let c = self.conn();
        c.execute(
            "INSERT INTO tombstones(repo, source, missing_since) VALUES (?1, ?2, ?3)
             ON CONFLICT(repo) DO NOTHING",
            params![repo, source, missing_since],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Stops the clock (the source came back, or the repo was handled).
    pub fn clear_tombstone(&self, repo: &str) -> Result<()> {
        let c = self.conn();
        c.execute("DELETE FROM tombstones WHERE repo = ?1", [repo])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Every tombstone.
    pub fn list_tombstones(&self) -> Result<Vec<Tombstone>> {
        let c = self.conn();
        let mut st = c
            .prepare("SELECT * FROM tombstones ORDER BY repo")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], from_row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }
}
