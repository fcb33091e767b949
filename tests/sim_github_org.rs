//! The simulated GitHub's organisation Actions secrets and variables, over plain HTTP, checked
//! against GitHub's REST description (`actions/*-org-*` in `@octokit/openapi`): shapes
//! (`selected_repositories_url` on selected items, no secret value), status codes (201 `{}`
//! and 204, 409 where the description has it, 422 for a missing `visibility` or an unknown
//! repository id), paging (variables 10 by default, 30 at most) and the selection routes.

use fleetsync::github::seal_secret;
use fleetsync_sim::github::{self, GithubSimSettings, RunningGithubSim, SimToken};
use serde_json::{json, Value};

const TOKEN: &str = "ghp_orgSimTests";

async fn sim() -> RunningGithubSim {
    github::start(
        GithubSimSettings::default(),
        vec![SimToken::pat(TOKEN)],
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

struct Http {
    base: String,
    c: reqwest::Client,
}

impl Http {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut r = self
            .c
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .header("accept", "application/vnd.github+json");
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let v = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, v, headers)
    }
    async fn get(&self, path: &str) -> (u16, Value, reqwest::header::HeaderMap) {
        self.send(reqwest::Method::GET, path, None).await
    }
    async fn put(&self, path: &str, body: Value) -> u16 {
        self.send(reqwest::Method::PUT, path, Some(body)).await.0
    }
}

async fn repo_id(h: &Http, name: &str) -> u64 {
    let (s, v, _) = h
        .send(
            reqwest::Method::POST,
            "/orgs/acme/repos",
            Some(json!({"name": name})),
        )
        .await;
    assert_eq!(s, 201);
    v["id"].as_u64().unwrap()
}

#[tokio::test]
async fn org_secrets_are_sealed_with_the_org_key_and_selected_by_repository() {
    let s = sim().await;
    let h = Http {
        base: s.url.clone(),
        c: reqwest::Client::new(),
    };
    let a = repo_id(&h, "a").await;
    let b = repo_id(&h, "b").await;
    let (st, key, _) = h.get("/orgs/acme/actions/secrets/public-key").await;
    assert_eq!(st, 200);
    let sealed = seal_secret(key["key"].as_str().unwrap(), b"v1").unwrap();
    let path = "/orgs/acme/actions/secrets/TOKEN";
    let mut body = json!({"encrypted_value": sealed, "key_id": key["key_id"]});
    // `visibility` is required.
    assert_eq!(h.put(path, body.clone()).await, 422);
    body["visibility"] = json!("selected");
    body["selected_repository_ids"] = json!([a, 999_999]);
    assert_eq!(
        h.put(path, body.clone()).await,
        422,
        "unknown repository id"
    );
    body["selected_repository_ids"] = json!([a]);
    let (st, created, _) = h.send(reqwest::Method::PUT, path, Some(body.clone())).await;
    assert_eq!((st, created), (201, json!({})));
    assert_eq!(h.put(path, body.clone()).await, 204, "updated");
    // Another key id is refused.
    body["key_id"] = json!("0");
    assert_eq!(h.put(path, body.clone()).await, 422);
    assert_eq!(s.handle.org_secret("acme", "TOKEN").unwrap().value, "v1");

    let (st, list, _) = h.get("/orgs/acme/actions/secrets").await;
    assert_eq!(st, 200);
    assert_eq!(list["total_count"], 1);
    let item = &list["secrets"][0];
    assert_eq!(item["name"], "TOKEN");
    assert_eq!(item["visibility"], "selected");
    assert!(item.get("value").is_none() && item.get("encrypted_value").is_none());
    assert_eq!(
        item["selected_repositories_url"],
        format!("{}/orgs/acme/actions/secrets/TOKEN/repositories", s.url)
    );
    for k in ["created_at", "updated_at"] {
        assert!(item[k].as_str().unwrap().ends_with('Z'), "{k}");
    }

    let repos = "/orgs/acme/actions/secrets/TOKEN/repositories";
    let (st, sel, _) = h.get(repos).await;
    assert_eq!(st, 200);
    assert_eq!(sel["total_count"], 1);
    assert_eq!(sel["repositories"][0]["full_name"], "acme/a");
    assert_eq!(
        h.put(repos, json!({"selected_repository_ids": [a, b]}))
            .await,
        204
    );
    assert_eq!(
        h.put(repos, json!({})).await,
        422,
        "selected_repository_ids is required"
    );
    let one = format!("{repos}/{b}");
    assert_eq!(h.send(reqwest::Method::DELETE, &one, None).await.0, 204);
    assert_eq!(h.put(&one, json!({})).await, 204);
    assert_eq!(
        s.handle.org_secret("acme", "TOKEN").unwrap().repos,
        vec!["acme/a".to_string(), "acme/b".to_string()]
    );
    // A deleted repository leaves the selection.
    assert_eq!(
        h.send(reqwest::Method::DELETE, "/repos/acme/b", None)
            .await
            .0,
        204
    );
    let (_, sel, _) = h.get(repos).await;
    assert_eq!(sel["total_count"], 1);
    // Visibility `all`: no selection, and adding one repository is a conflict.
    let sealed = seal_secret(key["key"].as_str().unwrap(), b"v2").unwrap();
    let all = json!({"encrypted_value": sealed, "key_id": key["key_id"], "visibility": "all"});
    assert_eq!(h.put(path, all).await, 204);
    assert_eq!(h.put(&format!("{repos}/{a}"), json!({})).await, 409);
    let (_, list, _) = h.get("/orgs/acme/actions/secrets").await;
    assert!(list["secrets"][0]
        .get("selected_repositories_url")
        .is_none());
    assert_eq!(h.get("/orgs/nope/actions/secrets").await.0, 404);
    // Org routes are rate limited like every other endpoint (points counted).
    assert!(s.handle.counters().points > 0);
}

