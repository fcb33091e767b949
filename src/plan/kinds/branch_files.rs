//! The managed files on the configured branches besides the default one (`prod`: the
//! release workflow must be there to run on a push to it). An unprotected branch gets them
//! by a direct commit; a branch whose protection requires reviews gets one pull request from
//! fleetsync's proposal branch, updated (never duplicated) when the files change again. A
//! merged pull request means converged; one closed without merging is reported, and not
//! reopened until the files change.

use super::{DesiredResource, DiffInput};
use crate::config::FileMode;
use crate::desired::{fingerprint, proposal_branch, FileSpec, RepoSpec};
use crate::plan::address::{Address, Kind};
use crate::plan::builder::Builder;
use crate::plan::change::{file_diff, Change};
use crate::plan::step::{Action, Content, Op, Reason};
use std::sync::Arc;

fn managed(spec: &RepoSpec) -> impl Iterator<Item = (&String, &FileSpec)> {
    spec.files
        .iter()
        .filter(|(_, f)| f.mode == FileMode::Managed)
}

/// The branches of `kind`: protected-with-reviews ones for pull requests, the others for
/// direct commits.
fn branches(spec: &RepoSpec, kind: Kind) -> impl Iterator<Item = &String> {
    let want_review = kind == Kind::PullRequest;
    spec.branches
        .iter()
        .filter(move |b| **b != spec.default_branch && spec.needs_review(b) == want_review)
}

fn files_fingerprint(spec: &RepoSpec) -> String {
    let shas: Vec<(&String, &String)> = managed(spec).map(|(p, f)| (p, &f.blob_sha)).collect();
    fingerprint(&shas)
}

pub(super) fn desired(spec: &RepoSpec, full: &str, kind: Kind) -> Vec<DesiredResource> {
    if managed(spec).next().is_none() {
        return Vec::new();
    }
    let fp = files_fingerprint(spec);
    branches(spec, kind)
        .map(|b| DesiredResource::new(Address::item(kind, full, b), fp.clone()))
        .collect()
}

/// The managed files that differ on `branch` (`None`: the branch was not observed).
fn differing<'a>(d: &'a DiffInput<'_>, branch: &str) -> Option<Vec<(&'a String, &'a FileSpec)>> {
    let on_branch = d.obs.branch_files.get(branch)?;
    Some(
        managed(d.spec)
            .filter(|(p, f)| on_branch.get(*p) != Some(&f.blob_sha))
            .collect(),
    )
}

fn contents(files: &[(&String, &FileSpec)]) -> Vec<(String, Content)> {
    files
        .iter()
        .map(|(p, f)| ((*p).clone(), Content(Arc::new(f.content.clone()))))
        .collect()
}

pub(super) fn diff(b: &mut Builder<'_>, d: &DiffInput<'_>, kind: Kind) {
    for branch in branches(d.spec, kind) {
        let Some(files) = differing(d, branch) else {
            continue;
        };
        if files.is_empty() {
            continue;
        }
        let changed: Vec<String> = files.iter().map(|(p, _)| (*p).clone()).collect();
        let addr = Address::item(kind, &d.full, branch);
        let change = files_change(d, d.obs.branch_files.get(branch), &files);
        let reason = Reason::FilesDiffer {
            files: changed.clone(),
        };
        if kind == Kind::BranchFiles {
            let op = Op::CommitFiles {
                branch: branch.clone(),
                message: format!("fleetsync: update {} managed file(s)", changed.len()),
                files: contents(&files),
                changed,
            };
            b.push(
                Action::Update,
                addr.clone(),
                reason,
                op,
                format!("commit on {branch}"),
            );
            b.change(&addr, change);
            continue;
        }
        propose(b, d, branch, addr.clone(), files, reason);
        b.change(&addr, change);
    }
}

