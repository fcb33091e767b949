//! Pull requests as the simulated GitHub keeps them: the record, its JSON (`pull-request` and
//! `pull-request-simple` of the official OpenAPI description), and merging one (a merge commit
//! on the base branch whose second parent is the head, as GitHub's "Create a merge commit").

use super::super::git::graph::apply_change;
use super::super::git::{Files, Signature};
use super::routes_compare::Comparison;
use super::routes_repos::repo_json;
use super::state::Repo;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One pull request.
#[derive(Debug, Clone)]
pub struct PullRec {
    pub number: u64,
    pub id: u64,
    pub title: String,
    pub body: Option<String>,
    pub open: bool,
    pub head_ref: String,
    /// The head commit when the pull request was closed or merged (an open one follows its
    /// branch).
    pub head_sha: String,
    pub base_ref: String,
    pub user: String,
    pub draft: bool,
    pub maintainer_can_modify: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub merged_at: Option<DateTime<Utc>>,
    pub merge_commit_sha: Option<String>,
    pub merged_by: Option<String>,
}

impl PullRec {
    pub fn merged(&self) -> bool {
        self.merged_at.is_some()
    }

    /// `open` or `closed` (a merged pull request is closed).
    pub fn state(&self) -> &'static str {
        if self.open {
            "open"
        } else {
            "closed"
        }
    }
}

/// The pull requests of one repository (numbered from 1).
#[derive(Debug, Default, Clone)]
pub struct Pulls {
    pub items: BTreeMap<u64, PullRec>,
}

impl Pulls {
    pub fn next_number(&self) -> u64 {
        self.items.keys().next_back().map_or(1, |n| n + 1)
    }

    /// The open pull request from `head` into `base`, if any.
    pub fn open_for(&self, head: &str, base: &str) -> Option<&PullRec> {
        self.items
            .values()
            .find(|p| p.open && p.head_ref == head && p.base_ref == base)
    }
}

/// The head commit a pull request shows now.
pub fn head_sha(r: &Repo, p: &PullRec) -> String {
    if p.open {
        if let Some(sha) = r.refs.get(&p.head_ref) {
            return sha.clone();
        }
    }
    p.head_sha.clone()
}

fn user_json(base: &str, login: &str) -> Value {
    json!({
        "login": login, "id": 2, "node_id": "U_sim2",
        "avatar_url": "https://avatars.githubusercontent.com/u/2?v=4", "gravatar_id": "",
        "url": format!("{base}/users/{login}"), "html_url": format!("https://github.com/{login}"),
        "type": if login.ends_with("[bot]") { "Bot" } else { "User" }, "site_admin": false,
    })
}

fn end_json(base: &str, r: &Repo, branch: &str, sha: &str) -> Value {
    json!({
        "label": format!("{}:{branch}", r.owner),
        "ref": branch,
        "sha": sha,
        "user": super::routes_repos::owner_json(base, &r.owner),
        "repo": repo_json(r, base),
    })
}

fn opt_ts(t: &Option<DateTime<Utc>>) -> Value {
    t.as_ref()
        .map_or(Value::Null, |t| Value::String(super::reply::ts(t)))
}

/// `pull-request-simple` (the list items).
pub fn simple_json(base: &str, r: &Repo, p: &PullRec) -> Value {
    let full = r.full_name();
    let n = p.number;
    let api = format!("{base}/repos/{full}/pulls/{n}");
    let html = format!("https://github.com/{full}/pull/{n}");
    let issue = format!("{base}/repos/{full}/issues/{n}");
    let head = head_sha(r, p);
    let base_sha = r.refs.get(&p.base_ref).cloned().unwrap_or_default();
    let links = json!({
        "self": {"href": api}, "html": {"href": html}, "issue": {"href": issue},
        "comments": {"href": format!("{issue}/comments")},
        "review_comments": {"href": format!("{api}/comments")},
        "review_comment": {"href": format!("{base}/repos/{full}/pulls/comments{{/number}}")},
        "commits": {"href": format!("{api}/commits")},
        "statuses": {"href": format!("{base}/repos/{full}/statuses/{head}")},
    });
    json!({
        "url": api, "id": p.id, "node_id": format!("PR_sim{}", p.id),
        "html_url": html, "diff_url": format!("{html}.diff"), "patch_url": format!("{html}.patch"),
        "issue_url": issue,
        "commits_url": format!("{api}/commits"),
        "review_comments_url": format!("{api}/comments"),
        "review_comment_url": format!("{base}/repos/{full}/pulls/comments{{/number}}"),
        "comments_url": format!("{issue}/comments"),
        "statuses_url": format!("{base}/repos/{full}/statuses/{head}"),
        "number": n, "state": p.state(), "locked": false, "title": p.title,
        "user": user_json(base, &p.user), "body": p.body,
        "labels": [], "milestone": null, "active_lock_reason": null,
        "created_at": super::reply::ts(&p.created_at), "updated_at": super::reply::ts(&p.updated_at),
        "closed_at": opt_ts(&p.closed_at), "merged_at": opt_ts(&p.merged_at),
        "merge_commit_sha": p.merge_commit_sha,
        "assignee": null, "assignees": [], "requested_reviewers": [], "requested_teams": [],
        "head": end_json(base, r, &p.head_ref, &head),
        "base": end_json(base, r, &p.base_ref, &base_sha),
        "_links": links,
        "author_association": "MEMBER", "auto_merge": null, "draft": p.draft,
    })
}

