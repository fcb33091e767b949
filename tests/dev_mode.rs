//! `fleetd --dev`: the bundled dev config puts the state at `.fleetsync-dev/state.db` (not a
//! doubled `.fleetsync-dev/.fleetsync-dev/`), and a restart starts clean — the simulator
//! keeps nothing between starts, so neither does the dev state: the second start's run
//! creates the fleet again and records no drift, and the run history begins anew.

use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Dev {
    child: Child,
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, config: &Path) -> Dev {
    let child = Command::new(env!("CARGO_BIN_EXE_fleetd"))
        .current_dir(dir)
        .args(["--dev", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Dev { child }
}

async fn get(base: &str, path: &str) -> Option<Value> {
    reqwest::get(format!("{base}{path}"))
        .await
        .ok()?
        .json()
        .await
        .ok()
}

/// Waits for the start-up run to end; returns the runs list.
async fn startup_run(base: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(v) = get(base, "/api/v1/runs").await {
            let done = v["runs"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|r| r["trigger"] == "startup" && r["finished_at"].is_string())
            });
            if done {
                return v;
            }
        }
        assert!(Instant::now() < deadline, "no start-up run finished");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn stop(mut d: Dev) {
    let pid = d.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while d.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "fleetd did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dev_restart_starts_clean_with_the_state_beside_the_dev_config() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join(fleetsync::daemon::dev::DEV_DIR);
    let config = fleetsync::daemon::dev::materialize(&root).unwrap();
    let (dss, gh, api) = (free_port(), free_port(), free_port());
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("127.0.0.1:9471", &format!("127.0.0.1:{dss}"))
        .replace("127.0.0.1:9472", &format!("127.0.0.1:{gh}"))
        .replace("127.0.0.1:9464", &format!("127.0.0.1:{api}"))
        .replace(
            "schedule = \"*/30 * * * * *\"",
            "schedule = \"0 0 3 1 1 *\"",
        )
        // A smaller fleet: two cold starts at GitHub's pacing take a while.
        .replace("projects = 25", "projects = 6");
    std::fs::write(&config, text).unwrap();
    let base = format!("http://127.0.0.1:{api}");

    let d = start(tmp.path(), &config);
    let runs = startup_run(&base).await;
    let first = &runs["runs"][0];
    assert_eq!(first["status"], "succeeded", "{runs}");
    assert!(first["counts"]["create/ok"].as_u64().unwrap() > 0, "{runs}");
    assert!(root.join("state.db").is_file());
    assert!(!root.join(".fleetsync-dev").exists(), "doubled state path");
    // A second dev fleetd on the same state is refused by the state lock, naming the first,
    // before it starts a simulator or resets anything.
    let second = Command::new(env!("CARGO_BIN_EXE_fleetd"))
        .current_dir(tmp.path())
        .args(["--dev", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("pid {},", d.child.id())) && err.contains("in use"),
        "{err}"
    );
    assert!(root.join("state.db").is_file());
    stop(d).await;

    // Restart: the simulator starts empty, and so does the state.
    let d = start(tmp.path(), &config);
    let runs = startup_run(&base).await;
    let all = runs["runs"].as_array().unwrap();
    assert_eq!(all.len(), 1, "the run history starts anew: {runs}");
    assert_eq!(all[0]["status"], "succeeded", "{runs}");
    assert_eq!(
        all[0]["counts"], first["counts"],
        "the fleet is created again"
    );
    let drift = get(&base, "/api/v1/drift").await.unwrap();
    assert_eq!(drift["drift"].as_array().map(Vec::len), Some(0), "{drift}");
    drop(d);
}
