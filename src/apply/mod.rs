//! apply: executes one repo's steps in dependency order (repo, topics, branches, files,
//! variables, secrets, protection), each journaled in SQLite before its request goes out and
//! after its answer. Writes are paced and bounded by the GitHub client; repos run
//! concurrently in the reconcile. A failing repo does not stop the others.

mod ops;

use crate::github::{GhError, GithubClient};
use crate::plan::{Op, RepoPlan, Step};
use crate::store::{Journal, JournalState};
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
    /// The journal could not be written: the state file failed during this repo's apply.
    #[serde(skip)]
    pub journal_error: Option<String>,
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
    /// Where each step is journaled before and after its request.
    pub journal: &'a Journal,
    pub run_id: Option<i64>,
    /// Applying a saved plan (`fleetctl apply PLAN`): only its steps, unchanged, are written.
    pub expected: Option<&'a crate::plan::SavedPlan>,
}

/// Applies a repo's steps; each step carries what it writes. A step is journaled before its
/// request goes out and after its answer; a journal write that fails fails the step and
/// skips the rest (nothing is written that the state file cannot account for).
pub async fn apply_repo(ctx: &ApplyContext<'_>, plan: &RepoPlan) -> RepoResult {
    let mut out = RepoResult {
        repo: plan.repo.clone(),
        ..Default::default()
    };
    if let Some(Err(why)) = ctx.expected.map(|saved| saved.allows(plan)) {
        tracing::warn!(repo = %plan.repo, reason = %why, "not applied: the saved plan moved");
        let why = format!("not applied: the saved plan moved ({why})");
        out.results = plan
            .steps
            .iter()
            .map(|step| StepResult {
                step: step.clone(),
                outcome: Outcome::Skipped(why.clone()),
            })
            .collect();
        return out;
    }
    let (owner, name) = plan
        .repo
        .split_once('/')
        .unwrap_or(("", plan.repo.as_str()));
    let mut blocked: Option<String> = None;
    let mut wrote_secret = false;
    let mut head: Option<String> = None;
    for group in groups(&plan.steps) {
        let outcome = match &blocked {
            Some(why) => Outcome::Skipped(why.clone()),
            None => {
                let done = match group {
                    [step] if !is_batched(step) => {
                        journaled(ctx, owner, name, step, &mut head).await
                    }
                    _ => journaled_commit(ctx, owner, name, group, &mut head).await,
                };
                let last = &group[group.len() - 1];
                if let Err(e) = &done {
                    tracing::warn!(repo = %plan.repo, address = %last.address, error = %e, "step failed");
                    if let StepFailure::Journal(m) = e {
                        out.journal_error = Some(m.clone());
                    }
                    if e.blocks_later_steps(last) {
                        blocked = Some(format!("an earlier step failed ({})", last.address));
                    }
                }
                wrote_secret |=
                    done.is_ok() && group.iter().any(|s| matches!(s.op, Op::PutSecret { .. }));
                match done {
                    Ok(()) => Outcome::Ok,
                    Err(e) => Outcome::Failed(e.to_string()),
                }
            }
        };
        for step in group {
            out.results.push(StepResult {
                step: step.clone(),
                outcome: outcome.clone(),
            });
        }
    }
    if wrote_secret {
        out.secrets_updated_at = secrets_updated_at(ctx.gh, owner, name).await;
    }
    out
}