#[tokio::test]
async fn org_variables_page_by_ten_and_conflict_where_github_says() {
    let s = sim().await;
    let h = Http {
        base: s.url.clone(),
        c: reqwest::Client::new(),
    };
    let a = repo_id(&h, "a").await;
    for i in 0..12 {
        let (st, v, _) = h
            .send(
                reqwest::Method::POST,
                "/orgs/acme/actions/variables",
                Some(json!({"name": format!("V{i:02}"), "value": "x", "visibility": "selected", "selected_repository_ids": [a]})),
            )
            .await;
        assert_eq!((st, v), (201, json!({})));
    }
    let (st, _, _) = h
        .send(
            reqwest::Method::POST,
            "/orgs/acme/actions/variables",
            Some(json!({"name": "V00", "value": "y", "visibility": "all"})),
        )
        .await;
    assert_eq!(st, 409, "duplicate name");
    let (st, _, _) = h
        .send(
            reqwest::Method::POST,
            "/orgs/acme/actions/variables",
            Some(json!({"name": "NOVIS", "value": "y"})),
        )
        .await;
    assert_eq!(st, 422, "visibility is required");
    let (st, page, headers) = h.get("/orgs/acme/actions/variables").await;
    assert_eq!(st, 200);
    assert_eq!(page["total_count"], 12);
    assert_eq!(
        page["variables"].as_array().unwrap().len(),
        10,
        "10 by default"
    );
    assert_eq!(page["variables"][0]["value"], "x");
    let link = headers["link"].to_str().unwrap();
    assert!(
        link.contains("rel=\"next\"") && link.starts_with(&format!("<{}", s.url)),
        "{link}"
    );
    let (_, page, _) = h.get("/orgs/acme/actions/variables?per_page=100").await;
    assert_eq!(
        page["variables"].as_array().unwrap().len(),
        12,
        "30 at most"
    );

    let path = "/orgs/acme/actions/variables/V01";
    let (st, _, _) = h
        .send(reqwest::Method::PATCH, path, Some(json!({"value": "z"})))
        .await;
    assert_eq!(st, 204);
    assert_eq!(s.handle.org_variable("acme", "V01").unwrap().value, "z");
    let (st, _, _) = h
        .send(
            reqwest::Method::PATCH,
            path,
            Some(json!({"visibility": "all"})),
        )
        .await;
    assert_eq!(st, 204);
    // Not `selected`: the selection routes answer 409.
    assert_eq!(h.get(&format!("{path}/repositories")).await.0, 409);
    assert_eq!(
        h.put(
            &format!("{path}/repositories"),
            json!({"selected_repository_ids": [a]})
        )
        .await,
        409
    );
    assert_eq!(
        h.put(&format!("{path}/repositories/{a}"), json!({})).await,
        409
    );
    let (st, v, _) = h.get("/orgs/acme/actions/variables/V02").await;
    assert_eq!(st, 200);
    assert!(v["selected_repositories_url"]
        .as_str()
        .unwrap()
        .ends_with("/orgs/acme/actions/variables/V02/repositories"));
    assert_eq!(
        h.send(
            reqwest::Method::DELETE,
            "/orgs/acme/actions/variables/V02",
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(h.get("/orgs/acme/actions/variables/V02").await.0, 404);
}