/// Whether merging would succeed now (`None` once closed).
fn mergeable(r: &Repo, p: &PullRec) -> Option<bool> {
    if !p.open {
        return None;
    }
    let (Some(b), Some(h)) = (r.refs.get(&p.base_ref), r.refs.get(&p.head_ref)) else {
        return Some(false);
    };
    let empty = Files::new();
    let files = |sha: &str| r.objects.commits.get(sha).map_or(&empty, |c| &c.files);
    let mb = r.objects.merge_base(b, h);
    let base_files = mb.as_deref().map_or(&empty, files);
    Some(apply_change(base_files, files(h), files(b)).is_ok())
}

/// `pull-request` (create, get, update).
pub fn full_json(base: &str, r: &Repo, p: &PullRec) -> Value {
    let mut v = simple_json(base, r, p);
    let head = head_sha(r, p);
    let base_sha = r.refs.get(&p.base_ref).cloned().unwrap_or_default();
    let cmp = Comparison::of(r, &base_sha, &head);
    let empty = Default::default();
    let from = cmp
        .merge_base
        .as_ref()
        .and_then(|m| r.objects.commits.get(m))
        .map_or(&empty, |c| &c.files);
    let to = r.objects.commits.get(&head).map_or(&empty, |c| &c.files);
    let files = super::routes_compare::files_json(base, r, from, to, &head);
    let sum = |k: &str| files.iter().filter_map(|f| f[k].as_u64()).sum::<u64>();
    let mergeable = mergeable(r, p);
    let state = match mergeable {
        None => "unknown",
        Some(false) => "dirty",
        Some(true) if super::protect::requires_reviews(r, &p.base_ref) => "blocked",
        Some(true) => "clean",
    };
    if let Value::Object(m) = &mut v {
        let extra = json!({
            "merged": p.merged(), "mergeable": mergeable, "rebaseable": mergeable,
            "mergeable_state": state,
            "merged_by": p.merged_by.as_ref().map(|u| user_json(base, u)),
            "comments": 0, "review_comments": 0,
            "maintainer_can_modify": p.maintainer_can_modify,
            "commits": cmp.ahead.len(),
            "additions": sum("additions"), "deletions": sum("deletions"),
            "changed_files": files.len(),
        });
        if let Value::Object(e) = extra {
            m.extend(e);
        }
    }
    v
}

/// Why a merge did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeRefusal {
    NotFound,
    NotOpen,
    /// Head or base branch no longer exists.
    MissingBranch,
    /// A path changed differently on both sides.
    Conflict(String),
}

/// Merges pull request `number`: a merge commit on the base branch, the record closed and
/// marked merged by `by`. Returns the merge commit.
pub fn merge(r: &mut Repo, number: u64, by: &str) -> Result<String, MergeRefusal> {
    let p = r.pulls.items.get(&number).ok_or(MergeRefusal::NotFound)?;
    if !p.open {
        return Err(MergeRefusal::NotOpen);
    }
    let (Some(base_sha), Some(head)) = (
        r.refs.get(&p.base_ref).cloned(),
        r.refs.get(&p.head_ref).cloned(),
    ) else {
        return Err(MergeRefusal::MissingBranch);
    };
    let message = format!(
        "Merge pull request #{number} from {}/{}\n\n{}",
        r.owner, p.head_ref, p.title
    );
    let now = Utc::now();
    let sha = r
        .objects
        .merge(
            &base_sha,
            &head,
            &message,
            &Signature::new("GitHub", "noreply@github.com", now.timestamp()),
        )
        .map_err(|c| MergeRefusal::Conflict(c.path))?;
    let base_ref = p.base_ref.clone();
    r.refs.insert(base_ref, sha.clone());
    r.pushed_at = now;
    if let Some(p) = r.pulls.items.get_mut(&number) {
        p.open = false;
        p.head_sha = head;
        p.merged_at = Some(now);
        p.closed_at = Some(now);
        p.updated_at = now;
        p.merge_commit_sha = Some(sha.clone());
        p.merged_by = Some(by.to_string());
    }
    Ok(sha)
}
