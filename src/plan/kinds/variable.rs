//! Actions variables, compared by value (GitHub returns them).

use super::{DesiredResource, DiffInput};
use crate::desired::{fingerprint, RepoSpec};
use crate::plan::address::{Address, Kind};
use crate::plan::builder::{Builder, Difference};
use crate::plan::change::Change;
use crate::plan::step::{Action, Op, Reason};
use serde_json::json;

pub(super) fn desired(spec: &RepoSpec, full: &str) -> Vec<DesiredResource> {
    spec.variables
        .iter()
        .map(|(n, v)| DesiredResource::new(Address::item(Kind::Variable, full, n), fingerprint(v)))
        .collect()
}

pub(super) fn diff(b: &mut Builder<'_>, d: &DiffInput<'_>) {
    for name in &d.spec.retired_variables {
        if !d.new_repo && d.obs.variables.contains_key(name) {
            let addr = Address::item(Kind::Variable, &d.full, name);
            let op = Op::DeleteVariable { name: name.clone() };
            let before = d.obs.variables.get(name).map(|v| json!(v));
            b.push(
                Action::Delete,
                addr.clone(),
                Reason::MovedToOrg,
                op,
                String::new(),
            );
            b.change(&addr, Change::field("value", before, None));
        }
    }
    for name in &d.spec.removed.variables {
        let Some(value) = d.obs.variables.get(name).filter(|_| !d.new_repo) else {
            continue;
        };
        let addr = Address::item(Kind::Variable, &d.full, name);
        if b.last.fp(&addr) == Some(fingerprint(value).as_str()) {
            let op = Op::DeleteVariable { name: name.clone() };
            b.push(
                Action::Delete,
                addr.clone(),
                Reason::RemovedFromConfig,
                op,
                String::new(),
            );
            b.change(&addr, Change::field("value", Some(json!(value)), None));
        } else {
            let what = "no longer in the config, but changed on GitHub since fleetsync wrote it: left in place";
            b.report_only(addr, what.into());
        }
    }
    for (name, value) in &d.spec.variables {
        let addr = Address::item(Kind::Variable, &d.full, name);
        let current = d.obs.variables.get(name).filter(|_| !d.new_repo);
        let change = Change::field("value", current.map(|v| json!(v)), Some(json!(value)));
        match (d.new_repo, d.obs.variables.get(name)) {
            (true, _) | (false, None) => b.missing(
                addr.clone(),
                Op::CreateVariable {
                    name: name.clone(),
                    value: value.clone(),
                },
                String::new(),
            ),
            (false, Some(v)) if v != value => b.differs(Difference {
                action: Action::Update,
                desired_fp: d.fp(&addr),
                address: addr.clone(),
                drift_what: "value changed on GitHub".into(),
                config_what: "value differs".into(),
                op: Op::UpdateVariable {
                    name: name.clone(),
                    value: value.clone(),
                },
                detail: String::new(),
            }),
            _ => continue,
        }
        b.change(&addr, change);
    }
}
