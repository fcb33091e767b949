//! `fleetctl status | repos | drift | runs | reconcile --now` against a running fleetd.

use super::args::{DaemonArgs, Output, ReconcileArgs};
use super::daemon_client::{self as dc, DaemonTarget};
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
            None => Err(format!("{} cannot be used:\n{errs}", path.display())),
        },
    }
}

/// fleetd's base URL: `--addr` / `FLEETD_ADDR`, else the config's `daemon.listen`, else the
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

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(1)
}

/// `fleetctl status|repos|drift|runs`.
pub async fn show(
    kind: &str,
    arg: Option<String>,
    daemon: &DaemonArgs,
    output: Output,
) -> ExitCode {
    let t = match target(daemon) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let (path, text): (String, fn(&Value) -> String) = match (kind, &arg) {
        ("status", _) => ("/api/v1/status".into(), dc::status_text),
        ("repos", None) => ("/api/v1/repos".into(), dc::repos_text),
        ("repos", Some(name)) => (format!("/api/v1/repos/{name}"), pretty),
        ("runs", None) => ("/api/v1/runs".into(), dc::runs_text),
        ("runs", Some(id)) => (format!("/api/v1/runs/{id}"), pretty),
        ("drift", None) => ("/api/v1/drift".into(), dc::drift_text),
        ("drift", Some(repo)) => (format!("/api/v1/drift?repo={repo}"), dc::drift_text),
        _ => return ExitCode::from(EXIT_USAGE),
    };
    match t.get(&path).await {
        Ok(v) => {
            dc::print(output, &v, text);
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn pretty(v: &Value) -> String {
    format!("{}\n", serde_json::to_string_pretty(v).unwrap_or_default())
}

/// `fleetctl reconcile --now`.
pub async fn reconcile_now(args: &ReconcileArgs, output: Output) -> ExitCode {
    let t = match target(&args.daemon) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let accepted = match t
        .post("/api/v1/reconcile", &json!({"projects": args.projects}))
        .await
    {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let Some(run_id) = accepted.get("run_id").and_then(|v| v.as_i64()) else {
        return fail(format!("unexpected answer from fleetd: {accepted}"));
    };
    let coalesced = accepted["coalesced"].as_bool().unwrap_or(false);
    if output == Output::Text {
        eprintln!(
            "run #{run_id} {}",
            if coalesced {
                "(joined a queued run)"
            } else {
                "queued"
            }
        );
    }
    if args.no_wait {
        dc::print(output, &accepted, |_| String::new());
        return ExitCode::SUCCESS;
    }
    let mut last_line = String::new();
    loop {
        let v = match t.get(&format!("/api/v1/runs/{run_id}")).await {
            Ok(v) => v,
            Err(e) => return fail(e),
        };
        let status = v
            .pointer("/run/status")
            .and_then(|s| s.as_str())
            .unwrap_or("");
        if output == Output::Text {
            let line = progress_line(&v);
            if line != last_line {
                eprintln!("{line}");
                last_line = line;
            }
        }
        if status != "queued" && status != "running" {
            let ok = status == "succeeded";
            match output {
                Output::Json => dc::print(output, &v, |_| String::new()),
                Output::Text => {
                    println!(
                        "run #{run_id} {status}: {}",
                        v.pointer("/run/summary")
                            .and_then(|s| s.as_str())
                            .unwrap_or("")
                    );
                    if let Some(err) = v.pointer("/run/error").and_then(|s| s.as_str()) {
                        println!("error: {err}");
                    }
                }
            }
            return if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            };
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
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
    let t = match target(&args.daemon) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let v = match t
        .post("/api/v1/plan", &json!({"projects": args.projects}))
        .await
    {
        Ok(v) => v,
        Err(e) => return fail(e),
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
    match output {
        Output::Json => println!("{}", pretty(&v)),
        Output::Text => print!("{}", v.get("text").and_then(|t| t.as_str()).unwrap_or("")),
    }
    let changes = v
        .pointer("/plan/changes")
        .and_then(|c| c.as_bool())
        .unwrap_or(false);
    if args.exit_code && changes {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The first 12 hex digits of a config hash.
pub fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
