//! A dev plugin's files, mirrored into its repo as one commit when they change.

use super::{DesiredResource, DiffInput};
use crate::desired::{fingerprint, RepoSpec};
use crate::plan::address::{Address, Kind};
use crate::plan::builder::{Builder, Difference};
use crate::plan::step::{Action, Content, Op, Reason};
use std::sync::Arc;

pub(super) fn desired(spec: &RepoSpec, full: &str) -> Vec<DesiredResource> {
    if spec.mirror.is_empty() {
        return Vec::new();
    }
    let shas: Vec<(&String, &String)> = spec.mirror.iter().map(|(p, f)| (p, &f.blob_sha)).collect();
    vec![DesiredResource::new(
        Address::of_repo(Kind::Mirror, full),
        fingerprint(&shas),
    )]
}

fn changed_files(d: &DiffInput<'_>) -> Vec<String> {
    d.spec
        .mirror
        .iter()
        .filter(|(p, f)| {
            d.new_repo
                || d.obs
                    .files
                    .as_ref()
                    .and_then(|m| m.get(*p))
                    .is_none_or(|sha| *sha != f.blob_sha)
        })
        .map(|(p, _)| p.clone())
        .collect()
}

fn op(spec: &RepoSpec, changed: Vec<String>) -> Op {
    let files = changed
        .iter()
        .filter_map(|p| {
            let f = spec.mirror.get(p)?;
            Some((p.clone(), Content(Arc::new(f.content.clone()))))
        })
        .collect::<Vec<_>>();
    let message = format!(
        "fleetsync: mirror plugin {} version {} ({} file(s))",
        spec.source.key,
        spec.source.version,
        files.len()
    );
    Op::MirrorFiles {
        changed,
        files,
        branch: spec.default_branch.clone(),
        message,
    }
}

pub(super) fn diff(b: &mut Builder<'_>, d: &DiffInput<'_>) {
    if d.spec.mirror.is_empty() {
        return;
    }
    let changed = changed_files(d);
    if changed.is_empty() {
        return;
    }
    let spec = d.spec;
    let addr = Address::of_repo(Kind::Mirror, &d.full);
    let detail = format!("{} file(s), version {}", changed.len(), spec.source.version);
    let files: Vec<(&String, &crate::desired::FileSpec)> = changed
        .iter()
        .filter_map(|p| spec.mirror.get_key_value(p))
        .collect();
    let on_branch = if d.new_repo {
        None
    } else {
        d.obs.files.as_ref()
    };
    let change = super::branch_files::files_change(d, on_branch, &files);
    let op = op(spec, changed.clone());
    if d.new_repo || d.last.fp(&addr).is_none() {
        b.push(
            Action::Update,
            addr.clone(),
            Reason::NewResource,
            op,
            detail,
        );
    } else {
        b.differs(Difference {
            action: Action::Update,
            desired_fp: d.fp(&addr),
            address: addr.clone(),
            drift_what: "plugin files changed on GitHub".into(),
            config_what: format!("plugin files changed (version {})", spec.source.version),
            op,
            detail,
        });
    }
    b.change(&addr, change);
}
