//! The `drift_events` table: what changed on GitHub behind fleetsync's back, when it was
//! seen, and whether it was repaired.

use super::{now_text, Result, Store};
use rusqlite::{params, Row};
use serde::{Deserialize, Serialize};

/// A drift event to record.
#[derive(Debug, Clone)]
pub struct NewDriftEvent {
    /// Run that saw it.
    pub run_id: Option<i64>,
    /// Repo name.
    pub repo: String,
    /// Resource address.
    pub address: String,
    /// Resource kind (`variable`, `file`, `protection`, `secret`, …).
    pub kind: String,
    /// What changed, in words (never a secret value).
    pub what: String,
    /// Whether the run repaired it.
    pub repaired: bool,
}

/// A recorded drift event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DriftEvent {
    /// Event id.
    pub id: i64,
    /// Run that saw it.
    pub run_id: Option<i64>,
    /// Repo name.
    pub repo: String,
    /// Resource address.
    pub address: String,
    /// Resource kind.
    pub kind: String,
    /// What changed.
    pub what: String,
    /// When it was seen.
    pub seen_at: String,
    /// Whether it was repaired.
    pub repaired: bool,
    /// When it was repaired.
    pub repaired_at: Option<String>,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<DriftEvent> {
    Ok(DriftEvent {
        id: r.get("id")?,
        run_id: r.get("run_id")?,
        repo: r.get("repo")?,
        address: r.get("address")?,
        kind: r.get("kind")?,
        what: r.get("what")?,
        seen_at: r.get("seen_at")?,
        repaired: r.get::<_, i64>("repaired")? != 0,
        repaired_at: r.get("repaired_at")?,
    })
}

impl Store {
    /// Records drift events.
    pub fn record_drift(&self, events: &[NewDriftEvent]) -> Result<()> {
        let mut c = self.conn();
        let tx = c.transaction().map_err(|e| self.err(e))?;
        let now = now_text();
        for ev in events {
            tx.execute(
                "INSERT INTO drift_events(run_id, repo, address, kind, what, seen_at, repaired, repaired_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    ev.run_id,
                    ev.repo,
                    ev.address,
                    ev.kind,
                    ev.what,
                    now,
                    ev.repaired as i64,
                    ev.repaired.then(|| now.clone())
                ],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Drift events, newest first, optionally of one repo.
    pub fn list_drift(&self, repo: Option<&str>, limit: u32) -> Result<Vec<DriftEvent>> {
        let c = self.conn();
        let mut st = c
            .prepare(
                "SELECT * FROM drift_events WHERE (?1 IS NULL OR repo = ?1)
                 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![repo, limit], from_row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }
}
