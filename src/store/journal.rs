//! The `journal` table: every apply step is written `started` before its request goes out
//! and `done` (or `failed`) after. It is the audit trail of what a run sent to GitHub
//! (`GET /api/v1/runs/{id}` shows it), and after a crash it tells which writes were in
//! flight (`started`, outcome unknown). Recovery does not read it: every run observes GitHub
//! before it plans, and the non-idempotent creates (repo, ref, variable) tolerate finding
//! their object already there, so a write cut off by a crash is checked, never repeated
//! blindly. A journal write that fails stops the repo's apply (see `apply`).

use super::{now_text, Result, Store};
use rusqlite::{params, Row};
use serde::{Deserialize, Serialize};

/// State of a journaled step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JournalState {
    /// The request may have gone out.
    Started,
    /// GitHub confirmed it.
    Done,
    /// It failed (the detail says why).
    Failed,
    /// A later run found it already applied (after a crash).
    Reconciled,
}

impl JournalState {
    fn as_str(self) -> &'static str {
        match self {
            JournalState::Started => "started",
            JournalState::Done => "done",
            JournalState::Failed => "failed",
            JournalState::Reconciled => "reconciled",
        }
    }
}

/// A journal row.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JournalEntry {
    /// Row id.
    pub id: i64,
    /// Run.
    pub run_id: Option<i64>,
    /// Stable key of the step (address + action + desired fingerprint).
    pub step_key: String,
    /// Resource address.
    pub address: String,
    /// `create`, `update`, …
    pub action: String,
    /// State.
    pub state: String,
    /// When it started.
    pub started_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Error or result detail (never a secret value).
    pub detail: Option<String>,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<JournalEntry> {
    Ok(JournalEntry {
        id: r.get("id")?,
        run_id: r.get("run_id")?,
        step_key: r.get("step_key")?,
        address: r.get("address")?,
        action: r.get("action")?,
        state: r.get("state")?,
        started_at: r.get("started_at")?,
        finished_at: r.get("finished_at")?,
        detail: r.get("detail")?,
    })
}

impl Store {
    /// Writes a step as `started`; returns the row id. Durable before the request goes out.
    pub fn journal_start(
        &self,
        run_id: Option<i64>,
        step_key: &str,
        address: &str,
        action: &str,
    ) -> Result<i64> {
        let c = self.conn();
        c.execute(
            "INSERT INTO journal(run_id, step_key, address, action, state, started_at)
             VALUES (?1, ?2, ?3, ?4, 'started', ?5)",
            params![run_id, step_key, address, action, now_text()],
        )
        .map_err(|e| self.err(e))?;
        Ok(c.last_insert_rowid())
    }

    /// Ends a step.
    pub fn journal_finish(&self, id: i64, state: JournalState, detail: Option<&str>) -> Result<()> {
        let c = self.conn();
        c.execute(
            "UPDATE journal SET state = ?2, finished_at = ?3, detail = ?4 WHERE id = ?1",
            params![id, state.as_str(), now_text(), detail],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Steps left `started` by a process that stopped mid-request.
    pub fn journal_unfinished(&self) -> Result<Vec<JournalEntry>> {
        let c = self.conn();
        let mut st = c
            .prepare("SELECT * FROM journal WHERE state = 'started' ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], from_row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// Whether this state file journaled creating the repo at `address` (`repo:owner/name`):
    /// the repo is this install's own creation even before its marker topic is written.
    pub fn journal_created(&self, address: &str) -> Result<bool> {
        let c = self.conn();
        c.query_row(
            "SELECT EXISTS(SELECT 1 FROM journal WHERE address = ?1 AND action = 'create')",
            [address],
            |r| r.get::<_, bool>(0),
        )
        .map_err(|e| self.err(e))
    }

    /// Journal rows of a run.
    pub fn journal_of_run(&self, run_id: i64) -> Result<Vec<JournalEntry>> {
        let c = self.conn();
        let mut st = c
            .prepare("SELECT * FROM journal WHERE run_id = ?1 ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([run_id], from_row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }
}

/// The journal as apply sees it: start and finish a step, nothing else. The SQLite work
/// runs on tokio's blocking pool, so a slow disk parks no async worker while other repos'
/// requests are in flight.
#[derive(Debug, Clone)]
pub struct Journal {
    store: Store,
}

impl Journal {
    /// The journal of this state file.
    pub fn new(store: Store) -> Journal {
        Journal { store }
    }

    /// Writes a step as `started`; returns its row id. Durable before the request goes out.
    pub async fn start(
        &self,
        run_id: Option<i64>,
        step_key: &str,
        address: &str,
        action: &str,
    ) -> Result<i64> {
        let (key, addr, act) = (
            step_key.to_string(),
            address.to_string(),
            action.to_string(),
        );
        self.store
            .blocking(move |s| s.journal_start(run_id, &key, &addr, &act))
            .await
    }

    /// Ends a step.
    pub async fn finish(&self, id: i64, state: JournalState, detail: Option<&str>) -> Result<()> {
        let detail = detail.map(str::to_string);
        self.store
            .blocking(move |s| s.journal_finish(id, state, detail.as_deref()))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    // While another thread holds the state file for 300 ms, a journal write waits on the
    // blocking pool and the only async worker keeps running other tasks. (Called inline,
    // the write would freeze the worker and the ticker would not tick.)
    #[tokio::test(flavor = "current_thread")]
    async fn a_busy_state_file_does_not_block_the_async_worker() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let journal = Journal::new(store.clone());
        let (held, released) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            let _conn = store.conn();
            held.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(300));
        });
        released.recv().unwrap();
        let ticks = Arc::new(AtomicU32::new(0));
        let ticker = {
            let ticks = ticks.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    ticks.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        let id = journal
            .start(None, "0:repo:acme/x:create", "repo:acme/x", "create")
            .await
            .unwrap();
        journal.finish(id, JournalState::Done, None).await.unwrap();
        let during = ticks.load(Ordering::Relaxed);
        ticker.abort();
        holder.join().unwrap();
        assert!(
            during >= 10,
            "only {during} ticks of 10 ms while the journal waited 300 ms"
        );
    }
}