/// The files' before → after on a branch (diffed when the current content was read).
pub(super) fn files_change(
    d: &DiffInput<'_>,
    on_branch: Option<&std::collections::BTreeMap<String, String>>,
    files: &[(&String, &FileSpec)],
) -> Change {
    let files = files
        .iter()
        .map(|(p, f)| {
            let sha = on_branch.and_then(|m| m.get(*p)).map(String::as_str);
            let before = sha.and_then(|s| d.obs.contents.get(s)).map(Vec::as_slice);
            file_diff(p, sha, before, &f.blob_sha, &f.content)
        })
        .collect();
    Change {
        files,
        ..Default::default()
    }
}

/// Plans the pull request of `branch`, from what fleetsync last proposed and what GitHub has.
fn propose(
    b: &mut Builder<'_>,
    d: &DiffInput<'_>,
    branch: &str,
    addr: Address,
    files: Vec<(&String, &FileSpec)>,
    reason: Reason,
) {
    let proposed_these = d.last.fp(&addr) == Some(d.fp(&addr).as_str());
    let pulls = d
        .obs
        .proposals
        .get(branch)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let open = pulls.iter().find(|p| p.is_open());
    let latest = pulls.first();
    match (open, latest) {
        // Proposed and waiting for a review: nothing to do.
        (Some(_), _) if proposed_these => return,
        (None, Some(p)) if proposed_these && !p.is_merged() => {
            b.report_only(
                addr,
                format!(
                    "pull request #{} into {branch} was closed without merging; not reopened until the managed files change",
                    p.number
                ),
            );
            return;
        }
        _ => {}
    }
    let changed: Vec<String> = files.iter().map(|(p, _)| (*p).clone()).collect();
    let detail = match open {
        Some(p) => format!("update pull request #{} into {branch}", p.number),
        None => format!("open a pull request into {branch}"),
    };
    let op = Op::ProposeFiles {
        base: branch.to_string(),
        head: proposal_branch(branch),
        pull: open.map(|p| p.number),
        title: format!("fleetsync: managed files for {branch}"),
        body: proposal_body(d, branch, &files),
        files: contents(&files),
        changed,
    };
    b.push(Action::Update, addr, reason, op, detail);
}

/// The pull request's description: each change and why.
fn proposal_body(d: &DiffInput<'_>, branch: &str, files: &[(&String, &FileSpec)]) -> String {
    let on_branch = d.obs.branch_files.get(branch);
    let mut body = format!(
        "fleetsync keeps these files as the config renders them; `{branch}` is protected, so they are proposed here for review.\n\n"
    );
    for (path, f) in files {
        let why = match on_branch.and_then(|m| m.get(*path)) {
            None => "not on this branch yet".to_string(),
            Some(sha) => format!(
                "content differs (blob {} here, {} rendered)",
                crate::plan::builder::short(sha),
                crate::plan::builder::short(&f.blob_sha)
            ),
        };
        body.push_str(&format!("- `{path}`: {why}\n"));
    }
    body
}

/// The branches whose managed files need no reading this run: fleetsync confirmed them with
/// the files the config renders now.
pub fn settled_branches(
    spec: &RepoSpec,
    last: &crate::plan::LastApplied,
) -> std::collections::BTreeSet<String> {
    let full = spec.full_name();
    [Kind::BranchFiles, Kind::PullRequest]
        .into_iter()
        .flat_map(|k| desired(spec, &full, k))
        .filter(|r| last.settled(&r.address, &r.fingerprint))
        .filter_map(|r| r.address.item_name().map(str::to_string))
        .collect()
}

/// The record status of a branch-files resource with no step this run: in sync when the
/// branch was read and holds the files (or was just cut from the default branch), else
/// what it was.
pub fn unplanned_status(
    spec: &RepoSpec,
    obs: &crate::observe::ObservedRepo,
    branch: &str,
    prev_unconfirmed: bool,
) -> &'static str {
    match obs.branch_files.get(branch) {
        Some(on_branch) => {
            let same = managed(spec).all(|(p, f)| on_branch.get(p) == Some(&f.blob_sha));
            if same {
                "in_sync"
            } else {
                "pending"
            }
        }
        None if prev_unconfirmed => "pending",
        None => "in_sync",
    }
}
