//! guard: the safety policy over removals. A repo whose project or plugin is gone is only
//! touched when its node's discovery succeeded, it is not protected, it has been missing for
//! the whole grace period (tombstones), and the run stays under the maximum number of
//! removals. Archive is the default; delete only when configured; orphan just lets go.

use crate::config::DeletionPolicy;
use crate::plan::{Action, Address, Blocked, Kind, Op, Reason, Step};
use crate::store::{RepoRecord, Tombstone};
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// What the guard needs to decide.
pub struct GuardInput<'a> {
    /// Repos fleetsync manages (from the store).
    pub managed: &'a [RepoRecord],
    /// Full names (lowercase) of repos that are still wanted, or whose source still exists
    /// even if its spec failed to build.
    pub wanted: &'a BTreeSet<String>,
    /// Nodes whose project listing is trusted in this run.
    pub known_nodes: &'a BTreeSet<String>,
    /// Nodes whose dev-plugin listing is trusted in this run.
    pub known_plugin_nodes: &'a BTreeSet<String>,
    /// Current tombstones by repo.
    pub tombstones: &'a BTreeMap<String, Tombstone>,
    pub protected: &'a [String],
    pub policy: DeletionPolicy,
    pub grace: Duration,
    pub max_removals: u32,
    /// A run limited to some projects removes nothing.
    pub partial_run: bool,
    pub now: DateTime<Utc>,
}

/// The guard's answer.
#[derive(Debug, Default)]
pub struct GuardOutcome {
    /// Removals allowed in this run: the repo's full name and its step.
    pub removals: Vec<(String, Step)>,
    /// Removals not done, with why.
    pub blocked: Vec<Blocked>,
    /// Metric reasons of the blocks (`unknown_discovery`, `grace_period`, `max_removals`,
    /// `protected`, `partial_run`).
    pub block_reasons: Vec<&'static str>,
    /// Tombstones to add: `(repo, source, since)`.
    pub tombstone_add: Vec<(String, String, String)>,
    /// Tombstones to clear (the source is back).
    pub tombstone_clear: Vec<String>,
}

fn is_protected(protected: &[String], full: &str) -> bool {
    let name = full.rsplit('/').next().unwrap_or(full);
    protected
        .iter()
        .any(|p| p.eq_ignore_ascii_case(full) || p.eq_ignore_ascii_case(name))
}

