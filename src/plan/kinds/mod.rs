//! One file per resource kind, each giving its desired resources (address + fingerprint) and
//! its diff against what was observed. [`plan_repo`] runs them in apply order; the match on
//! [`Kind`] makes the compiler point at a kind that has no planner.

mod branch;
pub(crate) mod branch_files;
mod dss;
mod file;
mod marker;
mod mirror;
mod org_secret;
mod org_selection;
mod org_variable;
mod protection;
mod repo;
mod secret;
mod topics;
mod variable;

use super::address::{Address, Kind};
use super::builder::{Builder, LastApplied};
use super::step::RepoPlan;
use crate::config::DriftMode;
use crate::desired::{OrgSpec, RepoSpec};
use crate::observe::{ObservedOrg, ObservedRepo};

pub use org_selection::{selection_fp, Selection};
use std::collections::BTreeMap;
use std::ops::ControlFlow;

/// One resource a spec wants, with the fingerprint of its desired value.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredResource {
    pub address: Address,
    pub fingerprint: String,
}

impl DesiredResource {
    pub(crate) fn new(address: Address, fingerprint: String) -> Self {
        DesiredResource {
            address,
            fingerprint,
        }
    }

    pub fn kind(&self) -> Kind {
        self.address.kind()
    }
}

/// What each kind's diff reads.
pub(crate) struct DiffInput<'a> {
    pub spec: &'a RepoSpec,
    pub obs: &'a ObservedRepo,
    pub last: &'a LastApplied,
    /// `owner/name`.
    pub full: String,
    /// The repo is not on GitHub (yet): everything is to be created.
    pub new_repo: bool,
    /// Desired fingerprints by address.
    pub fps: BTreeMap<String, String>,
}

impl DiffInput<'_> {
    /// The desired fingerprint of an address.
    pub fn fp(&self, address: &Address) -> String {
        self.fps.get(address.as_str()).cloned().unwrap_or_default()
    }
}

/// The desired resources of one kind.
fn desired_of(kind: Kind, spec: &RepoSpec, full: &str) -> Vec<DesiredResource> {
    match kind {
        Kind::Marker => marker::desired(spec, full),
        Kind::Repo => repo::desired(spec, full),
        Kind::Topics => topics::desired(spec, full),
        Kind::Branch => branch::desired(spec, full),
        Kind::File => file::desired(spec, full),
        Kind::Variable => variable::desired(spec, full),
        Kind::Secret => secret::desired(spec, full),
        Kind::Protection => protection::desired(spec, full),
        Kind::BranchFiles | Kind::PullRequest => branch_files::desired(spec, full, kind),
        Kind::Mirror => mirror::desired(spec, full),
        Kind::DssRemote => dss::desired_remote(spec),
        Kind::DssPush => dss::desired_push(spec),
        // An action after fleetsync's commits, not a resource with a state of its own.
        Kind::DssPull => Vec::new(),
        // Fleet-level: planned by [`plan_org`], never in a repo's plan.
        Kind::OrgSecret | Kind::OrgVariable => Vec::new(),
    }
}

/// Every resource of a spec.
pub fn desired_resources(spec: &RepoSpec) -> Vec<DesiredResource> {
    let full = spec.full_name();
    Kind::ALL
        .into_iter()
        .flat_map(|k| desired_of(k, spec, &full))
        .collect()
}

/// One kind's diff. `Break` stops the plan (nothing more can be planned).
fn diff_of(kind: Kind, b: &mut Builder<'_>, d: &DiffInput<'_>) -> ControlFlow<()> {
    match kind {
        Kind::Marker => marker::diff(b, d),
        Kind::Repo => return repo::diff(b, d),
        Kind::Topics => topics::diff(b, d),
        Kind::Branch => branch::diff(b, d),
        Kind::File => file::diff(b, d),
        Kind::Variable => variable::diff(b, d),
        Kind::Secret => secret::diff(b, d),
        Kind::Protection => protection::diff(b, d),
        Kind::BranchFiles | Kind::PullRequest => branch_files::diff(b, d, kind),
        Kind::Mirror => mirror::diff(b, d),
        Kind::DssRemote => dss::diff(b, d),
        // Planned with the remote: a push follows from the remote's state.
        Kind::DssPush => {}
        Kind::DssPull => dss::diff_pull(b, d),
        Kind::OrgSecret | Kind::OrgVariable => {}
    }
    ControlFlow::Continue(())
}

/// Plans one repo: `(desired, observed, last applied) → steps` in apply order.
pub fn plan_repo(
    spec: &RepoSpec,
    obs: &ObservedRepo,
    last: &LastApplied,
    mode: DriftMode,
) -> RepoPlan {
    let full = spec.full_name();
    let input = DiffInput {
        spec,
        obs,
        last,
        new_repo: !obs.exists,
        fps: desired_resources(spec)
            .into_iter()
            .map(|r| (r.address.to_string(), r.fingerprint))
            .collect(),
        full: full.clone(),
    };
    let mut b = Builder {
        last,
        mode,
        plan: RepoPlan {
            repo: full,
            source: format!(
                "{}:{}/{}",
                spec.source.kind.as_str(),
                spec.source.node,
                spec.source.key
            ),
            ..Default::default()
        },
    };
    let order = if spec.history_first() {
        Kind::HISTORY_FIRST
    } else {
        Kind::ALL
    };
    for kind in order {
        if diff_of(kind, &mut b, &input).is_break() {
            break;
        }
    }
    b.plan
}

/// What the fleet-level diff reads: the org-scoped values, GitHub's org secrets and
/// variables, and per name the repositories that should read it.
pub struct OrgDiffInput<'a> {
    pub spec: &'a OrgSpec,
    pub obs: &'a ObservedOrg,
    pub last: &'a LastApplied,
    pub secret_repos: &'a BTreeMap<String, Selection>,
    pub variable_repos: &'a BTreeMap<String, Selection>,
}

/// Every org-level resource of the fleet.
pub fn desired_org_resources(spec: &OrgSpec) -> Vec<DesiredResource> {
    Kind::ORG
        .into_iter()
        .flat_map(|k| match k {
            Kind::OrgSecret => org_secret::desired(spec),
            _ => org_variable::desired(spec),
        })
        .collect()
}

/// Plans the fleet-level resources: one step at most per org secret or variable (its value
/// and selection in one write, or the selection alone), as a plan for the organisation.
pub fn plan_org(d: &OrgDiffInput<'_>, mode: DriftMode) -> RepoPlan {
    let mut b = Builder {
        last: d.last,
        mode,
        plan: RepoPlan {
            repo: d.spec.org.clone(),
            source: "org".into(),
            ..Default::default()
        },
    };
    for kind in Kind::ORG {
        match kind {
            Kind::OrgSecret => org_secret::diff(&mut b, d),
            _ => org_variable::diff(&mut b, d),
        }
    }
    b.plan
}

#[cfg(test)]
mod tests;
