//! `fleetctl adopt` and `fleetctl secrets rotate`, in this process on the config's state.
//!
//! `adopt REPO…` takes over repos that exist without this install's ownership marker: it
//! shows the plan a run would apply once the repo is adopted (a dry run), asks (unless
//! `--yes`), then writes the marker — one request per repo. The next run (fleetd's, or
//! `fleetctl reconcile --local`) manages the repo. A repo carrying another install's marker
//! is never adopted.
//!
//! `secrets rotate` makes the store forget what it last wrote to every secret: the next
//! run writes each secret again (after a state rebuilt from GitHub, secrets GitHub updated
//! before the rebuild are otherwise left as they are).

use super::args::Output;
use super::EXIT_USAGE;
use crate::config::{load_for_run, Config};
use crate::plan::{render_text, Plan};
use crate::reconcile::{Engine, RunOptions};
use crate::store::Store;
use serde_json::json;
use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

fn fail(output: Output, message: impl std::fmt::Display) -> ExitCode {
    super::output::error(output, EXIT_USAGE, message)
}

fn engine(path: &Path, output: Output) -> Result<Engine, ExitCode> {
    let fail = |e: &dyn std::fmt::Display| fail(output, e);
    let config: Arc<Config> = Arc::new(load_for_run(path).map_err(|e| fail(&e))?);
    let store = Store::open(&config.state_path()).map_err(|e| fail(&e))?;
    Engine::new(config, store, None, None).map_err(|e| fail(&e))
}

/// The plan of one repo, cut from a whole plan (its steps, and its conflict if any).
fn plan_of(plan: &Plan, repo: &str) -> Plan {
    let is = |r: &str| r.eq_ignore_ascii_case(repo);
    Plan {
        repos: plan.repos.iter().filter(|p| is(&p.repo)).cloned().collect(),
        conflicts: plan
            .conflicts
            .iter()
            .filter(|c| is(&c.repo))
            .cloned()
            .collect(),
        errors: plan
            .errors
            .iter()
            .filter(|e| is(&e.repo))
            .cloned()
            .collect(),
        ..Default::default()
    }
}

fn confirm(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(_) => matches!(line.trim(), "y" | "Y" | "yes"),
        Err(_) => false,
    }
}

/// `fleetctl adopt REPO… [--yes]`.
pub async fn adopt(config: &Path, repos: &[String], yes: bool, output: Output) -> ExitCode {
    crate::daemon::logging::init(crate::config::LogFormat::Text, "warn");
    let engine = match engine(config, output) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let owner = engine.config().raw.github.owner.clone();
    let repos: Vec<String> = repos
        .iter()
        .map(|r| match r.contains('/') {
            true => r.clone(),
            false => format!("{owner}/{r}"),
        })
        .collect();
    let report = engine
        .run(RunOptions {
            dry_run: true,
            adopt: repos.clone(),
            ..Default::default()
        })
        .await;
    if let Some(e) = &report.error {
        return fail(output, e);
    }
    let mut out = Vec::new();
    for repo in &repos {
        let plan = plan_of(&report.plan, repo);
        if let Some(c) = plan.conflicts.first() {
            return fail(output, format!("{repo} cannot be adopted: {}", c.reason));
        }
        let Some(source) = plan.repos.first().map(|p| p.source.clone()) else {
            return fail(output, format!(
                "{repo} is not a repo this config would manage, or it carries this install's marker already (nothing to adopt)"
            ));
        };
        if !output.is_document() {
            out!("{}", render_text(&plan));
        }
        if !yes && !std::io::stdin().is_terminal() {
            return fail(
                output,
                format!("{repo} not adopted: there is no terminal to ask on; review the plan, then run with --yes"),
            );
        }
        if !yes
            && !confirm(&format!(
                "Adopt {repo} for {source} and let fleetsync apply the plan above?"
            ))
        {
            return fail(output, format!("{repo} not adopted"));
        }
        match engine.write_marker(repo, &source).await {
            Ok(marker) => {
                if !output.is_document() {
                    outln!("adopted {repo}: {marker}; the next run manages it");
                }
                out.push(json!({"repo": repo, "source": source, "marker": marker, "plan": crate::plan::render_json(&plan)}));
            }
            Err(e) => {
                return fail(
                    output,
                    format!("{repo}: the marker could not be written: {e}"),
                )
            }
        }
    }
    if output.is_document() {
        out!("{}", super::output::document(output, &json!(out)));
    }
    ExitCode::SUCCESS
}

/// `fleetctl secrets rotate`.
pub fn rotate(config: &Path, output: Output) -> ExitCode {
    let config = match load_for_run(config) {
        Ok(c) => c,
        Err(e) => return fail(output, e),
    };
    let store = match Store::open(&config.state_path()) {
        Ok(s) => s,
        Err(e) => return fail(output, e),
    };
    match store.forget_secret_fingerprints() {
        Ok(n) => {
            if output.is_document() {
                out!(
                    "{}",
                    super::output::document(output, &json!({"secrets": n}))
                );
            } else {
                outln!("{n} secret record(s) forgotten: the next run writes every secret again");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(output, e),
    }
}
