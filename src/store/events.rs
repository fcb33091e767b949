//! Events (`fleetctl events`, `GET /api/v1/events`): one time-ordered list of what fleetsync
//! did and saw. Most of it is already in the state file — the step journal (creates,
//! updates, repairs, archives, deletes, failed steps), drift events, runs — and is read from
//! there; the `events` table holds the rest: guard blocks, a project or plugin found gone,
//! repo failures, suspend and resume.

use super::{now_text, Result, Store};
use rusqlite::{params, Row};
use serde::{Deserialize, Serialize};

/// One event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    /// When (RFC 3339).
    pub at: String,
    /// `create`, `update`, `repair`, `archive`, `delete`, `…-failed`, `drift`, `run`,
    /// `guard-blocked`, `source-gone`, `error`, `suspend`, `resume`, …
    pub kind: String,
    /// The repo (`owner/name`), when the event is about one.
    pub repo: Option<String>,
    /// The resource address, for steps and drift.
    pub address: Option<String>,
    /// Why, or what happened, in words (never a secret value).
    pub reason: String,
    /// The run, when a run did or saw it.
    pub run_id: Option<i64>,
}

/// The repo of an address: `variable:acme/dss-x/KEY` → `acme/dss-x`.
pub fn repo_of_address(address: &str) -> Option<String> {
    let rest = address.split_once(':')?.1;
    let mut parts = rest.splitn(3, '/');
    match (parts.next(), parts.next()) {
        (Some(o), Some(n)) if !o.is_empty() && !n.is_empty() => Some(format!("{o}/{n}")),
        _ => None,
    }
}

fn event_row(r: &Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        at: r.get("at")?,
        kind: r.get("kind")?,
        repo: r.get("repo")?,
        address: None,
        reason: r.get("reason")?,
        run_id: r.get("run_id")?,
    })
}

impl Store {
    /// Records an event. A `guard-blocked` event that says what the last one for the repo
    /// said is not repeated (the guard decides again at every run).
    pub fn record_event(
        &self,
        run_id: Option<i64>,
        kind: &str,
        repo: Option<&str>,
        reason: &str,
    ) -> Result<()> {
        let c = self.conn();
        if kind == "guard-blocked" {
            let same: bool = c
                .query_row(
                    "SELECT COALESCE((SELECT reason = ?3 FROM events
                       WHERE kind = ?1 AND repo IS ?2 ORDER BY id DESC LIMIT 1), 0)",
                    params![kind, repo, reason],
                    |r| r.get(0),
                )
                .map_err(|e| self.err(e))?;
            if same {
                return Ok(());
            }
        }
        c.execute(
            "INSERT INTO events(run_id, at, kind, repo, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![run_id, now_text(), kind, repo, reason],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The newest `limit` events (of `repo` only, when given), oldest first.
    pub fn list_events(&self, repo: Option<&str>, limit: u32) -> Result<Vec<Event>> {
        let mut all = self.recorded_events(repo, limit)?;
        all.extend(self.step_events(repo, limit)?);
        all.extend(self.drift_as_events(repo, limit)?);
        if repo.is_none() {
            all.extend(self.run_events(limit)?);
        }
        all.sort_by(|a, b| b.at.cmp(&a.at));
        all.truncate(limit as usize);
        all.reverse();
        Ok(all)
    }

    fn recorded_events(&self, repo: Option<&str>, limit: u32) -> Result<Vec<Event>> {
        let c = self.conn();
        let mut st = c
            .prepare(
                "SELECT * FROM events WHERE (?1 IS NULL OR lower(repo) = lower(?1))
                 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![repo, limit], event_row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// Journal rows as events; an update of a resource whose drift the same run repaired is
    /// a `repair`.
    fn step_events(&self, repo: Option<&str>, limit: u32) -> Result<Vec<Event>> {
        let c = self.conn();
        let mut st = c
            .prepare(
                "SELECT j.run_id, j.address, j.action, j.state, j.detail,
                        COALESCE(j.finished_at, j.started_at) AS at,
                        EXISTS(SELECT 1 FROM drift_events d WHERE d.run_id = j.run_id
                               AND d.address = j.address AND d.repaired = 1) AS repaired
                 FROM journal j
                 WHERE ?1 IS NULL
                    OR lower(substr(j.address, instr(j.address, ':') + 1)) = lower(?1)
                    OR lower(substr(j.address, instr(j.address, ':') + 1, length(?1) + 1))
                       = lower(?1 || '/')
                 ORDER BY j.id DESC LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![repo, limit], |r| {
                let address: String = r.get("address")?;
                let action: String = r.get("action")?;
                let state: String = r.get("state")?;
                let repaired: bool = r.get("repaired")?;
                let kind = match state.as_str() {
                    "failed" => format!("{action}-failed"),
                    "started" => format!("{action}-unconfirmed"),
                    _ if repaired => "repair".to_string(),
                    _ => action,
                };
                let detail: Option<String> = r.get("detail")?;
                Ok(Event {
                    at: r.get("at")?,
                    kind,
                    repo: repo_of_address(&address),
                    reason: match detail {
                        Some(d) => format!("{address}: {d}"),
                        None => address.clone(),
                    },
                    address: Some(address),
                    run_id: r.get("run_id")?,
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    fn drift_as_events(&self, repo: Option<&str>, limit: u32) -> Result<Vec<Event>> {
        Ok(self
            .list_drift(repo, limit)?
            .into_iter()
            .map(|d| Event {
                at: d.seen_at,
                kind: "drift".into(),
                repo: Some(d.repo),
                reason: format!(
                    "{}: {}{}",
                    d.address,
                    d.what,
                    if d.repaired { " (repaired)" } else { "" }
                ),
                address: Some(d.address),
                run_id: d.run_id,
            })
            .collect())
    }

    fn run_events(&self, limit: u32) -> Result<Vec<Event>> {
        let mut out = Vec::new();
        for r in self.list_runs(limit)? {
            if r.dry_run || r.status == "queued" {
                continue;
            }
            let (at, reason) = match &r.finished_at {
                Some(at) => {
                    let why = r
                        .error
                        .clone()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default();
                    (
                        at.clone(),
                        format!("{} ({}): {}{why}", r.status, r.trigger, r.summary),
                    )
                }
                None => (r.started_at.clone(), format!("running ({})", r.trigger)),
            };
            out.push(Event {
                at,
                kind: "run".into(),
                repo: None,
                address: None,
                reason,
                run_id: Some(r.id),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repo_of_an_address() {
        assert_eq!(
            repo_of_address("variable:acme/dss-x/KEY").as_deref(),
            Some("acme/dss-x")
        );
        assert_eq!(
            repo_of_address("repo:acme/dss-x").as_deref(),
            Some("acme/dss-x")
        );
        assert_eq!(repo_of_address("org-secret:acme"), None);
    }

    #[test]
    fn events_are_time_ordered_and_guard_blocks_not_repeated() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state.db")).unwrap();
        store
            .record_event(None, "guard-blocked", Some("acme/a"), "protected")
            .unwrap();
        store
            .record_event(None, "guard-blocked", Some("acme/a"), "protected")
            .unwrap();
        store
            .record_event(None, "error", Some("acme/b"), "observe: HTTP 503")
            .unwrap();
        let all = store.list_events(None, 10).unwrap();
        assert_eq!(all.len(), 2, "{all:?}");
        assert_eq!(all[0].kind, "guard-blocked");
        assert_eq!(all[1].kind, "error");
        let b = store.list_events(Some("ACME/b"), 10).unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(store.list_events(None, 1).unwrap()[0].kind, "error");
    }
}
