//! `fleetctl status | repos | drift | runs | reconcile --now | plan --remote` against a
//! running fleetd.

use super::args::{DaemonArgs, Output, ReconcileArgs};
use super::daemon_client::DaemonTarget;
use super::output as out;
use super::views;
use super::EXIT_USAGE;
use crate::config::{load_daemon_table, DaemonConfig, SecretValue};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Works out the daemon's address and token from flags, environment and config. A config
/// with errors elsewhere still gives its `[daemon]` table (with a warning), so `status` can
/// show why fleetd refused that very file.
pub fn target(args: &DaemonArgs) -> Result<DaemonTarget, String> {
    let daemon = match &args.config {
        Some(p) => Some(daemon_table(p)?),
        None => None,
    };
    let listen = daemon.as_ref().map(|(d, _)| d.listen.get_ref().clone());
    let base = base_url(args.addr.as_deref().or(listen.as_deref()), None);
    let token = match (&args.token, &daemon) {
        (Some(t), _) => Some(SecretValue::new(t.clone())),
        (None, Some((d, base_dir))) => match &d.api_token {
            Some(src) => Some(src.read(base_dir).map_err(|e| format!("API token: {e}"))?),
            None => None,
        },
        (None, None) => None,
    };
    Ok(DaemonTarget { base, token })
}

fn daemon_table(path: &Path) -> Result<(DaemonConfig, PathBuf), String> {
    match crate::config::load(path) {
        Ok(c) => Ok((c.raw.daemon, c.base_dir)),
        Err(errs) => match load_daemon_table(path) {
            Some(d) => {
                eprintln!(
                    "warning: {} has {} error(s) (`fleetctl config check` lists them); using its [daemon] table",
                    path.display(),
                    errs.0.len()
                );
                Ok(d)
            }
            // Each error names the file already.
            None => Err(errs.to_string()),
        },
    }
}

/// fleetd's base URL: `--addr` / `FLEETSYNC_ADDR`, else the config's `daemon.listen`, else the
/// default address.
pub fn base_url(addr: Option<&str>, cfg: Option<&crate::config::Config>) -> String {
    let addr = addr
        .map(str::to_string)
        .or_else(|| cfg.map(|c| c.listen.to_string()))
        .unwrap_or_else(|| "127.0.0.1:9464".to_string());
    if addr.starts_with("http://") || addr.starts_with("https://") {
        addr.trim_end_matches('/').to_string()
    } else {
        format!("http://{addr}")
    }
}

/// What `fleetctl status|repos|drift|runs` shows.
#[derive(Debug, Clone)]
pub enum View {
    /// `status`.
    Status,
    /// `repos` (all) or `repos NAME`.
    Repos(Option<String>),
    /// `drift [--repo R] [--limit N]`.
    Drift { repo: Option<String>, limit: u32 },
    /// `events [--repo R] [--limit N]`.
    Events { repo: Option<String>, limit: u32 },
    /// `runs [--limit N]` or `runs ID`.
    Runs { id: Option<i64>, limit: u32 },
}

/// A path segment or query value, percent-encoded (`acme/dss-x` → `acme%2Fdss-x`).
fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

type TextFn = fn(&Value, bool) -> String;

fn route(view: &View) -> (String, TextFn) {
    match view {
        View::Status => ("/api/v1/status".into(), views::status_text),
        View::Repos(None) => ("/api/v1/repos".into(), views::repos_text),
        View::Repos(Some(name)) => (
            format!("/api/v1/repos/{}", enc(name)),
            views::repo_detail_text,
        ),
        View::Runs { id: None, limit } => (format!("/api/v1/runs?limit={limit}"), views::runs_text),
        View::Runs { id: Some(id), .. } => (format!("/api/v1/runs/{id}"), views::run_detail_text),
        View::Drift { repo, limit } => (listing("drift", repo, *limit), views::drift_text),
        View::Events { repo, limit } => (listing("events", repo, *limit), views::events_text),
    }
}

fn listing(what: &str, repo: &Option<String>, limit: u32) -> String {
    let mut path = format!("/api/v1/{what}?limit={limit}");
    if let Some(r) = repo {
        path.push_str(&format!("&repo={}", enc(r)));
    }
    path
}

/// `fleetctl status|repos|drift|events|runs`.
pub async fn show(view: View, daemon: &DaemonArgs, output: Output) -> ExitCode {
    let t = match target(daemon) {
        Ok(t) => t,
        Err(e) => return out::error(output, EXIT_USAGE, e),
    };
    let (path, text) = route(&view);
    match t.get(&path).await {
        Ok(v) => {
            out::print(output, &v, text);
            ExitCode::SUCCESS
        }
        Err(e) => out::error(output, 1, e),
    }
}

/// `fleetctl suspend` (`on`) / `resume` [--repo R].
pub async fn suspend(
    on: bool,
    repo: Option<String>,
    daemon: &DaemonArgs,
    output: Output,
) -> ExitCode {
    let t = match target(daemon) {
        Ok(t) => t,
        Err(e) => return out::error(output, EXIT_USAGE, e),
    };
    let path = if on {
        "/api/v1/suspend"
    } else {
        "/api/v1/resume"
    };
    let body = match &repo {
        Some(r) => json!({ "repo": r }),
        None => json!({}),
    };
    match t.post(path, &body).await {
        Ok(v) => {
            out::print(output, &v, |v, _| views::suspension_text(on, v));
            ExitCode::SUCCESS
        }
        Err(e) => out::error(output, 1, e),
    }
}

