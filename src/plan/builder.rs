//! The plan builder shared by every kind: what fleetsync last applied, the drift mode, and the
//! rules that turn a difference into a step with its reason (drift when GitHub moved after
//! our write, a config change otherwise) or into a report-only drift finding.

use super::address::Address;
use super::change::Change;
use super::step::{Action, DriftFinding, Op, Reason, RepoPlan, Step};
use crate::config::DriftMode;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// What fleetsync last wrote, per resource address.
#[derive(Debug, Clone, Default)]
pub struct LastApplied {
    /// address → (applied fingerprint, GitHub's `updated_at` seen after the write).
    pub by_address: BTreeMap<String, (Option<String>, Option<String>)>,
    /// Branch-file addresses (`pull-request:…`, `branch-files:…`) whose last record is not
    /// confirmed in sync (a pull request awaits review, or it was closed unmerged).
    pub unconfirmed: std::collections::BTreeSet<String>,
    /// Org-level resources: address → fingerprint of the repository selection fleetsync
    /// last wrote or saw in line.
    pub selections: BTreeMap<String, String>,
    /// fleetsync archived the repo itself (a removal), so it unarchives it when the
    /// project is back.
    pub archived_by_fleetsync: bool,
    /// The state was rebuilt from GitHub at this time: a secret with no record whose
    /// GitHub `updated_at` is older is taken as written by fleetsync before the loss.
    pub trust_secrets_before: Option<DateTime<Utc>>,
}

impl LastApplied {
    pub(crate) fn fp(&self, address: &str) -> Option<&str> {
        self.by_address
            .get(address)
            .and_then(|(fp, _)| fp.as_deref())
    }

    /// Whether fleetsync confirmed the resource holds `desired_fp` (applied, and in sync
    /// when last looked at).
    pub fn settled(&self, address: &str, desired_fp: &str) -> bool {
        self.fp(address) == Some(desired_fp) && !self.unconfirmed.contains(address)
    }

    pub(crate) fn selection(&self, address: &str) -> Option<&str> {
        self.selections.get(address).map(String::as_str)
    }

    pub(crate) fn remote_updated(&self, address: &str) -> Option<DateTime<Utc>> {
        self.by_address
            .get(address)
            .and_then(|(_, u)| u.as_deref())
            .and_then(|u| DateTime::parse_from_rfc3339(u).ok())
            .map(|d| d.with_timezone(&Utc))
    }
}

/// A difference found by a kind: what to do, and how to describe it either way.
pub(crate) struct Difference {
    pub action: Action,
    pub address: Address,
    /// The desired fingerprint: equal to the last applied one means GitHub moved (drift).
    pub desired_fp: String,
    /// The reason's text when it is drift.
    pub drift_what: String,
    /// The reason's text when the config changed.
    pub config_what: String,
    pub op: Op,
    pub detail: String,
}

/// Builds one repo's plan.
pub(crate) struct Builder<'a> {
    pub last: &'a LastApplied,
    pub mode: DriftMode,
    pub plan: RepoPlan,
}

impl Builder<'_> {
    /// Adds a step for a resource that differs; the reason comes from the last-applied record.
    pub fn differs(&mut self, d: Difference) {
        let reason = match self.last.fp(&d.address) {
            Some(fp) if fp == d.desired_fp => Reason::Drift { what: d.drift_what },
            Some(_) => Reason::ConfigChanged {
                what: d.config_what,
            },
            None => Reason::ConfigChanged {
                what: format!("{} (not written by fleetsync before)", d.config_what),
            },
        };
        self.push(d.action, d.address, reason, d.op, d.detail);
    }

    /// Adds a step (or, for drift in report mode, only the finding).
    pub fn push(
        &mut self,
        action: Action,
        address: Address,
        reason: Reason,
        op: Op,
        detail: String,
    ) {
        if let Reason::Drift { what } = &reason {
            let repair = self.mode == DriftMode::Repair;
            self.plan.drift.push(DriftFinding {
                kind: address.kind(),
                address: address.clone(),
                what: what.clone(),
                repair,
            });
            if !repair {
                return;
            }
        }
        self.plan.steps.push(Step {
            action,
            kind: address.kind(),
            address,
            reason,
            op,
            detail,
            change: Change::default(),
        });
    }

    /// Says what the step just pushed for `address` changes (nothing when the difference
    /// was only reported).
    pub fn change(&mut self, address: &Address, change: Change) {
        if let Some(s) = self.plan.steps.last_mut().filter(|s| s.address == *address) {
            s.change = change;
        }
    }

    /// A resource missing on GitHub: new, or deleted there after we wrote it (drift).
    pub fn missing(&mut self, address: Address, op: Op, detail: String) {
        let reason = if self.last.fp(&address).is_some() {
            Reason::Drift {
                what: format!("{} deleted on GitHub", address.kind()),
            }
        } else {
            Reason::NewResource
        };
        self.push(Action::Create, address, reason, op, detail);
    }

    /// A finding that is never repaired by a step.
    pub fn report_only(&mut self, address: Address, what: String) {
        self.plan.drift.push(DriftFinding {
            kind: address.kind(),
            address,
            what,
            repair: false,
        });
    }
}

/// The first characters of a SHA, as git shows them.
pub(crate) fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}
