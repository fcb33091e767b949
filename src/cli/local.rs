//! In-process commands: `fleetctl plan` and `fleetctl reconcile --local` run the engine here
//! (no daemon), with a progress bar on stderr; `fleetctl sim` serves the simulator.

use super::args::{Output, PlanArgs, ReconcileArgs};
use super::EXIT_USAGE;
use crate::config::{load_for_run, Config, LogFormat};
use crate::plan::{render_json, render_text, render_text_with, SavedPlan, TextOptions, DIFF_LINES};
use crate::reconcile::{Engine, Progress, ProgressFn, RunOptions, RunReport};
use crate::store::{this_command, Retention, StateLock, Store};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

pub(super) fn config_path(p: &Option<PathBuf>) -> PathBuf {
    p.clone()
        .unwrap_or_else(|| PathBuf::from("/etc/fleetd/fleet.toml"))
}

pub(super) fn load_config(path: &Path, output: Output) -> Result<Arc<Config>, ExitCode> {
    match load_for_run(path) {
        Ok(c) => {
            for w in &c.warnings {
                eprintln!("warning: {w}");
            }
            Ok(Arc::new(c))
        }
        Err(e) => Err(super::output::error(output, EXIT_USAGE, e)),
    }
}

/// Takes the state lock (one writer per state file: fleetd or one `reconcile --local`).
pub(super) fn lock_state(config: &Config) -> Result<StateLock, ExitCode> {
    StateLock::acquire(&config.state_path(), &this_command()).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_USAGE)
    })
}

pub(super) fn engine(config: Arc<Config>) -> Result<Engine, ExitCode> {
    let path = config.state_path();
    if let Some(dir) = path.parent() {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("error: state folder {}: {e}", dir.display());
            return Err(ExitCode::from(EXIT_USAGE));
        }
    }
    let store = Store::open(&path).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_USAGE)
    })?;
    Engine::new(config, store, None, None).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_USAGE)
    })
}

pub(super) fn progress_bar(output: Output) -> (ProgressBar, ProgressFn) {
    let bar = ProgressBar::new(0);
    if output.is_document() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    } else {
        bar.set_draw_target(ProgressDrawTarget::stderr());
    }
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:<10} [{bar:30}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let b = bar.clone();
    let f: ProgressFn = Arc::new(move |p: &Progress| {
        b.set_message(p.phase);
        b.set_length(p.total as u64);
        b.set_position(p.done as u64);
    });
    (bar, f)
}

pub(super) fn init_logs() {
    crate::daemon::logging::init(LogFormat::Text, "warn");
}

/// Exit code of `--exit-code` (terraform's `-detailed-exitcode`) for "changes pending".
pub const EXIT_CHANGES: u8 = 2;

/// How a plan ends: the exit code for an error (1 with `--exit-code`, where 2 means changes;
/// fleetctl's usual 2 otherwise).
fn plan_error(args: &PlanArgs) -> ExitCode {
    ExitCode::from(plan_error_code(args))
}

/// [`plan_error`]'s code.
fn plan_error_code(args: &PlanArgs) -> u8 {
    if args.exit_code {
        1
    } else {
        EXIT_USAGE
    }
}

