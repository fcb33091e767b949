//! Organisation Actions secrets (`scope = "org"`): one sealed value for the fleet and the
//! repositories selected to read it. GitHub never returns the value, so it is compared by
//! its keyed fingerprint (against the last applied one) and GitHub's `updated_at` (against
//! the one read after fleetsync's write); the selection against the repos of the run.

use super::org_selection::{self as sel, Change};
use super::{DesiredResource, OrgDiffInput};
use crate::desired::OrgSpec;
use crate::plan::address::{Address, Kind};
use crate::plan::builder::Builder;
use crate::plan::change::{Change as StepChange, SecretChangeKind};
use crate::plan::step::{Action, Op, OrgItemKind, Reason};

pub(super) fn desired(spec: &OrgSpec) -> Vec<DesiredResource> {
    spec.secrets
        .iter()
        .map(|(n, s)| {
            DesiredResource::new(
                Address::item(Kind::OrgSecret, &spec.org, n),
                s.fingerprint.clone(),
            )
        })
        .collect()
}

/// Why the value needs writing, if it does.
fn value_reason(
    d: &OrgDiffInput<'_>,
    addr: &Address,
    fingerprint: &str,
    updated: &chrono::DateTime<chrono::Utc>,
) -> Option<Reason> {
    match d.last.fp(addr) {
        None => Some(Reason::SecretUnverified),
        Some(applied) if applied != fingerprint => Some(Reason::SecretSourceChanged),
        Some(_) => {
            let seen = d.last.remote_updated(addr)?;
            (*updated > seen).then(|| Reason::Drift {
                what: format!(
                    "updated on GitHub at {}",
                    updated.format("%Y-%m-%dT%H:%M:%SZ")
                ),
            })
        }
    }
}

/// A secret's change: its source and GitHub's `updated_at`, never its value.
fn secret_change(
    kind: SecretChangeKind,
    s: &crate::desired::SecretSpec,
    updated: Option<&chrono::DateTime<chrono::Utc>>,
) -> StepChange {
    let seen = updated.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    StepChange::secret(kind, Some(s.source.clone()), seen)
}

pub(super) fn diff(b: &mut Builder<'_>, d: &OrgDiffInput<'_>) {
    for (name, s) in &d.spec.secrets {
        let addr = Address::item(Kind::OrgSecret, &d.spec.org, name);
        let want = sel::wanted(d.secret_repos, name);
        let put = Op::PutOrgSecret {
            name: name.clone(),
            value: s.value.clone(),
            repository_ids: sel::ids(want),
            repos: want.len(),
        };
        let detail = format!("from {}, for {} repos", s.source, want.len());
        let Some(o) = d.obs.secrets.get(name) else {
            b.missing(addr.clone(), put, detail);
            b.change(&addr, secret_change(SecretChangeKind::New, s, None));
            continue;
        };
        let reason = value_reason(d, &addr, &s.fingerprint, &o.updated_at).or_else(|| {
            (o.visibility != "selected").then(|| Reason::Drift {
                what: format!("visibility changed to {} on GitHub", o.visibility),
            })
        });
        if let Some(reason) = reason {
            let kind = match &reason {
                Reason::SecretSourceChanged => SecretChangeKind::ValueChanged,
                Reason::Drift { .. } => SecretChangeKind::ChangedOnGithub,
                _ => SecretChangeKind::Unverified,
            };
            b.push(Action::Update, addr.clone(), reason, put, detail);
            b.change(&addr, secret_change(kind, s, Some(&o.updated_at)));
            continue;
        }
        let change = Change::between(sel::current(o), want);
        if change.is_empty() {
            continue;
        }
        let reason = sel::reason(d.last, &addr, sel::current(o));
        let op = Op::SetOrgSelection {
            of: OrgItemKind::Secret,
            name: name.clone(),
            repository_ids: sel::ids(want),
            added: change.added.len(),
            removed: change.removed.len(),
        };
        b.push(Action::Update, addr.clone(), reason, op, change.describe());
        b.change(&addr, change.fields());
    }
}
