//! The repository itself: created when missing (with its ownership marker), unarchived when
//! its project is back and fleetsync had archived it (archived by hand: drift), description
//! and visibility kept as desired.

use super::{DesiredResource, DiffInput};
use crate::desired::fingerprint;
use crate::desired::RepoSpec;
use crate::plan::address::{Address, Kind};
use crate::plan::builder::{Builder, Difference};
use crate::plan::change::Change;
use crate::plan::step::{Action, Op, Reason, RepoPatch};
use serde_json::json;
use std::ops::ControlFlow;

pub(super) fn desired(spec: &RepoSpec, full: &str) -> Vec<DesiredResource> {
    vec![DesiredResource::new(
        Address::of_repo(Kind::Repo, full),
        fingerprint(&(&spec.description, &spec.visibility)),
    )]
}

pub(super) fn diff(b: &mut Builder<'_>, d: &DiffInput<'_>) -> ControlFlow<()> {
    let addr = Address::of_repo(Kind::Repo, &d.full);
    if d.new_repo {
        return create(b, d, &addr);
    }
    if d.obs.archived {
        unarchive(b, d, &addr)?;
    }
    settings(b, d, &addr);
    ControlFlow::Continue(())
}

/// A repo that does not exist: created (or, deleted on GitHub in report mode, nothing more).
fn create(b: &mut Builder<'_>, d: &DiffInput<'_>, addr: &Address) -> ControlFlow<()> {
    let spec = d.spec;
    let reason = if d.last.fp(addr).is_some() {
        Reason::Drift {
            what: "repo deleted on GitHub".into(),
        }
    } else if spec.source.kind == crate::desired::SourceKind::Plugin {
        Reason::NewPlugin
    } else {
        Reason::NewProject
    };
    b.push(
        Action::Create,
        addr.clone(),
        reason,
        Op::CreateRepo {
            description: spec.description.clone(),
            visibility: spec.visibility.clone(),
            default_branch: spec.default_branch.clone(),
            auto_init: !spec.history_first(),
            marker: spec.marker.clone(),
        },
        format!(
            "{} repo, default branch {}",
            spec.visibility, spec.default_branch
        ),
    );
    b.change(
        addr,
        Change::of_objects(
            None,
            &json!({
                "description": spec.description,
                "visibility": spec.visibility,
                "default_branch": spec.default_branch,
            }),
        ),
    );
    if b.plan.steps.is_empty() {
        // Report-only drift on a deleted repo: nothing more can be planned.
        return ControlFlow::Break(());
    }
    ControlFlow::Continue(())
}

/// An archived repo: unarchived for a project that is back only when fleetsync archived it
/// (for the removal); archived by someone else, it is drift, repaired only in repair mode.
/// Left archived, it takes no other write.
fn unarchive(b: &mut Builder<'_>, d: &DiffInput<'_>, addr: &Address) -> ControlFlow<()> {
    let reason = if d.last.archived_by_fleetsync {
        Reason::ProjectBack
    } else {
        Reason::Drift {
            what: "archived on GitHub".into(),
        }
    };
    let before = b.plan.steps.len();
    b.push(
        Action::Update,
        addr.clone(),
        reason,
        Op::UpdateRepo {
            patch: RepoPatch {
                archived: Some(false),
                ..Default::default()
            },
        },
        "unarchive".into(),
    );
    b.change(
        addr,
        Change::field("archived", Some(json!(true)), Some(json!(false))),
    );
    if b.plan.steps.len() == before {
        return ControlFlow::Break(());
    }
    ControlFlow::Continue(())
}

/// Description and visibility: one PATCH for what differs.
fn settings(b: &mut Builder<'_>, d: &DiffInput<'_>, addr: &Address) {
    let spec = d.spec;
    let mut patch = RepoPatch::default();
    let mut what = Vec::new();
    let mut change = Change::default();
    let current = d.obs.description.as_deref().unwrap_or("");
    if current != spec.description {
        patch.description = Some(spec.description.clone());
        what.push("description");
        change.fields.extend(
            Change::field(
                "description",
                Some(json!(current)),
                Some(json!(spec.description)),
            )
            .fields,
        );
    }
    if d.obs.visibility.as_deref() != Some(spec.visibility.as_str()) {
        patch.visibility = Some(spec.visibility.clone());
        what.push("visibility");
        change.fields.extend(
            Change::field(
                "visibility",
                d.obs.visibility.as_ref().map(|v| json!(v)),
                Some(json!(spec.visibility)),
            )
            .fields,
        );
    }
    if what.is_empty() {
        return;
    }
    let w = what.join(", ");
    b.differs(Difference {
        action: Action::Update,
        desired_fp: d.fp(addr),
        address: addr.clone(),
        drift_what: format!("{w} changed on GitHub"),
        config_what: format!("{w} differs"),
        op: Op::UpdateRepo { patch },
        detail: format!("set {w}"),
    });
    b.change(addr, change);
}