/// `fleetctl plan` (in process).
pub async fn plan(args: &PlanArgs, output: Output) -> ExitCode {
    init_logs();
    let config = match load_config(&config_path(&args.daemon.config), output) {
        Ok(c) => c,
        Err(_) => return plan_error(args),
    };
    warn_if_the_daemon_runs_another_config(&config, args.daemon.addr.as_deref()).await;
    let engine = match engine(config.clone()) {
        Ok(e) => e,
        Err(_) => return plan_error(args),
    };
    let (bar, progress) = progress_bar(output);
    let report = engine
        .run(RunOptions {
            dry_run: true,
            projects: args.projects.clone(),
            progress: Some(progress),
            ..Default::default()
        })
        .await;
    bar.finish_and_clear();
    if let Some(e) = &report.error {
        let mut message = e.clone();
        if e.contains("HTTP 401") {
            message.push_str(&format!(
                "\nGitHub refused fleetsync's credentials: check [github] auth in {} (the token, or the App's id, installation and key; not expired, not revoked)",
                config.path.display()
            ));
        }
        return super::output::error(output, plan_error_code(args), message);
    }
    let opts = TextOptions {
        diff_lines: if args.diff { None } else { Some(DIFF_LINES) },
    };
    super::output::print(output, &render_json(&report.plan), |_, _| {
        render_text_with(&report.plan, opts)
    });
    let trouble = !report.plan.errors.is_empty()
        || !report.plan.unknown_nodes.is_empty()
        || !report.plan.conflicts.is_empty();
    if trouble {
        let mut message =
            "the plan is incomplete (see Errors / Conflicts / Discovery unknown above)".to_string();
        if args.out.is_some() {
            message.push_str("\nan incomplete plan is not saved");
        }
        return super::output::error(output, plan_error_code(args), message);
    }
    if let Some(out) = &args.out {
        if let Err(e) = save_plan(out, &report.plan, &config, &args.projects) {
            return super::output::error(output, plan_error_code(args), e);
        }
        eprintln!(
            "Saved the plan to {}; `fleetctl apply {}` applies exactly these steps.",
            out.display(),
            out.display()
        );
    }
    if args.exit_code && report.plan.has_changes() {
        ExitCode::from(EXIT_CHANGES)
    } else {
        ExitCode::SUCCESS
    }
}

/// Writes a saved plan next to its final place, then renames it there (never half-written).
fn save_plan(
    out: &Path,
    plan: &crate::plan::Plan,
    config: &Config,
    projects: &[String],
) -> Result<(), String> {
    // Absolute, so `fleetctl apply PLAN` finds the config from any directory.
    let config_path = std::path::absolute(&config.path).unwrap_or_else(|_| config.path.clone());
    let saved = SavedPlan::new(
        plan,
        config_path.display().to_string(),
        config.hash.clone(),
        projects.to_vec(),
    );
    let text = serde_json::to_string_pretty(&saved)
        .map_err(|e| format!("{}: cannot encode the plan: {e}", out.display()))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plan".into());
    let tmp = out.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, text + "\n")
        .and_then(|_| std::fs::rename(&tmp, out))
        .map_err(|e| {
            let _cleanup = std::fs::remove_file(&tmp);
            format!("{}: cannot write the plan: {e}", out.display())
        })
}

pub(super) fn report_json(r: &RunReport, run_id: Option<i64>) -> serde_json::Value {
    json!({
        "run_id": run_id,
        "status": r.status,
        "summary": r.summary,
        "error": r.error,
        "counts": r.counts,
        "requests": r.requests,
        "charged": r.charged,
        "rate_limited": r.rate_limited,
        "repos": r.repos,
        "duration_seconds": r.duration_seconds,
        "plan": render_json(&r.plan),
        "results": r.results,
    })
}

/// Warns when a fleetd answering on the config's address (or `addr`) runs another config than
/// this file: the plan shows what this file would do, not what the daemon will do.
async fn warn_if_the_daemon_runs_another_config(config: &Config, addr: Option<&str>) {
    let target = super::daemon_client::DaemonTarget {
        base: super::remote::base_url(addr, Some(config)),
        token: None,
    };
    let Some((hash, loaded_at)) = target
        .running_config(std::time::Duration::from_secs(2))
        .await
    else {
        return;
    };
    if hash != config.hash {
        eprintln!(
            "warning: fleetd at {} runs another config ({}…, loaded {loaded_at}) than {} ({}…); this plan shows the file, not what fleetd will do until it is reloaded (SIGHUP, `systemctl reload fleetd`)",
            target.base,
            super::remote::short(&hash),
            config.path.display(),
            super::remote::short(&config.hash),
        );
    }
}

/// `--project` keys plus the sources of the `--repo` repos (from the state file).
fn projects_of(engine: &Engine, args: &ReconcileArgs) -> Result<Vec<String>, String> {
    let mut projects = args.projects.clone();
    let owner = &engine.config().raw.github.owner;
    for name in &args.repos {
        let rec = engine
            .store()
            .find_repo(name, owner)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!("--repo {name}: not a repo fleetsync manages in this state file")
            })?;
        if !projects.contains(&rec.source_key) {
            projects.push(rec.source_key);
        }
    }
    Ok(projects)
}

