//! Saved plans (`fleetctl plan --out PLAN`, `fleetctl apply PLAN`): the steps of a plan with
//! what they were made from — the config's hash, and per step the observed GitHub state it
//! depends on (fields' current values, blob SHAs, a secret's `updated_at`) and a fingerprint
//! of what it writes. Checking a new plan against a saved one says what moved. Pure: the
//! file's reading and writing is the CLI's. A saved plan holds no secret value, and no
//! fingerprint or hash of one (secret steps carry only their source and kind of change).

use super::change::Change;
use super::step::{Plan, Step};
use crate::desired::fingerprint;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The format version of a saved plan file.
pub const SAVED_PLAN_FORMAT: u32 = 1;

/// One step of a saved plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedStep {
    /// `owner/name` (or the organisation for org-level steps).
    pub repo: String,
    pub address: String,
    pub action: String,
    /// Fingerprint of what the step writes (its action, operation and desired side).
    pub step_fp: String,
    /// What GitHub held as the plan saw it (no secret value: GitHub never returns one).
    pub observed: Value,
    pub observed_fp: String,
}

impl SavedStep {
    fn of(repo: &str, s: &Step) -> SavedStep {
        let observed = s.change.observed();
        SavedStep {
            repo: repo.to_string(),
            address: s.address.to_string(),
            action: s.action.as_str().to_string(),
            step_fp: step_fingerprint(s),
            observed_fp: fingerprint(&observed),
            observed,
        }
    }
}

/// What a step writes, fingerprinted: its action, operation (values that plans do not show
/// are not serialised) and the desired side of its change.
fn step_fingerprint(s: &Step) -> String {
    let op = serde_json::to_value(&s.op).unwrap_or(Value::Null);
    fingerprint(&serde_json::json!({
        "action": s.action.as_str(),
        "address": s.address.as_str(),
        "op": op,
        "desired": Change::desired(&s.change),
    }))
}

/// A plan saved to a file, with what it was made from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format: u32,
    pub created_at: String,
    /// The config file the plan was made with, and its content hash.
    pub config_path: String,
    pub config_hash: String,
    /// The `--project` filter the plan was made with (the apply uses the same).
    pub projects: Vec<String>,
    pub steps: Vec<SavedStep>,
    /// The plan as `fleetctl plan --output json` shows it, for review.
    pub plan: Value,
}

fn saved_steps(plan: &Plan) -> Vec<SavedStep> {
    plan.repos
        .iter()
        .flat_map(|r| r.steps.iter().map(|s| SavedStep::of(&r.repo, s)))
        .collect()
}

impl SavedPlan {
    pub fn new(
        plan: &Plan,
        config_path: String,
        config_hash: String,
        projects: Vec<String>,
    ) -> SavedPlan {
        SavedPlan {
            format: SAVED_PLAN_FORMAT,
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            config_path,
            config_hash,
            projects,
            steps: saved_steps(plan),
            plan: super::render_json(plan),
        }
    }

    fn find(&self, address: &str) -> Option<&SavedStep> {
        self.steps.iter().find(|s| s.address == address)
    }

    /// What moved between the saved plan and `now` (a plan made from GitHub as it is now):
    /// empty when `now` has exactly the saved steps, made from the same observed state.
    pub fn moved(&self, now: &Plan) -> Vec<String> {
        let current = saved_steps(now);
        let mut out = Vec::new();
        for s in &self.steps {
            match current.iter().find(|c| c.address == s.address) {
                None => out.push(format!(
                    "{}: no longer planned (GitHub or the config changed since the plan)",
                    s.address
                )),
                Some(c) => out.extend(step_moved(s, c)),
            }
        }
        for c in current.iter().filter(|c| self.find(&c.address).is_none()) {
            let reason = now
                .repos
                .iter()
                .flat_map(|r| r.steps.iter())
                .find(|s| s.address.as_str() == c.address)
                .map(|s| s.reason.describe())
                .unwrap_or_default();
            out.push(format!(
                "{}: a {} not in the saved plan ({reason})",
                c.address, c.action
            ));
        }
        out
    }

    /// Whether every step of a repo's plan is one of the saved ones, unchanged (what the
    /// apply of a saved plan checks again right before writing).
    pub fn allows(&self, repo: &super::RepoPlan) -> Result<(), String> {
        for s in &repo.steps {
            let c = SavedStep::of(&repo.repo, s);
            match self.find(&c.address) {
                None => return Err(format!("{} is not in the saved plan", c.address)),
                Some(saved) => {
                    if let Some(why) = step_moved(saved, &c).into_iter().next() {
                        return Err(why);
                    }
                }
            }
        }
        Ok(())
    }
}

/// How a step moved: GitHub's state it depends on, or what it writes.
fn step_moved(saved: &SavedStep, now: &SavedStep) -> Option<String> {
    if saved.action != now.action {
        return Some(format!(
            "{}: was a {}, is a {} now",
            saved.address, saved.action, now.action
        ));
    }
    if saved.observed_fp != now.observed_fp {
        return Some(format!(
            "{}: changed on GitHub since the plan ({})",
            saved.address,
            observed_moves(&saved.observed, &now.observed)
        ));
    }
    (saved.step_fp != now.step_fp).then(|| {
        format!(
            "{}: writes something else now (the config, a template or DSS changed)",
            saved.address
        )
    })
}

/// The observed values that differ, `name: then → now`.
fn observed_moves(then: &Value, now: &Value) -> String {
    let mut parts = Vec::new();
    for group in ["fields", "files"] {
        let (a, b) = (then.get(group), now.get(group));
        let pairs = |v: Option<&Value>| -> Vec<(String, Value)> {
            v.and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|p| {
                            let name = p.get(0)?.as_str()?.to_string();
                            Some((name, p.get(1).cloned().unwrap_or(Value::Null)))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let (a, b) = (pairs(a), pairs(b));
        for (name, old) in &a {
            let new = b
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or(Value::Null);
            if *old != new {
                parts.push(format!("{name}: {old} then, {new} now"));
            }
        }
    }
    let (a, b) = (then.get("secret_updated_at"), now.get("secret_updated_at"));
    if a != b {
        parts.push(format!(
            "updated_at: {} then, {} now",
            a.unwrap_or(&Value::Null),
            b.unwrap_or(&Value::Null)
        ));
    }
    if parts.is_empty() {
        "its state differs".into()
    } else {
        parts.join("; ")
    }
}
