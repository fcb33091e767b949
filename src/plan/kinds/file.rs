//! Managed files on the default branch, compared by git blob SHA against the observed tree.

use super::{DesiredResource, DiffInput};
use crate::config::FileMode;
use crate::desired::{FileSpec, RepoSpec};
use crate::plan::address::{Address, Kind};
use crate::plan::builder::{short, Builder, Difference};
use crate::plan::change::{file_diff, Change};
use crate::plan::step::{Action, Content, Op, Reason};
use std::sync::Arc;

pub(super) fn desired(spec: &RepoSpec, full: &str) -> Vec<DesiredResource> {
    spec.files
        .iter()
        .map(|(p, f)| DesiredResource::new(Address::item(Kind::File, full, p), f.blob_sha.clone()))
        .collect()
}

fn put(spec: &RepoSpec, path: &str, f: &FileSpec, sha: Option<String>) -> Op {
    Op::PutFile {
        path: path.to_string(),
        sha,
        branch: spec.default_branch.clone(),
        content: Content(Arc::new(f.content.clone())),
        blob_sha: f.blob_sha.clone(),
        batched: spec.history_first(),
    }
}

/// Files fleetsync wrote and the config no longer names: deleted when the default branch
/// still holds the blob fleetsync wrote, left in place (and said so) when it was edited since
/// or when that branch takes changes only by reviewed pull request.
fn removed(b: &mut Builder<'_>, d: &DiffInput<'_>) {
    let Some(files) = d.obs.files.as_ref().filter(|_| !d.new_repo) else {
        return;
    };
    for path in &d.spec.removed.files {
        let Some(sha) = files.get(path) else { continue };
        let addr = Address::item(Kind::File, &d.full, path);
        if b.last.fp(&addr) != Some(sha.as_str()) {
            let what = format!(
                "no longer in the config, but edited on GitHub since fleetsync wrote it (blob {}): left in place",
                short(sha)
            );
            b.report_only(addr, what);
        } else if d.spec.needs_review(&d.spec.default_branch) {
            let what = format!(
                "no longer in the config; {} takes changes by reviewed pull request only: left in place",
                d.spec.default_branch
            );
            b.report_only(addr, what);
        } else {
            let op = Op::DeleteFile {
                path: path.clone(),
                sha: sha.clone(),
                branch: d.spec.default_branch.clone(),
            };
            let detail = format!("blob {}", short(sha));
            b.push(
                Action::Delete,
                addr.clone(),
                Reason::RemovedFromConfig,
                op,
                detail,
            );
            b.change(
                &addr,
                Change::field("blob", Some(serde_json::json!(sha)), None),
            );
        }
    }
}

pub(super) fn diff(b: &mut Builder<'_>, d: &DiffInput<'_>) {
    removed(b, d);
    for (path, f) in &d.spec.files {
        let addr = Address::item(Kind::File, &d.full, path);
        let current = if d.new_repo {
            None
        } else {
            d.obs.files.as_ref().and_then(|m| m.get(path))
        };
        let change = Change {
            files: vec![file_diff(
                path,
                current.map(String::as_str),
                current
                    .and_then(|sha| d.obs.contents.get(sha))
                    .map(Vec::as_slice),
                &f.blob_sha,
                &f.content,
            )],
            ..Default::default()
        };
        match current {
            None => b.missing(
                addr.clone(),
                put(d.spec, path, f, None),
                format!("{} bytes", f.content.len()),
            ),
            Some(sha) if *sha != f.blob_sha && f.mode == FileMode::Managed => {
                b.differs(Difference {
                    action: Action::Update,
                    address: addr.clone(),
                    desired_fp: f.blob_sha.clone(),
                    drift_what: format!("edited on GitHub (blob {})", short(sha)),
                    config_what: "content differs".into(),
                    op: put(d.spec, path, f, Some(sha.clone())),
                    detail: format!("blob {} → {}", short(sha), short(&f.blob_sha)),
                })
            }
            Some(_) => continue,
        }
        b.change(&addr, change);
    }
    batch_updates(b, d);
}

/// Two or more files written to an existing repo go as one commit (Git Data: branch head,
/// tree with the contents inline, commit, ref: 4 requests and 2 content-generating ones,
/// whatever the count) instead of one contents PUT each. A new or empty repo keeps the
/// PUTs: its first two files cost 2 requests that way, and GitHub refuses the Git Data API
/// on an empty repo (409), where the first contents PUT makes the first commit.
fn batch_updates(b: &mut Builder<'_>, d: &DiffInput<'_>) {
    if d.new_repo || d.obs.files.is_none() || d.spec.history_first() {
        return;
    }
    let mut puts = b
        .plan
        .steps
        .iter_mut()
        .filter_map(|s| match &mut s.op {
            Op::PutFile { batched, .. } if s.kind == Kind::File => Some(batched),
            _ => None,
        })
        .collect::<Vec<_>>();
    if puts.len() >= 2 {
        for batched in puts.iter_mut() {
            **batched = true;
        }
    }
}
