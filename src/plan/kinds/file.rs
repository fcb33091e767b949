//! Managed files on the default branch, compared by git blob SHA against the observed tree.

use super::{DesiredResource, DiffInput};
use crate::config::FileMode;
use crate::desired::{FileSpec, RepoSpec};
use crate::plan::address::{Address, Kind};
use crate::plan::builder::{short, Builder, Difference};
use crate::plan::change::{file_diff, Change};
use crate::plan::step::{Action, Content, Op};
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

pub(super) fn diff(b: &mut Builder<'_>, d: &DiffInput<'_>) {
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
}
