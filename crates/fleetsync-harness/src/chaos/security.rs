//! Security: every secret of the fleet carries the [`CANARY`] marker; after a reconcile (fleetd
//! logging at `debug`), a rotated secret and a plan, the marker must be in none of: fleetd's
//! logs, the SQLite file (and its WAL), `/metrics`, any API body, the plan (text and JSON).
//! POST endpoints must refuse a missing or wrong token; the default bind must be loopback; a
//! world-readable secret file must be warned about. While a reconcile runs, [`crate::load`]
//! puts `--connections` connections on `/api/v1/status` for `--load-secs`; it must see 0
//! errors (socket errors or non-2xx answers), and its p99 latency is reported.

use super::discovery::reconcile;
use super::{roomy_github, start_fleet, start_fleetd, Figures, CANARY, SECRETS};
use crate::args::ChaosArgs;
use crate::fleet::Fleet;
use crate::fleetd::fleetd_path;
use crate::load::fmt_latency;
use serde_json::json;
use std::time::Duration;

fn leaks_in(bytes: &[u8]) -> u64 {
    bytes
        .windows(CANARY.len())
        .filter(|w| *w == CANARY.as_bytes())
        .count() as u64
}

/// Runs the scenario, adding its figures to `figs`; an error means it could not run.
pub async fn run(args: &ChaosArgs, figs: &mut Figures) -> Result<(), String> {
    let bin = fleetd_path(args.fleetd.as_deref())?;
    let mut gh = roomy_github();
    gh.latency_ms = 80;
    let projects = (args.load_secs as usize * 8).max(24);
    let mut fleet = start_fleet(projects, 1, gh, args.seed).await?;
    fleet.log_level = Some("debug".into());
    fleet.write_config()?;
    let log = fleet.dir.join("fleetd.log");
    let http = reqwest::Client::new();
    let base = fleet.base();
    let d = start_fleetd(&bin, &fleet, &log).await?;
    let result = async {
        d.trigger(&[]).await?;
        // POSTs without or with a wrong token (while the startup reconcile runs).
        let mut accepted = 0;
        let mut tried = 0;
        let mut bodies: Vec<u8> = Vec::new();
        for path in ["/api/v1/reconcile", "/api/v1/plan"] {
            for token in [None, Some("wrong-token"), Some("")] {
                let mut req = http
                    .post(format!("{base}{path}"))
                    .json(&json!({"projects": []}));
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                tried += 1;
                match req.send().await {
                    Ok(r) => {
                        if r.status().as_u16() != 401 {
                            accepted += 1;
                        }
                        bodies.extend(r.bytes().await.unwrap_or_default());
                    }
                    Err(_) => accepted += 1,
                }
            }
        }
        figs.add(
            "POSTs without / with a wrong token refused (401)",
            format!("{}/{tried}", tried - accepted),
            &format!("{tried}/{tried}"),
            accepted == 0,
        );

        // Load on the status API while the cold start runs.
        let load = crate::load::run(
            &format!("{base}/api/v1/status"),
            args.connections,
            Duration::from_secs(args.load_secs),
            Duration::from_secs(10),
        )
        .await;
        let busy_after = http.get(format!("{base}/api/v1/runs")).send().await.ok();
        let still_running = match busy_after {
            Some(r) => r.text().await.unwrap_or_default().contains("\"running\""),
            None => false,
        };
        match load {
            Ok(w) => {
                figs.add(
                    &format!(
                        "status API under {} connections for {}s: errors",
                        args.connections, args.load_secs
                    ),
                    format!(
                        "{} ({} socket, {} non-2xx) of {} requests",
                        w.socket_errors + w.non_2xx,
                        w.socket_errors,
                        w.non_2xx,
                        w.requests
                    ),
                    "0",
                    w.socket_errors + w.non_2xx == 0 && w.requests > 0,
                );
                figs.add(
                    "status API p99 latency",
                    fmt_latency(w.p99),
                    "reported",
                    w.requests > w.socket_errors && !w.p99.is_zero(),
                );
                figs.add("status API requests/s", format!("{:.2}", w.rps), "-", true);
                figs.add(
                    "reconcile still running when the load ended",
                    if still_running { "yes" } else { "no" },
                    "yes (load during a reconcile)",
                    still_running,
                );
            }
            Err(e) => figs.add(
                "status API load",
                format!("not run: {e}"),
                "0 errors",
                false,
            ),
        }
        let idle = d.wait_idle(Duration::from_secs(600)).await;
        figs.add(
            "reconcile under load",
            idle.clone().unwrap_or_else(|| "did not finish".into()),
            "succeeded",
            idle.as_deref() == Some("succeeded"),
        );

        // Rotate a secret (new canary value) and reconcile again, so the secret flows once more.
        let rotated = "CANARY-rotated-dev-ci-token-77aa";
        std::fs::write(fleet.dir.join("dev-token"), rotated).map_err(|e| e.to_string())?;
        let plan = fleet.plan().await?;
        let plan_text = fleetsync::plan::render_text(&plan.plan);
        let plan_json = fleetsync::plan::render_json(&plan.plan).to_string();
        let report_json = serde_json::to_string(&plan).unwrap_or_default();
        let plan_has_steps = plan.plan.step_count() > 0;
        let rotation = reconcile(&d).await;
        let repo = fleet
            .gh
            .handle
            .repo_names()
            .into_iter()
            .next()
            .unwrap_or_default();
        let delivered = fleet
            .gh
            .handle
            .secret_value(&repo, "DATAIKU_INSTANCE_DEV_CI_API_TOKEN")
            .as_deref()
            == Some(rotated);
        figs.add(
            "rotated secret planned and delivered",
            format!(
                "plan steps {}, run {}, delivered {delivered}",
                plan.plan.step_count(),
                rotation.unwrap_or_else(|e| e)
            ),
            "yes",
            plan_has_steps && delivered,
        );

        // API bodies and metrics.
        let repo_name = repo.rsplit('/').next().unwrap_or_default().to_string();
        for path in [
            "/healthz".to_string(),
            "/readyz".into(),
            "/api/v1/status".into(),
            "/api/v1/repos".into(),
            format!("/api/v1/repos/{repo_name}"),
            format!("/api/v1/repos/{repo}"),
            "/api/v1/runs".into(),
            "/api/v1/runs/1".into(),
            "/api/v1/runs/2".into(),
            "/api/v1/drift".into(),
            "/api/v1/nope".into(),
        ] {
            if let Ok(r) = http.get(format!("{base}{path}")).send().await {
                bodies.extend(r.bytes().await.unwrap_or_default());
            }
        }
        if let Ok(r) = http
            .post(format!("{base}/api/v1/plan"))
            .bearer_auth(SECRETS.api_token)
            .json(&json!({"projects": []}))
            .send()
            .await
        {
            bodies.extend(r.bytes().await.unwrap_or_default());
        }
        let metrics = match http.get(format!("{base}/metrics")).send().await {
            Ok(r) => r.bytes().await.unwrap_or_default().to_vec(),
            Err(_) => Vec::new(),
        };
        d.wait_idle(Duration::from_secs(120)).await;
        Ok::<_, String>((bodies, metrics, plan_text, plan_json, report_json))
    }
    .await;
    // SIGTERM would flush more logs, but SIGKILL is what we own; logs are line-buffered JSON.
    d.kill();
    let (bodies, metrics, plan_text, plan_json, report_json) = result?;
    let logs = std::fs::read(&log).unwrap_or_default();
    let mut db = std::fs::read(fleet.state_path()).unwrap_or_default();
    for ext in ["state.db-wal", "state.db-shm", "state.db-journal"] {
        db.extend(std::fs::read(fleet.dir.join(ext)).unwrap_or_default());
    }
    let leaks = [
        leaks_in(&logs),
        leaks_in(&db),
        leaks_in(&metrics),
        leaks_in(&bodies),
        leaks_in(plan_text.as_bytes())
            + leaks_in(plan_json.as_bytes())
            + leaks_in(report_json.as_bytes()),
    ];
    figs.add(
        "canary occurrences: logs / SQLite / metrics / API bodies / plan",
        leaks.map(|n| n.to_string()).join(" / "),
        "0 / 0 / 0 / 0 / 0",
        leaks.iter().all(|n| *n == 0),
    );
    figs.add(
        "bytes scanned: logs / SQLite / metrics / API bodies / plan",
        format!(
            "{} / {} / {} / {} / {}",
            logs.len(),
            db.len(),
            metrics.len(),
            bodies.len(),
            plan_text.len() + plan_json.len() + report_json.len()
        ),
        "> 0 each",
        !logs.is_empty() && !db.is_empty() && !metrics.is_empty() && !bodies.is_empty(),
    );

    // Default bind: a config without `daemon.listen`.
    let text = fleet
        .config_text()
        .lines()
        .filter(|l| !l.starts_with("listen = "))
        .collect::<Vec<_>>()
        .join("\n");
    let path = fleet.dir.join("no-listen.toml");
    std::fs::write(&path, text).map_err(|e| e.to_string())?;
    let listen = fleetsync::config::load(&path)
        .map(|c| c.raw.daemon.listen.get_ref().clone())
        .unwrap_or_else(|e| format!("config error: {e}"));
    let loopback = listen
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|a| a.ip().is_loopback());
    figs.add("default bind", &listen, "loopback", loopback);

    // World-readable secret file.
    let warned = world_readable_warned(&fleet);
    figs.add(
        "world-readable secret file warned",
        if warned { "yes" } else { "no" },
        "yes",
        warned,
    );
    Ok(())
}

#[cfg(unix)]
fn world_readable_warned(fleet: &Fleet) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let p = fleet.dir.join("prod-token");
    let set = |m| std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m));
    if set(0o644).is_err() {
        return false;
    }
    let warned = fleetsync::config::load(&fleet.config_path).is_ok_and(|c| {
        c.warnings
            .iter()
            .any(|w| w.contains("prod-token") && w.contains("readable"))
    });
    let _ = set(0o600);
    warned
}

#[cfg(not(unix))]
fn world_readable_warned(_fleet: &Fleet) -> bool {
    false
}
