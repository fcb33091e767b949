//! Branch protection in one normalised form, so the config, GitHub's GET response shape and
//! the PUT request body can be compared and converted.

use crate::config::ProtectionConfig;
use serde::Serialize;
use serde_json::{json, Value};

/// The protection settings fleetsync manages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProtectionSpec {
    pub required_approving_review_count: Option<u8>,
    pub dismiss_stale_reviews: bool,
    pub require_code_owner_reviews: bool,
    pub required_status_checks: Vec<String>,
    pub strict_status_checks: bool,
    pub enforce_admins: bool,
    pub required_linear_history: bool,
    pub allow_force_pushes: bool,
    pub allow_deletions: bool,
    pub required_conversation_resolution: bool,
}

impl ProtectionSpec {
    pub fn from_config(c: &ProtectionConfig) -> Self {
        let mut checks = c.required_status_checks.clone();
        checks.sort();
        checks.dedup();
        ProtectionSpec {
            required_approving_review_count: c.required_approving_review_count,
            dismiss_stale_reviews: c.dismiss_stale_reviews,
            require_code_owner_reviews: c.require_code_owner_reviews,
            required_status_checks: checks,
            strict_status_checks: c.strict_status_checks,
            enforce_admins: c.enforce_admins,
            required_linear_history: c.required_linear_history,
            allow_force_pushes: c.allow_force_pushes,
            allow_deletions: c.allow_deletions,
            required_conversation_resolution: c.required_conversation_resolution,
        }
    }

    /// Reads GitHub's GET response shape (`{enforce_admins: {enabled}, …}`).
    pub fn from_github(v: &Value) -> Self {
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
    pub fn to_put_body(&self) -> Value {
        let checks = if self.required_status_checks.is_empty() && !self.strict_status_checks {
            Value::Null
        } else {
            json!({
                "strict": self.strict_status_checks,
                "contexts": self.required_status_checks,
            })
        };
        let reviews = match self.required_approving_review_count {
            None => Value::Null,
            Some(n) => json!({
                "required_approving_review_count": n,
                "dismiss_stale_reviews": self.dismiss_stale_reviews,
                "require_code_owner_reviews": self.require_code_owner_reviews,
            }),
        };
        json!({
            "required_status_checks": checks,
            "enforce_admins": self.enforce_admins,
            "required_pull_request_reviews": reviews,
            "restrictions": null,
            "required_linear_history": self.required_linear_history,
            "allow_force_pushes": self.allow_force_pushes,
            "allow_deletions": self.allow_deletions,
            "required_conversation_resolution": self.required_conversation_resolution,
        })
    }

    /// Names of the settings that differ, for a drift reason.
    pub fn differences(&self, other: &ProtectionSpec) -> Vec<&'static str> {
        let mut d = Vec::new();
        if self.required_approving_review_count != other.required_approving_review_count {
            d.push("required_approving_review_count");
        }
        if self.dismiss_stale_reviews != other.dismiss_stale_reviews {
            d.push("dismiss_stale_reviews");
        }
        if self.require_code_owner_reviews != other.require_code_owner_reviews {
            d.push("require_code_owner_reviews");
        }
        if self.required_status_checks != other.required_status_checks {
            d.push("required_status_checks");
        }
        if self.strict_status_checks != other.strict_status_checks {
            d.push("strict_status_checks");
        }
        if self.enforce_admins != other.enforce_admins {
            d.push("enforce_admins");
        }
        if self.required_linear_history != other.required_linear_history {
            d.push("required_linear_history");
        }
        if self.allow_force_pushes != other.allow_force_pushes {
            d.push("allow_force_pushes");
        }
        if self.allow_deletions != other.allow_deletions {
            d.push("allow_deletions");
        }
        if self.required_conversation_resolution != other.required_conversation_resolution {
            d.push("required_conversation_resolution");
        }
        d
    }
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
        assert_eq!(ProtectionSpec::from_github(&get_shape), spec);
        let body = spec.to_put_body();
        assert_eq!(body["enforce_admins"], true);
        assert!(body["restrictions"].is_null());
    }
}
