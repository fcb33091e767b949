//! The repository's topics, replaced as a whole.

use super::{DesiredResource, DiffInput};
use crate::desired::{fingerprint, RepoSpec};
use crate::plan::address::{Address, Kind};
use crate::plan::builder::{Builder, Difference};
use crate::plan::change::Change;
use crate::plan::step::{Action, Op, Reason};
use serde_json::json;

pub(super) fn desired(spec: &RepoSpec, full: &str) -> Vec<DesiredResource> {
    vec![DesiredResource::new(
        Address::of_repo(Kind::Topics, full),
        fingerprint(&spec.topics),
    )]
}

pub(super) fn diff(b: &mut Builder<'_>, d: &DiffInput<'_>) {
    let spec = d.spec;
    if d.obs.topics == spec.topics || (d.new_repo && spec.topics.is_empty()) {
        return;
    }
    let addr = Address::of_repo(Kind::Topics, &d.full);
    let op = Op::ReplaceTopics {
        topics: spec.topics.clone(),
    };
    let detail = format!("[{}]", spec.topics.join(", "));
    let before = (!d.new_repo).then(|| json!(d.obs.topics));
    let change = Change::field("topics", before, Some(json!(spec.topics)));
    if d.new_repo {
        b.push(
            Action::Update,
            addr.clone(),
            Reason::NewResource,
            op,
            detail,
        );
    } else {
        b.differs(Difference {
            action: Action::Update,
            desired_fp: d.fp(&addr),
            address: addr.clone(),
            drift_what: "topics changed on GitHub".into(),
            config_what: "topics differ".into(),
            op,
            detail,
        });
    }
    b.change(&addr, change);
}