/// Why a step failed: its own operation, or the journal around it.
#[derive(Debug, thiserror::Error)]
enum StepFailure {
    #[error(transparent)]
    Step(#[from] ops::StepError),
    #[error("state file (journal): {0}")]
    Journal(String),
}

impl StepFailure {
    /// Later steps depend on the repo and its branches; an ambiguous write is checked by
    /// the next run's observation before anything is retried; a journal failure stops all.
    fn blocks_later_steps(&self, step: &Step) -> bool {
        match self {
            StepFailure::Journal(_) => true,
            StepFailure::Step(e) => {
                step.kind.later_steps_depend_on_it()
                    || matches!(e, ops::StepError::GitHub(GhError::Ambiguous { .. }))
            }
        }
    }
}

/// Whether a step is a file written with others in one commit.
fn is_batched(step: &Step) -> bool {
    matches!(step.op, Op::PutFile { batched: true, .. })
}

fn file_branch(step: &Step) -> Option<&str> {
    match &step.op {
        Op::PutFile { branch, .. } => Some(branch),
        _ => None,
    }
}

/// The steps in apply units: each step alone, except consecutive batched files on one
/// branch, which go together as one commit.
fn groups(steps: &[Step]) -> Vec<&[Step]> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < steps.len() {
        let mut end = start + 1;
        if is_batched(&steps[start]) {
            while end < steps.len()
                && is_batched(&steps[end])
                && file_branch(&steps[end]) == file_branch(&steps[start])
            {
                end += 1;
            }
        }
        out.push(&steps[start..end]);
        start = end;
    }
    out
}

/// Writes a group of batched files as one commit, each journaled.
async fn journaled_commit(
    ctx: &ApplyContext<'_>,
    owner: &str,
    name: &str,
    group: &[Step],
    head: &mut Option<String>,
) -> Result<(), StepFailure> {
    let mut ids = Vec::new();
    let mut files = Vec::new();
    let mut branch = "";
    for step in group {
        let action = step.action.as_str();
        let key = format!("{}:{}:{action}", ctx.run_id.unwrap_or(0), step.address);
        let id = ctx
            .journal
            .start(ctx.run_id, &key, &step.address, action)
            .await
            .map_err(|e| StepFailure::Journal(e.to_string()))?;
        ids.push(id);
        if let Op::PutFile {
            path,
            content,
            branch: b,
            ..
        } = &step.op
        {
            files.push((path.as_str(), content));
            branch = b;
        }
    }
    let message = match files.as_slice() {
        [(one, _)] => format!("fleetsync: update {one}"),
        many => format!("fleetsync: update {} managed files", many.len()),
    };
    let res = ops::commit_files(ctx.gh, owner, name, branch, &files, &message).await;
    let (state, detail) = match &res {
        Ok(_) => (JournalState::Done, None),
        Err(e) => (JournalState::Failed, Some(e.to_string())),
    };
    for id in ids {
        ctx.journal
            .finish(id, state, detail.as_deref())
            .await
            .map_err(|e| StepFailure::Journal(e.to_string()))?;
    }
    let commit = res.map_err(|e| StepFailure::Step(ops::StepError::GitHub(e)))?;
    *head = Some(commit);
    Ok(())
}

/// Runs one step between its two journal writes.
async fn journaled(
    ctx: &ApplyContext<'_>,
    owner: &str,
    name: &str,
    step: &Step,
    head: &mut Option<String>,
) -> Result<(), StepFailure> {
    let action = step.action.as_str();
    let key = format!("{}:{}:{action}", ctx.run_id.unwrap_or(0), step.address);
    let id = ctx
        .journal
        .start(ctx.run_id, &key, &step.address, action)
        .await
        .map_err(|e| StepFailure::Journal(e.to_string()))?;
    let res = ops::execute(ctx.gh, ctx.dss, owner, name, step, head).await;
    let (state, detail) = match &res {
        Ok(()) => (JournalState::Done, None),
        Err(e) => (JournalState::Failed, Some(e.to_string())),
    };
    ctx.journal
        .finish(id, state, detail.as_deref())
        .await
        .map_err(|e| StepFailure::Journal(e.to_string()))?;
    res.map_err(StepFailure::from)
}

/// GitHub's `updated_at` of every secret, read back after writing some (the baseline that
/// tells a later hand edit from fleetsync's own write). Unread, the record keeps the last one.
async fn secrets_updated_at(
    gh: &GithubClient,
    owner: &str,
    name: &str,
) -> BTreeMap<String, String> {
    match gh.list_secrets(owner, name).await {
        Ok(list) => list
            .into_iter()
            .map(|s| {
                (
                    s.name.to_ascii_uppercase(),
                    s.updated_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                )
            })
            .collect(),
        Err(e) => {
            tracing::warn!(repo = %format!("{owner}/{name}"), error = %e, "could not read back the secrets' updated_at");
            BTreeMap::new()
        }
    }
}
