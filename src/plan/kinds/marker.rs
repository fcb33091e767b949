//! The ownership marker property. A new repo is created with it (see `repo`); an existing
//! repo gets it only when the run adopts it (`RepoSpec::marker.adopting`), as the first write.
//! In topic mode the marker is one of the desired topics (see `topics`), not a step here.

use super::{DesiredResource, DiffInput};
use crate::desired::{fingerprint, RepoSpec};
use crate::ownership::{property_value, MarkerMode};
use crate::plan::address::{Address, Kind};
use crate::plan::builder::Builder;
use crate::plan::change::Change;
use crate::plan::step::{Action, Op, Reason};

pub(super) fn desired(spec: &RepoSpec, full: &str) -> Vec<DesiredResource> {
    match &spec.marker {
        Some(m) if matches!(m.mode, MarkerMode::Property(_)) => vec![DesiredResource::new(
            Address::of_repo(Kind::Marker, full),
            fingerprint(&property_value(&m.install, &m.source)),
        )],
        _ => Vec::new(),
    }
}

pub(super) fn diff(b: &mut Builder<'_>, d: &DiffInput<'_>) {
    let Some(m) = &d.spec.marker else { return };
    let (MarkerMode::Property(property), Some(why), false) = (&m.mode, &m.adopting, d.new_repo)
    else {
        return;
    };
    let value = property_value(&m.install, &m.source);
    let addr = Address::of_repo(Kind::Marker, &d.full);
    let before = d.obs.custom_properties.get(property).cloned();
    let change = Change::field(property, before, Some(serde_json::json!(value)));
    b.push(
        Action::Create,
        addr.clone(),
        Reason::Adopted { why: why.clone() },
        Op::SetMarker {
            property: property.clone(),
            value: value.clone(),
        },
        format!("{property} = {value}"),
    );
    b.change(&addr, change);
}
