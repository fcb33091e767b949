//! The `repos` and `resources` tables: what fleetsync manages, with the desired,
//! last-applied and observed fingerprints of every resource and its status.

use super::{now_text, Result, Store};
use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

/// A managed repo.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RepoRecord {
    /// Repo name.
    pub name: String,
    /// Organisation.
    pub owner: String,
    /// `project` or `plugin`.
    pub source_kind: String,
    /// DSS node name.
    pub node: String,
    /// Project key or plugin id.
    pub source_key: String,
    /// `in_sync`, `pending`, `drifted`, `failed`, `missing_source`, `archived`, `deleted`, `orphaned`.
    pub status: String,
    /// Whether drift was seen and not (yet) repaired.
    pub drifted: bool,
    /// The last error, if the last attempt failed.
    pub last_error: Option<String>,
    /// The last run that touched it.
    pub last_run_id: Option<i64>,
    /// When fleetsync first recorded it.
    pub created_at: String,
    /// Last change of this row.
    pub updated_at: String,
}

/// One managed resource (repo, file, variable, secret, branch, protection, …).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResourceRecord {
    /// Address, e.g. `variable:acme/dss-churn/DATAIKU_PROJECT_KEY`.
    pub address: String,
    /// The repo it belongs to.
    pub repo: String,
    /// `repo`, `file`, `variable`, `secret`, `branch`, `protection`, …
    pub kind: String,
    /// Fingerprint of the desired state (secrets: keyed hash of the source value).
    pub desired_fp: Option<String>,
    /// Fingerprint of what fleetsync last applied.
    pub applied_fp: Option<String>,
    /// Fingerprint of what was last observed on GitHub.
    pub observed_fp: Option<String>,
    /// When fleetsync last applied it.
    pub applied_at: Option<String>,
    /// GitHub's `updated_at` right after fleetsync's write (secrets).
    pub remote_updated_at: Option<String>,
    /// `in_sync`, `pending`, `drifted`, `failed`.
    pub status: String,
    /// Last error.
    pub last_error: Option<String>,
    /// Last change of this row.
    pub updated_at: String,
}

impl RepoRecord {
    /// Whether fleetsync still manages it: not archived, deleted or let go, not a
    /// conflict (another owner's or unmarked), not found archived by a rebuild, not gone.
    pub fn is_live(&self) -> bool {
        !matches!(
            self.status.as_str(),
            "archived" | "deleted" | "orphaned" | "conflict" | "found_archived" | "gone"
        )
    }
}

fn repo_from_row(r: &Row<'_>) -> rusqlite::Result<RepoRecord> {
    Ok(RepoRecord {
        name: r.get("name")?,
        owner: r.get("owner")?,
        source_kind: r.get("source_kind")?,
        node: r.get("node")?,
        source_key: r.get("source_key")?,
        status: r.get("status")?,
        drifted: r.get::<_, i64>("drifted")? != 0,
        last_error: r.get("last_error")?,
        last_run_id: r.get("last_run_id")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
    })
}

fn resource_from_row(r: &Row<'_>) -> rusqlite::Result<ResourceRecord> {
    Ok(ResourceRecord {
        address: r.get("address")?,
        repo: r.get("repo")?,
        kind: r.get("kind")?,
        desired_fp: r.get("desired_fp")?,
        applied_fp: r.get("applied_fp")?,
        observed_fp: r.get("observed_fp")?,
        applied_at: r.get("applied_at")?,
        remote_updated_at: r.get("remote_updated_at")?,
        status: r.get("status")?,
        last_error: r.get("last_error")?,
        updated_at: r.get("updated_at")?,
    })
}

