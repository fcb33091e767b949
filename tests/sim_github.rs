//! The simulated GitHub, driven over real HTTP by the real octocrab client (and by plain
//! reqwest where headers matter): status codes, the `sha` rule, sealed secrets, pagination,
//! free 304s, secondary limits, workflow permission, App installation tokens.

use base64::Engine;
use fleetsync_sim::github::{self, GithubSimSettings, RunningGithubSim, SimApp, SimToken};
use octocrab::service::middleware::retry::RetryConfig;
use octocrab::Octocrab;

const TOKEN: &str = "ghp_simTestToken";

async fn sim(settings: GithubSimSettings) -> RunningGithubSim {
    let _ = rustls::crypto::ring::default_provider().install_default();
    github::start(
        settings,
        vec![SimToken::pat(TOKEN)],
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

fn client(url: &str, token: &str) -> Octocrab {
    Octocrab::builder()
        .base_uri(url)
        .unwrap()
        .personal_token(token.to_string())
        .add_retry_config(RetryConfig::None)
        .build()
        .unwrap()
}

fn gh_status(e: &octocrab::Error) -> Option<u16> {
    match e {
        octocrab::Error::GitHub { source, .. } => Some(source.status_code.as_u16()),
        _ => None,
    }
}

#[tokio::test]
async fn create_repo_then_get_it() {
    let s = sim(GithubSimSettings::default()).await;
    let gh = client(&s.url, TOKEN);
    let repo = gh
        .orgs("acme")
        .create_repo("churn-model")
        .private(true)
        .auto_init(true)
        .description("Churn model")
        .send()
        .await
        .unwrap();
    assert_eq!(repo.name, "churn-model");
    assert_eq!(repo.private, Some(true));
    let got = gh.repos("acme", "churn-model").get().await.unwrap();
    assert_eq!(got.default_branch.as_deref(), Some("main"));
    // Creating it again: GitHub's 422 "name already exists".
    let err = gh
        .orgs("acme")
        .create_repo("churn-model")
        .send()
        .await
        .unwrap_err();
    assert_eq!(gh_status(&err), Some(422));
    // Unknown org: 404.
    let err = gh.orgs("nope").create_repo("x").send().await.unwrap_err();
    assert_eq!(gh_status(&err), Some(404));
    // Missing required key: 422 validation-error.
    let resp = reqwest::Client::new()
        .post(format!("{}/orgs/acme/repos", s.url))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"description": "no name"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("\"name\" wasn't supplied"));
    assert!(body["documentation_url"].is_string());
    // Bad token: 401.
    let err = client(&s.url, "wrong")
        .repos("acme", "churn-model")
        .get()
        .await
        .unwrap_err();
    assert_eq!(gh_status(&err), Some(401));
}

#[tokio::test]
async fn put_file_twice_without_and_with_sha() {
    let s = sim(GithubSimSettings::default()).await;
    let gh = client(&s.url, TOKEN);
    gh.orgs("acme")
        .create_repo("files")
        .auto_init(true)
        .send()
        .await
        .unwrap();
    let repos = gh.repos("acme", "files");
    let created = repos
        .create_file("tests.py", "add tests", "print('v1')\n")
        .send()
        .await
        .unwrap();
    let sha1 = created.content.sha.clone();
    // The blob SHA is git's: sha1("blob <len>\0" + bytes).
    assert_eq!(sha1, fleetsync_sim::github::blob_sha(b"print('v1')\n"));
    // Again without sha: 422.
    let err = repos
        .create_file("tests.py", "again", "print('v2')\n")
        .send()
        .await
        .unwrap_err();
    assert_eq!(gh_status(&err), Some(422));
    // With a stale sha: 409.
    let err = repos
        .update_file(
            "tests.py",
            "stale",
            "print('v2')\n",
            "0000000000000000000000000000000000000000",
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(gh_status(&err), Some(409));
    // With the right sha: 200 and a new blob.
    let updated = repos
        .update_file("tests.py", "update", "print('v2')\n", &sha1)
        .send()
        .await
        .unwrap();
    assert_ne!(updated.content.sha, sha1);
    let view = s.handle.repo("acme/files").unwrap();
    assert_eq!(view.files["tests.py"], b"print('v2')\n");
    // The recursive tree lists the same blob SHA.
    let tree = repos.get_tree("main").recursive(true).send().await.unwrap();
    let entry = tree.tree.iter().find(|e| e.path == "tests.py").unwrap();
    assert_eq!(entry.sha, updated.content.sha);
    // Status codes: 201 then 200, seen by the simulator.
    let c = s.handle.counters();
    assert_eq!(c.count("PUT /repos/{owner}/{repo}/contents/{*path} 201"), 1);
    assert_eq!(c.count("PUT /repos/{owner}/{repo}/contents/{*path} 200"), 1);
}

#[tokio::test]
async fn workflow_write_without_permission_is_404() {
    let s = sim(GithubSimSettings::default()).await;
    s.handle.add_token(SimToken {
        token: "ghp_noWorkflow".into(),
        login: "limited".into(),
        workflows: false,
        custom_properties: false,
    });
    let gh = client(&s.url, TOKEN);
    gh.orgs("acme")
        .create_repo("wf")
        .auto_init(true)
        .send()
        .await
        .unwrap();
    let limited = client(&s.url, "ghp_noWorkflow");
    let err = limited
        .repos("acme", "wf")
        .create_file(".github/workflows/pr.yml", "wf", "on: push\n")
        .send()
        .await
        .unwrap_err();
    assert_eq!(gh_status(&err), Some(404));
    gh.repos("acme", "wf")
        .create_file(".github/workflows/pr.yml", "wf", "on: push\n")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn sealed_secret_is_unsealed_by_the_simulator() {
    let s = sim(GithubSimSettings::default()).await;
    let gh = client(&s.url, TOKEN);
    gh.orgs("acme").create_repo("sec").send().await.unwrap();
    let secrets = gh.repos("acme", "sec");
    let key = secrets.secrets().get_public_key().await.unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&key.key)
        .unwrap();
    let pk = crypto_box::PublicKey::from_slice(&raw).unwrap();
    let sealed = pk
        .seal(&mut rand::rngs::OsRng, b"canary-secret-value")
        .unwrap();
    let enc = base64::engine::general_purpose::STANDARD.encode(sealed);
    let body = octocrab::models::repos::secrets::CreateRepositorySecret {
        key_id: &key.key_id,
        encrypted_value: &enc,
    };
    let r = secrets
        .secrets()
        .create_or_update_secret("CI_TOKEN", &body)
        .await
        .unwrap();
    assert!(matches!(
        r,
        octocrab::models::repos::secrets::CreateRepositorySecretResponse::Created
    ));
    assert_eq!(
        s.handle.secret_value("acme/sec", "CI_TOKEN").as_deref(),
        Some("canary-secret-value")
    );
    let r = secrets
        .secrets()
        .create_or_update_secret("CI_TOKEN", &body)
        .await
        .unwrap();
    assert!(matches!(
        r,
        octocrab::models::repos::secrets::CreateRepositorySecretResponse::Updated
    ));
    // A wrong key_id or a ciphertext that does not open: 422.
    let bad_key = octocrab::models::repos::secrets::CreateRepositorySecret {
        key_id: "1",
        encrypted_value: &enc,
    };
    let err = secrets
        .secrets()
        .create_or_update_secret("X", &bad_key)
        .await
        .unwrap_err();
    assert_eq!(gh_status(&err), Some(422));
    let garbage = octocrab::models::repos::secrets::CreateRepositorySecret {
        key_id: &key.key_id,
        encrypted_value: "c2VjcmV0",
    };
    let err = secrets
        .secrets()
        .create_or_update_secret("X", &garbage)
        .await
        .unwrap_err();
    assert_eq!(gh_status(&err), Some(422));
    // Listing never shows values.
    let listed = secrets.secrets().get_secrets().await.unwrap();
    assert_eq!(listed.total_count, 1);
    let text = serde_json::to_string(&listed).unwrap();
    assert!(!text.contains("canary-secret-value"));
}

#[tokio::test]
async fn variables_across_pages_and_duplicates() {
    let s = sim(GithubSimSettings::default()).await;
    let gh = client(&s.url, TOKEN);
    gh.orgs("acme").create_repo("vars").send().await.unwrap();
    let repo = gh.repos("acme", "vars");
    for i in 0..35 {
        repo.variables()
            .create(&format!("VAR_{i:02}"), &format!("v{i}"))
            .await
            .unwrap();
    }
    let err = repo
        .variables()
        .create("VAR_00", "again")
        .await
        .unwrap_err();
    assert_eq!(gh_status(&err), Some(409));
    // per_page is capped at 30.
    let p1 = repo
        .variables()
        .per_page(100u8)
        .page(1u32)
        .list()
        .await
        .unwrap();
    assert_eq!(p1.total_count, 35);
    assert_eq!(p1.variables.len(), 30);
    let p2 = repo
        .variables()
        .per_page(100u8)
        .page(2u32)
        .list()
        .await
        .unwrap();
    assert_eq!(p2.variables.len(), 5);
    let mut names: Vec<String> = p1
        .variables
        .iter()
        .chain(p2.variables.iter())
        .map(|v| v.name.clone())
        .collect();
    names.dedup();
    assert_eq!(names.len(), 35);
    // The Link header holds absolute URLs of the simulator.
    let resp = reqwest::Client::new()
        .get(format!(
            "{}/repos/acme/vars/actions/variables?per_page=30",
            s.url
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let link = resp.headers()["link"].to_str().unwrap().to_string();
    assert!(
        link.contains(&format!(
            "<{}/repos/acme/vars/actions/variables?per_page=30&page=2>; rel=\"next\"",
            s.url
        )),
        "{link}"
    );
}

#[tokio::test]
async fn conditional_get_is_304_and_free() {
    let s = sim(GithubSimSettings::default()).await;
    let gh = client(&s.url, TOKEN);
    gh.orgs("acme")
        .create_repo("etag")
        .auto_init(true)
        .send()
        .await
        .unwrap();
    let first = gh
        ._get_with_headers(format!("{}/repos/acme/etag", s.url), None)
        .await
        .unwrap();
    assert_eq!(first.status().as_u16(), 200);
    let etag = first.headers()["etag"].clone();
    let used_before: u64 = first.headers()["x-ratelimit-used"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let charged_before = s.handle.counters().charged;
    let mut h = http::HeaderMap::new();
    h.insert(http::header::IF_NONE_MATCH, etag);
    let second = gh
        ._get_with_headers(format!("{}/repos/acme/etag", s.url), Some(h))
        .await
        .unwrap();
    assert_eq!(second.status().as_u16(), 304);
    let used_after: u64 = second.headers()["x-ratelimit-used"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(used_after, used_before, "a 304 must not be charged");
    assert_eq!(s.handle.counters().charged, charged_before);
    assert_eq!(s.handle.counters().not_modified, 1);
}

#[tokio::test]
async fn over_the_write_limit_gets_secondary_403_with_retry_after() {
    let s = sim(GithubSimSettings {
        content_writes_per_minute: 3,
        ..Default::default()
    })
    .await;
    let gh = client(&s.url, TOKEN);
    for i in 0..3 {
        gh.orgs("acme")
            .create_repo(format!("r{i}"))
            .send()
            .await
            .unwrap();
    }
    let resp = reqwest::Client::new()
        .post(format!("{}/orgs/acme/repos", s.url))
        .bearer_auth(TOKEN)
        .body(r#"{"name":"r3"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=61).contains(&retry_after));
    assert!(resp.headers().contains_key("x-ratelimit-remaining"));
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("secondary rate limit"));
    // octocrab surfaces it as a 403 GitHub error.
    let err = gh.orgs("acme").create_repo("r4").send().await.unwrap_err();
    assert_eq!(gh_status(&err), Some(403));
    assert!(s.handle.repo("acme/r3").is_none());
    assert_eq!(s.handle.counters().secondary_limited, 2);
}

#[tokio::test]
async fn primary_limit_headers_and_exhaustion() {
    let s = sim(GithubSimSettings {
        primary_limit: 3,
        ..Default::default()
    })
    .await;
    let http = reqwest::Client::new();
    let mut last = None;
    for _ in 0..3 {
        let r = http
            .get(format!("{}/orgs/acme/repos", s.url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        last = Some(
            r.headers()["x-ratelimit-remaining"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(last.as_deref(), Some("0"));
    let r = http
        .get(format!("{}/orgs/acme/repos", s.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["message"]
        .as_str()
        .unwrap()
        .starts_with("API rate limit exceeded"));
    // /rate_limit is free and still answers.
    let r = http
        .get(format!("{}/rate_limit", s.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["resources"]["core"]["remaining"], 0);
}

#[tokio::test]
async fn protection_put_shape_in_get_shape_out() {
    let s = sim(GithubSimSettings::default()).await;
    let gh = client(&s.url, TOKEN);
    gh.orgs("acme")
        .create_repo("prot")
        .auto_init(true)
        .send()
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/repos/acme/prot/branches/main/protection", s.url);
    let r = http.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // Missing one of the four required keys: 422.
    let r = http
        .put(&url)
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"enforce_admins": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let body = serde_json::json!({
        "required_status_checks": {"strict": true, "contexts": ["dataiku-gitops"]},
        "enforce_admins": true,
        "required_pull_request_reviews": {"required_approving_review_count": 1, "dismiss_stale_reviews": true},
        "restrictions": null
    });
    let r = http
        .put(&url)
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = http.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    let got: serde_json::Value = r.json().await.unwrap();
    assert_eq!(got["enforce_admins"]["enabled"], true);
    assert_eq!(
        got["required_status_checks"]["checks"][0]["context"],
        "dataiku-gitops"
    );
    assert_eq!(
        got["required_pull_request_reviews"]["required_approving_review_count"],
        1
    );
    assert!(got.get("restrictions").is_none());
    // A branch that does not exist: 404.
    let r = http
        .put(format!(
            "{}/repos/acme/prot/branches/prod/protection",
            s.url
        ))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test]
async fn app_installation_tokens_work_then_expire() {
    let pem = std::fs::read_to_string("tests/fixtures/sim-app-key.pem").unwrap();
    let public = std::fs::read_to_string("tests/fixtures/sim-app-key.pub.pem").unwrap();
    let s = sim(GithubSimSettings {
        apps: vec![SimApp {
            app_id: 4242,
            installation_id: 77,
            public_key_pem: public,
            workflows: true,
            custom_properties: true,
        }],
        ..Default::default()
    })
    .await;
    let app = Octocrab::builder()
        .base_uri(s.url.as_str())
        .unwrap()
        .app_from_rsa_pem(4242u64.into(), pem.as_bytes())
        .unwrap()
        .add_retry_config(RetryConfig::None)
        .build()
        .unwrap();
    let inst = app.installation(77u64.into()).unwrap();
    let repo = inst
        .orgs("acme")
        .create_repo("via-app")
        .send()
        .await
        .unwrap();
    assert_eq!(repo.name, "via-app");
    assert_eq!(
        s.handle
            .counters()
            .count("POST /app/installations/{installation_id}/access_tokens 201"),
        1
    );
    // Expired tokens get 401; octocrab re-mints and retries once.
    s.handle.expire_installation_tokens();
    inst.repos("acme", "via-app").get().await.unwrap();
    assert_eq!(
        s.handle
            .counters()
            .count("POST /app/installations/{installation_id}/access_tokens 201"),
        2
    );
    assert!(s.handle.counters().unauthorized >= 1);
}

#[tokio::test]
async fn outage_and_injected_errors() {
    let s = sim(GithubSimSettings::default()).await;
    let http = reqwest::Client::new();
    s.handle.update_settings(|k| k.outage = true);
    let r = http
        .get(format!("{}/orgs/acme/repos", s.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    s.handle.update_settings(|k| {
        k.outage = false;
        k.error_rate = 1.0;
    });
    let r = http
        .get(format!("{}/orgs/acme/repos", s.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 502);
    s.handle.update_settings(|k| {
        k.error_rate = 0.0;
        k.reset_rate = 1.0;
    });
    let r = http
        .get(format!("{}/orgs/acme/repos", s.url))
        .bearer_auth(TOKEN)
        .send()
        .await;
    let failed = match r {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(failed, "a reset connection must fail on the client");
    assert_eq!(s.handle.counters().connection_resets, 1);
}

/// Repository custom properties: the organisation's definitions, values at creation, in the
/// repo object and through `properties/values`, and who may set a value.
#[tokio::test]
async fn custom_properties_follow_their_definition_and_permission() {
    use fleetsync_sim::github::SimCustomProperty;
    let s = sim(GithubSimSettings {
        custom_properties: vec![
            SimCustomProperty::org_string("fleetsync"),
            SimCustomProperty {
                values_editable_by: "org_and_repo_actors".into(),
                required: true,
                default_value: Some("unknown".into()),
                ..SimCustomProperty::org_string("team")
            },
        ],
        ..Default::default()
    })
    .await;
    s.handle.add_token(SimToken {
        token: "ghp_repoAdmin".into(),
        login: "repo-admin".into(),
        workflows: true,
        custom_properties: false,
    });
    let http = reqwest::Client::new();
    let call =
        |method: reqwest::Method, path: &str, token: &str, body: Option<serde_json::Value>| {
            let mut rq = http
                .request(method, format!("{}{path}", s.url))
                .bearer_auth(token);
            if let Some(b) = body {
                rq = rq.json(&b);
            }
            rq.send()
        };
    // The definition: 200 for a defined property, 404 otherwise.
    let r = call(
        reqwest::Method::GET,
        "/orgs/acme/properties/schema/fleetsync",
        TOKEN,
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let def: serde_json::Value = r.json().await.unwrap();
    assert_eq!(def["values_editable_by"], "org_actors");
    assert_eq!(def["value_type"], "string");
    let r = call(
        reqwest::Method::GET,
        "/orgs/acme/properties/schema/nope",
        TOKEN,
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // Created with a value: it is in the repo object; the required one took its default.
    let r = call(
        reqwest::Method::POST,
        "/orgs/acme/repos",
        TOKEN,
        Some(serde_json::json!({"name": "marked", "custom_properties": {"fleetsync": "fleetsync:abc project:dev/K"}})),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let repo: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        repo["custom_properties"]["fleetsync"],
        "fleetsync:abc project:dev/K"
    );
    assert_eq!(repo["custom_properties"]["team"], "unknown");
    // An undefined property, or a value of the wrong type: 422, nothing created.
    for body in [
        serde_json::json!({"name": "bad1", "custom_properties": {"nope": "x"}}),
        serde_json::json!({"name": "bad2", "custom_properties": {"fleetsync": 3}}),
    ] {
        let r = call(reqwest::Method::POST, "/orgs/acme/repos", TOKEN, Some(body))
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 422);
    }
    assert!(s.handle.repo("acme/bad1").is_none() && s.handle.repo("acme/bad2").is_none());
    // A repo admin without the organisation's permission may not set an org-actors
    // property (403, nothing created), but may set an org-and-repo-actors one.
    let r = call(
        reqwest::Method::POST,
        "/orgs/acme/repos",
        "ghp_repoAdmin",
        Some(serde_json::json!({"name": "bad3", "custom_properties": {"fleetsync": "x"}})),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(s.handle.repo("acme/bad3").is_none());
    let patch = |token: &'static str, body: serde_json::Value| {
        call(
            reqwest::Method::PATCH,
            "/repos/acme/marked/properties/values",
            token,
            Some(body),
        )
    };
    let r = patch(
        "ghp_repoAdmin",
        serde_json::json!({"properties": [{"property_name": "fleetsync", "value": "mine"}]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = patch(
        "ghp_repoAdmin",
        serde_json::json!({"properties": [{"property_name": "team", "value": "data"}]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    // The organisation actor changes, then unsets, the marker.
    let r = patch(
        TOKEN,
        serde_json::json!({"properties": [{"property_name": "fleetsync", "value": "other"}]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let r = call(
        reqwest::Method::GET,
        "/repos/acme/marked/properties/values",
        TOKEN,
        None,
    )
    .await
    .unwrap();
    let values: serde_json::Value = r.json().await.unwrap();
    assert!(values
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["property_name"] == "fleetsync" && v["value"] == "other"));
    let r = patch(
        TOKEN,
        serde_json::json!({"properties": [{"property_name": "fleetsync", "value": null}]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let view = s.handle.repo("acme/marked").unwrap();
    assert!(!view.custom_properties.contains_key("fleetsync"));
    assert_eq!(view.custom_properties["team"], "data");
    // A missing `properties` key: 422.
    let r = patch(TOKEN, serde_json::json!({})).await.unwrap();
    assert_eq!(r.status().as_u16(), 422);
}
