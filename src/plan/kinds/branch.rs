//! Branches besides the default one (`prod`), cut from the default branch after its files,
//! so they hold the workflows.

use super::{DesiredResource, DiffInput};
use crate::desired::{fingerprint, RepoSpec};
use crate::observe::BranchState;
use crate::plan::address::{Address, Kind};
use crate::plan::builder::Builder;
use crate::plan::step::Op;

pub(super) fn desired(spec: &RepoSpec, full: &str) -> Vec<DesiredResource> {
    spec.branches
        .iter()
        .map(|br| DesiredResource::new(Address::item(Kind::Branch, full, br), fingerprint(br)))
        .collect()
}

pub(super) fn diff(b: &mut Builder<'_>, d: &DiffInput<'_>) {
    for br in &d.spec.branches {
        let state = d.obs.branches.get(br);
        if d.new_repo || matches!(state, None | Some(BranchState::Missing)) {
            b.missing(
                Address::item(Kind::Branch, &d.full, br),
                Op::CreateBranch {
                    branch: br.clone(),
                    from: d.spec.default_branch.clone(),
                },
                format!("from {} (after its files)", d.spec.default_branch),
            );
        }
    }
}
