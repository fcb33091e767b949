//! Comparing two commits (`GET /repos/{o}/{r}/compare/{base}...{head}`) and reading a git
//! commit (`GET /repos/{o}/{r}/git/commits/{sha}`), over the repository's real commit graph.
//! Unrelated histories answer 404 "No common ancestor between {base} and {head}." as GitHub
//! does (reported by octokit and PyGithub users; see `shared/reference/github-rest.md`).

use super::super::git::{Commit, Files};
use super::reply::*;
use super::state::Repo;
use super::Shared;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::routing::get;
use axum::Router;
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/repos/{owner}/{repo}/compare/{*basehead}", get(compare))
        .route(
            "/repos/{owner}/{repo}/git/commits/{sha}",
            get(get_git_commit),
        )
}

const COMPARE_DOCS: &str = "https://docs.github.com/rest/commits/commits#compare-two-commits";

/// A branch name, a full commit SHA or an abbreviation of at least 7 hex digits, or
/// `owner:branch` for a branch of this repository; the commit it names.
pub fn resolve_ref(r: &Repo, spec: &str) -> Option<String> {
    let spec = match spec.split_once(':') {
        Some((owner, rest)) if owner.eq_ignore_ascii_case(&r.owner) => rest,
        Some(_) => return None,
        None => spec,
    };
    if let Some(sha) = r.refs.get(spec) {
        return Some(sha.clone());
    }
    if r.objects.commits.contains_key(spec) {
        return Some(spec.to_string());
    }
    if spec.len() >= 7 && spec.chars().all(|c| c.is_ascii_hexdigit()) {
        let mut hits = r.objects.commits.keys().filter(|k| k.starts_with(spec));
        if let (Some(one), None) = (hits.next(), hits.next()) {
            return Some(one.clone());
        }
    }
    None
}

fn date(epoch: i64) -> String {
    Utc.timestamp_opt(epoch, 0)
        .single()
        .map(|t| ts(&t))
        .unwrap_or_default()
}

/// A `git-commit` object (`GET …/git/commits/{sha}`).
pub fn git_commit_json(base: &str, full: &str, sha: &str, c: &Commit) -> Value {
    json!({
        "sha": sha, "node_id": format!("C_{sha}"),
        "url": format!("{base}/repos/{full}/git/commits/{sha}"),
        "html_url": format!("https://github.com/{full}/commit/{sha}"),
        "author": {"name": c.author.name, "email": c.author.email, "date": date(c.author.epoch)},
        "committer": {"name": c.committer.name, "email": c.committer.email, "date": date(c.committer.epoch)},
        "message": c.message,
        "tree": {"sha": c.tree, "url": format!("{base}/repos/{full}/git/trees/{}", c.tree)},
        "parents": c.parents.iter().map(|p| json!({
            "sha": p, "url": format!("{base}/repos/{full}/git/commits/{p}"),
            "html_url": format!("https://github.com/{full}/commit/{p}"),
        })).collect::<Vec<_>>(),
        "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null},
    })
}

/// A `commit` object (the compare and pull-request commit lists).
pub fn commit_json(base: &str, full: &str, sha: &str, c: &Commit) -> Value {
    json!({
        "url": format!("{base}/repos/{full}/commits/{sha}"),
        "sha": sha, "node_id": format!("C_{sha}"),
        "html_url": format!("https://github.com/{full}/commit/{sha}"),
        "comments_url": format!("{base}/repos/{full}/commits/{sha}/comments"),
        "commit": {
            "url": format!("{base}/repos/{full}/git/commits/{sha}"),
            "author": {"name": c.author.name, "email": c.author.email, "date": date(c.author.epoch)},
            "committer": {"name": c.committer.name, "email": c.committer.email, "date": date(c.committer.epoch)},
            "message": c.message,
            "tree": {"sha": c.tree, "url": format!("{base}/repos/{full}/git/trees/{}", c.tree)},
            "comment_count": 0,
            "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null},
        },
        "author": null,
        "committer": null,
        "parents": c.parents.iter().map(|p| json!({
            "sha": p, "url": format!("{base}/repos/{full}/commits/{p}"),
            "html_url": format!("https://github.com/{full}/commit/{p}"),
        })).collect::<Vec<_>>(),
    })
}

/// Lines added and removed between two texts, counted as a multiset difference of lines.
fn line_counts(old: &[u8], new: &[u8]) -> (usize, usize) {
    let mut pool: HashMap<&[u8], i64> = HashMap::new();
    for l in old.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        *pool.entry(l).or_insert(0) += 1;
    }
    let mut added = 0;
    for l in new.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        match pool.get_mut(l) {
            Some(n) if *n > 0 => *n -= 1,
            _ => added += 1,
        }
    }
    let removed = pool.values().filter(|n| **n > 0).map(|n| *n as usize).sum();
    (added, removed)
}

