//! Repository custom properties, from GitHub's REST description and docs ("REST API
//! endpoints for custom properties", organisation and repository pages): the organisation
//! defines the properties (`GET /orgs/{org}/properties/schema[/{name}]`, read by any member);
//! a repo's values are read with `GET /repos/{o}/{r}/properties/values` (Metadata read) and
//! in the repo object's `custom_properties`, and set with `PATCH …/properties/values`
//! (`{"properties": [{"property_name", "value"}]}` → 204; `null` unsets) or at creation
//! (`POST /orgs/{org}/repos` with a `custom_properties` object).
//!
//! Who may set a value follows the property's `values_editable_by`: `org_actors` (organisation
//! owners and holders of the organisation's "Custom properties" permission) or
//! `org_and_repo_actors` (also repository admins — every caller here administers the repos).
//! A caller without the right gets 403; an undefined property or a value of the wrong type
//! 422. The exact wording of those two answers is not documented; the texts below are the
//! simulator's.

use super::auth::Caller;
use super::gate::CallerExt;
use super::reply::*;
use super::settings::SimCustomProperty;
use super::Shared;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/orgs/{org}/properties/schema", get(list_schema))
        .route(
            "/orgs/{org}/properties/schema/{custom_property_name}",
            get(get_schema),
        )
        .route(
            "/repos/{owner}/{repo}/properties/values",
            get(get_values).patch(patch_values),
        )
}

/// `custom-property`.
fn schema_json(base: &str, org: &str, p: &SimCustomProperty) -> Value {
    json!({
        "property_name": p.property_name,
        "url": format!("{base}/orgs/{org}/properties/schema/{}", p.property_name),
        "source_type": "organization",
        "value_type": p.value_type,
        "required": p.required,
        "default_value": p.default_value,
        "description": p.description,
        "allowed_values": p.allowed_values,
        "values_editable_by": p.values_editable_by,
    })
}

async fn list_schema(State(shared): State<Arc<Shared>>, Path(org): Path<String>) -> Reply {
    let st = shared.lock();
    let org = st.org(&org).ok_or_else(not_found)?;
    let items: Vec<Value> = st
        .settings
        .custom_properties
        .iter()
        .map(|p| schema_json(&shared.base_url, &org, p))
        .collect();
    Ok(json_reply(StatusCode::OK, Value::Array(items)))
}

async fn get_schema(
    State(shared): State<Arc<Shared>>,
    Path((org, name)): Path<(String, String)>,
) -> Reply {
    let st = shared.lock();
    let org = st.org(&org).ok_or_else(not_found)?;
    let p = st
        .settings
        .custom_properties
        .iter()
        .find(|p| p.property_name.eq_ignore_ascii_case(&name))
        .ok_or_else(not_found)?;
    Ok(json_reply(
        StatusCode::OK,
        schema_json(&shared.base_url, &org, p),
    ))
}

async fn get_values(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
) -> Reply {
    let st = shared.lock();
    let r = st.repo(&owner, &repo).ok_or_else(not_found)?;
    let items: Vec<Value> = r
        .custom_properties
        .iter()
        .map(|(k, v)| json!({"property_name": k, "value": v}))
        .collect();
    Ok(json_reply(StatusCode::OK, Value::Array(items)))
}

async fn patch_values(
    State(shared): State<Arc<Shared>>,
    Extension(CallerExt(caller)): Extension<CallerExt>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = body_object(&body)?;
    let list = match body.get("properties") {
        None | Some(Value::Null) => return Err(missing("properties")),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(invalid("properties", "is not an array")),
    };
    let mut pairs = Vec::new();
    for item in &list {
        let obj = item
            .as_object()
            .ok_or_else(|| invalid("properties", "items must be objects"))?;
        let name = req_str(obj, "property_name")?;
        let value = obj.get("value").ok_or_else(|| missing("value"))?;
        pairs.push((name, value.clone()));
    }
    let mut st = shared.lock();
    let defs = st.settings.custom_properties.clone();
    let r = st.repo_mut(&owner, &repo).ok_or_else(not_found)?;
    let checked = check_values(&defs, caller.as_ref(), pairs)?;
    for (name, value) in checked {
        match value {
            Some(v) => r.custom_properties.insert(name, v),
            None => r.custom_properties.remove(&name),
        };
    }
    r.updated_at = chrono::Utc::now();
    Ok(empty(StatusCode::NO_CONTENT))
}

