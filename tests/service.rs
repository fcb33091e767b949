//! fleetd as operators run it (a child process against the simulator): a run at start and the
//! next scheduled run in `status`; SIGHUP reloads the config (a changed variable reaches
//! GitHub on the next run, a broken config is refused and logged at ERROR, the old one kept);
//! `fleetctl plan` warns when the daemon runs another config than the file; concurrent
//! `POST /api/v1/plan` coalesce; unknown `--project` keys are errors; logs carry no ANSI
//! colours or scheduler chatter when they are not on a terminal.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Daemon {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill").args([sig, &pid]).status().unwrap();
        assert!(ok.success());
    }

    async fn get(&self, path: &str) -> Value {
        reqwest::get(format!("{}{path}", self.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn text(&self, path: &str) -> String {
        reqwest::get(format!("{}{path}", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// Starts fleetd on `f`'s config (listening on `port`), its stderr in a log file.
async fn start(f: &Fleet, port: u16, name: &str) -> Daemon {
    let log = f.dir.as_path().join(format!("{name}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_fleetd"))
        .arg("--config")
        .arg(&f.config_path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/healthz")).await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "fleetd did not come up: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Daemon { child, base, log }
}

/// Rewrites the config with `from` replaced by `to` (which must be there).
fn edit_config(f: &Fleet, from: &str, to: &str) {
    let text = std::fs::read_to_string(&f.config_path).unwrap();
    assert!(text.contains(from), "{from:?} not in the config");
    std::fs::write(&f.config_path, text.replacen(from, to, 1)).unwrap();
}

async fn post(d: &Daemon, path: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}{path}", d.base))
        .bearer_auth(GH_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn reconcile(d: &Daemon, body: Value) -> Value {
    let v: Value = post(d, "/api/v1/reconcile", body)
        .await
        .json()
        .await
        .unwrap();
    wait_run(d, v["run_id"].as_i64().unwrap()).await
}

async fn wait_run(d: &Daemon, id: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let v = d.get(&format!("/api/v1/runs/{id}")).await;
        let status = v["run"]["status"].as_str().unwrap_or("").to_string();
        if !status.is_empty() && !matches!(status.as_str(), "queued" | "running") {
            return v;
        }
        assert!(Instant::now() < deadline, "run {id} did not finish: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn variable_everywhere(f: &Fleet, name: &str) -> Vec<String> {
    f.gh.handle
        .repo_names()
        .iter()
        .filter_map(|r| f.gh.handle.repo(r))
        .map(|r| r.variables.get(name).cloned().unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_at_start_and_shows_the_next_scheduled_run() {
    let mut f = Fleet::start(4, 0, roomy_github(), "").await;
    let port = free_port();
    f.run_at_start = true;
    f.listen_on(port);
    let d = start(&f, port, "fleetd").await;
    // No POST: the start-up run converges the fleet on its own.
    wait_for("the start-up run", async || {
        let runs = d.get("/api/v1/runs").await;
        runs["runs"]
            .as_array()
            .is_some_and(|a| a.iter().any(|r| r["status"] == "succeeded"))
    })
    .await;
    let runs = d.get("/api/v1/runs").await;
    assert_eq!(runs["runs"][0]["trigger"], "startup", "{runs}");
    let repos = f.store().list_repos().unwrap();
    assert!(!repos.is_empty());
    assert_eq!(repos.len(), f.gh.handle.repo_names().len());
    let status = d.get("/api/v1/status").await;
    let next = status["next_scheduled_run"].as_str().expect("next run");
    let next = chrono::DateTime::parse_from_rfc3339(next).unwrap();
    let ahead = next.with_timezone(&chrono::Utc) - chrono::Utc::now();
    // The fleet's schedule is every 10 minutes.
    assert!(
        ahead > chrono::Duration::zero() && ahead <= chrono::Duration::minutes(10),
        "{status}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_fleetctl"))
        .args(["status", "--addr", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("next scheduled run: 20"), "{text}");
    assert!(text.contains("config: "), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_applies_a_good_config_and_refuses_a_broken_one() {
    let mut f = Fleet::start(3, 0, roomy_github(), "").await;
    let port = free_port();
    f.listen_on(port);
    let d = start(&f, port, "fleetd").await;
    let first = reconcile(&d, json!({})).await;
    assert_eq!(first["run"]["status"], "succeeded", "{first}");
    let staging = "DATAIKU_INSTANCE_STAGING_URL";
    assert!(variable_everywhere(&f, staging)
        .iter()
        .all(|v| v == "https://dss-staging.example.com"));
    let before = d.get("/api/v1/status").await["config"].clone();

    // A changed variable: SIGHUP, and the next run applies it without a restart.
    edit_config(
        &f,
        "\"https://dss-staging.example.com\"",
        "\"https://dss-staging-2.example.com\"",
    );
    let pid = d.child.id();
    d.signal("-HUP");
    wait_for("the reload", async || {
        d.get("/api/v1/status").await["config"]["hash"] != before["hash"]
    })
    .await;
    let after = d.get("/api/v1/status").await["config"].clone();
    assert_eq!(after["last_reload"]["applied"], true, "{after}");
    let second = reconcile(&d, json!({})).await;
    assert_eq!(second["run"]["status"], "succeeded", "{second}");
    let vals = variable_everywhere(&f, staging);
    assert_eq!(vals.len(), 3);
    assert!(
        vals.iter()
            .all(|v| v == "https://dss-staging-2.example.com"),
        "{vals:?}"
    );
    let metrics = d.text("/metrics").await;
    let hash = after["hash"].as_str().unwrap();
    assert!(
        metrics.contains(&format!("fleet_config_info{{hash=\"{hash}\"}} 1")),
        "{metrics}"
    );
    assert!(metrics.contains("fleet_config_reloads_total{outcome=\"applied\"} 1"));

    // A broken config: refused, the running one kept, the reason at ERROR in the log.
    edit_config(&f, "owner = \"acme\"", "owner = \"acme\"\nownr = \"typo\"");
    d.signal("-HUP");
    wait_for("the refusal", async || {
        d.get("/api/v1/status").await["config"]["last_reload"]["applied"] == false
    })
    .await;
    let refused = d.get("/api/v1/status").await["config"].clone();
    assert_eq!(refused["hash"], after["hash"], "the old config is kept");
    let why = refused["last_reload"]["message"].as_str().unwrap();
    assert!(
        why.contains("github.ownr") && why.contains("unknown field"),
        "{why}"
    );
    let log = d.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("config reload refused"))
        .unwrap_or_else(|| panic!("no refusal in the log:\n{log}"));
    assert!(
        line.contains("ERROR") && line.contains("github.ownr"),
        "{line}"
    );
    let metrics = d.text("/metrics").await;
    assert!(
        metrics.contains("fleet_config_last_reload_successful 0"),
        "{metrics}"
    );
    // `fleetctl status` on the broken file still reaches fleetd (its [daemon] table is
    // fine) and shows the refusal.
    let out = Command::new(env!("CARGO_BIN_EXE_fleetctl"))
        .args(["status", "--config"])
        .arg(&f.config_path)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("has 1 error(s)"), "{stderr}");
    assert!(
        stdout.contains("last reload: REFUSED") && stdout.contains("github.ownr"),
        "{stdout}"
    );
    // Still the same process, still running the previous config.
    assert_eq!(d.child.id(), pid);
    let third = reconcile(&d, json!({})).await;
    assert_eq!(third["run"]["status"], "succeeded", "{third}");
    assert!(variable_everywhere(&f, staging)
        .iter()
        .all(|v| v == "https://dss-staging-2.example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_warns_when_the_daemon_runs_another_config() {
    let mut f = Fleet::start(2, 0, roomy_github(), "").await;
    let port = free_port();
    f.listen_on(port);
    let d = start(&f, port, "fleetd").await;
    let plan = |f: &Fleet| {
        Command::new(env!("CARGO_BIN_EXE_fleetctl"))
            .args(["plan", "--config"])
            .arg(&f.config_path)
            .output()
            .unwrap()
    };
    let same = plan(&f);
    let err = String::from_utf8_lossy(&same.stderr);
    assert!(same.status.success(), "{err}");
    assert!(!err.contains("runs another config"), "{err}");
    edit_config(&f, "concurrency = 8", "concurrency = 7");
    let changed = plan(&f);
    let err = String::from_utf8_lossy(&changed.stderr);
    assert!(changed.status.success(), "{err}");
    assert!(
        err.contains("warning: fleetd at") && err.contains("runs another config"),
        "{err}"
    );
    // After a reload the two agree again.
    d.signal("-HUP");
    let hash = fleetsync::config::load(&f.config_path).unwrap().hash;
    wait_for("the reload", async || {
        d.get("/api/v1/status").await["config"]["hash"] == hash.as_str()
    })
    .await;
    let again = plan(&f);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(!err.contains("runs another config"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_plans_are_coalesced() {
    let mut gh = roomy_github();
    gh.latency_ms = 20;
    let mut f = Fleet::start(10, 0, gh, "").await;
    let port = free_port();
    f.listen_on(port);
    let d = start(&f, port, "fleetd").await;
    let done = reconcile(&d, json!({})).await;
    assert_eq!(done["run"]["status"], "succeeded", "{done}");

    // One plan alone: what a full observation costs.
    f.gh.handle.reset_counters();
    let one = post(&d, "/api/v1/plan", json!({})).await;
    assert_eq!(one.status().as_u16(), 200);
    let single = f.gh.handle.counters().requests;
    assert!(single >= 10, "{single}");

    // Eight at once: at most two observations between them.
    f.gh.handle.reset_counters();
    let reqs = (0..8).map(|_| post(&d, "/api/v1/plan", json!({})));
    let answers = futures::future::join_all(reqs).await;
    for a in answers {
        assert_eq!(a.status().as_u16(), 200);
        let v: Value = a.json().await.unwrap();
        assert!(v["text"].is_string(), "{v}");
    }
    let eight = f.gh.handle.counters().requests;
    assert!(
        eight <= 2 * single,
        "8 concurrent plans sent {eight} GitHub requests; one plan sends {single}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_project_key_is_an_error_naming_it() {
    let mut f = Fleet::start(2, 0, roomy_github(), "").await;
    let port = free_port();
    f.listen_on(port);
    let fleetctl = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_fleetctl"))
            .args(args)
            .arg("--config")
            .arg(&f.config_path)
            .output()
            .unwrap()
    };
    let out = fleetctl(&["plan", "--project", "NOPE"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("NOPE") && err.contains("no DSS project"),
        "{err}"
    );
    // Said once: the engine's log line no longer repeats fleetctl's error.
    assert_eq!(err.matches("NOPE").count(), 1, "{err}");
    let out = fleetctl(&["reconcile", "--local", "--project", "NOPE"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("error: ") && text.contains("NOPE"), "{text}");
    assert!(f.gh.handle.repo_names().is_empty(), "nothing was created");

    // fleetd refuses the key before queueing anything (400), also while a full run is
    // queued that the request would otherwise join and "succeed" with.
    let d = start(&f, port, "fleetd").await;
    let runs = async || {
        d.get("/api/v1/runs").await["runs"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let runs_before = runs().await;
    let refused = post(&d, "/api/v1/reconcile", json!({"projects": ["NOPE"]})).await;
    assert_eq!(refused.status().as_u16(), 400);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("NOPE"),
        "{body}"
    );
    assert_eq!(runs().await, runs_before, "a run was queued for NOPE");
    let first = post(&d, "/api/v1/reconcile", json!({})).await;
    assert_eq!(first.status().as_u16(), 202);
    let queued = post(&d, "/api/v1/reconcile", json!({})).await;
    assert_eq!(queued.status().as_u16(), 202);
    let joined = post(&d, "/api/v1/reconcile", json!({"projects": ["NOPE"]})).await;
    assert_eq!(joined.status().as_u16(), 400, "NOPE joined a queued run");
    let known = f.dss.handle.project_keys()[0].clone();
    let run = reconcile(&d, json!({"projects": [known]})).await;
    assert_eq!(run["run"]["status"], "succeeded", "{run}");
    let plan = post(&d, "/api/v1/plan", json!({"projects": ["NOPE"]})).await;
    assert_eq!(plan.status().as_u16(), 400);
    let body: Value = plan.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("NOPE"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_off_a_terminal_are_plain_and_quiet() {
    let mut f = Fleet::start(2, 0, roomy_github(), "").await;
    let port = free_port();
    f.run_at_start = true;
    f.listen_on(port);
    let d = start(&f, port, "fleetd").await;
    wait_for("the start-up run", async || {
        d.log_text().contains("reconcile run finished")
    })
    .await;
    let log = d.log_text();
    assert!(
        !log.contains('\u{1b}'),
        "ANSI escapes in a log file:\n{log}"
    );
    for noise in ["Uninited", "Job creator created"] {
        assert!(!log.contains(noise), "{noise:?} in the log:\n{log}");
    }
    let line = log
        .lines()
        .find(|l| l.contains("reconcile run finished"))
        .unwrap();
    // Seconds rounded to a tenth: `seconds=1.2`, not `seconds=1.234567891`.
    let secs = line
        .split("seconds=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap();
    let decimals = secs.split('.').nth(1).map(str::len).unwrap_or(0);
    assert!(decimals <= 1, "{line}");
}