/// The `files` of a comparison: what changed from `from` to `to`.
pub fn files_json(base: &str, r: &Repo, from: &Files, to: &Files, head: &str) -> Vec<Value> {
    let full = r.full_name();
    let paths: BTreeSet<&String> = from.keys().chain(to.keys()).collect();
    let mut out = Vec::new();
    for path in paths {
        let (old, new) = (from.get(path), to.get(path));
        if old == new {
            continue;
        }
        let status = match (old, new) {
            (None, Some(_)) => "added",
            (Some(_), None) => "removed",
            _ => "modified",
        };
        let (a, d) = line_counts(
            &old.map(|s| r.objects.blob(s)).unwrap_or_default(),
            &new.map(|s| r.objects.blob(s)).unwrap_or_default(),
        );
        let sha = new.or(old).cloned().unwrap_or_default();
        out.push(json!({
            "sha": sha, "filename": path, "status": status,
            "additions": a, "deletions": d, "changes": a + d,
            "blob_url": format!("https://github.com/{full}/blob/{head}/{path}"),
            "raw_url": format!("https://github.com/{full}/raw/{head}/{path}"),
            "contents_url": format!("{base}/repos/{full}/contents/{path}?ref={head}"),
        }));
    }
    out
}

/// Ahead/behind figures of `head` against `base` (two commits of one repository).
pub struct Comparison {
    pub merge_base: Option<String>,
    pub ahead: Vec<String>,
    pub behind: usize,
}

impl Comparison {
    pub fn of(r: &Repo, base: &str, head: &str) -> Comparison {
        let merge_base = r.objects.merge_base(base, head);
        Comparison {
            ahead: r.objects.range(Some(base), head),
            behind: r.objects.range(Some(head), base).len(),
            merge_base,
        }
    }

    pub fn status(&self) -> &'static str {
        match (self.ahead.len(), self.behind) {
            (0, 0) => "identical",
            (_, 0) => "ahead",
            (0, _) => "behind",
            _ => "diverged",
        }
    }
}

async fn compare(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, basehead)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let st = shared.lock();
    let r = st.repo(&owner, &repo).ok_or_else(not_found)?;
    let Some((base_spec, head_spec)) = basehead.split_once("...") else {
        return Err(not_found());
    };
    let (Some(base_sha), Some(head_sha)) = (resolve_ref(r, base_spec), resolve_ref(r, head_spec))
    else {
        return Err(not_found());
    };
    let cmp = Comparison::of(r, &base_sha, &head_sha);
    let Some(mb) = cmp.merge_base.clone() else {
        return Ok(json_reply(
            StatusCode::NOT_FOUND,
            json!({"message": format!("No common ancestor between {base_spec} and {head_spec}."),
                   "documentation_url": COMPARE_DOCS, "status": "404"}),
        ));
    };
    let base = &shared.base_url;
    let full = r.full_name();
    let commit_of = |sha: &str| {
        r.objects
            .commits
            .get(sha)
            .map(|c| commit_json(base, &full, sha, c))
            .unwrap_or(Value::Null)
    };
    let listed: Vec<Value> = cmp.ahead.iter().map(|s| commit_of(s)).collect();
    let paged = q.contains_key("page") || q.contains_key("per_page");
    let (commits, link) = if paged {
        let pq = PageQuery::from_query(&q, 30, 100);
        let path = format!("/repos/{full}/compare/{basehead}");
        paginate(listed, pq, base, &path)
    } else {
        let skip = listed.len().saturating_sub(250);
        (listed.into_iter().skip(skip).collect(), None)
    };
    let empty = Files::new();
    let mb_files = r.objects.commits.get(&mb).map_or(&empty, |c| &c.files);
    let head_files = r
        .objects
        .commits
        .get(&head_sha)
        .map_or(&empty, |c| &c.files);
    let html = format!("https://github.com/{full}/compare/{basehead}");
    let o = &r.owner;
    let body = json!({
        "url": format!("{base}/repos/{full}/compare/{basehead}"),
        "html_url": html,
        "permalink_url": format!("https://github.com/{full}/compare/{o}:{}...{o}:{}", &base_sha[..7], &head_sha[..7]),
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "base_commit": commit_of(&base_sha),
        "merge_base_commit": commit_of(&mb),
        "status": cmp.status(),
        "ahead_by": cmp.ahead.len(),
        "behind_by": cmp.behind,
        "total_commits": cmp.ahead.len(),
        "commits": commits,
        "files": files_json(base, r, mb_files, head_files, &head_sha),
    });
    let link: Option<HeaderValue> = link;
    Ok(json_with_link(StatusCode::OK, body, link))
}

async fn get_git_commit(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
) -> Reply {
    let st = shared.lock();
    let r = st.repo(&owner, &repo).ok_or_else(not_found)?;
    if r.refs.is_empty() {
        return Err(error(StatusCode::CONFLICT, "Git Repository is empty."));
    }
    Ok(match r.objects.commits.get(&sha) {
        Some(c) => json_reply(
            StatusCode::OK,
            git_commit_json(&shared.base_url, &r.full_name(), &sha, c),
        ),
        None => not_found(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_counts_are_a_multiset_difference() {
        assert_eq!(line_counts(b"a\nb\nc\n", b"a\nc\nd\ne\n"), (2, 1));
        assert_eq!(line_counts(b"", b"x\n"), (1, 0));
    }
}