/// `fleetctl reconcile --now`: queues a run and (unless `--no-wait`) follows it to its end,
/// at most `--timeout` long.
pub async fn reconcile_now(args: &ReconcileArgs, output: Output) -> ExitCode {
    let t = match target(&args.daemon) {
        Ok(t) => t,
        Err(e) => return out::error(output, EXIT_USAGE, e),
    };
    let body = json!({"projects": args.projects, "repos": args.repos});
    let accepted = match t.post("/api/v1/reconcile", &body).await {
        Ok(v) => v,
        Err(e) => return out::error(output, 1, e),
    };
    let Some(run_id) = accepted.get("run_id").and_then(|v| v.as_i64()) else {
        return out::error(
            output,
            1,
            format!("unexpected answer from fleetd: {accepted}"),
        );
    };
    let coalesced = accepted["coalesced"].as_bool().unwrap_or(false);
    let how = if coalesced {
        "(joined a queued run)"
    } else {
        "queued"
    };
    if args.no_wait {
        // The run id on stdout, for a script: `run #9 queued`.
        out::print(output, &accepted, |_, _| format!("run #{run_id} {how}\n"));
        return ExitCode::SUCCESS;
    }
    if !output.is_document() {
        eprintln!("run #{run_id} {how}");
    }
    let deadline = args.timeout.map(|d| (d, tokio::time::Instant::now() + d.0));
    let mut last_line = String::new();
    loop {
        let v = match t.get(&format!("/api/v1/runs/{run_id}")).await {
            Ok(v) => v,
            Err(e) => return out::error(output, 1, e),
        };
        let status = v
            .pointer("/run/status")
            .and_then(|s| s.as_str())
            .unwrap_or("");
        if !output.is_document() {
            let line = progress_line(&v);
            if line != last_line {
                eprintln!("{line}");
                last_line = line;
            }
        }
        if status != "queued" && status != "running" {
            return finished(run_id, status, &v, output);
        }
        if let Some((d, at)) = deadline {
            if tokio::time::Instant::now() >= at {
                let msg = format!(
                    "run #{run_id} is still {status} after --timeout {}s; it goes on in fleetd (`fleetctl runs {run_id}` shows it)",
                    d.0.as_secs()
                );
                return out::error(output, EXIT_TIMEOUT, msg);
            }
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

/// Exit code of `reconcile --now --timeout` when the run did not end in time.
pub const EXIT_TIMEOUT: u8 = 3;

fn finished(run_id: i64, status: &str, v: &Value, output: Output) -> ExitCode {
    if output.is_document() {
        out::print(output, v, |_, _| String::new());
    } else {
        outln!(
            "run #{run_id} {status}: {}",
            v.pointer("/run/summary")
                .and_then(|s| s.as_str())
                .unwrap_or("")
        );
        if let Some(err) = v.pointer("/run/error").and_then(|s| s.as_str()) {
            outln!("error: {err}");
        }
    }
    if status == "succeeded" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn progress_line(v: &Value) -> String {
    let status = v
        .pointer("/run/status")
        .and_then(|s| s.as_str())
        .unwrap_or("?");
    let counts = v
        .pointer("/run/counts")
        .and_then(|c| c.as_object())
        .map(|m| {
            m.iter()
                .map(|(k, n)| format!("{k}={n}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let phase = if status == "running" {
        v.pointer("/run/summary")
            .and_then(|s| s.as_str())
            .unwrap_or("")
    } else {
        ""
    };
    format!(
        "  [{status}] {phase} {counts} requests={}",
        v.pointer("/run/requests_sent")
            .cloned()
            .unwrap_or(Value::Null)
    )
}

/// `fleetctl plan --remote`: a dry run in the daemon.
pub async fn plan(args: &crate::cli::PlanArgs, output: Output) -> ExitCode {
    // The exit codes of a local plan: 2 for an error (1 with --exit-code, where 2 means
    // changes pending).
    let error_code = if args.exit_code { 1 } else { EXIT_USAGE };
    let t = match target(&args.daemon) {
        Ok(t) => t,
        Err(e) => return out::error(output, error_code, e),
    };
    let v = match t
        .post(
            "/api/v1/plan",
            &json!({"projects": args.projects, "diff": args.diff}),
        )
        .await
    {
        Ok(v) => v,
        Err(e) => return out::error(output, error_code, e),
    };
    if let Some(path) = &args.daemon.config {
        if let (Ok(cfg), Some(remote)) = (
            crate::config::load(path),
            v.get("config_hash").and_then(|h| h.as_str()),
        ) {
            if cfg.hash != remote {
                eprintln!(
                    "warning: this plan was made by fleetd with config {}…, not with {} as it is now ({}…); reload fleetd (SIGHUP, `systemctl reload fleetd`) to apply the file",
                    short(remote),
                    path.display(),
                    short(&cfg.hash)
                );
            }
        }
    }
    out::print(output, &v, |v, _| {
        v.get("text")
            .and_then(|t| t.as_str())
            .unwrap_or("")
            .to_string()
    });
    let changes = v
        .pointer("/plan/changes")
        .and_then(|c| c.as_bool())
        .unwrap_or(false);
    if args.exit_code && changes {
        ExitCode::from(super::local::EXIT_CHANGES)
    } else {
        ExitCode::SUCCESS
    }
}

/// The first 12 hex digits of a config hash.
pub fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
