//! The simulated DSS node's project git over real HTTP (plain reqwest): each project's own
//! history and branches, the official client's git endpoints, and pushes/fetches that really
//! reach the linked simulated GitHub — created, fast-forwarded, or refused with git's own
//! output — plus pull with rebase, DSS-shaped 405s, and the GitOps order against the old one.

use fleetsync_sim::dss::{self, DssSimSettings, RunningDssSim};
use fleetsync_sim::github::{self, GithubSimSettings, RunningGithubSim, SimToken};
use serde_json::{json, Value};

const KEY: &str = "dss-git-key";
const TOKEN: &str = "ghp_dssGitToken";

struct World {
    dss: RunningDssSim,
    gh: RunningGithubSim,
    http: reqwest::Client,
}

async fn world(projects: usize) -> World {
    let dss = dss::start(
        DssSimSettings {
            projects,
            ..Default::default()
        },
        vec![KEY.to_string()],
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let gh = github::start(
        GithubSimSettings::default(),
        vec![SimToken::pat(TOKEN)],
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    dss.handle.link_github(&gh.handle);
    World {
        dss,
        gh,
        http: reqwest::Client::new(),
    }
}

impl World {
    fn key(&self) -> String {
        self.dss.handle.project_keys()[0].clone()
    }

    async fn dss(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/public/api{path}", self.dss.url))
            .basic_auth(KEY, Some(""));
        if let Some(b) = body {
            // As the official client sends it: a JSON string body, no Content-Type.
            req = req.body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        let (status, v) = self.dss(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "{path}: {v}");
        v
    }

    /// A git action: `{success, logs, output}`.
    async fn action(&self, key: &str, action: &str) -> (bool, String) {
        let (status, v) = self
            .dss(
                reqwest::Method::POST,
                &format!("/projects/{key}/git/actions/{action}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{v}");
        assert!(v["logs"].is_array());
        (
            v["success"].as_bool().unwrap(),
            v["output"].as_str().unwrap().to_string(),
        )
    }

    async fn set_remote(&self, key: &str, url: &str) {
        let (status, _) = self
            .dss(
                reqwest::Method::POST,
                &format!("/projects/{key}/git/remotes/origin"),
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(status, 200);
    }

    /// The ssh-style URL fleetsync writes for a GitHub at a loopback port.
    fn remote_url(&self, repo: &str) -> String {
        let host = self.gh.url.trim_start_matches("http://");
        format!("git@{host}:acme/{repo}.git")
    }

    fn commit(&self, key: &str, path: &str, text: &str) -> String {
        self.dss
            .handle
            .commit_project(
                key,
                Some("bob"),
                None,
                &[(path, Some(text.as_bytes()))],
                &format!("Edit {path}"),
            )
            .unwrap()
    }

    async fn gh(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let resp = self
            .http
            .request(method, format!("{}{path}", self.gh.url))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn gh_put_file(&self, repo: &str, branch: &str, path: &str, text: &str) -> u16 {
        use base64::Engine;
        let content = base64::engine::general_purpose::STANDARD.encode(text);
        self.gh(
            reqwest::Method::PUT,
            &format!("/repos/acme/{repo}/contents/{path}"),
            json!({"message": format!("add {path}"), "content": content, "branch": branch}),
        )
        .await
        .0
    }
}

#[tokio::test]
async fn a_project_has_its_own_history_branches_and_log() {
    let w = world(3).await;
    let key = w.key();
    assert_eq!(
        w.get(&format!("/projects/{key}/git/current-branch")).await,
        json!({"name": "master"})
    );
    assert_eq!(
        w.get(&format!("/projects/{key}/git/branches?remote=False"))
            .await,
        json!(["master"])
    );
    let log = w
        .get(&format!("/projects/{key}/git/actions/log?count=1000"))
        .await;
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "a new project has its root commit");
    for field in ["commit", "author", "message", "timestamp"] {
        assert!(entries[0][field].is_string(), "{field}: {log}");
    }
    assert!(log.get("nextCommit").is_none());

    // A DSS user edits the project twice (handle, then admin API).
    let c1 = w.commit(&key, "recipes/a.py", "a = 1\n");
    let admin = w
        .http
        .post(format!("{}/_sim/dss/projects/{key}/commits", w.dss.url))
        .json(&json!({"files": {"recipes/b.py": "b = 1\n"}, "message": "Add b", "author": "carla"}))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status().as_u16(), 201);
    let c2 = admin.json::<Value>().await.unwrap()["commit"]
        .as_str()
        .unwrap()
        .to_string();
    let page = w
        .get(&format!("/projects/{key}/git/actions/log?count=2"))
        .await;
    assert_eq!(page["entries"][0]["commit"], c2.as_str());
    assert_eq!(page["entries"][0]["author"], "carla");
    assert_eq!(page["entries"][0]["message"], "Add b");
    assert_eq!(page["entries"][1]["commit"], c1.as_str());
    let next = page["nextCommit"].as_str().unwrap();
    let rest = w
        .get(&format!(
            "/projects/{key}/git/actions/log?count=2&startCommit={next}"
        ))
        .await;
    assert_eq!(rest["entries"].as_array().unwrap().len(), 1);
    assert!(rest.get("nextCommit").is_none());
    let only_b = w
        .get(&format!(
            "/projects/{key}/git/actions/log?path=recipes/b.py"
        ))
        .await;
    assert_eq!(only_b["entries"].as_array().unwrap().len(), 1);

    // A DSS user creates a branch: it is created at HEAD and becomes current.
    let (status, v) = w
        .dss(
            reqwest::Method::POST,
            &format!("/projects/{key}/git/branches/"),
            Some(
                json!({"name": "feature-1", "commit": null, "duplicateProject": false,
                        "targetProjectKey": null, "targetProjectFolderId": null}),
            ),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["success"], true, "{v}");
    assert_eq!(
        w.get(&format!("/projects/{key}/git/current-branch")).await["name"],
        "feature-1"
    );
    assert_eq!(
        w.dss.handle.branch_head(&key, "feature-1").as_deref(),
        Some(c2.as_str())
    );
    let status = w.get(&format!("/projects/{key}/git/status")).await;
    assert_eq!(status["currentBranch"], "feature-1");
    for (name, why) in [
        ("feature-1", "already exists"),
        ("bad name", "not a valid branch name"),
    ] {
        let (_, v) = w
            .dss(
                reqwest::Method::POST,
                &format!("/projects/{key}/git/branches/"),
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(v["success"], false);
        assert!(v["output"].as_str().unwrap().contains(why), "{v}");
    }
    // From a given commit.
    let (_, v) = w
        .dss(
            reqwest::Method::POST,
            &format!("/projects/{key}/git/branches/"),
            Some(json!({"name": "from-c1", "commit": c1})),
        )
        .await;
    assert_eq!(v["success"], true);
    assert_eq!(w.dss.handle.branch_head(&key, "from-c1"), Some(c1));
}

#[tokio::test]
async fn a_branch_can_come_as_a_duplicated_project() {
    let w = world(2).await;
    let key = w.key();
    let (_, v) = w
        .dss(
            reqwest::Method::POST,
            &format!("/projects/{key}/git/branches/"),
            Some(json!({"name": "exp", "duplicateProject": true})),
        )
        .await;
    assert_eq!(v["success"], true, "{v}");
    let copy = format!("{key}_EXP");
    assert_eq!(v["projectKey"], copy.as_str());
    assert!(w.dss.handle.project_keys().contains(&copy));
    assert_eq!(w.dss.handle.current_branch(&copy).as_deref(), Some("exp"));
    assert_eq!(w.dss.handle.current_branch(&key).as_deref(), Some("master"));
    assert_eq!(
        w.dss.handle.branch_head(&copy, "exp"),
        w.dss.handle.branch_head(&key, "master")
    );
}

#[tokio::test]
async fn push_creates_fast_forwards_or_is_rejected_as_git_rejects_it() {
    let w = world(2).await;
    let key = w.key();
    assert!(w.gh.handle.create_empty_repo("acme", "dss-p"));
    let url = w.remote_url("dss-p");
    w.set_remote(&key, &url).await;

    let (ok, out) = w.action(&key, "push").await;
    assert!(ok, "{out}");
    assert_eq!(
        out,
        format!("To {url}\n * [new branch]      master -> master")
    );
    let repo = w.gh.handle.repo("acme/dss-p").unwrap();
    assert_eq!(
        repo.default_branch, "master",
        "the first push sets the default branch"
    );
    assert!(repo.files.contains_key("params.json"));
    assert_eq!(
        w.gh.handle.branch_head("acme/dss-p", "master"),
        w.dss.handle.branch_head(&key, "master")
    );
    assert_eq!(w.gh.handle.counters().git_pushes, 1);

    // A DSS edit, pushed: a fast-forward.
    let before = w.dss.handle.branch_head(&key, "master").unwrap();
    let after = w.commit(&key, "recipes/x.py", "x = 1\n");
    let (ok, out) = w.action(&key, "push").await;
    assert!(ok, "{out}");
    assert!(
        out.ends_with(&format!(
            "   {}..{}  master -> master",
            &before[..7],
            &after[..7]
        )),
        "{out}"
    );
    assert_eq!(
        w.gh.handle.branch_head("acme/dss-p", "master"),
        Some(after.clone())
    );
    let (ok, out) = w.action(&key, "push").await;
    assert!(ok);
    assert_eq!(out, "Everything up-to-date");

    // Someone commits on GitHub; DSS's next push is refused as git refuses it.
    assert_eq!(
        w.gh_put_file("dss-p", "master", "tests.py", "def test(): pass\n")
            .await,
        201
    );
    w.commit(&key, "recipes/y.py", "y = 1\n");
    let (ok, out) = w.action(&key, "push").await;
    assert!(!ok);
    assert!(
        out.contains(" ! [rejected]        master -> master (fetch first)"),
        "{out}"
    );
    assert!(
        out.contains(&format!("error: failed to push some refs to '{url}'")),
        "{out}"
    );
    assert!(
        out.contains("hint: Updates were rejected because the remote contains work"),
        "{out}"
    );
    // Once fetched, git calls it a non-fast-forward.
    let (ok, out) = w.action(&key, "fetch").await;
    assert!(ok, "{out}");
    assert!(
        out.contains("master") && out.contains("origin/master"),
        "{out}"
    );
    let (ok, out) = w.action(&key, "push").await;
    assert!(!ok);
    assert!(out.contains("(non-fast-forward)"), "{out}");
    let status = w.get(&format!("/projects/{key}/git/status")).await;
    assert_eq!(status["trackingCount"], json!({"ahead": 1, "behind": 1}));

    // pullRebase brings GitHub's commit in and replays the local one on top: the push works.
    let (ok, out) = w.action(&key, "pullRebase").await;
    assert!(ok, "{out}");
    assert!(
        out.contains("Successfully rebased and updated refs/heads/master."),
        "{out}"
    );
    let files = w.dss.handle.project_files(&key, None).unwrap();
    assert!(files.contains_key("tests.py") && files.contains_key("recipes/y.py"));
    let gh_tip = w.gh.handle.branch_head("acme/dss-p", "master").unwrap();
    let local = w.dss.handle.branch_head(&key, "master").unwrap();
    let (ok, out) = w.action(&key, "push").await;
    assert!(ok, "{out}");
    assert!(w.gh.handle.is_ancestor("acme/dss-p", &gh_tip, &local));
    assert_eq!(w.gh.handle.branch_head("acme/dss-p", "master"), Some(local));
}

#[tokio::test]
async fn pull_rebase_fast_forwards_and_stops_on_a_conflict() {
    let w = world(2).await;
    let key = w.key();
    assert!(w.gh.handle.create_empty_repo("acme", "dss-r"));
    w.set_remote(&key, "https://github.com/acme/dss-r.git")
        .await;
    assert!(w.action(&key, "push").await.0);
    assert_eq!(
        w.gh_put_file("dss-r", "master", "a.txt", "github\n").await,
        201
    );
    let (ok, out) = w.action(&key, "pullRebase").await;
    assert!(ok, "{out}");
    assert_eq!(
        w.dss.handle.branch_head(&key, "master"),
        w.gh.handle.branch_head("acme/dss-r", "master"),
        "no local work: a fast-forward"
    );
    let (ok, out) = w.action(&key, "pullRebase").await;
    assert!(ok);
    assert!(
        out.ends_with("Current branch master is up to date."),
        "{out}"
    );

    // Both sides change the same file.
    let sha = w
        .gh(
            reqwest::Method::GET,
            "/repos/acme/dss-r/contents/a.txt",
            json!(null),
        )
        .await
        .1["sha"]
        .clone();
    use base64::Engine;
    let content = base64::engine::general_purpose::STANDARD.encode("github again\n");
    let (status, _) = w
        .gh(
            reqwest::Method::PUT,
            "/repos/acme/dss-r/contents/a.txt",
            json!({"message": "edit", "content": content, "sha": sha}),
        )
        .await;
    assert_eq!(status, 200);
    let mine = w.commit(&key, "a.txt", "dss\n");
    let (ok, out) = w.action(&key, "pullRebase").await;
    assert!(!ok);
    assert!(
        out.contains("CONFLICT (content): Merge conflict in a.txt"),
        "{out}"
    );
    assert_eq!(w.dss.handle.branch_head(&key, "master"), Some(mine));
}

#[tokio::test]
async fn pushes_fail_with_git_output_when_the_remote_cannot_take_them() {
    let w = world(2).await;
    let key = w.key();
    let (ok, out) = w.action(&key, "push").await;
    assert!(!ok);
    assert!(out.contains("No configured push destination"), "{out}");

    w.set_remote(&key, "git@gitlab.example.com:acme/x.git")
        .await;
    let (ok, out) = w.action(&key, "push").await;
    assert!(!ok);
    assert!(
        out.contains("Could not resolve hostname gitlab.example.com"),
        "{out}"
    );

    w.set_remote(&key, &w.remote_url("missing")).await;
    let (ok, out) = w.action(&key, "push").await;
    assert!(!ok);
    assert!(out.contains("ERROR: Repository not found."), "{out}");

    // A protected branch that needs pull requests refuses the push (GitHub's GH006).
    assert!(w.gh.handle.create_empty_repo("acme", "dss-prot"));
    w.set_remote(&key, &w.remote_url("dss-prot")).await;
    assert!(w.action(&key, "push").await.0);
    let (status, v) = w
        .gh(
            reqwest::Method::PUT,
            "/repos/acme/dss-prot/branches/master/protection",
            json!({"required_status_checks": null, "enforce_admins": true,
                   "required_pull_request_reviews": {"required_approving_review_count": 1},
                   "restrictions": null}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let tip = w.gh.handle.branch_head("acme/dss-prot", "master");
    w.commit(&key, "recipes/z.py", "z\n");
    let (ok, out) = w.action(&key, "push").await;
    assert!(!ok);
    assert!(
        out.contains("GH006: Protected branch update failed for refs/heads/master."),
        "{out}"
    );
    assert!(out.contains("(protected branch hook declined)"), "{out}");
    assert_eq!(w.gh.handle.branch_head("acme/dss-prot", "master"), tip);

    // An outage of GitHub: the push fails, nothing moves.
    w.gh.handle.update_settings(|s| s.outage = true);
    let (ok, out) = w.action(&key, "fetch").await;
    assert!(!ok);
    assert!(out.contains("503"), "{out}");
}

#[tokio::test]
async fn a_method_a_path_does_not_serve_gets_a_dss_error_body() {
    let w = world(1).await;
    let key = w.key();
    for (method, path) in [
        (reqwest::Method::PUT, format!("/projects/{key}/metadata")),
        (
            reqwest::Method::GET,
            format!("/projects/{key}/git/actions/push"),
        ),
        (reqwest::Method::DELETE, "/projects/".to_string()),
    ] {
        let (status, v) = w.dss(method.clone(), &path, None).await;
        assert_eq!(status, 405, "{method} {path}");
        assert!(v["errorType"].is_string(), "{method} {path}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains(method.as_str()),
            "{v}"
        );
    }
}

/// The Dataiku GitOps guide's order: empty repo, DSS pushes first, files on top, prod cut
/// from that history, DSS pulls. Every later branch shares history with prod.
#[tokio::test]
async fn the_guides_order_shares_history_and_the_old_order_does_not() {
    let w = world(2).await;
    let key = w.key();
    assert!(w.gh.handle.create_empty_repo("acme", "dss-loop"));
    w.set_remote(&key, &w.remote_url("dss-loop")).await;
    assert!(w.action(&key, "push").await.0);
    assert_eq!(
        w.gh_put_file(
            "dss-loop",
            "master",
            ".github/workflows/pr.yml",
            "on: pull_request\n"
        )
        .await,
        201
    );
    let tip = w.gh.handle.branch_head("acme/dss-loop", "master").unwrap();
    let (status, _) = w
        .gh(
            reqwest::Method::POST,
            "/repos/acme/dss-loop/git/refs",
            json!({"ref": "refs/heads/prod", "sha": tip}),
        )
        .await;
    assert_eq!(status, 201);
    assert!(w.action(&key, "pullRebase").await.0);
    // A DSS user branches, commits, pushes; the pull request into prod can be opened.
    let (_, v) = w
        .dss(
            reqwest::Method::POST,
            &format!("/projects/{key}/git/branches/"),
            Some(json!({"name": "feature-1"})),
        )
        .await;
    assert_eq!(v["success"], true);
    w.commit(&key, "recipes/f.py", "f = 1\n");
    let (ok, out) = w.action(&key, "push").await;
    assert!(ok, "{out}");
    let (status, cmp) = w
        .gh(
            reqwest::Method::GET,
            "/repos/acme/dss-loop/compare/prod...feature-1",
            json!(null),
        )
        .await;
    assert_eq!(status, 200, "{cmp}");
    assert_eq!(cmp["status"], "ahead");
    let (status, pr) = w
        .gh(
            reqwest::Method::POST,
            "/repos/acme/dss-loop/pulls",
            json!({"title": "f", "head": "feature-1", "base": "prod"}),
        )
        .await;
    assert_eq!(status, 201, "{pr}");

    // The old order: files first on main, prod from main, then DSS pushes master.
    let other = w.dss.handle.project_keys()[1].clone();
    let (status, _) = w
        .gh(
            reqwest::Method::POST,
            "/orgs/acme/repos",
            json!({"name": "dss-old", "auto_init": true}),
        )
        .await;
    assert_eq!(status, 201);
    let main = w.gh.handle.branch_head("acme/dss-old", "main").unwrap();
    w.gh(
        reqwest::Method::POST,
        "/repos/acme/dss-old/git/refs",
        json!({"ref": "refs/heads/prod", "sha": main}),
    )
    .await;
    w.set_remote(&other, &w.remote_url("dss-old")).await;
    let (ok, out) = w.action(&other, "push").await;
    assert!(ok, "a new branch is accepted: {out}");
    let (status, cmp) = w
        .gh(
            reqwest::Method::GET,
            "/repos/acme/dss-old/compare/prod...master",
            json!(null),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        cmp["message"],
        "No common ancestor between prod and master."
    );
    let (status, pr) = w
        .gh(
            reqwest::Method::POST,
            "/repos/acme/dss-old/pulls",
            json!({"title": "x", "head": "master", "base": "prod"}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        pr["errors"][0]["message"],
        "The master branch has no history in common with prod"
    );
}
