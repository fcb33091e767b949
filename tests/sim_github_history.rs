//! The simulated GitHub's git history over real HTTP (plain reqwest, redirects not followed):
//! the commit graph every write path builds, compare (ahead/behind/diverged/identical and
//! "No common ancestor"), pull requests with GitHub's 422s, protected branches refusing direct
//! writes, and renamed/transferred repositories answering 301/307 like GitHub.

use fleetsync_sim::github::{self, GithubSimSettings, RunningGithubSim, SimToken};
use serde_json::{json, Value};

const TOKEN: &str = "ghp_historyToken";

struct Api {
    url: String,
    http: reqwest::Client,
}

struct Reply {
    status: u16,
    body: Value,
    location: Option<String>,
    link: Option<String>,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.url)
        };
        let mut req = self.http.request(method, url).bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let header = |h: &str| {
            resp.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (location, link) = (header("location"), header("link"));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            location,
            link,
        }
    }
    async fn get(&self, path: &str) -> Reply {
        self.call(reqwest::Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
    async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }
    async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call(reqwest::Method::PATCH, path, Some(body)).await
    }
    async fn delete(&self, path: &str, body: Value) -> Reply {
        self.call(reqwest::Method::DELETE, path, Some(body)).await
    }
}

async fn sim(orgs: &[&str]) -> (RunningGithubSim, Api) {
    let settings = GithubSimSettings {
        orgs: orgs.iter().map(|o| o.to_string()).collect(),
        ..Default::default()
    };
    let s = github::start(
        settings,
        vec![SimToken::pat(TOKEN)],
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let api = Api {
        url: s.url.clone(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    };
    (s, api)
}

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A repo with `main` (the README commit).
async fn repo(api: &Api, name: &str) {
    let r = api
        .post("/orgs/acme/repos", json!({"name": name, "auto_init": true}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

async fn put_file(api: &Api, repo: &str, branch: &str, path: &str, text: &str) -> Reply {
    let cur = api
        .get(&format!("/repos/acme/{repo}/contents/{path}?ref={branch}"))
        .await;
    let mut body =
        json!({"message": format!("write {path}"), "content": b64(text), "branch": branch});
    if cur.status == 200 {
        body["sha"] = cur.body["sha"].clone();
    }
    api.put(&format!("/repos/acme/{repo}/contents/{path}"), body)
        .await
}

async fn head(api: &Api, repo: &str, branch: &str) -> String {
    let r = api
        .get(&format!("/repos/acme/{repo}/git/ref/heads/{branch}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["object"]["sha"].as_str().unwrap().to_string()
}

async fn branch_from(api: &Api, repo: &str, name: &str, from: &str) {
    let sha = head(api, repo, from).await;
    let r = api
        .post(
            &format!("/repos/acme/{repo}/git/refs"),
            json!({"ref": format!("refs/heads/{name}"), "sha": sha}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn contents_and_git_data_writes_build_a_commit_graph() {
    let (_s, api) = sim(&["acme"]).await;
    repo(&api, "g").await;
    let readme = head(&api, "g", "main").await;
    let r = put_file(&api, "g", "main", "a.txt", "one\n").await;
    assert_eq!(r.status, 201);
    let c1 = r.body["commit"]["sha"].as_str().unwrap().to_string();
    assert_eq!(r.body["commit"]["parents"][0]["sha"], readme);
    let got = api.get(&format!("/repos/acme/g/git/commits/{c1}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["parents"].as_array().unwrap().len(), 1);
    assert_eq!(got.body["message"], "write a.txt");

    // A merge commit made with the Git Data API keeps both parents and the given author.
    branch_from(&api, "g", "side", "main").await;
    let side = put_file(&api, "g", "side", "b.txt", "two\n").await.body["commit"]["sha"]
        .as_str()
        .unwrap()
        .to_string();
    let tree = api
        .post(
            "/repos/acme/g/git/trees",
            json!({"base_tree": got.body["tree"]["sha"], "tree": [{"path": "b.txt", "mode": "100644", "type": "blob", "content": "two\n"}]}),
        )
        .await;
    assert_eq!(tree.status, 201);
    let merge = api
        .post(
            "/repos/acme/g/git/commits",
            json!({"message": "merge side", "tree": tree.body["sha"], "parents": [c1, side],
                   "author": {"name": "Ada", "email": "ada@example.com", "date": "2024-05-01T10:00:00Z"}}),
        )
        .await;
    assert_eq!(merge.status, 201, "{}", merge.body);
    assert_eq!(merge.body["parents"].as_array().unwrap().len(), 2);
    assert_eq!(merge.body["author"]["name"], "Ada");
    assert_eq!(merge.body["author"]["date"], "2024-05-01T10:00:00Z");
    let m = merge.body["sha"].as_str().unwrap();
    let r = api
        .patch("/repos/acme/g/git/refs/heads/main", json!({"sha": m}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // side is now in main's history: side...main is "ahead" by the merge, main...side
    // "behind" by it.
    let cmp = api.get("/repos/acme/g/compare/side...main").await;
    assert_eq!(cmp.body["status"], "ahead");
    assert_eq!(cmp.body["ahead_by"], 1);
    assert_eq!(cmp.body["commits"][0]["sha"], m);
    let back = api.get("/repos/acme/g/compare/main...side").await;
    assert_eq!(back.body["status"], "behind");
    assert_eq!(back.body["behind_by"], 1);
}

#[tokio::test]
async fn compare_reports_each_status_and_no_common_ancestor() {
    let (s, api) = sim(&["acme"]).await;
    repo(&api, "c").await;
    branch_from(&api, "c", "feature", "main").await;
    let same = api.get("/repos/acme/c/compare/main...feature").await;
    assert_eq!(same.status, 200);
    assert_eq!(same.body["status"], "identical");
    assert_eq!(same.body["total_commits"], 0);

    let f1 = put_file(&api, "c", "feature", "f.py", "x = 1\ny = 2\n")
        .await
        .body["commit"]["sha"]
        .clone();
    let main_tip = head(&api, "c", "main").await;
    let ahead = api.get("/repos/acme/c/compare/main...feature").await;
    assert_eq!(ahead.body["status"], "ahead");
    assert_eq!(ahead.body["ahead_by"], 1);
    assert_eq!(ahead.body["behind_by"], 0);
    assert_eq!(ahead.body["total_commits"], 1);
    assert_eq!(ahead.body["commits"][0]["sha"], f1);
    assert_eq!(ahead.body["merge_base_commit"]["sha"], main_tip);
    assert_eq!(ahead.body["base_commit"]["sha"], main_tip);
    assert_eq!(ahead.body["files"][0]["filename"], "f.py");
    assert_eq!(ahead.body["files"][0]["status"], "added");
    assert_eq!(ahead.body["files"][0]["additions"], 2);
    let behind = api.get("/repos/acme/c/compare/feature...main").await;
    assert_eq!(behind.body["status"], "behind");
    assert_eq!(behind.body["behind_by"], 1);

    put_file(&api, "c", "main", "m.txt", "m\n").await;
    let diverged = api.get("/repos/acme/c/compare/main...feature").await;
    assert_eq!(diverged.body["status"], "diverged");
    assert_eq!(diverged.body["ahead_by"], 1);
    assert_eq!(diverged.body["behind_by"], 1);
    assert_eq!(diverged.body["merge_base_commit"]["sha"], main_tip);
    // Commit SHAs work as well as branch names.
    let by_sha = api
        .get(&format!(
            "/repos/acme/c/compare/{main_tip}...{}",
            f1.as_str().unwrap()
        ))
        .await;
    assert_eq!(by_sha.body["status"], "ahead");

    // A branch pushed with an unrelated history: GitHub's 404.
    s.handle
        .push_unrelated("acme/c", "master", &[("params.json", b"{}\n")])
        .unwrap();
    let none = api.get("/repos/acme/c/compare/main...master").await;
    assert_eq!(none.status, 404);
    assert_eq!(
        none.body["message"],
        "No common ancestor between main and master."
    );
    assert!(none.body["documentation_url"]
        .as_str()
        .unwrap()
        .contains("compare"));
    assert_eq!(
        api.get("/repos/acme/c/compare/main...nope").await.status,
        404
    );
}

fn custom_message(r: &Reply) -> String {
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["message"], "Validation Failed");
    r.body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn open_pull(api: &Api, head: &str, base: &str) -> Reply {
    api.post(
        "/repos/acme/p/pulls",
        json!({"title": format!("{head} into {base}"), "head": head, "base": base, "body": "why"}),
    )
    .await
}

#[tokio::test]
async fn pull_requests_refuse_like_github() {
    let (s, api) = sim(&["acme"]).await;
    repo(&api, "p").await;
    branch_from(&api, "p", "feature", "main").await;
    branch_from(&api, "p", "same", "main").await;
    put_file(&api, "p", "feature", "f.txt", "f\n").await;

    let r = open_pull(&api, "feature", "main").await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["number"], 1);
    assert_eq!(r.body["state"], "open");
    assert_eq!(r.body["head"]["ref"], "feature");
    assert_eq!(r.body["base"]["ref"], "main");
    assert_eq!(r.body["merged"], false);
    assert_eq!(r.body["mergeable"], true);
    assert_eq!(r.body["commits"], 1);
    assert!(r
        .location
        .as_deref()
        .unwrap()
        .ends_with("/repos/acme/p/pulls/1"));

    assert_eq!(
        custom_message(&open_pull(&api, "acme:feature", "main").await),
        "A pull request already exists for acme:feature."
    );
    assert_eq!(
        custom_message(&open_pull(&api, "same", "main").await),
        "No commits between main and same"
    );
    s.handle
        .push_unrelated("acme/p", "master", &[("params.json", b"{}\n")])
        .unwrap();
    assert_eq!(
        custom_message(&open_pull(&api, "master", "main").await),
        "The master branch has no history in common with main"
    );
    let bad = open_pull(&api, "nope", "main").await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["errors"][0]["field"], "head");
    let untitled = api
        .post(
            "/repos/acme/p/pulls",
            json!({"head": "feature", "base": "same"}),
        )
        .await;
    assert_eq!(untitled.status, 422);
    assert_eq!(untitled.body["errors"][0]["field"], "title");
}

#[tokio::test]
async fn pull_requests_list_get_update_and_merge() {
    let (s, api) = sim(&["acme"]).await;
    repo(&api, "p").await;
    for b in ["f1", "f2", "f3"] {
        branch_from(&api, "p", b, "main").await;
        put_file(&api, "p", b, &format!("{b}.txt"), b).await;
        assert_eq!(open_pull(&api, b, "main").await.status, 201);
    }
    let all = api.get("/repos/acme/p/pulls").await;
    assert_eq!(all.body.as_array().unwrap().len(), 3);
    // Newest first by default.
    assert_eq!(all.body[0]["number"], 3);
    let one = api.get("/repos/acme/p/pulls?head=acme:f2&base=main").await;
    assert_eq!(one.body.as_array().unwrap().len(), 1);
    assert_eq!(one.body[0]["head"]["ref"], "f2");
    assert_eq!(
        api.get("/repos/acme/p/pulls?base=prod")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let page = api.get("/repos/acme/p/pulls?state=open&per_page=2").await;
    assert_eq!(page.body.as_array().unwrap().len(), 2);
    let link = page.link.unwrap();
    assert!(
        link.contains("state=open") && link.contains("page=2") && link.contains("rel=\"next\""),
        "{link}"
    );

    // Update: title, body, close and reopen.
    let r = api
        .patch(
            "/repos/acme/p/pulls/2",
            json!({"title": "New title", "body": "Changes:\n- a"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["title"], "New title");
    let r = api
        .patch("/repos/acme/p/pulls/2", json!({"state": "closed"}))
        .await;
    assert_eq!(r.body["state"], "closed");
    assert!(r.body["closed_at"].is_string());
    let closed = api.get("/repos/acme/p/pulls?state=closed").await;
    assert_eq!(closed.body.as_array().unwrap().len(), 1);
    // Closed, a second one for the same head and base may be opened; reopening the first
    // then clashes.
    assert_eq!(open_pull(&api, "f2", "main").await.status, 201);
    let clash = api
        .patch("/repos/acme/p/pulls/2", json!({"state": "open"}))
        .await;
    assert_eq!(
        custom_message(&clash),
        "A pull request already exists for acme:f2."
    );

    // A reviewer merges #1: a merge commit on main, its second parent the head.
    let main_before = head(&api, "p", "main").await;
    let f1 = head(&api, "p", "f1").await;
    let m = api
        .post("/_sim/github/repos/acme/p/pulls/1/merge", json!({}))
        .await;
    assert_eq!(m.status, 200, "{}", m.body);
    let sha = m.body["sha"].as_str().unwrap().to_string();
    assert_eq!(head(&api, "p", "main").await, sha);
    assert_eq!(
        s.handle.commit_parents("acme/p", &sha).unwrap(),
        vec![main_before, f1]
    );
    let got = api.get("/repos/acme/p/pulls/1").await;
    assert_eq!(got.body["merged"], true);
    assert_eq!(got.body["state"], "closed");
    assert_eq!(got.body["merge_commit_sha"], sha.as_str());
    assert!(got.body["merged_at"].is_string());
    // Merged: nothing left between them, and it cannot be merged or reopened again.
    assert_eq!(
        custom_message(&open_pull(&api, "f1", "main").await),
        "No commits between main and f1"
    );
    let again = api
        .post("/_sim/github/repos/acme/p/pulls/1/merge", json!({}))
        .await;
    assert_eq!(again.status, 409);
    let reopen = api
        .patch("/repos/acme/p/pulls/1", json!({"state": "open"}))
        .await;
    assert_eq!(reopen.status, 422);
}

async fn protect(api: &Api, repo: &str, branch: &str, enforce_admins: bool) {
    let r = api
        .put(
            &format!("/repos/acme/{repo}/branches/{branch}/protection"),
            json!({
                "required_status_checks": {"strict": true, "contexts": ["dataiku-gitops"]},
                "enforce_admins": enforce_admins,
                "required_pull_request_reviews": {"required_approving_review_count": 1},
                "restrictions": null
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_protected_branch_requiring_reviews_refuses_direct_writes() {
    let (_s, api) = sim(&["acme"]).await;
    repo(&api, "r").await;
    put_file(&api, "r", "main", "kept.txt", "v1\n").await;
    branch_from(&api, "r", "prod", "main").await;
    protect(&api, "r", "prod", true).await;

    let create = put_file(&api, "r", "prod", "new.txt", "x\n").await;
    assert_eq!(create.status, 409, "{}", create.body);
    assert_eq!(
        create.body["message"],
        "Could not create file: Changes must be made through a pull request."
    );
    assert!(create.body["documentation_url"]
        .as_str()
        .unwrap()
        .contains("about-protected-branches"));
    let update = put_file(&api, "r", "prod", "kept.txt", "v2\n").await;
    assert_eq!(update.status, 409);
    assert_eq!(
        update.body["message"],
        "Could not update file: Changes must be made through a pull request."
    );
    let sha = api
        .get("/repos/acme/r/contents/kept.txt?ref=prod")
        .await
        .body["sha"]
        .clone();
    let delete = api
        .delete(
            "/repos/acme/r/contents/kept.txt",
            json!({"message": "rm", "sha": sha, "branch": "prod"}),
        )
        .await;
    assert_eq!(delete.status, 409);
    assert_eq!(
        delete.body["message"],
        "Could not delete file: Changes must be made through a pull request."
    );
    let main_tip = put_file(&api, "r", "main", "m.txt", "m\n").await.body["commit"]["sha"].clone();
    let moved = api
        .patch(
            "/repos/acme/r/git/refs/heads/prod",
            json!({"sha": main_tip}),
        )
        .await;
    assert_eq!(moved.status, 422);
    assert_eq!(
        moved.body["message"],
        "Changes must be made through a pull request."
    );
    // Nothing reached prod; the unprotected main took its write.
    let prod = api.get("/repos/acme/r/contents/kept.txt?ref=prod").await;
    assert_eq!(prod.status, 200);
    assert_eq!(
        api.get("/repos/acme/r/contents/new.txt?ref=prod")
            .await
            .status,
        404
    );

    // Through a pull request it gets there.
    let pr = api
        .post(
            "/repos/acme/r/pulls",
            json!({"title": "sync", "head": "main", "base": "prod"}),
        )
        .await;
    assert_eq!(pr.status, 201, "{}", pr.body);
    assert_eq!(pr.body["mergeable_state"], "blocked");
    let n = pr.body["number"].as_u64().unwrap();
    let m = api
        .post(
            &format!("/_sim/github/repos/acme/r/pulls/{n}/merge"),
            json!({}),
        )
        .await;
    assert_eq!(m.status, 200);
    assert_eq!(
        api.get("/repos/acme/r/contents/m.txt?ref=prod")
            .await
            .status,
        200
    );

    // Without enforce_admins an administrator (a PAT here) may write directly.
    protect(&api, "r", "prod", false).await;
    assert_eq!(
        put_file(&api, "r", "prod", "admin.txt", "a\n").await.status,
        201
    );
}

#[tokio::test]
async fn renamed_and_transferred_repos_redirect_like_github() {
    let (s, api) = sim(&["acme", "other"]).await;
    repo(&api, "old").await;
    let id = api.get("/repos/acme/old").await.body["id"]
        .as_u64()
        .unwrap();
    let r = api.patch("/repos/acme/old", json!({"name": "new"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["full_name"], "acme/new");

    let moved = api.get("/repos/acme/old").await;
    assert_eq!(moved.status, 301);
    let location = format!("{}/repositories/{id}", s.url);
    assert_eq!(moved.location.as_deref(), Some(location.as_str()));
    assert_eq!(moved.body["message"], "Moved Permanently");
    assert_eq!(moved.body["url"], location.as_str());
    assert!(moved.body["documentation_url"]
        .as_str()
        .unwrap()
        .contains("follow-redirects"));
    // The rest of the path and the query go along; other methods get 307.
    let sub = api.get("/repos/acme/old/contents/README.md?ref=main").await;
    assert_eq!(sub.status, 301);
    assert_eq!(
        sub.location.as_deref(),
        Some(format!("{location}/contents/README.md?ref=main").as_str())
    );
    let patch = api
        .patch("/repos/acme/old", json!({"description": "d"}))
        .await;
    assert_eq!(patch.status, 307);
    assert_eq!(patch.body["message"], "Moved Permanently");
    // Following the redirect reaches the repository.
    let there = api.get(&location).await;
    assert_eq!(there.status, 200);
    assert_eq!(there.body["full_name"], "acme/new");
    let file = api.get(sub.location.as_deref().unwrap()).await;
    assert_eq!(file.status, 200, "{}", file.body);
    assert_eq!(file.body["path"], "README.md");
    let log = s.handle.requests();
    assert!(log
        .iter()
        .any(|r| r.path == "/repos/acme/old" && r.status == 301));

    // A transfer (with a rename) redirects both old places.
    s.handle
        .transfer_repo("acme/new", "other", Some("newer"))
        .unwrap();
    assert_eq!(api.get("/repos/acme/new").await.status, 301);
    assert_eq!(api.get("/repos/acme/old").await.status, 301);
    assert_eq!(api.get("/repos/other/newer").await.status, 200);
    assert_eq!(api.get(&location).await.body["full_name"], "other/newer");
    // A repository created at an old name ends that redirect.
    repo(&api, "old").await;
    let fresh = api.get("/repos/acme/old").await;
    assert_eq!(fresh.status, 200);
    assert_ne!(fresh.body["id"].as_u64(), Some(id));
    // Unknown names stay 404.
    assert_eq!(api.get("/repos/acme/never").await.status, 404);
}

#[tokio::test]
async fn octocrab_follows_the_301_of_a_renamed_repo_but_not_the_307() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (s, api) = sim(&["acme"]).await;
    repo(&api, "before").await;
    s.handle.rename_repo("acme/before", "after").unwrap();
    let gh = octocrab::Octocrab::builder()
        .base_uri(s.url.clone())
        .unwrap()
        .personal_token(TOKEN.to_string())
        .build()
        .unwrap();
    let got = gh.repos("acme", "before").get().await.unwrap();
    assert_eq!(got.full_name.as_deref(), Some("acme/after"));
    let patched = gh
        .repos("acme", "before")
        .update()
        .description("via 307")
        .send()
        .await;
    // octocrab follows the GET's 301 but not a 307: a write to the old name comes back as
    // GitHub's 307 with the new location (the caller must follow it).
    match patched {
        Err(octocrab::Error::GitHub { source, .. }) => {
            assert_eq!(source.status_code.as_u16(), 307);
            assert_eq!(source.message, "Moved Permanently");
        }
        other => panic!("{:?}", other.map(|r| r.full_name)),
    }
}
