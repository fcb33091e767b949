//! `fleetctl` as a user runs it against a real fleetd (child processes over loopback, the
//! simulator behind): a repo named `owner/name` or by its bare name, readable layouts of a
//! repo and a run, `-o json|yaml|wide`, errors as JSON on stderr when JSON is asked for,
//! `--limit`, a repo whose project is gone shown as pending removal (text, API, metric), the
//! environment variables (one prefix, the old names warned about), `status` per DSS node,
//! `--version` and `completion`.

mod common;

use common::*;
use fleetsync_harness::fleetd::{fleetd_path, Fleetd};
use serde_json::Value;
use std::process::{Command, Output};
use std::time::Duration;

/// Runs fleetctl with `args`.
fn fleetctl(args: &[&str]) -> Output {
    fleetctl_with_env(args, &[])
}

/// Runs fleetctl with `args` and only these of fleetctl's environment variables.
fn fleetctl_with_env(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fleetctl"));
    cmd.args(args);
    for name in [
        "FLEETD_TOKEN",
        "FLEETD_ADDR",
        "FLEETSYNC_TOKEN",
        "FLEETSYNC_ADDR",
        "FLEETSYNC_CONFIG",
    ] {
        cmd.env_remove(name);
    }
    cmd.envs(vars.iter().copied()).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// fleetctl `args` against `addr`; must succeed; its stdout.
fn ok(addr: &str, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--addr", addr]);
    let o = fleetctl(&all);
    assert!(
        o.status.success(),
        "fleetctl {all:?}: {}\n{}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

async fn daemon(f: &Fleet, name: &str) -> Fleetd {
    let log = f.dir.join(format!("{name}.log"));
    let bin = fleetd_path(Some(std::path::Path::new(env!("CARGO_BIN_EXE_fleetd")))).unwrap();
    Fleetd::start(&bin, &f.0, &log, Duration::from_secs(30))
        .await
        .unwrap()
}

async fn started_fleet(projects: usize, github_extra: &str) -> (Fleet, Fleetd, String) {
    started_fleet_with_plugins(projects, 0, github_extra).await
}

/// A fleet with `plugins` dev plugins too, its fleetd started and its first run succeeded.
async fn started_fleet_with_plugins(
    projects: usize,
    plugins: usize,
    github_extra: &str,
) -> (Fleet, Fleetd, String) {
    let mut f = Fleet::start(projects, plugins, roomy_github(), github_extra).await;
    f.listen_on(free_port());
    let d = daemon(&f, "fleetd").await;
    let run = d
        .run(&[], Duration::from_millis(100), Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(run.status, "succeeded", "{run:?}");
    let addr = format!("127.0.0.1:{}", f.listen_port);
    (f, d, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repos_by_full_and_bare_name_with_readable_and_document_layouts() {
    let (f, _d, addr) = started_fleet(3, "").await;
    let repo = f.wanted_project_repos()[0].clone();
    let bare = repo.rsplit_once('/').unwrap().1.to_string();

    // owner/name and the bare name both find the repo; the text is a layout, not JSON.
    for name in [repo.as_str(), bare.as_str(), &repo.to_uppercase()] {
        let text = ok(&addr, &["repos", name]);
        assert!(text.starts_with(&format!("repo:       {repo}\n")), "{text}");
        assert!(text.contains("status:     synced"), "{text}");
        assert!(text.contains("RESOURCE"), "{text}");
        assert!(text.contains(&format!("variable:{repo}/")), "{text}");
        assert!(!text.contains('{'), "raw JSON in the text layout: {text}");
    }
    // -o json and -o yaml carry the same document.
    let json: Value = serde_json::from_str(&ok(&addr, &["repos", &repo, "-o", "json"])).unwrap();
    assert_eq!(json["repo"]["name"], repo.as_str());
    assert!(json["resources"].as_array().is_some_and(|r| !r.is_empty()));
    let yaml = ok(&addr, &["repos", &bare, "--output", "yaml"]);
    let from_yaml: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(from_yaml["repo"], json["repo"], "{yaml}");
    assert_eq!(from_yaml["resources"], json["resources"]);

    // The table: aligned columns with a message column; -o wide has more.
    let table = ok(&addr, &["repos"]);
    let header = table.lines().next().unwrap();
    assert!(header.starts_with("REPO "), "{table}");
    assert!(header.ends_with("MESSAGE"), "{table}");
    let col = header.find("STATUS").unwrap();
    for line in table.lines().skip(1) {
        assert_eq!(&line[col..col + 6], "synced", "misaligned: {table}");
    }
    let wide = ok(&addr, &["repos", "-o", "wide"]);
    assert!(wide.lines().next().unwrap().contains("LAST RUN"), "{wide}");

    // An unknown repo: an error naming it; as JSON on stderr when JSON is asked for.
    let o = fleetctl(&["repos", "nope", "--addr", &addr]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("\"nope\" is not managed"),
        "{}",
        stderr(&o)
    );
    let o = fleetctl(&["repos", "nope", "--addr", &addr, "-o", "json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).is_empty());
    let err: Value = serde_json::from_str(&stderr(&o)).unwrap();
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("HTTP 404"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_with_limit_and_a_readable_run() {
    let (_f, d, addr) = started_fleet(2, "").await;
    d.run(&[], Duration::from_millis(100), Duration::from_secs(120))
        .await
        .unwrap();
    let runs = ok(&addr, &["runs"]);
    assert_eq!(runs.lines().count(), 3, "{runs}");
    let one = ok(&addr, &["runs", "--limit", "1"]);
    assert_eq!(one.lines().count(), 2, "{one}");
    assert!(one.lines().nth(1).unwrap().starts_with("2 "), "{one}");
    let json: Value =
        serde_json::from_str(&ok(&addr, &["runs", "--limit", "1", "-o", "json"])).unwrap();
    assert_eq!(json["runs"].as_array().unwrap().len(), 1);

    // The first run created the repos: the text says so without JSON.
    let text = ok(&addr, &["runs", "1"]);
    assert!(text.starts_with("run #1 succeeded (api)"), "{text}");
    assert!(text.contains("requests:"), "{text}");
    assert!(text.contains("STEPS"), "{text}");
    assert!(text.contains("create/ok"), "{text}");
    assert!(!text.contains('{'), "{text}");
    let drift = ok(&addr, &["drift", "--limit", "5"]);
    assert_eq!(drift, "no drift recorded\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repo_whose_project_is_gone_is_pending_removal() {
    let (f, d, addr) = started_fleet(3, "grace_period = \"72h\"").await;
    let repo = f.wanted_project_repos()[0].clone();
    let key = f.dss.handle.project_keys()[0].clone();
    assert!(repo.ends_with(&key.to_lowercase()));
    assert!(f.dss.handle.remove_project(&key));
    let run = d
        .run(&[], Duration::from_millis(100), Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(run.status, "succeeded", "{run:?}");

    let table = ok(&addr, &["repos"]);
    let line = table.lines().find(|l| l.starts_with(&repo)).unwrap();
    assert!(line.contains("pending-removal (archive in 71h"), "{table}");
    assert!(
        line.contains(&format!("project:design/{key} gone since")),
        "{table}"
    );
    assert!(!line.contains("synced"), "{table}");
    let status = ok(&addr, &["status"]);
    assert!(status.contains("  pending-removal: 1\n"), "{status}");
    assert!(status.contains("  synced: 2\n"), "{status}");
    assert!(
        status.contains(&format!("{repo}: pending-removal (archive in 71h")),
        "{status}"
    );
    let detail = ok(&addr, &["repos", &repo]);
    assert!(detail.contains("tombstone:"), "{detail}");
    let json: Value = serde_json::from_str(&ok(&addr, &["repos", &repo, "-o", "json"])).unwrap();
    assert_eq!(json["repo"]["status"], "pending-removal");
    assert_eq!(json["repo"]["removal"]["action"], "archive");

    let metrics = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("fleet_repos_managed{status=\"pending-removal\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fleet_repos_managed{status=\"synced\"} 2"),
        "{metrics}"
    );
    let due = metrics
        .lines()
        .find(|l| l.starts_with("fleet_repo_removal_due_timestamp_seconds{"))
        .unwrap();
    assert!(due.contains(&format!("repo=\"{repo}\"")), "{due}");
    assert!(due.contains("action=\"archive\""), "{due}");
    let at: i64 = due.rsplit(' ').next().unwrap().parse().unwrap();
    let ahead = at - chrono::Utc::now().timestamp();
    assert!((71 * 3600..=72 * 3600).contains(&ahead), "{due}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_now_by_repo_with_a_timeout_and_a_token_hint() {
    let (f, _d, addr) = started_fleet(3, "").await;
    let config = f.config_path.display().to_string();
    let repo = f.wanted_project_repos()[1].clone();
    let bare = repo.rsplit_once('/').unwrap().1.to_string();
    let key = f.dss.handle.project_keys()[1].clone();

    // --repo with the bare name: a run of that repo's project only.
    let text = ok(
        &addr,
        &["reconcile", "--now", "--repo", &bare, "--config", &config],
    );
    assert!(text.contains("succeeded"), "{text}");
    let runs: Value = serde_json::from_str(&ok(&addr, &["runs", "-o", "json"])).unwrap();
    assert_eq!(runs["runs"][0]["project"], key.as_str(), "{runs}");

    // An unknown repo is an error naming it; nothing is queued.
    let o = fleetctl(&["reconcile", "--now", "--repo", "nope", "--config", &config]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("HTTP 400"), "{}", stderr(&o));
    assert!(stderr(&o).contains("\"nope\""), "{}", stderr(&o));
    assert_eq!(stderr(&o).matches("error:").count(), 1, "{}", stderr(&o));
    let after: Value = serde_json::from_str(&ok(&addr, &["runs", "-o", "json"])).unwrap();
    assert_eq!(after["runs"].as_array().unwrap().len(), 2);

    // --no-wait: the run id on stdout, for a script.
    let text = ok(
        &addr,
        &["reconcile", "--now", "--no-wait", "--config", &config],
    );
    assert!(text.starts_with("run #"), "{text}");

    // --timeout: a slow GitHub; fleetctl stops waiting, exit 3, the run goes on.
    f.gh.handle.update_settings(|s| s.latency_ms = 400);
    let o = fleetctl(&["reconcile", "--now", "--timeout", "1s", "--config", &config]);
    assert_eq!(o.status.code(), Some(3), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("after --timeout 1s"), "{}", stderr(&o));
    f.gh.handle.update_settings(|s| s.latency_ms = 0);

    // A token fleetd does not know: said so, not "give one".
    let o = fleetctl(&["reconcile", "--now", "--addr", &addr, "--token", "wrong"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("refused the API token given"),
        "{}",
        stderr(&o)
    );
    assert!(
        !stderr(&o).contains("wrong"),
        "the token echoed: {}",
        stderr(&o)
    );

    // events and drift of a repo fleetsync does not know: an error, as `repos NAME` is.
    for what in ["events", "drift"] {
        let o = fleetctl(&[what, "--repo", "nosuch", "--addr", &addr]);
        assert_eq!(o.status.code(), Some(1), "{what}: {}", stdout(&o));
        assert!(stderr(&o).contains("not managed"), "{what}: {}", stderr(&o));
    }

    // No token: the 401 says how to give one.
    let o = fleetctl(&["reconcile", "--now", "--addr", &addr]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("HTTP 401"), "{err}");
    for way in ["--token", "FLEETSYNC_TOKEN", "--config"] {
        assert!(err.contains(way), "{way} not in: {err}");
    }
}

/// The simulator's requests since the last reset that were not reads.
fn writes(f: &Fleet) -> Vec<String> {
    f.gh.handle
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_and_resume_last_across_a_restart_and_stop_every_write() {
    let (f, d, addr) = started_fleet(3, "").await;
    let config = f.config_path.display().to_string();
    let repos = f.wanted_project_repos();
    let (a, b) = (repos[0].clone(), repos[1].clone());
    let var = "DATAIKU_PROJECT_KEY";
    let good_a = f.gh.handle.repo(&a).unwrap().variables[var].clone();

    // The whole fleet: shown in status and the metric; a run is refused, nothing written.
    let text = ok(&addr, &["suspend", "--config", &config]);
    assert!(text.starts_with("suspended the fleet"), "{text}");
    let status = ok(&addr, &["status"]);
    assert!(status.contains("SUSPENDED since 20"), "{status}");
    assert!(
        status.contains("skipped while the fleet is suspended"),
        "{status}"
    );
    f.gh.handle.reset_counters();
    assert!(f.gh.handle.set_variable(&a, var, "HACKED"));
    let o = fleetctl(&["reconcile", "--now", "--config", &config]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("HTTP 409"), "{}", stderr(&o));
    assert!(stderr(&o).contains("suspended"), "{}", stderr(&o));

    // It lasts across a restart of fleetd.
    d.kill();
    let d = daemon(&f, "fleetd-2").await;
    let status: Value = serde_json::from_str(&ok(&addr, &["status", "-o", "json"])).unwrap();
    assert!(status["suspended"]["fleet"].is_string(), "{status}");
    let metrics = d.get("/metrics").await.unwrap();
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains("fleet_suspended{repo=\"\"} 1"),
        "{metrics}"
    );
    let o = fleetctl(&["reconcile", "--now", "--config", &config]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(writes(&f), Vec::<String>::new());
    assert_eq!(f.gh.handle.repo(&a).unwrap().variables[var], "HACKED");

    // One repo only: the others are reconciled, that one is not even read.
    let text = ok(&addr, &["suspend", "--repo", &a, "--config", &config]);
    assert!(
        text.contains(&format!("until `fleetctl resume --repo {a}`")),
        "{text}"
    );
    let text = ok(&addr, &["resume", "--config", &config]);
    assert!(text.starts_with("resumed the fleet"), "{text}");
    assert!(
        text.contains(&format!("suspended repos (no GitHub writes): {a}")),
        "{text}"
    );
    assert!(f.gh.handle.set_variable(&b, var, "HACKED"));
    f.gh.handle.reset_counters();
    let out = ok(&addr, &["reconcile", "--now", "--config", &config]);
    assert!(out.contains("succeeded"), "{out}");
    assert_ne!(f.gh.handle.repo(&b).unwrap().variables[var], "HACKED");
    assert_eq!(f.gh.handle.repo(&a).unwrap().variables[var], "HACKED");
    let touched_a: Vec<String> =
        f.gh.handle
            .requests()
            .into_iter()
            .filter(|r| {
                r.path.contains(&format!("/repos/{a}/")) || r.path.ends_with(&format!("/repos/{a}"))
            })
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
    assert_eq!(touched_a, Vec::<String>::new());
    // `repos` shows it suspended; a run asked for it alone is refused, saying why.
    let table = ok(&addr, &["repos"]);
    let row = table.lines().find(|l| l.starts_with(&a)).unwrap();
    assert!(
        row.contains("suspended") && row.contains("fleetctl resume --repo"),
        "{table}"
    );
    let o = fleetctl(&["reconcile", "--now", "--repo", &a, "--config", &config]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("is suspended since"), "{}", stderr(&o));
    let metrics = d.get("/metrics").await.unwrap();
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains("fleet_suspended{repo=\"\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("fleet_suspended{{repo=\"{a}\"}} 1")),
        "{metrics}"
    );

    // Resumed (by its bare name): the next run repairs it.
    let bare = a.rsplit_once('/').unwrap().1;
    ok(&addr, &["resume", "--repo", bare, "--config", &config]);
    ok(&addr, &["reconcile", "--now", "--config", &config]);
    assert_eq!(f.gh.handle.repo(&a).unwrap().variables[var], good_a);
    let status: Value = serde_json::from_str(&ok(&addr, &["status", "-o", "json"])).unwrap();
    assert_eq!(
        status["suspended"],
        serde_json::json!({"fleet": null, "repos": {}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_list_what_fleetd_did_and_saw_in_time_order() {
    let keys_repo = |k: &str| format!("acme/dss-{}", k.to_lowercase());
    let mut f = Fleet::start(6, 0, roomy_github(), "grace_period = \"0s\"").await;
    let wanted = f.wanted_project_repos();
    let keys: Vec<String> = f
        .dss
        .handle
        .project_keys()
        .into_iter()
        .filter(|k| wanted.contains(&keys_repo(k)))
        .collect();
    let (a, b, c) = (
        keys_repo(&keys[0]),
        keys_repo(&keys[1]),
        keys_repo(&keys[2]),
    );
    f.listen_on(free_port());
    let d = daemon(&f, "fleetd").await;
    let addr = format!("127.0.0.1:{}", f.listen_port);
    assert_eq!(run(&d).await.status, "succeeded");
    // b is protected from now on (a restart on the new config).
    d.kill();
    f.github_extra = format!("grace_period = \"0s\"\nprotected_repos = [\"{b}\"]");
    f.write_config();
    let d = daemon(&f, "fleetd-2").await;
    // A hand edit (repaired), a protected repo whose project is gone (blocked), a project
    // gone with no grace period (archived), then GitHub down (errors).
    assert!(f
        .gh
        .handle
        .set_variable(&a, "DATAIKU_PROJECT_KEY", "HACKED"));
    assert!(f.dss.handle.remove_project(&keys[1]));
    assert!(f.dss.handle.remove_project(&keys[2]));
    run(&d).await;
    f.gh.handle.update_settings(|s| s.outage = true);
    run(&d).await;
    f.gh.handle.update_settings(|s| s.outage = false);

    let v: Value = serde_json::from_str(&ok(&addr, &["events", "-o", "json"])).unwrap();
    let events = v["events"].as_array().unwrap();
    let at: Vec<&str> = events.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = at.clone();
    sorted.sort();
    assert_eq!(at, sorted, "not time-ordered");
    let has = |kind: &str, repo: &str, reason: &str| {
        events.iter().any(|e| {
            e["kind"] == kind
                && e["repo"].as_str() == Some(repo)
                && e["reason"].as_str().is_some_and(|r| r.contains(reason))
        })
    };
    assert!(has("create", &a, ""), "{v}");
    // A drift row names the resource, as a create or repair row does.
    assert!(has("drift", &a, &format!("variable:{a}/")), "{v}");
    assert!(has("repair", &a, ""), "{v}");
    assert!(has("guard-blocked", &b, "protected_repos"), "{v}");
    assert!(has("source-gone", &c, "no longer listed"), "{v}");
    assert!(has("archive", &c, ""), "{v}");
    assert!(has("error", &a, "observe"), "{v}");
    assert!(events.iter().any(|e| e["kind"] == "run"), "{v}");

    // The text: one aligned line per event; --repo (bare name) and --limit.
    let text = ok(&addr, &["events"]);
    assert!(text.starts_with("TIME "), "{text}");
    assert_eq!(text.lines().count(), events.len() + 1);
    let bare = a.rsplit_once('/').unwrap().1;
    let mine: Value =
        serde_json::from_str(&ok(&addr, &["events", "--repo", bare, "-o", "json"])).unwrap();
    let mine = mine["events"].as_array().unwrap();
    assert!(!mine.is_empty());
    assert!(mine.iter().all(|e| e["repo"] == a.as_str()), "{mine:?}");
    let last3: Value =
        serde_json::from_str(&ok(&addr, &["events", "--limit", "3", "-o", "json"])).unwrap();
    assert_eq!(
        last3["events"].as_array().unwrap().as_slice(),
        &events[events.len() - 3..]
    );
}

async fn run(d: &Fleetd) -> fleetsync_harness::fleetd::DaemonRun {
    d.run(&[], Duration::from_millis(100), Duration::from_secs(120))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_and_token_from_the_environment_under_one_prefix_old_names_warn() {
    let (_f, _d, addr) = started_fleet(2, "").await;
    let run = ["reconcile", "--now"];

    let o = fleetctl_with_env(
        &run,
        &[("FLEETSYNC_ADDR", &addr), ("FLEETSYNC_TOKEN", GH_TOKEN)],
    );
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert!(!stderr(&o).contains("deprecated"), "{}", stderr(&o));

    // The old names still work, each with a warning naming its new one.
    let o = fleetctl_with_env(&run, &[("FLEETD_ADDR", &addr), ("FLEETD_TOKEN", GH_TOKEN)]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    for (old, new) in [
        ("FLEETD_ADDR", "FLEETSYNC_ADDR"),
        ("FLEETD_TOKEN", "FLEETSYNC_TOKEN"),
    ] {
        assert!(
            err.lines()
                .any(|l| l.starts_with("warning: ") && l.contains(old) && l.contains(new)),
            "no deprecation warning for {old}: {err}"
        );
    }
    assert!(!err.contains(GH_TOKEN), "the token in a warning: {err}");

    // The new name wins over the old; a flag over both (no warning then).
    let o = fleetctl_with_env(
        &run,
        &[
            ("FLEETSYNC_ADDR", &addr),
            ("FLEETSYNC_TOKEN", GH_TOKEN),
            ("FLEETD_TOKEN", "wrong"),
        ],
    );
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let o = fleetctl_with_env(
        &["reconcile", "--now", "--token", GH_TOKEN],
        &[("FLEETSYNC_ADDR", &addr), ("FLEETD_TOKEN", "wrong")],
    );
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert!(!stderr(&o).contains("deprecated"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_says_what_each_dss_node_listed_managed_and_left_out() {
    let (f, _d, addr) = started_fleet_with_plugins(12, 2, "").await;
    let listed = f.dss.handle.project_keys().len();
    let managed = f.wanted_project_repos().len();
    assert!(
        managed < listed,
        "the fleet has no project left out by a filter"
    );

    let text = ok(&addr, &["status"]);
    let node = format!(
        "ok, {listed} projects listed ({managed} managed, {} left out by the filters), 2 dev plugins",
        listed - managed
    );
    assert!(text.contains(&node), "{text}");
    assert!(
        text.starts_with(&format!("discovered: {managed} projects, 2 dev plugins\n")),
        "{text}"
    );
    let doc: Value = serde_json::from_str(&ok(&addr, &["status", "-o", "json"])).unwrap();
    let n = doc["dss_nodes"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert_eq!(n["listed"], listed, "{doc}");
    assert_eq!(n["projects"], managed, "{doc}");
    assert_eq!(n["plugins"], 2, "{doc}");
    assert_eq!(doc["projects"], managed, "{doc}");
    assert_eq!(doc["plugins"], 2, "{doc}");
    // Which build answers: the same as fleetd --version.
    assert_eq!(doc["fleetd"]["version"], env!("CARGO_PKG_VERSION"), "{doc}");
    assert!(text.contains(&format!(
        "fleetd: {} (commit {}, built {})",
        env!("CARGO_PKG_VERSION"),
        doc["fleetd"]["commit"].as_str().unwrap(),
        doc["fleetd"]["built"].as_str().unwrap()
    )));
}

/// The commit `git` says the package is at, or `unknown` outside a checkout.
fn expected_commit() -> String {
    Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

#[test]
fn version_names_the_commit_and_the_build_date() {
    let commit = expected_commit();
    for (name, bin) in [
        ("fleetctl", env!("CARGO_BIN_EXE_fleetctl")),
        ("fleetd", env!("CARGO_BIN_EXE_fleetd")),
    ] {
        let o = Command::new(bin).arg("--version").output().unwrap();
        assert!(o.status.success());
        let line = stdout(&o);
        let prefix = format!(
            "{name} {} (commit {commit}, built ",
            env!("CARGO_PKG_VERSION")
        );
        assert!(
            line.starts_with(&prefix),
            "{line:?} does not start {prefix:?}"
        );
        let date = line[prefix.len()..].trim_end().trim_end_matches(')');
        assert!(
            chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok(),
            "build date {date:?} in {line:?}"
        );
    }
}

#[test]
fn completion_scripts_for_bash_zsh_and_fish_and_bash_loads_it() {
    let dir = tempfile::tempdir().unwrap();
    let bash = fleetctl(&["completion", "bash"]);
    assert!(bash.status.success(), "{}", stderr(&bash));
    let script = dir.path().join("fleetctl.bash");
    std::fs::write(&script, &bash.stdout).unwrap();
    // Loaded into bash, it registers itself and completes subcommands and flags.
    let probe = format!(
        r#"source '{}' || exit 10
complete -p fleetctl || exit 11
COMP_WORDS=(fleetctl rec); COMP_CWORD=1; COMP_LINE='fleetctl rec'; COMP_POINT=12
_fleetctl fleetctl rec fleetctl
echo "subcommands: ${{COMPREPLY[*]}}"
COMP_WORDS=(fleetctl reconcile --ti); COMP_CWORD=2
_fleetctl fleetctl --ti reconcile
echo "flags: ${{COMPREPLY[*]}}""#,
        script.display()
    );
    let o = Command::new("bash")
        .args(["--norc", "-c", &probe])
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    assert!(out.contains("-F _fleetctl fleetctl"), "{out}");
    assert!(out.contains("subcommands: reconcile"), "{out}");
    assert!(out.contains("flags: --timeout"), "{out}");

    for (shell, marker) in [
        ("zsh", "#compdef fleetctl"),
        ("fish", "complete -c fleetctl"),
    ] {
        let o = fleetctl(&["completion", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let text = stdout(&o);
        assert!(text.contains(marker), "{shell}: {text}");
        for sub in ["reconcile", "suspend", "adopt", "completion"] {
            assert!(text.contains(sub), "{shell} script lacks {sub}");
        }
    }
    // A reader that goes away (`| head`) ends fleetctl quietly: exit 141, no panic.
    let piped = format!(
        "{{ sleep 0.5; '{}' completion bash; echo \"rc=$?\" >&2; }} | true",
        env!("CARGO_BIN_EXE_fleetctl")
    );
    let o = Command::new("bash")
        .args(["--norc", "-c", &piped])
        .output()
        .unwrap();
    assert_eq!(stderr(&o).trim(), "rc=141", "{}", stderr(&o));

    let o = fleetctl(&["completion", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("tcsh"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_remote_takes_diff_and_the_exit_codes_of_a_local_plan() {
    let (f, _d, _addr) = started_fleet(1, "").await;
    let config = f.config_path.display().to_string();
    let plan = |extra: &[&str]| {
        let mut args = vec!["plan", "--remote", "--config", &config];
        args.extend(extra);
        fleetctl(&args)
    };
    // Converged: exit 0 with --exit-code, as terraform's -detailed-exitcode.
    let o = plan(&["--exit-code"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));

    // A file rewritten by hand: a diff longer than the cut.
    let repo = f.wanted_project_repos().remove(0);
    let junk: String = (0..60)
        .map(|i| format!("# hand-written line {i}\n"))
        .collect();
    assert!(f
        .gh
        .handle
        .edit_file(&repo, None, ".github/workflows/pr.yml", junk.as_bytes()));
    let o = plan(&["--exit-code"]);
    assert_eq!(o.status.code(), Some(2), "changes pending: {}", stderr(&o));
    let cut = stdout(&o);
    assert!(cut.contains("diff cut at"), "{cut}");
    assert!(!cut.contains("# hand-written line 59"), "{cut}");
    let whole = stdout(&plan(&["--diff"]));
    assert!(!whole.contains("diff cut at"), "{whole}");
    assert!(whole.contains("-# hand-written line 59"), "{whole}");
    // The document is the same whichever text was asked for.
    let doc: Value = serde_json::from_str(&stdout(&plan(&["--diff", "-o", "json"]))).unwrap();
    assert!(doc.get("text_whole_diffs").is_none(), "{doc}");
    assert_eq!(doc["plan"]["changes"], true, "{doc}");
}

#[test]
fn errors_are_said_once_with_one_prefix_and_as_json_when_asked() {
    let nope = "/nonexistent/fleet.toml";
    for args in [
        vec!["adopt", "dss-x", "--config", nope],
        vec!["secrets", "rotate", "--config", nope],
        vec!["plan", "--config", nope],
        vec!["reconcile", "--local", "--config", nope],
        vec!["status", "--config", nope],
    ] {
        let o = fleetctl(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(
            err.trim_end().lines().collect::<Vec<_>>(),
            vec![format!(
                "error: {nope}: cannot read config: No such file or directory (os error 2)"
            )],
            "{args:?}"
        );
        // As a JSON document on stderr, stdout empty, when JSON is asked for.
        let mut json_args = args.clone();
        json_args.extend(["-o", "json"]);
        let o = fleetctl(&json_args);
        assert!(stdout(&o).is_empty(), "{json_args:?}: {}", stdout(&o));
        let doc: Value = serde_json::from_str(&stderr(&o))
            .unwrap_or_else(|e| panic!("{json_args:?}: {e}: {}", stderr(&o)));
        let message = doc["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(nope), "{json_args:?}: {message}");
        assert_eq!(doc["error"]["exit_code"], 2);
    }

    // A limit of 0 lists nothing: refused as a bad value.
    for what in ["runs", "drift", "events"] {
        let o = fleetctl(&[what, "--limit", "0"]);
        assert_eq!(o.status.code(), Some(2), "{what}: {}", stderr(&o));
    }

    // fleetd not running: the cause is said; a remote plan's codes are a local plan's.
    let o = fleetctl(&["plan", "--remote", "--addr", "127.0.0.1:1"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("onnection refused"), "{}", stderr(&o));
    let o = fleetctl(&["plan", "--remote", "--exit-code", "--addr", "127.0.0.1:1"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}