/// What the guard makes of one managed repo.
enum Verdict {
    /// Still wanted, not live, or a partial run: not a removal candidate at all.
    NotGone,
    /// Gone, but not removed in this run: why, and the metric reason.
    Blocked(String, &'static str),
    /// Gone for the whole grace period: removable, missing since this time.
    Due(String),
}

/// Applies the policy.
pub fn guard(input: &GuardInput<'_>) -> GuardOutcome {
    let mut out = GuardOutcome {
        tombstone_clear: returned_sources(input),
        ..Default::default()
    };
    let mut due: Vec<(String, String)> = Vec::new();
    for r in input.managed {
        match judge(input, r, &mut out.tombstone_add) {
            Verdict::NotGone => {}
            Verdict::Blocked(reason, cause) => block(&mut out, r.name.clone(), reason, cause),
            Verdict::Due(since) => due.push((r.name.clone(), since)),
        }
    }
    if due.len() as u64 > u64::from(input.max_removals) {
        let n = due.len();
        for (repo, since) in due {
            let reason = format!(
                "gone since {since}, but {n} repos would be removed in one run, more than github.max_deletions_per_run = {}; nothing is removed until that is raised or projects come back",
                input.max_removals
            );
            block(&mut out, repo, reason, "max_removals");
        }
        return out;
    }
    out.removals = due
        .into_iter()
        .map(|(repo, since)| {
            let step = removal_step(input.policy, &repo, since);
            (repo, step)
        })
        .collect();
    out
}

fn block(out: &mut GuardOutcome, repo: String, reason: String, cause: &'static str) {
    out.blocked.push(Blocked { repo, reason });
    out.block_reasons.push(cause);
}

/// Tombstones whose repo is wanted again (the source is back).
fn returned_sources(input: &GuardInput<'_>) -> Vec<String> {
    input
        .tombstones
        .values()
        .filter(|t| input.wanted.contains(&t.repo.to_ascii_lowercase()))
        .map(|t| t.repo.clone())
        .collect()
}

/// One managed repo against the rules, in order: discovery known, not protected, missing
/// for the whole grace period. A repo first seen gone gets a tombstone from now.
fn judge(
    input: &GuardInput<'_>,
    r: &RepoRecord,
    tombstone_add: &mut Vec<(String, String, String)>,
) -> Verdict {
    if !r.is_live() || input.wanted.contains(&r.name.to_ascii_lowercase()) || input.partial_run {
        return Verdict::NotGone;
    }
    let source = format!("{}:{}/{}", r.source_kind, r.node, r.source_key);
    let (known, listing) = match r.source_kind.as_str() {
        "plugin" => (input.known_plugin_nodes, "dev-plugin listing"),
        _ => (input.known_nodes, "discovery"),
    };
    if !known.contains(&r.node) {
        let reason = format!(
            "{source} not listed, but the {listing} of node {} is unknown in this run; nothing is removed",
            r.node
        );
        return Verdict::Blocked(reason, "unknown_discovery");
    }
    if is_protected(input.protected, &r.name) {
        let reason = format!("{source} is gone, but the repo is in github.protected_repos");
        return Verdict::Blocked(reason, "protected");
    }
    let since = match input.tombstones.get(&r.name) {
        Some(t) => t.missing_since.clone(),
        None => {
            let since = input.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            tombstone_add.push((r.name.clone(), source.clone(), since.clone()));
            since
        }
    };
    // An unreadable time counts as now: the grace period starts again, never shortens.
    let since_t = DateTime::parse_from_rfc3339(&since)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or(input.now);
    let due = since_t + input.grace;
    if input.now < due {
        let reason = format!(
            "{source} gone since {since}; in the grace period until {}",
            due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        return Verdict::Blocked(reason, "grace_period");
    }
    Verdict::Due(since)
}

/// The removal step the deletion policy asks for.
fn removal_step(policy: DeletionPolicy, repo: &str, since: String) -> Step {
    let (action, op, detail) = match policy {
        DeletionPolicy::Archive => (
            Action::Archive,
            Op::ArchiveRepo,
            "archive (read-only, recoverable)",
        ),
        DeletionPolicy::Delete => (Action::Delete, Op::DeleteRepo, "delete (irreversible)"),
        DeletionPolicy::Orphan => (
            Action::Forget,
            Op::ForgetRepo,
            "stop managing; the repo is left as it is",
        ),
    };
    Step {
        action,
        address: Address::of_repo(Kind::Repo, repo),
        kind: Kind::Repo,
        reason: Reason::ProjectGone { since },
        op,
        detail: detail.into(),
        change: removal_change(action),
    }
}

/// A managed repo whose source is gone, waiting out the grace period (or the next run).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PendingRemoval {
    /// The repo.
    pub repo: String,
    /// Its source, e.g. `project:design/CHURN`.
    pub source: String,
    /// `archive`, `delete` or `orphan` (the policy).
    pub action: &'static str,
    /// When the source was first found missing.
    pub missing_since: String,
    /// When the grace period ends (the first run after it removes the repo, guard allowing).
    pub due_at: String,
}

/// The policy's word for what a removal does.
pub fn policy_action(policy: DeletionPolicy) -> &'static str {
    match policy {
        DeletionPolicy::Archive => "archive",
        DeletionPolicy::Delete => "delete",
        DeletionPolicy::Orphan => "orphan",
    }
}

/// The pending removal of a live repo with a tombstone (`None` for a repo fleetsync no
/// longer manages: archived, deleted, a conflict…).
pub fn pending_removal(
    rec: &RepoRecord,
    tombstone: Option<&Tombstone>,
    policy: DeletionPolicy,
    grace: Duration,
) -> Option<PendingRemoval> {
    let t = tombstone?;
    if !rec.is_live() {
        return None;
    }
    let due = DateTime::parse_from_rfc3339(&t.missing_since)
        .ok()
        .and_then(|d| d.with_timezone(&Utc).checked_add_signed(grace))
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| t.missing_since.clone());
    Some(PendingRemoval {
        repo: rec.name.clone(),
        source: t.source.clone(),
        action: policy_action(policy),
        missing_since: t.missing_since.clone(),
        due_at: due,
    })
}

