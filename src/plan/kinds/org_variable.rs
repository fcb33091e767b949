//! Organisation Actions variables (`scope = "org"`): one value for the fleet, compared with
//! GitHub's, and the repositories selected to read it.

use super::org_selection::{self as sel, Change};
use super::{DesiredResource, OrgDiffInput};
use crate::desired::{fingerprint, OrgSpec};
use crate::plan::address::{Address, Kind};
use crate::plan::builder::{Builder, Difference};
use crate::plan::step::{Action, Op, OrgItemKind, Reason};

pub(super) fn desired(spec: &OrgSpec) -> Vec<DesiredResource> {
    spec.variables
        .iter()
        .map(|(n, v)| {
            DesiredResource::new(
                Address::item(Kind::OrgVariable, &spec.org, n),
                fingerprint(v),
            )
        })
        .collect()
}

/// A variable's value, before → after.
fn value_change(before: Option<&str>, after: &str) -> crate::plan::change::Change {
    use serde_json::json;
    crate::plan::change::Change::field("value", before.map(|v| json!(v)), Some(json!(after)))
}

pub(super) fn diff(b: &mut Builder<'_>, d: &OrgDiffInput<'_>) {
    for (name, value) in &d.spec.variables {
        let addr = Address::item(Kind::OrgVariable, &d.spec.org, name);
        let want = sel::wanted(d.variable_repos, name);
        let detail = format!("for {} repos", want.len());
        let Some(o) = d.obs.variables.get(name) else {
            let op = Op::CreateOrgVariable {
                name: name.clone(),
                value: value.clone(),
                repository_ids: sel::ids(want),
                repos: want.len(),
            };
            b.missing(addr.clone(), op, detail);
            b.change(&addr, value_change(None, value));
            continue;
        };
        let update = Op::UpdateOrgVariable {
            name: name.clone(),
            value: value.clone(),
            repository_ids: sel::ids(want),
            repos: want.len(),
        };
        if o.value.as_deref() != Some(value.as_str()) {
            b.differs(Difference {
                action: Action::Update,
                desired_fp: fingerprint(value),
                address: addr.clone(),
                drift_what: "value changed on GitHub".into(),
                config_what: "value differs".into(),
                op: update,
                detail,
            });
            b.change(&addr, value_change(o.value.as_deref(), value));
            continue;
        }
        if o.visibility != "selected" {
            let reason = Reason::Drift {
                what: format!("visibility changed to {} on GitHub", o.visibility),
            };
            b.push(Action::Update, addr, reason, update, detail);
            continue;
        }
        let change = Change::between(sel::current(o), want);
        if change.is_empty() {
            continue;
        }
        let reason = sel::reason(d.last, &addr, sel::current(o));
        let op = Op::SetOrgSelection {
            of: OrgItemKind::Variable,
            name: name.clone(),
            repository_ids: sel::ids(want),
            added: change.added.len(),
            removed: change.removed.len(),
        };
        b.push(Action::Update, addr.clone(), reason, op, change.describe());
        b.change(&addr, change.fields());
    }
}