/// The `custom_properties` object of a repo creation: the checked values, and the defaults
/// of required properties that were not given.
pub fn creation_values(
    defs: &[SimCustomProperty],
    caller: Option<&Caller>,
    body: &Map<String, Value>,
) -> Result<BTreeMap<String, Value>, Response> {
    let given = match body.get("custom_properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(invalid("custom_properties", "is not an object")),
    };
    let checked = check_values(defs, caller, given.into_iter().collect())?;
    let mut out: BTreeMap<String, Value> = checked
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    for d in defs.iter().filter(|d| d.required) {
        if let (false, Some(dv)) = (out.contains_key(&d.property_name), &d.default_value) {
            out.insert(d.property_name.clone(), Value::String(dv.clone()));
        }
    }
    Ok(out)
}

fn unknown_property(name: &str) -> Response {
    validation(
        "Validation Failed",
        vec![
            json!({"resource": "CustomPropertyValue", "field": "property_name", "code": "invalid",
                    "message": format!("Property {name} is not defined for this organization")}),
        ],
    )
}

fn bad_value(name: &str, why: &str) -> Response {
    validation(
        "Validation Failed",
        vec![
            json!({"resource": "CustomPropertyValue", "field": "value", "code": "invalid",
                    "message": format!("Invalid value for property {name}: {why}")}),
        ],
    )
}

/// Checks each `(name, value)` against the organisation's definitions and the caller's
/// right to set it; `None` unsets. Names come back in the definition's spelling.
fn check_values(
    defs: &[SimCustomProperty],
    caller: Option<&Caller>,
    pairs: Vec<(String, Value)>,
) -> Result<Vec<(String, Option<Value>)>, Response> {
    let mut out = Vec::new();
    for (name, value) in pairs {
        let Some(def) = defs
            .iter()
            .find(|d| d.property_name.eq_ignore_ascii_case(&name))
        else {
            return Err(unknown_property(&name));
        };
        let may_edit = def.values_editable_by == "org_and_repo_actors"
            || caller.is_some_and(|c| c.custom_properties);
        if !may_edit {
            return Err(error(
                StatusCode::FORBIDDEN,
                "You do not have permission to edit the value of this custom property",
            ));
        }
        let checked = match value {
            Value::Null => None,
            v => Some(check_type(def, v)?),
        };
        out.push((def.property_name.clone(), checked));
    }
    Ok(out)
}

fn check_type(def: &SimCustomProperty, v: Value) -> Result<Value, Response> {
    let name = &def.property_name;
    let allowed = |s: &str| {
        def.allowed_values
            .as_ref()
            .is_none_or(|a| a.iter().any(|x| x == s))
    };
    match (def.value_type.as_str(), &v) {
        ("multi_select", Value::Array(items)) => {
            for i in items {
                match i.as_str() {
                    Some(s) if allowed(s) => {}
                    _ => return Err(bad_value(name, "not an allowed value")),
                }
            }
            Ok(v)
        }
        ("multi_select", _) => Err(bad_value(name, "expected an array of strings")),
        ("true_false", Value::String(s)) if s == "true" || s == "false" => Ok(v),
        ("true_false", _) => Err(bad_value(name, "expected \"true\" or \"false\"")),
        ("single_select", Value::String(s)) if allowed(s) => Ok(v),
        ("single_select", _) => Err(bad_value(name, "not an allowed value")),
        (_, Value::String(_)) => Ok(v),
        _ => Err(bad_value(name, "expected a string")),
    }
}
