//! Actions secrets. GitHub never returns a value, so a secret is compared by the keyed
//! fingerprint of its source value (vs. the last applied one) and GitHub's `updated_at`
//! (vs. the one read back after fleetsync's write).

use super::{DesiredResource, DiffInput};
use crate::desired::{RepoSpec, SecretSpec};
use crate::plan::address::{Address, Kind};
use crate::plan::builder::Builder;
use crate::plan::change::{Change, SecretChangeKind};
use crate::plan::step::{Action, Op, Reason};

/// GitHub's `updated_at` as the plan shows it.
fn stamp(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(super) fn desired(spec: &RepoSpec, full: &str) -> Vec<DesiredResource> {
    spec.secrets
        .iter()
        .map(|(n, s)| {
            DesiredResource::new(Address::item(Kind::Secret, full, n), s.fingerprint.clone())
        })
        .collect()
}

/// Why an existing secret needs writing, if it does.
fn reason(
    d: &DiffInput<'_>,
    addr: &Address,
    s: &SecretSpec,
    updated: &chrono::DateTime<chrono::Utc>,
) -> Option<Reason> {
    match d.last.fp(addr) {
        // Rebuilt state: set before the state was lost, so set by fleetsync (unless
        // `fleetctl secrets rotate` asked for every secret to be written again).
        None if d.last.trust_secrets_before.is_some_and(|t| *updated <= t) => None,
        None => Some(Reason::SecretUnverified),
        Some(applied) if applied != s.fingerprint => Some(Reason::SecretSourceChanged),
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

pub(super) fn diff(b: &mut Builder<'_>, d: &DiffInput<'_>) {
    for name in &d.spec.retired_secrets {
        if !d.new_repo && d.obs.secrets.contains_key(name) {
            let addr = Address::item(Kind::Secret, &d.full, name);
            let op = Op::DeleteSecret { name: name.clone() };
            let seen = d.obs.secrets.get(name).map(stamp);
            b.push(
                Action::Delete,
                addr.clone(),
                Reason::MovedToOrg,
                op,
                String::new(),
            );
            b.change(&addr, Change::secret(SecretChangeKind::Deleted, None, seen));
        }
    }
    for name in &d.spec.removed.secrets {
        let Some(updated) = d.obs.secrets.get(name).filter(|_| !d.new_repo) else {
            continue;
        };
        let addr = Address::item(Kind::Secret, &d.full, name);
        // GitHub never shows a secret's value: as written means not updated after the write.
        match b.last.remote_updated(&addr) {
            Some(seen) if *updated <= seen => {
                let op = Op::DeleteSecret { name: name.clone() };
                b.push(
                    Action::Delete,
                    addr.clone(),
                    Reason::RemovedFromConfig,
                    op,
                    String::new(),
                );
                b.change(
                    &addr,
                    Change::secret(SecretChangeKind::Deleted, None, Some(stamp(updated))),
                );
            }
            _ => {
                let what = "no longer in the config, but set on GitHub since fleetsync wrote it (or not known to be fleetsync's value): left in place";
                b.report_only(addr, what.into());
            }
        }
    }
    for (name, s) in &d.spec.secrets {
        let addr = Address::item(Kind::Secret, &d.full, name);
        let op = Op::PutSecret {
            name: name.clone(),
            value: s.value.clone(),
        };
        let source = format!("from {}", s.source);
        let (kind, seen) = match (d.new_repo, d.obs.secrets.get(name)) {
            (true, _) | (false, None) => {
                b.missing(addr.clone(), op, source);
                (SecretChangeKind::New, None)
            }
            (false, Some(updated)) => {
                let Some(reason) = reason(d, &addr, s, updated) else {
                    continue;
                };
                let kind = match &reason {
                    Reason::SecretSourceChanged => SecretChangeKind::ValueChanged,
                    Reason::Drift { .. } => SecretChangeKind::ChangedOnGithub,
                    _ => SecretChangeKind::Unverified,
                };
                b.push(Action::Update, addr.clone(), reason, op, source);
                (kind, Some(stamp(updated)))
            }
        };
        b.change(&addr, Change::secret(kind, Some(s.source.clone()), seen));
    }
}
