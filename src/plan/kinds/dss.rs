//! The DSS side of a project repo: the project's git remote (drift when it points elsewhere,
//! overwritten only when configured) and a first push once the remote is set.

use super::{DesiredResource, DiffInput};
use crate::desired::{fingerprint, DssLink, RepoSpec};
use crate::plan::address::{Address, Kind};
use crate::plan::builder::{Builder, Difference};
use crate::plan::change::Change;
use crate::plan::step::{Action, Op, Reason};

fn remote_address(l: &DssLink) -> Address {
    Address::item(
        Kind::DssRemote,
        &format!("{}/{}", l.node, l.key),
        &l.remote_name,
    )
}

fn push_address(l: &DssLink) -> Address {
    Address::of_repo(Kind::DssPush, &format!("{}/{}", l.node, l.key))
}

pub(super) fn desired_remote(spec: &RepoSpec) -> Vec<DesiredResource> {
    spec.dss_link
        .iter()
        .map(|l| DesiredResource::new(remote_address(l), fingerprint(&l.url)))
        .collect()
}

pub(super) fn desired_push(spec: &RepoSpec) -> Vec<DesiredResource> {
    spec.dss_link
        .iter()
        .filter(|l| l.push)
        .map(|l| DesiredResource::new(push_address(l), fingerprint(&l.url)))
        .collect()
}

fn set_remote(l: &DssLink) -> Op {
    Op::SetDssRemote {
        node: l.node.clone(),
        key: l.key.clone(),
        name: l.remote_name.clone(),
        url: l.url.clone(),
    }
}

/// Plans the remote; returns whether a push is needed.
fn plan_remote(b: &mut Builder<'_>, d: &DiffInput<'_>, l: &DssLink, current: Option<&str>) -> bool {
    let remote_addr = remote_address(l);
    let change = Change::field(
        "url",
        current.map(|u| serde_json::json!(u)),
        Some(serde_json::json!(l.url)),
    );
    let needs_push = plan_remote_step(b, d, l, current);
    b.change(&remote_addr, change);
    needs_push
}

fn plan_remote_step(
    b: &mut Builder<'_>,
    d: &DiffInput<'_>,
    l: &DssLink,
    current: Option<&str>,
) -> bool {
    let remote_addr = remote_address(l);
    match current {
        None => {
            b.push(
                Action::Create,
                remote_addr,
                Reason::NewResource,
                set_remote(l),
                l.url.clone(),
            );
            true
        }
        Some(url) if url == l.url => {
            let push_addr = push_address(l);
            d.last.fp(&push_addr) != Some(d.fp(&push_addr).as_str())
        }
        Some(url) => {
            let what = format!("remote {} points at {url}", l.remote_name);
            if !l.overwrite {
                b.report_only(
                    remote_addr,
                    format!("{what}; not overwritten (dss.git.overwrite_remote = false)"),
                );
                return false;
            }
            b.differs(Difference {
                action: Action::Update,
                desired_fp: d.fp(&remote_addr),
                address: remote_addr,
                drift_what: format!("{what} (changed in DSS)"),
                config_what: what,
                op: set_remote(l),
                detail: l.url.clone(),
            });
            true
        }
    }
}

pub(super) fn diff(b: &mut Builder<'_>, d: &DiffInput<'_>) {
    let Some(l) = &d.spec.dss_link else { return };
    // Not observed (an error): plan nothing on the DSS side this run.
    let Some(Ok(current)) = &d.obs.dss_remote else {
        return;
    };
    let needs_push = plan_remote(b, d, l, current.as_deref());
    if needs_push && l.push {
        b.push(
            Action::Create,
            push_address(l),
            Reason::NewResource,
            Op::DssPush {
                node: l.node.clone(),
                key: l.key.clone(),
            },
            format!("push the project to {}", l.url),
        );
    }
}

/// A repo made from the project's history: once fleetsync commits files on the project's
/// branch, the project pulls them (so its next push fast-forwards).
pub(super) fn diff_pull(b: &mut Builder<'_>, d: &DiffInput<'_>) {
    let Some(l) = &d.spec.dss_link else { return };
    let default_branch = &d.spec.default_branch;
    let commits_on_branch = b.plan.steps.iter().any(|s| match &s.op {
        Op::PutFile { branch, .. } => branch == default_branch,
        Op::DeleteFile { branch, .. } => branch == default_branch,
        Op::MirrorFiles { branch, .. } => branch == default_branch,
        _ => false,
    });
    // Not observed (an error): plan nothing on the DSS side this run.
    let observed = matches!(d.obs.dss_remote, Some(Ok(_)));
    if !l.history_first() || !commits_on_branch || !observed {
        return;
    }
    b.push(
        Action::Update,
        Address::of_repo(Kind::DssPull, &format!("{}/{}", l.node, l.key)),
        Reason::ConfigChanged {
            what: format!("fleetsync commits on {default_branch}"),
        },
        Op::DssPull {
            node: l.node.clone(),
            key: l.key.clone(),
        },
        format!("pull {default_branch} into the project (rebase)"),
    );
}
