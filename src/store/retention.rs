//! Retention: finished runs and journal rows past their age are deleted, so the state file
//! does not grow without bound. The newest runs, the last successful run and anything of a
//! run still queued or running are always kept; rows that pointed at a deleted run (drift
//! events, a repo's last run) keep their data with the run reference cleared.

use super::{Result, Store};
use rusqlite::params;

/// How much to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Finished runs that started longer ago are deleted…
    pub runs: std::time::Duration,
    /// …except the newest `keep_runs` runs.
    pub keep_runs: u32,
    /// Journal rows that started longer ago are deleted.
    pub journal: std::time::Duration,
}

/// What a prune deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Runs deleted.
    pub runs: usize,
    /// Journal rows deleted.
    pub journal: usize,
    /// Event rows deleted (with the journal's age).
    pub events: usize,
}

fn cutoff(age: std::time::Duration) -> String {
    let age = chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
    let at = chrono::Utc::now()
        .checked_sub_signed(age)
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Store {
    /// Deletes what `r` does not keep, in one transaction.
    pub fn prune(&self, r: &Retention) -> Result<Pruned> {
        let mut c = self.conn();
        let tx = c.transaction().map_err(|e| self.err(e))?;
        let journal = tx
            .execute(
                "DELETE FROM journal WHERE started_at < ?1
                   AND (run_id IS NULL OR run_id NOT IN
                        (SELECT id FROM runs WHERE status IN ('queued', 'running')))",
                params![cutoff(r.journal)],
            )
            .map_err(|e| self.err(e))?;
        let events = tx
            .execute(
                "DELETE FROM events WHERE at < ?1",
                params![cutoff(r.journal)],
            )
            .map_err(|e| self.err(e))?;
        let runs = tx
            .execute(
                "DELETE FROM runs WHERE started_at < ?1
                   AND status NOT IN ('queued', 'running')
                   AND id NOT IN (SELECT id FROM runs ORDER BY id DESC LIMIT ?2)
                   AND id IS NOT (SELECT MAX(id) FROM runs
                                  WHERE status = 'succeeded' AND dry_run = 0)",
                params![cutoff(r.runs), r.keep_runs],
            )
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(Pruned {
            runs,
            journal,
            events,
        })
    }
}
