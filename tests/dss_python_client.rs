//! Dataiku's official Python client (`dataiku-api-client` from PyPI) against the simulated
//! DSS node, linked to a simulated GitHub: `tests/python/dss_client_check.py` makes every
//! `DSSProjectGit` call of the GitOps flow plus the listings, metadata and deployer calls and
//! checks the documented shapes; this test then checks that the pushes really landed on GitHub.
//!
//! The client lives in a virtualenv: `$FLEETSYNC_DSS_CLIENT_VENV`, else `target/dss-client-venv`
//! (`.ci/run` creates it: `python3 -m venv target/dss-client-venv` and
//! `target/dss-client-venv/bin/pip install dataiku-api-client==15.2.0 six`). Without it the test
//! says so loudly and passes, unless `FLEETSYNC_REQUIRE_DSS_CLIENT=1` (as `.ci/run` sets), where
//! a missing client fails it.

use fleetsync_sim::dss::{self, DssSimSettings};
use fleetsync_sim::github::{self, GithubSimSettings, SimToken};
use std::path::PathBuf;

const KEY: &str = "py-client-key";

fn python() -> Option<PathBuf> {
    let venv = std::env::var_os("FLEETSYNC_DSS_CLIENT_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/dss-client-venv")
        });
    let py = venv.join("bin/python");
    py.exists().then_some(py)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_client_drives_the_simulated_node() {
    let Some(py) = python() else {
        let required = std::env::var("FLEETSYNC_REQUIRE_DSS_CLIENT").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "FLEETSYNC_REQUIRE_DSS_CLIENT=1 but no virtualenv with dataiku-api-client was found"
        );
        eprintln!(
            "\n*** SKIPPED: no virtualenv with dataiku-api-client (set FLEETSYNC_DSS_CLIENT_VENV or \
             create target/dss-client-venv as .ci/run does); the official-client check did not run ***\n"
        );
        return;
    };
    let node = dss::start(
        DssSimSettings {
            projects: 3,
            ..Default::default()
        },
        vec![KEY.into()],
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let gh = github::start(
        GithubSimSettings::default(),
        vec![SimToken::pat("ghp_py")],
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    node.handle.link_github(&gh.handle);
    assert!(gh.handle.create_empty_repo("acme", "dss-py"));
    let project = node.handle.project_keys()[0].clone();
    let remote = format!(
        "git@{}:acme/dss-py.git",
        gh.url.trim_start_matches("http://")
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/dss_client_check.py");
    let out = tokio::process::Command::new(&py)
        .arg(&script)
        .args(["--url", &node.url, "--key", KEY, "--project", &project])
        .args(["--remote", &remote, "--admin", &node.url])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("OK: "), "{stdout}");

    // What the client did really happened on GitHub.
    for branch in ["master", "feature-1"] {
        assert_eq!(
            gh.handle.branch_head("acme/dss-py", branch),
            node.handle.branch_head(&project, branch),
            "{branch}"
        );
    }
    assert_eq!(
        gh.handle.repo("acme/dss-py").unwrap().default_branch,
        "master"
    );
    // Every git route was called through the official client's paths.
    for route in [
        "GET /projects/{key}/git/current-branch",
        "GET /projects/{key}/git/branches",
        "POST /projects/{key}/git/branches/",
        "POST /projects/{key}/git/actions/push",
        "POST /projects/{key}/git/actions/pullRebase",
        "POST /projects/{key}/git/actions/fetch",
        "GET /projects/{key}/git/actions/log",
        "POST /projects/{key}/git/remotes/{name}",
        "GET /project-deployer/stages",
        "GET /project-deployer/infras",
        "GET /plugins/",
        "GET /projects/{key}/metadata",
    ] {
        assert!(node.handle.route_count(route) > 0, "{route} was not called");
    }
}