impl Store {
    /// Inserts or updates a repo row (keeps `created_at`).
    pub fn upsert_repo(&self, rec: &RepoRecord) -> Result<()> {
        let c = self.conn();
        let now = now_text();
        c.execute(
            "INSERT INTO repos(name, owner, source_kind, node, source_key, status, drifted,
                               last_error, last_run_id, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
             ON CONFLICT(name) DO UPDATE SET owner = excluded.owner,
                source_kind = excluded.source_kind, node = excluded.node,
                source_key = excluded.source_key, status = excluded.status,
                drifted = excluded.drifted, last_error = excluded.last_error,
                last_run_id = COALESCE(excluded.last_run_id, repos.last_run_id),
                updated_at = excluded.updated_at",
            params![
                rec.name,
                rec.owner,
                rec.source_kind,
                rec.node,
                rec.source_key,
                rec.status,
                rec.drifted as i64,
                rec.last_error,
                rec.last_run_id,
                now
            ],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Follows a rename on GitHub: the repo row, its resources (addresses move to the new
    /// scope) and its tombstone go to `new`; `old` is kept as the repo's former name, the
    /// name fleetsync renders for its source. One transaction; a no-op when nothing is kept
    /// under `old`.
    pub fn rename_repo(&self, old: &str, new: &str) -> Result<()> {
        let mut c = self.conn();
        let tx = c.transaction().map_err(|e| self.err(e))?;
        tx.execute(
            "UPDATE repos SET name = ?2, former_name = ?1 WHERE name = ?1",
            params![old, new],
        )
        .map_err(|e| self.err(e))?;
        tx.execute(
            "UPDATE repos SET former_name = ?1 WHERE name = ?2 AND former_name IS NULL",
            params![old, new],
        )
        .map_err(|e| self.err(e))?;
        // `kind:old…` → `kind:new…` (the scope follows the kind and its colon); DSS-side
        // addresses (`dss-remote:NODE/KEY…`) keep theirs.
        tx.execute(
            "UPDATE resources SET
                address = substr(address, 1, instr(address, ':')) || ?2
                          || substr(address, instr(address, ':') + 1 + length(?1))
             WHERE repo = ?1 AND substr(address, instr(address, ':') + 1, length(?1)) = ?1",
            params![old, new],
        )
        .map_err(|e| self.err(e))?;
        tx.execute(
            "UPDATE resources SET repo = ?2 WHERE repo = ?1",
            params![old, new],
        )
        .map_err(|e| self.err(e))?;
        tx.execute(
            "UPDATE tombstones SET repo = ?2 WHERE repo = ?1",
            params![old, new],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Renamed repos: the former name (lower case) → the repo's name now.
    pub fn former_names(&self) -> Result<std::collections::BTreeMap<String, String>> {
        let c = self.conn();
        let mut st = c
            .prepare("SELECT former_name, name FROM repos WHERE former_name IS NOT NULL")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .map(|(f, n)| (f.to_ascii_lowercase(), n))
            .collect())
    }

    /// Forgets what fleetsync last wrote to every secret, so the next run writes each one
    /// again (`fleetctl secrets rotate`; also ends the trust of a rebuilt state).
    pub fn forget_secret_fingerprints(&self) -> Result<usize> {
        let mut c = self.conn();
        let tx = c.transaction().map_err(|e| self.err(e))?;
        let n = tx
            .execute(
                "UPDATE resources SET applied_fp = NULL, remote_updated_at = NULL
                 WHERE kind = 'secret'",
                [],
            )
            .map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM meta WHERE key = 'state.rebuilt_at'", [])
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(n)
    }

    /// Every managed repo, by name.
    pub fn list_repos(&self) -> Result<Vec<RepoRecord>> {
        let c = self.conn();
        let mut st = c
            .prepare("SELECT * FROM repos ORDER BY name")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], repo_from_row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// One repo.
    pub fn get_repo(&self, name: &str) -> Result<Option<RepoRecord>> {
        let c = self.conn();
        c.query_row("SELECT * FROM repos WHERE name = ?1", [name], repo_from_row)
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The repo a user named: `owner/name` (any case), or a bare name taken in `owner`, or a
    /// bare name that only one managed repo has (whatever its owner).
    pub fn find_repo(&self, name: &str, owner: &str) -> Result<Option<RepoRecord>> {
        let full = if name.contains('/') {
            name.to_string()
        } else {
            format!("{owner}/{name}")
        };
        if let Some(r) = self.get_repo(&full)? {
            return Ok(Some(r));
        }
        let all = self.list_repos()?;
        let exact: Vec<&RepoRecord> = all
            .iter()
            .filter(|r| r.name.eq_ignore_ascii_case(&full))
            .collect();
        let bare: Vec<&RepoRecord> = all
            .iter()
            .filter(|r| {
                !name.contains('/')
                    && r.name
                        .rsplit_once('/')
                        .is_some_and(|(_, n)| n.eq_ignore_ascii_case(name))
            })
            .collect();
        Ok(match (exact.as_slice(), bare.as_slice()) {
            ([one], _) | ([], [one]) => Some((*one).clone()),
            _ => None,
        })
    }

    /// Forgets a repo and its resources (after deletion or orphaning).
    pub fn remove_repo(&self, name: &str) -> Result<()> {
        let mut c = self.conn();
        let tx = c.transaction().map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM resources WHERE repo = ?1", [name])
            .map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM repos WHERE name = ?1", [name])
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Inserts or replaces resource rows in one transaction.
    pub fn upsert_resources(&self, recs: &[ResourceRecord]) -> Result<()> {
        let mut c = self.conn();
        let tx = c.transaction().map_err(|e| self.err(e))?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO resources(address, repo, kind, desired_fp, applied_fp, observed_fp,
                        applied_at, remote_updated_at, status, last_error, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                     ON CONFLICT(address) DO UPDATE SET repo = excluded.repo, kind = excluded.kind,
                        desired_fp = excluded.desired_fp, applied_fp = excluded.applied_fp,
                        observed_fp = excluded.observed_fp,
                        applied_at = COALESCE(excluded.applied_at, resources.applied_at),
                        remote_updated_at = excluded.remote_updated_at, status = excluded.status,
                        last_error = excluded.last_error, updated_at = excluded.updated_at",
                )
                .map_err(|e| self.err(e))?;
            let now = now_text();
            for r in recs {
                st.execute(params![
                    r.address,
                    r.repo,
                    r.kind,
                    r.desired_fp,
                    r.applied_fp,
                    r.observed_fp,
                    r.applied_at,
                    r.remote_updated_at,
                    r.status,
                    r.last_error,
                    now
                ])
                .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Deletes resource rows.
    pub fn delete_resources(&self, addresses: &[String]) -> Result<()> {
        let mut c = self.conn();
        let tx = c.transaction().map_err(|e| self.err(e))?;
        for a in addresses {
            tx.execute("DELETE FROM resources WHERE address = ?1", [a])
                .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Every resource row (optionally of one repo).
    pub fn list_resources(&self, repo: Option<&str>) -> Result<Vec<ResourceRecord>> {
        let c = self.conn();
        let (sql, arg) = match repo {
            Some(r) => (
                "SELECT * FROM resources WHERE repo = ?1 ORDER BY address",
                r,
            ),
            None => ("SELECT * FROM resources WHERE ?1 = ?1 ORDER BY address", ""),
        };
        let mut st = c.prepare(sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map([arg], resource_from_row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }
}
