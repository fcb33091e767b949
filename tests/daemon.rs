//! fleetd as a child process against the simulator: on-demand runs through the API, trigger
//! coalescing, 401 without the token, SIGTERM mid-run and resume on the next start.

mod common;

use common::*;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Daemon {
    child: Child,
    base: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_daemon(f: &Fleet, port: u16) -> Daemon {
    let child = Command::new(env!("CARGO_BIN_EXE_fleetd"))
        .arg("--config")
        .arg(&f.config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
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
        assert!(Instant::now() < deadline, "fleetd did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Daemon { child, base }
}

async fn post_reconcile(d: &Daemon, token: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("{}/api/v1/reconcile", d.base))
        .json(&json!({"projects": []}));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

async fn wait_run(d: &Daemon, id: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let v: Value = reqwest::get(format!("{}/api/v1/runs/{id}", d.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let status = v["run"]["status"].as_str().unwrap_or("").to_string();
        if !matches!(status.as_str(), "queued" | "running") {
            return v;
        }
        assert!(Instant::now() < deadline, "run {id} did not finish: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_runs_coalesces_and_guards_posts() {
    let mut gh = roomy_github();
    gh.latency_ms = 10;
    let mut f = Fleet::start(8, 1, gh, "").await;
    let port = free_port();
    f.listen_on(port);
    let d = start_daemon(&f, port).await;

    let r = post_reconcile(&d, None).await;
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["status"], 401, "{body}");
    let r = post_reconcile(&d, Some("wrong-token")).await;
    assert_eq!(r.status().as_u16(), 401);

    let token = f.api_token();
    let first: Value = post_reconcile(&d, Some(&token)).await.json().await.unwrap();
    let first_id = first["run_id"].as_i64().unwrap();
    // While it runs: the next trigger queues a run, the one after is coalesced into it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second: Value = post_reconcile(&d, Some(&token)).await.json().await.unwrap();
    let third: Value = post_reconcile(&d, Some(&token)).await.json().await.unwrap();
    assert_eq!(third["coalesced"], true, "{second} {third}");
    assert_eq!(third["run_id"], second["run_id"]);

    let done = wait_run(&d, first_id).await;
    assert_eq!(done["run"]["status"], "succeeded", "{done}");
    assert!(
        done["run"]["counts"]["create/ok"].as_u64().unwrap() > 0,
        "{done}"
    );
    assert!(done["run"]["requests_sent"].as_i64().unwrap() > 0);
    let queued = wait_run(&d, second["run_id"].as_i64().unwrap()).await;
    assert_eq!(queued["run"]["status"], "succeeded");
    let runs: Value = reqwest::get(format!("{}/api/v1/runs", d.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<i64> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "three triggers, two runs: {runs}");
    let metrics = reqwest::get(format!("{}/metrics", d.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("fleet_reconcile_runs_total{outcome=\"succeeded\",trigger=\"api\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("fleet_repo_info{"));
    assert!(!metrics.contains(CANARY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_run_exits_cleanly_and_the_next_start_resumes() {
    let mut gh = roomy_github();
    gh.latency_ms = 25;
    let mut f = Fleet::start(12, 0, gh, "").await;
    let port = free_port();
    f.listen_on(port);
    let mut d = start_daemon(&f, port).await;
    let token = f.api_token();
    let v: Value = post_reconcile(&d, Some(&token)).await.json().await.unwrap();
    let id = v["run_id"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while f.gh.handle.counters().count("POST /orgs/{org}/repos 201") < 3 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = d.child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = d.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "fleetd did not stop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0), "clean exit on SIGTERM");
    let rec = f.store().get_run(id).unwrap().unwrap();
    assert!(
        matches!(rec.status.as_str(), "interrupted" | "succeeded"),
        "{rec:?}"
    );
    assert_eq!(f.store().integrity_check().unwrap(), "ok");
    drop(d);

    // Next start: a run converges the rest.
    let d = start_daemon(&f, port).await;
    let v: Value = post_reconcile(&d, Some(&token)).await.json().await.unwrap();
    let done = wait_run(&d, v["run_id"].as_i64().unwrap()).await;
    assert_eq!(done["run"]["status"], "succeeded", "{done}");
    assert_eq!(
        f.gh.handle.repo_names().len(),
        f.store().list_repos().unwrap().len()
    );
    for r in f.store().list_repos().unwrap() {
        assert_eq!(r.status, "synced", "{r:?}");
    }
}
