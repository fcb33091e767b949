//! apply: executes one repo's steps in dependency order (repo, topics, branches, files,
//! variables, secrets, protection), each journaled in SQLite before its request goes out and
//! after its answer. Writes are paced and bounded by the GitHub client; repos run
//! concurrently in the reconcile. A failing repo does not stop the others.

mod ops;

use crate::desired::RepoSpec;
use crate::github::{GhError, GithubClient};
use crate::plan::{RepoPlan, Step};
use crate::store::{JournalState, Store};
use serde::Serialize;
use std::collections::BTreeMap;

/// How one step ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", content = "message", rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Failed(String),
    Skipped(String),
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed(_) => "failed",
            Outcome::Skipped(_) => "skipped",
        }
    }
}

/// One step and how it ended.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub step: Step,
    pub outcome: Outcome,
}

/// The result of applying one repo's plan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepoResult {
    pub repo: String,
    pub results: Vec<StepResult>,
    /// Secret name → GitHub's `updated_at` read back after writing secrets.
    #[serde(skip)]
    pub secrets_updated_at: BTreeMap<String, String>,
}

impl RepoResult {
    pub fn failed(&self) -> bool {
        self.results
            .iter()
            .any(|r| matches!(r.outcome, Outcome::Failed(_)))
    }
    pub fn first_error(&self) -> Option<String> {
        self.results.iter().find_map(|r| match &r.outcome {
            Outcome::Failed(m) => Some(format!("{}: {m}", r.step.address)),
            _ => None,
        })
    }
}

/// What apply needs.
pub struct ApplyContext<'a> {
    pub gh: &'a GithubClient,
    pub dss: &'a [crate::dss::DssClient],
    pub store: &'a Store,
    pub run_id: Option<i64>,
}

/// Applies a repo's steps. `spec` is `None` for removals (the source is gone).
pub async fn apply_repo(
    ctx: &ApplyContext<'_>,
    spec: Option<&RepoSpec>,
    plan: &RepoPlan,
) -> RepoResult {
    let mut out = RepoResult {
        repo: plan.repo.clone(),
        ..Default::default()
    };
    let (owner, name) = plan
        .repo
        .split_once('/')
        .unwrap_or(("", plan.repo.as_str()));
    let mut blocked: Option<String> = None;
    let mut wrote_secret = false;
    let mut head: Option<String> = None;
    for step in &plan.steps {
        if let Some(why) = &blocked {
            out.results.push(StepResult {
                step: step.clone(),
                outcome: Outcome::Skipped(why.clone()),
            });
            continue;
        }
        let key = format!(
            "{}:{}:{}",
            ctx.run_id.unwrap_or(0),
            step.address,
            step.action.as_str()
        );
        let jid = ctx
            .store
            .journal_start(ctx.run_id, &key, &step.address, step.action.as_str())
            .ok();
        let res = ops::execute(ctx.gh, ctx.dss, owner, name, spec, step, &mut head).await;
        let outcome = match &res {
            Ok(()) => Outcome::Ok,
            Err(e) => Outcome::Failed(e.to_string()),
        };
        if let Some(id) = jid {
            let (state, detail) = match &res {
                Ok(()) => (JournalState::Done, None),
                Err(e) => (JournalState::Failed, Some(e.to_string())),
            };
            let _ = ctx.store.journal_finish(id, state, detail.as_deref());
        }
        if res.is_ok() && matches!(step.op, crate::plan::Op::PutSecret { .. }) {
            wrote_secret = true;
        }
        if let Err(e) = &res {
            tracing::warn!(repo = %plan.repo, address = %step.address, error = %e, "step failed");
            // Later steps depend on the repo and its branches; an ambiguous write is checked
            // by the next run's observation before anything is retried.
            if matches!(step.kind, "repo" | "branch")
                || matches!(e, ops::StepError::GitHub(GhError::Ambiguous { .. }))
            {
                blocked = Some(format!("an earlier step failed ({})", step.address));
            }
        }
        out.results.push(StepResult {
            step: step.clone(),
            outcome,
        });
    }
    if wrote_secret {
        if let Ok(list) = ctx.gh.list_secrets(owner, name).await {
            out.secrets_updated_at = list
                .into_iter()
                .map(|s| {
                    (
                        s.name.to_ascii_uppercase(),
                        s.updated_at
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    )
                })
                .collect();
        }
    }
    out
}