/// What a removal changes: archived false → true, or the repo gone.
fn removal_change(action: Action) -> crate::plan::Change {
    use serde_json::json;
    match action {
        Action::Archive => {
            crate::plan::Change::field("archived", Some(json!(false)), Some(json!(true)))
        }
        Action::Delete => crate::plan::Change::field("repository", Some(json!("exists")), None),
        _ => crate::plan::Change::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tombstone_makes_a_live_repo_pending_removal() {
        let t = Tombstone {
            repo: "acme/dss-a".into(),
            source: "project:design/A".into(),
            missing_since: "2026-01-01T00:00:00Z".into(),
        };
        let r = rec("acme/dss-a", "design");
        let p = pending_removal(&r, Some(&t), DeletionPolicy::Delete, Duration::hours(72));
        let p = p.expect("pending");
        assert_eq!(p.action, "delete");
        assert_eq!(p.due_at, "2026-01-04T00:00:00Z");
        assert!(pending_removal(&r, None, DeletionPolicy::Archive, Duration::hours(1)).is_none());
        let mut archived = r.clone();
        archived.status = "archived".into();
        assert!(pending_removal(
            &archived,
            Some(&t),
            DeletionPolicy::Archive,
            Duration::hours(1)
        )
        .is_none());
    }

    fn rec(name: &str, node: &str) -> RepoRecord {
        RepoRecord {
            name: name.into(),
            owner: "acme".into(),
            source_kind: "project".into(),
            node: node.into(),
            source_key: name.to_uppercase(),
            status: "synced".into(),
            drifted: false,
            last_error: None,
            last_run_id: None,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    fn input<'a>(
        managed: &'a [RepoRecord],
        wanted: &'a BTreeSet<String>,
        known: &'a BTreeSet<String>,
        tombs: &'a BTreeMap<String, Tombstone>,
        now: DateTime<Utc>,
    ) -> GuardInput<'a> {
        GuardInput {
            managed,
            wanted,
            known_nodes: known,
            known_plugin_nodes: known,
            tombstones: tombs,
            protected: &[],
            policy: DeletionPolicy::Archive,
            grace: Duration::minutes(10),
            max_removals: 2,
            partial_run: false,
            now,
        }
    }

    #[test]
    fn grace_then_archive() {
        let managed = vec![rec("acme/a", "dev")];
        let wanted = BTreeSet::new();
        let known: BTreeSet<String> = ["dev".to_string()].into();
        let now = Utc::now();
        let none = BTreeMap::new();
        let first = guard(&input(&managed, &wanted, &known, &none, now));
        assert!(first.removals.is_empty());
        assert_eq!(first.tombstone_add.len(), 1);
        assert_eq!(first.block_reasons, vec!["grace_period"]);
        let mut tombs = BTreeMap::new();
        tombs.insert(
            "acme/a".to_string(),
            Tombstone {
                repo: "acme/a".into(),
                source: "project:dev/A".into(),
                missing_since: (now - Duration::minutes(11)).to_rfc3339(),
            },
        );
        let later = guard(&input(&managed, &wanted, &known, &tombs, now));
        assert_eq!(later.removals.len(), 1);
        assert_eq!(later.removals[0].1.action, Action::Archive);
    }

    #[test]
    fn unknown_discovery_and_max_removals_block() {
        let managed = vec![
            rec("acme/a", "dev"),
            rec("acme/b", "dev"),
            rec("acme/c", "dev"),
        ];
        let wanted = BTreeSet::new();
        let none_known = BTreeSet::new();
        let now = Utc::now();
        let old = (now - Duration::hours(1)).to_rfc3339();
        let tombs: BTreeMap<String, Tombstone> = managed
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    Tombstone {
                        repo: r.name.clone(),
                        source: String::new(),
                        missing_since: old.clone(),
                    },
                )
            })
            .collect();
        let out = guard(&input(&managed, &wanted, &none_known, &tombs, now));
        assert!(out.removals.is_empty());
        assert!(out.block_reasons.iter().all(|r| *r == "unknown_discovery"));
        let known: BTreeSet<String> = ["dev".to_string()].into();
        let out = guard(&input(&managed, &wanted, &known, &tombs, now));
        assert!(out.removals.is_empty(), "3 removals > max 2");
        assert_eq!(out.blocked.len(), 3);
        assert!(out.blocked[0].reason.contains("max_deletions_per_run"));
    }
}
