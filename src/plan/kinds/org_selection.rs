//! What the two org-level kinds share: a repository selection (lower-cased `owner/name` →
//! GitHub id), its fingerprint, and how a difference is described and explained.

use crate::desired::fingerprint;
use crate::observe::ObservedOrgItem;
use crate::plan::address::Address;
use crate::plan::builder::LastApplied;
use crate::plan::change::{Change as StepChange, FieldChange};
use crate::plan::step::Reason;
use serde_json::Value;
use std::collections::BTreeMap;

/// How many repos a plan names of those added to (or removed from) a selection.
pub const NAMED: usize = 20;

/// Repositories that may read an org secret or variable.
pub type Selection = BTreeMap<String, u64>;

/// The fingerprint of a selection (its sorted names).
pub fn selection_fp(sel: &Selection) -> String {
    let names: Vec<&String> = sel.keys().collect();
    fingerprint(&names)
}

/// Repositories to add and to remove.
pub(super) struct Change {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl Change {
    pub fn between(current: &Selection, desired: &Selection) -> Change {
        Change {
            added: desired
                .keys()
                .filter(|k| !current.contains_key(*k))
                .cloned()
                .collect(),
            removed: current
                .keys()
                .filter(|k| !desired.contains_key(*k))
                .cloned()
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }

    /// Before → after for a plan: `repositories_added: (none) → ["acme/a", …]` and
    /// `repositories_removed: ["acme/x"] → (none)`, naming at most [`NAMED`] of each (then
    /// `"… N more"`).
    pub fn fields(&self) -> StepChange {
        let named = |v: &[String]| {
            let mut names: Vec<Value> = v.iter().take(NAMED).cloned().map(Value::from).collect();
            if v.len() > NAMED {
                names.push(Value::from(format!("… {} more", v.len() - NAMED)));
            }
            Value::Array(names)
        };
        let mut fields = Vec::new();
        if !self.added.is_empty() {
            fields.push(FieldChange {
                field: "repositories_added".into(),
                before: None,
                after: Some(named(&self.added)),
            });
        }
        if !self.removed.is_empty() {
            fields.push(FieldChange {
                field: "repositories_removed".into(),
                before: Some(named(&self.removed)),
                after: None,
            });
        }
        StepChange {
            fields,
            ..Default::default()
        }
    }

    /// `+2 repos (acme/a, acme/b), -1 (acme/x)`, naming at most five of each.
    pub fn describe(&self) -> String {
        let list = |v: &[String]| {
            let mut s = v.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
            if v.len() > 5 {
                s.push_str(&format!(", … {} more", v.len() - 5));
            }
            s
        };
        let mut parts = Vec::new();
        if !self.added.is_empty() {
            parts.push(format!(
                "+{} repos ({})",
                self.added.len(),
                list(&self.added)
            ));
        }
        if !self.removed.is_empty() {
            parts.push(format!("-{} ({})", self.removed.len(), list(&self.removed)));
        }
        parts.join(", ")
    }
}

/// Why the selection must be rewritten: drift when GitHub's list is not the one fleetsync
/// last wrote (someone changed it), a config change otherwise (new or removed repos).
pub(super) fn reason(last: &LastApplied, addr: &Address, current: &Selection) -> Reason {
    match last.selection(addr) {
        Some(fp) if fp != selection_fp(current) => Reason::Drift {
            what: "repository selection changed on GitHub".into(),
        },
        Some(_) => Reason::ConfigChanged {
            what: "repos of the fleet changed".into(),
        },
        None => Reason::ConfigChanged {
            what: "repository selection (not written by fleetsync before)".into(),
        },
    }
}

static EMPTY: Selection = BTreeMap::new();

/// The selection wanted for `name` (empty when no repo wants it).
pub(super) fn wanted<'a>(wanted: &'a BTreeMap<String, Selection>, name: &str) -> &'a Selection {
    wanted.get(name).unwrap_or(&EMPTY)
}

/// GitHub's selection of an observed item (empty when not `selected`).
pub(super) fn current(obs: &ObservedOrgItem) -> &Selection {
    &obs.repos
}

/// Ids of a selection, in a stable order.
pub(super) fn ids(sel: &Selection) -> Vec<u64> {
    let mut v: Vec<u64> = sel.values().copied().collect();
    v.sort_unstable();
    v
}
