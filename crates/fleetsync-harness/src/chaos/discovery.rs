//! Discovery failures: a converged fleet whose config would remove a repo at once (grace
//! period 0, `deletion_policy = "delete"`, no cap), so that only discovery handling stands
//! between a bad listing and deleted repos. The DSS node then answers 500, times out, lists
//! nothing, lists 40 % of the projects, or answers malformed JSON; each time fleetd runs a
//! reconcile, which must remove nothing while `/readyz` and the metrics show the failure.
//! After each fault a clean run must bring `/readyz` back.

use super::{roomy_github, start_fleet, start_fleetd, Figures};
use crate::args::ChaosArgs;
use crate::fleetd::{fleetd_path, Fleetd};
use fleetsync_sim::dss::DssSimHandle;
use serde_json::Value;
use std::time::Duration;

/// The failure modes.
pub const MODES: &[&str] = &["500", "timeout", "empty", "partial", "malformed"];

fn set_mode(h: &DssSimHandle, mode: &str, on: bool) {
    match mode {
        "500" => h.set_error_rate(if on { 1.0 } else { 0.0 }),
        "timeout" => h.set_latency_ms(if on { 3_000 } else { 0 }),
        "empty" => h.set_empty_listing(on),
        "partial" => h.set_partial_listing(on.then_some(0.4)),
        _ => h.set_malformed_listing(on),
    }
}

/// Triggers a run through the API and waits for it (up to 300 s); returns its status.
pub async fn reconcile(d: &Fleetd) -> Result<String, String> {
    let id = d.trigger(&[]).await?;
    let run = d
        .wait_run(id, Duration::from_millis(100), Duration::from_secs(300))
        .await?;
    Ok(run.status)
}

/// Sum of a metric's samples in a Prometheus text exposition.
pub fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

/// Runs the scenario, adding its figures to `figs`; an error means it could not run.
pub async fn run(args: &ChaosArgs, figs: &mut Figures) -> Result<(), String> {
    let bin = fleetd_path(args.fleetd.as_deref())?;
    let mut fleet = start_fleet(20, 1, roomy_github(), args.seed).await?;
    fleet.github_extra =
        "grace_period = \"0s\"\ndeletion_policy = \"delete\"\nmax_deletions_per_run = 1000\n"
            .into();
    fleet.write_config()?;
    let log = fleet.dir.join("fleetd.log");
    let d = start_fleetd(&bin, &fleet, &log).await?;
    let http = d.http();
    let base = d.base();
    let result = async {
        let first = reconcile(&d).await;
        if first.as_deref() != Ok("succeeded") {
            return Err(format!("the first run did not succeed: {first:?}"));
        }
        let repos_before = fleet.gh.handle.repo_names();
        for mode in MODES {
            let metrics_before = get_text(http, &format!("{base}/metrics")).await;
            let errors_before = metric_sum(&metrics_before, "fleet_dss_discovery_errors_total");
            fleet.gh.handle.reset_counters();
            set_mode(&fleet.dss.handle, mode, true);
            let status = reconcile(&d).await;
            let ready = http
                .get(format!("{base}/readyz"))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let ready_code = ready.status().as_u16();
            let ready_body: Value = ready.json().await.unwrap_or(Value::Null);
            let metrics = get_text(http, &format!("{base}/metrics")).await;
            set_mode(&fleet.dss.handle, mode, false);
            let c = fleet.gh.handle.counters();
            let removals = c.count("DELETE /repos/{owner}/{repo} ")
                + fleet
                    .gh
                    .handle
                    .repo_names()
                    .iter()
                    .filter(|n| fleet.gh.handle.repo(n).is_some_and(|r| r.archived))
                    .count() as u64
                + repos_before
                    .iter()
                    .filter(|n| fleet.gh.handle.repo(n).is_none())
                    .count() as u64;
            let up = metric_sum(&metrics, "fleet_dss_discovery_up");
            let errors = metric_sum(&metrics, "fleet_dss_discovery_errors_total") - errors_before;
            let shown = ready_code == 503
                && ready_body["discovery_failing"]
                    .as_object()
                    .is_some_and(|o| !o.is_empty());
            figs.zero(&format!("{mode}: repos removed"), removals);
            figs.add(
                &format!("{mode}: /readyz, run status"),
                format!(
                    "{ready_code}, {}",
                    status.clone().unwrap_or_else(|e| format!("error: {e}"))
                ),
                "503, not succeeded",
                shown && status.as_deref().is_ok_and(|s| s != "succeeded"),
            );
            figs.add(
                &format!("{mode}: fleet_dss_discovery_up, errors_total increase"),
                format!("{up}, +{errors}"),
                "0, >= 1",
                up == 0.0 && errors >= 1.0,
            );
            // Recovery: a clean run makes the node ready again.
            let again = reconcile(&d).await;
            let code = http
                .get(format!("{base}/readyz"))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            figs.add(
                &format!("{mode}: after recovery, /readyz and run"),
                format!("{code}, {}", again.unwrap_or_else(|e| e)),
                "200, succeeded",
                code == 200,
            );
        }
        Ok(())
    }
    .await;
    d.kill();
    result
}

async fn get_text(http: &reqwest::Client, url: &str) -> String {
    match http.get(url).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}
