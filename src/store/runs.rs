//! The `runs` table: one row per reconcile run, with its trigger, timing and counts.

use super::{now_text, Result, Store};
use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Counts of a run, by `action` and `outcome` (e.g. `create/ok`, `update/failed`).
pub type RunCounts = BTreeMap<String, u64>;

/// One run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    /// Run id.
    pub id: i64,
    /// `schedule`, `api`, `cli`, `startup`.
    pub trigger: String,
    /// The project filter, if the run was limited to one.
    pub project: Option<String>,
    /// A plan-only run.
    pub dry_run: bool,
    /// `queued`, `running`, `succeeded`, `partial` (some steps failed), `failed`, `interrupted`.
    pub status: String,
    /// Start time (RFC 3339).
    pub started_at: String,
    /// End time (RFC 3339).
    pub finished_at: Option<String>,
    /// Step counts by `action/outcome`.
    pub counts: RunCounts,
    /// GitHub requests sent.
    pub requests_sent: i64,
    /// Primary rate-limit points used.
    pub rate_points: i64,
    /// One-line summary.
    pub summary: String,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<RunRecord> {
    let counts: String = r.get("counts")?;
    Ok(RunRecord {
        id: r.get("id")?,
        trigger: r.get("trigger")?,
        project: r.get("project")?,
        dry_run: r.get::<_, i64>("dry_run")? != 0,
        status: r.get("status")?,
        started_at: r.get("started_at")?,
        finished_at: r.get("finished_at")?,
        counts: serde_json::from_str(&counts).unwrap_or_default(),
        requests_sent: r.get("requests_sent")?,
        rate_points: r.get("rate_points")?,
        summary: r.get("summary")?,
        error: r.get("error")?,
    })
}

impl Store {
    /// Records the start of a run; returns its id.
    pub fn start_run(&self, trigger: &str, project: Option<&str>, dry_run: bool) -> Result<i64> {
        let c = self.conn();
        c.execute(
            "INSERT INTO runs(trigger, project, dry_run, status, started_at)
             VALUES (?1, ?2, ?3, 'running', ?4)",
            params![trigger, project, dry_run as i64, now_text()],
        )
        .map_err(|e| self.err(e))?;
        Ok(c.last_insert_rowid())
    }

    /// Reserves a run that will start when the current one ends (status `queued`).
    pub fn queue_run(&self, trigger: &str, project: Option<&str>, dry_run: bool) -> Result<i64> {
        let c = self.conn();
        c.execute(
            "INSERT INTO runs(trigger, project, dry_run, status, started_at)
             VALUES (?1, ?2, ?3, 'queued', ?4)",
            params![trigger, project, dry_run as i64, now_text()],
        )
        .map_err(|e| self.err(e))?;
        Ok(c.last_insert_rowid())
    }

    /// Starts a queued run (status `running`, start time now, trigger as finally merged).
    pub fn begin_run(&self, id: i64, trigger: &str, project: Option<&str>) -> Result<()> {
        let c = self.conn();
        c.execute(
            "UPDATE runs SET status = 'running', started_at = ?2, trigger = ?3, project = ?4
             WHERE id = ?1",
            params![id, now_text(), trigger, project],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Updates a running run's counts (progress).
    pub fn update_run_progress(
        &self,
        id: i64,
        counts: &RunCounts,
        requests: i64,
        points: i64,
    ) -> Result<()> {
        let c = self.conn();
        c.execute(
            "UPDATE runs SET counts = ?2, requests_sent = ?3, rate_points = ?4 WHERE id = ?1",
            params![
                id,
                serde_json::to_string(counts).unwrap_or_default(),
                requests,
                points
            ],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// While a run is going: where it is (kept in `summary` until the run finishes).
    pub fn set_run_phase(&self, id: i64, phase: &str) -> Result<()> {
        let c = self.conn();
        c.execute(
            "UPDATE runs SET summary = ?2 WHERE id = ?1 AND status = 'running'",
            params![id, phase],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records the end of a run.
    #[allow(clippy::too_many_arguments)]
    pub fn finish_run(
        &self,
        id: i64,
        status: &str,
        counts: &RunCounts,
        requests: i64,
        points: i64,
        summary: &str,
        error: Option<&str>,
    ) -> Result<()> {
        let c = self.conn();
        c.execute(
            "UPDATE runs SET status = ?2, finished_at = ?3, counts = ?4, requests_sent = ?5,
                    rate_points = ?6, summary = ?7, error = ?8 WHERE id = ?1",
            params![
                id,
                status,
                now_text(),
                serde_json::to_string(counts).unwrap_or_default(),
                requests,
                points,
                summary,
                error
            ],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Marks runs left `running` by a process that died as `interrupted`; returns how many.
    pub fn mark_interrupted_runs(&self) -> Result<usize> {
        let c = self.conn();
        c.execute(
            "UPDATE runs SET status = 'interrupted', finished_at = ?1,
                    error = COALESCE(error, 'the process stopped before the run finished')
             WHERE status IN ('running', 'queued')",
            [now_text()],
        )
        .map_err(|e| self.err(e))
    }

    /// One run.
    pub fn get_run(&self, id: i64) -> Result<Option<RunRecord>> {
        let c = self.conn();
        c.query_row("SELECT * FROM runs WHERE id = ?1", [id], from_row)
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The newest runs first.
    pub fn list_runs(&self, limit: u32) -> Result<Vec<RunRecord>> {
        let c = self.conn();
        let mut st = c
            .prepare("SELECT * FROM runs ORDER BY id DESC LIMIT ?1")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([limit], from_row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// The newest run that finished with `succeeded`.
    pub fn last_successful_run(&self) -> Result<Option<RunRecord>> {
        let c = self.conn();
        c.query_row(
            "SELECT * FROM runs WHERE status = 'succeeded' AND dry_run = 0 ORDER BY id DESC LIMIT 1",
            [],
            from_row,
        )
        .optional()
        .map_err(|e| self.err(e))
    }
}
