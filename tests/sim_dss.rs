//! The simulated DSS node over real HTTP, with plain reqwest (not the crate's client): both
//! API prefixes, the three auth forms, DSS headers and error JSON, git remotes with a body that
//! has no Content-Type, tag filtering, plugin archives, faults and the admin API.

use fleetsync_sim::dss::{start, DssSimSettings, RunningDssSim};
use serde_json::Value;

const KEY: &str = "sim-test-key";

async fn github_sim() -> fleetsync_sim::github::RunningGithubSim {
    fleetsync_sim::github::start(
        Default::default(),
        vec![fleetsync_sim::github::SimToken::pat("gh-token")],
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

async fn sim() -> RunningDssSim {
    start(
        DssSimSettings::default(),
        vec![KEY.to_string()],
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

fn basic(user: &str, pass: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

async fn get(url: &str, auth: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(url)
        .header("Authorization", auth)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn both_prefixes_serve_the_same_projects_with_dss_headers() {
    let s = sim().await;
    let a = get(&format!("{}/public/api/projects/", s.url), &basic(KEY, "")).await;
    assert_eq!(a.status(), 200);
    assert_eq!(a.headers()["DSS-Version"], "13.4.0");
    assert!(a.headers().contains_key("DSS-API-Version"));
    let a: Value = a.json().await.unwrap();
    let b: Value = get(
        &format!("{}/dip/publicapi/projects/", s.url),
        &basic(KEY, ""),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(a, b);
    let items = a.as_array().unwrap();
    assert_eq!(items.len(), 25);
    let first = &items[0];
    for field in [
        "projectKey",
        "name",
        "shortDesc",
        "tags",
        "ownerLogin",
        "ownerDisplayName",
        "projectStatus",
        "tutorialProject",
        "creationTag",
    ] {
        assert!(first.get(field).is_some(), "missing {field}: {first}");
    }
    assert!(first["versionTag"]["versionNumber"].is_u64());
    assert!(first["versionTag"]["lastModifiedOn"].is_i64());
    assert!(first["versionTag"]["lastModifiedBy"]["login"].is_string());
}

#[tokio::test]
async fn blank_user_basic_and_bearer_are_accepted_wrong_key_is_401() {
    let s = sim().await;
    let url = format!("{}/public/api/projects/", s.url);
    assert_eq!(get(&url, &basic("", KEY)).await.status(), 200);
    assert_eq!(get(&url, &format!("Bearer {KEY}")).await.status(), 200);
    for bad in [basic("nope", ""), "Bearer nope".to_string(), String::new()] {
        let r = get(&url, &bad).await;
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["DSS-Version"], "13.4.0");
        let body: Value = r.json().await.unwrap();
        assert!(body["errorType"].is_string(), "{body}");
        assert!(body["message"].is_string(), "{body}");
        assert!(body["detailedMessage"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn remote_set_without_content_type_then_read_back_and_push() {
    let s = sim().await;
    let key = s.handle.project_keys()[0].clone();
    let remote = format!("{}/public/api/projects/{key}/git/remotes/origin", s.url);
    let r = get(&remote, &basic(KEY, "")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), serde_json::json!({}));

    // What the Python client does: a str body and no Content-Type.
    let r = reqwest::Client::new()
        .post(&remote)
        .header("Authorization", basic(KEY, ""))
        .body(r#"{"url": "git@github.com:acme/dss-x.git"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.unwrap().is_object());
    let got: Value = get(&remote, &basic(KEY, "")).await.json().await.unwrap();
    assert_eq!(got["url"], "git@github.com:acme/dss-x.git");
    assert_eq!(
        s.handle.remote_of(&key).as_deref(),
        Some("git@github.com:acme/dss-x.git")
    );

    // The push lands in the simulated GitHub the remote names (github.com → the linked sim).
    let gh = github_sim().await;
    s.handle.link_github(&gh.handle);
    assert!(gh.handle.create_empty_repo("acme", "dss-x"));
    let push = format!(
        "{}/dip/publicapi/projects/{key}/git/actions/push?branchName=master",
        s.url
    );
    let r: Value = reqwest::Client::new()
        .post(&push)
        .header("Authorization", basic(KEY, ""))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["success"], true, "{r}");
    assert_eq!(s.handle.pushes_of(&key), 1);
    assert_eq!(
        gh.handle.branch_head("acme/dss-x", "master"),
        s.handle.branch_head(&key, "master")
    );

    let r = reqwest::Client::new()
        .delete(&remote)
        .header("Authorization", basic(KEY, ""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r: Value = reqwest::Client::new()
        .post(&push)
        .header("Authorization", basic(KEY, ""))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["success"], false, "{r}");
    assert!(!r["output"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn unknown_project_and_path_are_404_error_json() {
    let s = sim().await;
    for path in [
        "/public/api/projects/NOPE",
        "/public/api/projects/NOPE/metadata",
        "/public/api/projects/NOPE/git/remotes/origin",
        "/public/api/plugins/nope/download",
        "/public/api/googlesheets-not-a-route",
    ] {
        let r = get(&format!("{}{path}", s.url), &basic(KEY, "")).await;
        assert_eq!(r.status(), 404, "{path}");
        assert!(r.headers().contains_key("DSS-Version"), "{path}");
        let body: Value = r.json().await.unwrap();
        assert!(body["errorType"].is_string(), "{path}: {body}");
    }
}

#[tokio::test]
async fn summary_metadata_and_tags_query() {
    let s = sim().await;
    s.handle.add_project("TAGGED_A", "A", &["alpha"]);
    s.handle.add_project("TAGGED_B", "B", &["beta", "x"]);
    let summary: Value = get(
        &format!("{}/public/api/projects/TAGGED_A", s.url),
        &basic(KEY, ""),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(summary["projectKey"], "TAGGED_A");
    let meta: Value = get(
        &format!("{}/public/api/projects/TAGGED_A/metadata", s.url),
        &basic(KEY, ""),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(meta["tags"], serde_json::json!(["alpha"]));
    let listed: Value = get(
        &format!(
            "{}/public/api/projects/?tags=alpha,beta&includeLocation=True",
            s.url
        ),
        &basic(KEY, ""),
    )
    .await
    .json()
    .await
    .unwrap();
    let keys: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["projectKey"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["TAGGED_A", "TAGGED_B"]);
}

#[tokio::test]
async fn plugin_listing_and_dev_plugin_download_is_a_zip() {
    let s = sim().await;
    let plugins: Value = get(&format!("{}/public/api/plugins/", s.url), &basic(KEY, ""))
        .await
        .json()
        .await
        .unwrap();
    let plugins = plugins.as_array().unwrap();
    assert_eq!(plugins.len(), 4);
    let dev: Vec<&Value> = plugins.iter().filter(|p| p["isDev"] == true).collect();
    assert_eq!(dev.len(), 2);
    assert!(dev[0]["meta"]["label"].is_string());
    let id = dev[0]["id"].as_str().unwrap();
    let r = get(
        &format!("{}/public/api/plugins/{id}/download", s.url),
        &basic(KEY, ""),
    )
    .await;
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(b"PK"));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut manifest = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("plugin.json").unwrap(), &mut manifest).unwrap();
    let manifest: Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["id"], id);

    let r = get(
        &format!("{}/public/api/plugins/googlesheets/download", s.url),
        &basic(KEY, ""),
    )
    .await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn deployer_instance_and_auth_info() {
    let s = sim().await;
    let infras: Value = get(
        &format!("{}/public/api/project-deployer/infras", s.url),
        &basic(KEY, ""),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(infras[1]["infraBasicInfo"]["id"], "prod-automation");
    assert_eq!(infras[1]["infraBasicInfo"]["stage"], "Production");
    let stages: Value = get(
        &format!("{}/public/api/project-deployer/stages", s.url),
        &basic(KEY, ""),
    )
    .await
    .json()
    .await
    .unwrap();
    // DSS's stock lifecycle stages.
    let ids: Vec<&str> = stages
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["Development", "Test", "Production"]);
    assert_eq!(infras[0]["infraBasicInfo"]["stage"], "Test");
    let info: Value = get(
        &format!("{}/public/api/instance-info", s.url),
        &basic(KEY, ""),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(info["nodeType"], "DESIGN");
    let auth = get(&format!("{}/public/api/auth/info", s.url), &basic(KEY, "")).await;
    assert_eq!(auth.status(), 200);
}

#[tokio::test]
async fn faults_outage_error_rate_and_empty_listing() {
    let s = sim().await;
    let url = format!("{}/public/api/projects/", s.url);
    s.handle.set_outage(true);
    let r = get(&url, &basic(KEY, "")).await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("DSS-Version"));
    s.handle.set_outage(false);
    s.handle.set_error_rate(1.0);
    let r = get(&url, &basic(KEY, "")).await;
    assert_eq!(r.status(), 500);
    assert!(r.json::<Value>().await.unwrap()["errorType"].is_string());
    s.handle.set_error_rate(0.0);
    s.handle.set_empty_listing(true);
    let r: Value = get(&url, &basic(KEY, "")).await.json().await.unwrap();
    assert_eq!(r, serde_json::json!([]));
    assert!(s.handle.request_count() >= 3);
    assert_eq!(s.handle.route_count("GET /projects/"), 3);
}

#[tokio::test]
async fn admin_api_changes_state_and_reports_counters() {
    let s = sim().await;
    let c = reqwest::Client::new();
    let r = c
        .post(format!("{}/_sim/dss/projects", s.url))
        .body(r#"{"key": "ADMIN_NEW", "name": "New", "tags": ["t1"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(s.handle.project_keys().contains(&"ADMIN_NEW".to_string()));
    let r = c
        .put(format!("{}/_sim/dss/projects/ADMIN_NEW/tags", s.url))
        .body(r#"["t2", "t3"]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        s.handle.project_tags("ADMIN_NEW").unwrap(),
        vec!["t2".to_string(), "t3".to_string()]
    );
    let r = c
        .delete(format!("{}/_sim/dss/projects/ADMIN_NEW", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(!s.handle.project_keys().contains(&"ADMIN_NEW".to_string()));
    let r = c
        .post(format!("{}/_sim/dss/outage", s.url))
        .body(r#"{"on": true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = get(&format!("{}/public/api/projects/", s.url), &basic(KEY, "")).await;
    assert_eq!(r.status(), 503);
    let state: Value = c
        .get(format!("{}/_sim/dss/state", s.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["outage"], true);
    assert_eq!(state["projects"].as_array().unwrap().len(), 25);
    let counters: Value = c
        .get(format!("{}/_sim/dss/requests", s.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["total"], 1);
    assert_eq!(counters["routes"]["GET /projects/"], 1);
    s.shutdown().await;
}
