//! Branch protection on the wire: GitHub's GET response shape read into the normalised
//! [`ProtectionSpec`], and the PUT request body built from it.

use crate::desired::ProtectionSpec;
use serde_json::{json, Value};

/// Reads GitHub's GET response shape (`{enforce_admins: {enabled}, …}`).
pub fn from_get(v: &Value) -> ProtectionSpec {
    let enabled = |k: &str| {
        v.get(k)
            .and_then(|o| o.get("enabled"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let reviews = v.get("required_pull_request_reviews");
    let rb = |k: &str| {
        reviews
            .and_then(|r| r.get(k))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let checks = v.get("required_status_checks");
    let mut contexts: Vec<String> = checks
        .and_then(|c| c.get("contexts"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    contexts.sort();
    contexts.dedup();
    ProtectionSpec {
        required_approving_review_count: reviews.map(|r| {
            r.get("required_approving_review_count")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                .min(6) as u8
        }),
        dismiss_stale_reviews: rb("dismiss_stale_reviews"),
        require_code_owner_reviews: rb("require_code_owner_reviews"),
        strict_status_checks: checks
            .and_then(|c| c.get("strict"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        required_status_checks: contexts,
        enforce_admins: enabled("enforce_admins"),
        required_linear_history: enabled("required_linear_history"),
        allow_force_pushes: enabled("allow_force_pushes"),
        allow_deletions: enabled("allow_deletions"),
        required_conversation_resolution: enabled("required_conversation_resolution"),
    }
}

/// The PUT request body (the four required keys always present, `null` to disable).
pub fn put_body(p: &ProtectionSpec) -> Value {
    let checks = if p.required_status_checks.is_empty() && !p.strict_status_checks {
        Value::Null
    } else {
        json!({
            "strict": p.strict_status_checks,
            "contexts": p.required_status_checks,
        })
    };
    let reviews = match p.required_approving_review_count {
        None => Value::Null,
        Some(n) => json!({
            "required_approving_review_count": n,
            "dismiss_stale_reviews": p.dismiss_stale_reviews,
            "require_code_owner_reviews": p.require_code_owner_reviews,
        }),
    };
    json!({
        "required_status_checks": checks,
        "enforce_admins": p.enforce_admins,
        "required_pull_request_reviews": reviews,
        "restrictions": null,
        "required_linear_history": p.required_linear_history,
        "allow_force_pushes": p.allow_force_pushes,
        "allow_deletions": p.allow_deletions,
        "required_conversation_resolution": p.required_conversation_resolution,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_shape_round_trips_through_put_body() {
        let spec = ProtectionSpec {
            required_approving_review_count: Some(1),
            dismiss_stale_reviews: true,
            require_code_owner_reviews: false,
            required_status_checks: vec!["dataiku-gitops".into()],
            strict_status_checks: false,
            enforce_admins: true,
            required_linear_history: false,
            allow_force_pushes: false,
            allow_deletions: false,
            required_conversation_resolution: false,
        };
        let get_shape = json!({
            "url": "x",
            "required_status_checks": {"url": "x", "strict": false, "contexts": ["dataiku-gitops"],
                                       "checks": [{"context": "dataiku-gitops", "app_id": null}]},
            "enforce_admins": {"url": "x", "enabled": true},
            "required_pull_request_reviews": {"url": "x", "dismiss_stale_reviews": true,
                "require_code_owner_reviews": false, "required_approving_review_count": 1},
            "required_linear_history": {"enabled": false},
            "allow_force_pushes": {"enabled": false},
            "allow_deletions": {"enabled": false},
            "required_conversation_resolution": {"enabled": false},
        });
        assert_eq!(from_get(&get_shape), spec);
        let body = put_body(&spec);
        assert_eq!(body["enforce_admins"], true);
        assert!(body["restrictions"].is_null());
    }
}
