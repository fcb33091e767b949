//! The GitOps loop end to end against the simulator, with the default config plus
//! `[dss.git] link_remote`: the repo is made from the DSS project's history (DSS pushes
//! first, fleetsync's files on top, `prod` cut from that, DSS pulls back), so branches DSS
//! pushes later share history with `prod` and can be proposed to it by pull request.

mod common;

use common::{roomy_github, Fleet, DSS_KEY, GH_TOKEN};
use serde_json::{json, Value};

/// The default config plus `link_remote`, with `tests.py` from a template the test can edit.
async fn linked_fleet(projects: usize) -> Fleet {
    let mut f = Fleet::start(projects, 0, roomy_github(), "").await;
    f.node_extra = "[dss.git]\nlink_remote = true".into();
    let t = f.dir.join("tests.py.tmpl");
    std::fs::copy(common::repo_root().join("config/templates/tests.py"), &t).unwrap();
    f.tail = format!(
        "[repo.files.\"tests.py\"]\ntemplate = \"{}\"\n",
        t.display()
    );
    f.write_config();
    f
}

async fn github(
    f: &Fleet,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", f.gh.url))
        .bearer_auth(GH_TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn dss(f: &Fleet, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}/public/api{path}", f.dss.url))
        .basic_auth(DSS_KEY, Some(""));
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap()
}

async fn dss_action(f: &Fleet, key: &str, action: &str) -> (bool, String) {
    let v = dss(
        f,
        reqwest::Method::POST,
        &format!("/projects/{key}/git/actions/{action}"),
        None,
    )
    .await;
    (
        v["success"].as_bool().unwrap_or(false),
        v["output"].as_str().unwrap_or("").to_string(),
    )
}

fn first_key(f: &Fleet) -> (String, String) {
    let rec = f
        .store()
        .list_repos()
        .unwrap()
        .into_iter()
        .next()
        .expect("a managed repo");
    (rec.source_key, rec.name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dss_history_first_then_files_then_prod_then_pull_requests_into_prod() {
    let f = linked_fleet(3).await;
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{} {:?}", r.summary, r.error);
    let (key, repo) = first_key(&f);
    let project_files = f.dss.handle.project_files(&key, None).unwrap();

    // (1) prod shares history with the project's branch and holds everything.
    let (status, cmp) = github(
        &f,
        reqwest::Method::GET,
        &format!("/repos/{repo}/compare/prod...master"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{cmp}");
    let prod = f.gh.handle.branch_files(&repo, "prod").unwrap();
    for path in project_files.keys() {
        assert!(prod.contains_key(path), "prod lacks the project's {path}");
    }
    for path in [
        ".github/workflows/pr.yml",
        ".github/workflows/release.yml",
        "tests.py",
    ] {
        assert!(prod.contains_key(path), "prod lacks {path}");
    }
    let view = f.gh.handle.repo(&repo).unwrap();
    assert_eq!(view.default_branch, "master");
    // The files went on top in one commit, whose parent is the project's own commit.
    let master = f.gh.handle.branch_head(&repo, "master").unwrap();
    let parents = f.gh.handle.commit_parents(&repo, &master).unwrap();
    assert_eq!(parents.len(), 1);
    assert!(f.gh.handle.is_ancestor(&repo, &parents[0], &master));
    // DSS pulled them: the project has the workflows too.
    let after_pull = f.dss.handle.project_files(&key, None).unwrap();
    assert!(after_pull.contains_key(".github/workflows/pr.yml"));

    // (2) A DSS user branches, commits, pushes: the branch is ahead of prod and a pull
    // request into prod can be opened.
    let v = dss(
        &f,
        reqwest::Method::POST,
        &format!("/projects/{key}/git/branches/"),
        Some(json!({"name": "feature-1"})),
    )
    .await;
    assert_eq!(v["success"], true, "{v}");
    f.dss
        .handle
        .commit_project(
            &key,
            Some("bob"),
            None,
            &[("recipes/f.py", Some(b"f = 1\n"))],
            "f",
        )
        .unwrap();
    let (ok, out) = dss_action(&f, &key, "push").await;
    assert!(ok, "{out}");
    let (status, cmp) = github(
        &f,
        reqwest::Method::GET,
        &format!("/repos/{repo}/compare/prod...feature-1"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{cmp}");
    assert_eq!(cmp["status"], "ahead", "{cmp}");
    let (status, pr) = github(
        &f,
        reqwest::Method::POST,
        &format!("/repos/{repo}/pulls"),
        Some(json!({"title": "f", "head": "feature-1", "base": "prod"})),
    )
    .await;
    assert_eq!(status, 201, "{pr}");

    // (3) A DSS commit on master pushed again fast-forwards (the pull worked).
    f.dss
        .handle
        .commit_project(
            &key,
            Some("bob"),
            Some("master"),
            &[("recipes/g.py", Some(b"g = 1\n"))],
            "g",
        )
        .unwrap();
    let v = dss(
        &f,
        reqwest::Method::POST,
        &format!("/projects/{key}/git/actions/push?branchName=master"),
        None,
    )
    .await;
    assert_eq!(v["success"], true, "{v}");

    // The next run has nothing to do.
    let r = f.run().await;
    assert_eq!(
        r.plan.step_count(),
        0,
        "{}",
        fleetsync::plan::render_text(&r.plan)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_dss_push_leaves_the_repo_empty_and_the_next_run_retries() {
    let f = linked_fleet(2).await;
    f.dss
        .handle
        .set_push_failure(Some("remote: Permission to acme denied to deploy-key."));
    let r = f.run().await;
    assert_ne!(r.status, "succeeded", "{}", r.summary);
    let (_, repo) = first_key(&f);
    assert!(
        f.gh.handle.branch_head(&repo, "master").is_none(),
        "nothing committed over a failed push"
    );
    let failed: Vec<String> = r
        .results
        .iter()
        .flat_map(|x| x.results.iter())
        .filter(|s| s.outcome.as_str() == "failed")
        .map(|s| format!("{:?}", s.outcome))
        .collect();
    assert!(
        failed
            .iter()
            .all(|m| m.contains("Permission to acme denied")),
        "{failed:?}"
    );
    f.dss.handle.set_push_failure(None);
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{} {:?}", r.summary, r.error);
    let (status, _) = github(
        &f,
        reqwest::Method::GET,
        &format!("/repos/{repo}/compare/prod...master"),
        None,
    )
    .await;
    assert_eq!(status, 200);
}

/// Control: the order fleetsync used before (files first on an initialised repo, prod from
/// it, DSS pushes after) gives branches with no history in common with prod, and the
/// simulator says so as GitHub does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_the_old_order_has_no_common_ancestor() {
    let mut f = Fleet::start(2, 0, roomy_github(), "").await;
    f.write_config();
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{}", r.summary);
    let (key, repo) = first_key(&f);
    let url = {
        let host = f.gh.url.trim_start_matches("http://");
        format!("git@{host}:{repo}.git")
    };
    dss(
        &f,
        reqwest::Method::POST,
        &format!("/projects/{key}/git/remotes/origin"),
        Some(json!({"url": url})),
    )
    .await;
    let (ok, out) = dss_action(&f, &key, "push").await;
    assert!(ok, "{out}");
    let (status, cmp) = github(
        &f,
        reqwest::Method::GET,
        &format!("/repos/{repo}/compare/prod...master"),
        None,
    )
    .await;
    assert_eq!(status, 404, "{cmp}");
    assert_eq!(
        cmp["message"],
        "No common ancestor between prod and master."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_change_commits_on_the_default_branch_and_proposes_one_pull_request_to_prod() {
    let f = linked_fleet(2).await;
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{} {:?}", r.summary, r.error);
    let (key, repo) = first_key(&f);
    let before = f.gh.handle.branch_head(&repo, "master").unwrap();
    let prod_before = f.gh.handle.branch_head(&repo, "prod").unwrap();
    let text = "# tests, version 2\nprint('ok')\n";
    std::fs::write(f.dir.join("tests.py.tmpl"), text).unwrap();

    let plan = f.plan().await;
    let rendered = fleetsync::plan::render_text(&plan.plan);
    assert!(
        rendered.contains(&format!(
            "~ pull-request:{repo}/prod  (managed files differ: tests.py)"
        )),
        "{rendered}"
    );
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{} {:?}", r.summary, r.error);
    // The default branch: exactly one commit on top of the old head.
    let after = f.gh.handle.branch_head(&repo, "master").unwrap();
    assert_eq!(
        f.gh.handle.commit_parents(&repo, &after).unwrap(),
        vec![before]
    );
    assert_eq!(
        f.gh.handle.branch_files(&repo, "master").unwrap()["tests.py"],
        text.as_bytes()
    );
    // prod is untouched (protected: reviews required) and has exactly one pull request.
    assert_eq!(f.gh.handle.branch_head(&repo, "prod").unwrap(), prod_before);
    let pulls = f.gh.handle.pulls(&repo);
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    assert!(format!("{:?}", pulls[0]).contains("tests.py"), "{pulls:?}");
    // DSS pulled the default branch's new commit.
    assert_eq!(
        f.dss.handle.project_files(&key, None).unwrap()["tests.py"],
        text.as_bytes()
    );

    // The next run opens none.
    let r = f.run().await;
    assert_eq!(
        r.plan.step_count(),
        0,
        "{}",
        fleetsync::plan::render_text(&r.plan)
    );
    assert_eq!(f.gh.handle.pulls(&repo).len(), 1);

    // A reviewer merges it: converged, prod has the file.
    let number = pull_number(&pulls[0]);
    f.gh.handle.merge_pull(&repo, number).unwrap();
    let r = f.run().await;
    assert_eq!(
        r.plan.step_count(),
        0,
        "{}",
        fleetsync::plan::render_text(&r.plan)
    );
    assert!(r.plan.repos.iter().all(|p| p.drift.is_empty()));
    assert_eq!(
        f.gh.handle.branch_files(&repo, "prod").unwrap()["tests.py"],
        text.as_bytes()
    );
    assert_eq!(f.gh.handle.pulls(&repo).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_request_closed_without_merging_is_reported_not_reopened() {
    let f = linked_fleet(2).await;
    assert_eq!(f.run().await.status, "succeeded");
    let (_, repo) = first_key(&f);
    std::fs::write(f.dir.join("tests.py.tmpl"), "# v2\n").unwrap();
    assert_eq!(f.run().await.status, "succeeded");
    let pulls = f.gh.handle.pulls(&repo);
    assert_eq!(pulls.len(), 1);
    let number = pull_number(&pulls[0]);
    let (status, _) = github(
        &f,
        reqwest::Method::PATCH,
        &format!("/repos/{repo}/pulls/{number}"),
        Some(json!({"state": "closed"})),
    )
    .await;
    assert_eq!(status, 200);
    let r = f.run().await;
    assert_eq!(
        r.plan.step_count(),
        0,
        "{}",
        fleetsync::plan::render_text(&r.plan)
    );
    let drift: Vec<_> = r.plan.repos.iter().flat_map(|p| p.drift.iter()).collect();
    assert!(
        drift
            .iter()
            .any(|d| d.what.contains("closed without merging")),
        "{drift:?}"
    );
    assert_eq!(f.gh.handle.pulls(&repo).len(), 1, "not reopened");
    // A further change proposes again.
    std::fs::write(f.dir.join("tests.py.tmpl"), "# v3\n").unwrap();
    assert_eq!(f.run().await.status, "succeeded");
    assert_eq!(f.gh.handle.pulls(&repo).len(), 2);
}

fn pull_number(p: &fleetsync_sim::github::PullView) -> u64 {
    p.number
}

/// The cost of a new repo, made from the project's history (link_remote) or initialised by
/// fleetsync: GitHub requests and writes per new repo, printed, with the bound this order keeps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_per_new_repo_with_and_without_the_project_history() {
    let mut per_repo = Vec::new();
    for linked in [false, true] {
        let mut f = Fleet::start(12, 0, roomy_github(), "").await;
        if linked {
            f.node_extra = "[dss.git]\nlink_remote = true".into();
        }
        f.write_config();
        f.gh.handle.reset_counters();
        let r = f.run().await;
        assert_eq!(r.status, "succeeded", "{}", r.summary);
        let c = f.gh.handle.counters();
        let repos = f.gh.handle.repo_names().len() as f64;
        let (req, writes) = (c.requests as f64 / repos, c.writes() as f64 / repos);
        eprintln!(
            "cold start, link_remote = {linked}: {req:.2} GitHub requests and {writes:.2} writes per new repo ({repos} repos)"
        );
        per_repo.push(req);
    }
    // The history-first order replaces two contents PUTs by one commit (branch head, tree,
    // commit, ref update): at most two requests more per repo.
    assert!(per_repo[1] <= per_repo[0] + 2.0, "{per_repo:?}");
}
