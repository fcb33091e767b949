//! `fleetctl apply PLAN`: applies a plan saved by `fleetctl plan --out PLAN`, exactly its
//! steps. It refuses (exit 1, saying what moved) when the config changed since, or when the
//! repos involved, observed again, are not as the plan saw them. It takes the state lock as
//! `reconcile --local` does (refused while fleetd runs on the same state file), and writes
//! through the engine's apply and record path: journal, records, pacing.

use super::args::{ApplyArgs, Output};
use super::local::{
    engine, finish_run, init_logs, load_config, lock_state, print_run, progress_bar, retention,
};
use super::EXIT_USAGE;
use crate::plan::{SavedPlan, SAVED_PLAN_FORMAT};
use crate::reconcile::{Engine, RunOptions, RunReport};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Exit code when the saved plan is not applied (it moved) or a step failed.
const EXIT_REFUSED: u8 = 1;

/// Reads a saved plan file.
fn read_plan(path: &Path) -> Result<SavedPlan, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read the plan: {e}", path.display()))?;
    let saved: SavedPlan = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}:{}: not a plan written by `fleetctl plan --out`: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    if saved.format != SAVED_PLAN_FORMAT {
        return Err(format!(
            "{}: plan format {} (this fleetctl reads format {SAVED_PLAN_FORMAT})",
            path.display(),
            saved.format
        ));
    }
    Ok(saved)
}

/// Refuses the plan, saying what moved (one line each; as one JSON/YAML error document on
/// stderr when one was asked for).
fn refuse(plan: &Path, moved: &[String], output: Output) -> ExitCode {
    let lines: String = moved.iter().map(|m| format!("\n  ! {m}")).collect();
    let message = format!(
        "refusing to apply {}: it no longer matches what it was made from:{lines}\nNothing was written. Review a new plan: fleetctl plan --out {}",
        plan.display(),
        plan.display()
    );
    super::output::error(output, EXIT_REFUSED, message)
}

/// Plans again from GitHub as it is now (a dry run over the plan's scope) and says what moved.
async fn check_again(
    engine: &Engine,
    saved: &SavedPlan,
    output: Output,
) -> Result<(), Vec<String>> {
    let (bar, progress) = progress_bar(output);
    let now = engine
        .run(RunOptions {
            dry_run: true,
            projects: saved.projects.clone(),
            progress: Some(progress),
            ..Default::default()
        })
        .await;
    bar.finish_and_clear();
    if let Some(e) = &now.error {
        return Err(vec![format!("planning again failed: {e}")]);
    }
    let mut moved: Vec<String> = now
        .plan
        .errors
        .iter()
        .map(|e| format!("{}: {}", e.repo, e.reason))
        .chain(
            now.plan
                .unknown_nodes
                .iter()
                .map(|u| format!("discovery of {} unknown: {}", u.node, u.reason)),
        )
        .collect();
    moved.extend(saved.moved(&now.plan));
    if moved.is_empty() {
        Ok(())
    } else {
        Err(moved)
    }
}

/// Applies the checked plan as one recorded run.
async fn apply_saved(
    engine: &Engine,
    saved: SavedPlan,
    output: Output,
) -> (RunReport, Option<i64>) {
    let project = (!saved.projects.is_empty()).then(|| saved.projects.join(","));
    let run_id = match engine
        .store()
        .start_run("cli-apply", project.as_deref(), false)
    {
        Ok(id) => Some(id),
        Err(e) => {
            eprintln!("warning: cannot record the run: {e}");
            None
        }
    };
    let (bar, progress) = progress_bar(output);
    let projects = saved.projects.clone();
    let report = engine
        .run(RunOptions {
            run_id,
            projects,
            progress: Some(progress),
            saved: Some(Arc::new(saved)),
            ..Default::default()
        })
        .await;
    bar.finish_and_clear();
    finish_run(engine, run_id, &report);
    (report, run_id)
}

/// `fleetctl apply PLAN`.
pub async fn run(args: &ApplyArgs, output: Output) -> ExitCode {
    init_logs();
    let saved = match read_plan(&args.plan) {
        Ok(s) => s,
        Err(e) => return super::output::error(output, EXIT_USAGE, e),
    };
    let path = args
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(&saved.config_path));
    let config = match load_config(&path, output) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if config.hash != saved.config_hash {
        let moved = [format!(
            "the config changed: {} (or a template it names) hashes {}… now, {}… when planned",
            path.display(),
            short(&config.hash),
            short(&saved.config_hash)
        )];
        return refuse(&args.plan, &moved, output);
    }
    let _lock = match lock_state(&config) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let engine = match engine(config.clone()) {
        Ok(e) => e,
        Err(code) => return code,
    };
    if let Err(moved) = check_again(&engine, &saved, output).await {
        return refuse(&args.plan, &moved, output);
    }
    if saved.steps.is_empty() {
        outln!("No changes: the saved plan has no steps.");
        return ExitCode::SUCCESS;
    }
    let (report, run_id) = apply_saved(&engine, saved, output).await;
    if let Err(e) = engine.store().prune(&retention(&config)) {
        eprintln!("warning: cannot prune old runs and journal rows: {e}");
    }
    print_run(&report, run_id, output);
    let skipped = report
        .results
        .iter()
        .flat_map(|r| r.results.iter())
        .any(|s| matches!(s.outcome, crate::apply::Outcome::Skipped(_)));
    if report.status == "succeeded" && !skipped {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_REFUSED)
    }
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}
