//! Branch protection in one normalised form, so the config and what GitHub holds can be
//! compared (GitHub's wire shapes are converted in `github::protection`).

use crate::config::ProtectionConfig;
use serde::Serialize;

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
