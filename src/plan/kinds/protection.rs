//! Branch protection, compared field by field in its normalised form.

use super::{DesiredResource, DiffInput};
use crate::desired::{fingerprint, ProtectionSpec, RepoSpec};
use crate::observe::BranchState;
use crate::plan::address::{Address, Kind};
use crate::plan::builder::{Builder, Difference};
use crate::plan::change::Change;
use crate::plan::step::{Action, Op};

pub(super) fn desired(spec: &RepoSpec, full: &str) -> Vec<DesiredResource> {
    spec.protection
        .iter()
        .map(|(br, p)| {
            DesiredResource::new(Address::item(Kind::Protection, full, br), fingerprint(p))
        })
        .collect()
}

fn put(branch: &str, p: &ProtectionSpec) -> Op {
    Op::PutProtection {
        branch: branch.to_string(),
        protection: p.clone(),
    }
}

pub(super) fn diff(b: &mut Builder<'_>, d: &DiffInput<'_>) {
    for (branch, p) in &d.spec.protection {
        let addr = Address::item(Kind::Protection, &d.full, branch);
        let before = match d.obs.branches.get(branch) {
            Some(BranchState::Protected(cur)) if !d.new_repo => serde_json::to_value(cur).ok(),
            _ => None,
        };
        let after = serde_json::to_value(p).unwrap_or_default();
        let change = Change::of_objects(before.as_ref(), &after);
        plan_one(b, d, branch, p, addr.clone());
        b.change(&addr, change);
    }
}

fn plan_one(
    b: &mut Builder<'_>,
    d: &DiffInput<'_>,
    branch: &str,
    p: &ProtectionSpec,
    addr: Address,
) {
    match d.obs.branches.get(branch) {
        _ if d.new_repo => b.missing(addr, put(branch, p), String::new()),
        None | Some(BranchState::Missing) | Some(BranchState::Unprotected) => {
            if d.last.fp(&addr).is_some() {
                b.differs(Difference {
                    action: Action::Update,
                    desired_fp: d.fp(&addr),
                    address: addr,
                    drift_what: "protection removed on GitHub".into(),
                    config_what: "protection differs".into(),
                    op: put(branch, p),
                    detail: String::new(),
                });
            } else {
                b.missing(addr, put(branch, p), String::new());
            }
        }
        Some(BranchState::Protected(cur)) if cur != p => {
            let diffs = cur.differences(p).join(", ");
            b.differs(Difference {
                action: Action::Update,
                desired_fp: d.fp(&addr),
                address: addr,
                drift_what: format!("loosened or changed on GitHub: {diffs}"),
                config_what: format!("settings differ: {diffs}"),
                op: put(branch, p),
                detail: diffs,
            });
        }
        Some(BranchState::Protected(_)) => {}
    }
}