/// `fleetctl reconcile --local`.
pub async fn reconcile(args: &ReconcileArgs, output: Output) -> ExitCode {
    init_logs();
    let config = match load_config(&config_path(&args.daemon.config), output) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let _lock = match lock_state(&config) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let engine = match engine(config.clone()) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let projects = match projects_of(&engine, args) {
        Ok(p) => p,
        Err(e) => return super::output::error(output, EXIT_USAGE, e),
    };
    let project = if projects.is_empty() {
        None
    } else {
        Some(projects.join(","))
    };
    let run_id = engine
        .store()
        .start_run("cli", project.as_deref(), false)
        .ok();
    let (bar, progress) = progress_bar(output);
    let report = engine
        .run(RunOptions {
            run_id,
            projects,
            progress: Some(progress),
            ..Default::default()
        })
        .await;
    bar.finish_and_clear();
    finish_run(&engine, run_id, &report);
    if let Err(e) = engine.store().prune(&retention(&config)) {
        eprintln!("warning: cannot prune old runs and journal rows: {e}");
    }
    print_run(&report, run_id, output);
    if report.status == "succeeded" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The store's retention from `[daemon.retention]`.
pub(super) fn retention(config: &Config) -> Retention {
    let r = &config.raw.daemon.retention;
    Retention {
        runs: r.runs.0,
        keep_runs: r.keep_runs,
        journal: r.journal.0,
    }
}

/// Records the end of a run started with `start_run`.
pub(super) fn finish_run(engine: &Engine, run_id: Option<i64>, report: &RunReport) {
    let Some(id) = run_id else { return };
    if let Err(e) = engine.store().finish_run(
        id,
        report.status.as_str(),
        &report.counts,
        report.requests as i64,
        report.charged as i64,
        &report.summary,
        report.error.as_deref(),
    ) {
        eprintln!("warning: cannot record the end of run {id}: {e}");
    }
}

/// Prints a run: its plan, the failed and skipped steps, the summary.
pub(super) fn print_run(report: &RunReport, run_id: Option<i64>, output: Output) {
    if output.is_document() {
        out!(
            "{}",
            super::output::document(output, &report_json(report, run_id))
        );
        return;
    }
    out!("{}", render_text(&report.plan));
    for r in &report.results {
        for s in &r.results {
            match &s.outcome {
                crate::apply::Outcome::Failed(m) => {
                    outln!("  x {}  failed: {m}", s.step.address)
                }
                crate::apply::Outcome::Skipped(m) => {
                    outln!("  x {}  skipped: {m}", s.step.address)
                }
                crate::apply::Outcome::Ok => {}
            }
        }
    }
    outln!("{}", report.summary);
    if let Some(e) = &report.error {
        outln!("error: {e}");
    }
}

/// `fleetctl sim` in a build without the simulator (no `dev` feature).
#[cfg(not(feature = "dev"))]
pub async fn sim(_config: &Path) -> ExitCode {
    eprintln!("error: this fleetctl was built without the simulator (cargo feature `dev`)");
    ExitCode::from(EXIT_USAGE)
}

/// `fleetctl sim`.
#[cfg(feature = "dev")]
pub async fn sim(config: &Path) -> ExitCode {
    init_logs();
    let config = match load_config(config, Output::Text) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let sim = match crate::dev_sim::start_for_config(&config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    outln!(
        "simulated DSS:    {}  (admin: {}/_sim/dss/state)",
        sim.dss.url,
        sim.dss.url
    );
    outln!(
        "simulated GitHub: {}  (admin: {}/_sim/github/state)",
        sim.github.url,
        sim.github.url
    );
    outln!("Ctrl-C stops.");
    let _ = tokio::signal::ctrl_c().await;
    sim.dss.shutdown().await;
    sim.github.shutdown().await;
    ExitCode::SUCCESS
}
