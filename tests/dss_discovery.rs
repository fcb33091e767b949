//! The crate's DSS client and discovery against the simulated node over loopback HTTP:
//! filters (globs, tags), changes seen on the next run, and the safety rule that a failed or
//! empty listing is `Unknown`. Also: errors name the node and status, never the key.

use fleetsync::config::{load_str, Config, SecretValue};
use fleetsync::dss::{discover, Discovery, DssClient, DssError};
use fleetsync_sim::dss::{start, DssSimSettings, RunningDssSim};
use std::path::Path;

const KEY: &str = "canary-key-5d1e7c";

async fn sim() -> RunningDssSim {
    start(
        DssSimSettings::default(),
        vec![KEY.to_string()],
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

/// A config with one node at `url`; `extra` is appended to its `[[dss]]` table.
fn config(url: &str, extra: &str) -> Config {
    let text = format!(
        r#"
[[dss]]
name = "design"
url = "{url}"
api_key = {{ env = "FLEETSYNC_TEST_DSS_KEY" }}
{extra}

[github]
owner = "acme"
auth = {{ pat = {{ env = "FLEETSYNC_TEST_GH_TOKEN" }} }}
"#
    );
    match load_str(Path::new("/tmp/fleetsync-test/fleet.toml"), &text) {
        Ok(c) => c,
        Err(e) => panic!("config: {e}"),
    }
}

fn client(cfg: &Config, key: &str) -> DssClient {
    DssClient::new(&cfg.raw.dss[0], SecretValue::new(key), &cfg.base_dir).unwrap()
}

async fn run(cfg: &Config, c: &DssClient) -> Discovery {
    let inv = discover(&cfg.raw.dss[0], &cfg.key_filters[0], c).await;
    assert_eq!(inv.node, "design");
    inv.outcome
}

fn known(d: Discovery) -> (Vec<String>, Vec<String>, usize) {
    match d {
        Discovery::Known {
            projects,
            plugins,
            listed,
        } => (
            projects.into_iter().map(|p| p.key).collect(),
            plugins.into_iter().map(|p| p.id).collect(),
            listed,
        ),
        Discovery::Unknown { reason, .. } => panic!("unknown: {reason}"),
    }
}

fn opted_out(s: &RunningDssSim) -> Vec<String> {
    s.handle
        .project_keys()
        .into_iter()
        .filter(|k| {
            s.handle
                .project_tags(k)
                .unwrap_or_default()
                .contains(&"no-gitops".to_string())
        })
        .collect()
}

#[tokio::test]
async fn discovery_lists_seeded_projects_minus_opted_out_and_dev_plugins() {
    let s = sim().await;
    let cfg = config(&s.url, "[dss.tags]\nexclude = [\"no-gitops\"]");
    let c = client(&cfg, KEY);
    let (projects, plugins, listed) = known(run(&cfg, &c).await);
    let out = opted_out(&s);
    assert!(!out.is_empty());
    let expected: Vec<String> = s
        .handle
        .project_keys()
        .into_iter()
        .filter(|k| !out.contains(k))
        .collect();
    assert_eq!(listed, 25);
    assert_eq!(projects, expected);
    let mut sorted = projects.clone();
    sorted.sort();
    assert_eq!(projects, sorted);
    assert_eq!(plugins.len(), 2);
    assert!(!plugins.contains(&"googlesheets".to_string()));
}

#[tokio::test]
async fn dip_prefix_and_plugins_off() {
    let s = sim().await;
    let cfg = config(&s.url, "api_prefix = \"/dip/publicapi\"\nplugins = false");
    let (projects, plugins, _) = known(run(&cfg, &client(&cfg, KEY)).await);
    assert_eq!(projects.len(), 25);
    assert!(plugins.is_empty());
    assert!(s.handle.route_count("GET /plugins/") == 0);
}

#[tokio::test]
async fn include_exclude_globs_and_include_tags() {
    let s = sim().await;
    s.handle.add_project("FIN_ONE", "one", &["finance-gitops"]);
    s.handle.add_project("FIN_TWO", "two", &[]);
    s.handle
        .add_project("FIN_SKIP", "skip", &["finance-gitops"]);
    let cfg = config(&s.url, "include = [\"FIN_*\"]\nexclude = [\"*_SKIP\"]");
    let (projects, _, _) = known(run(&cfg, &client(&cfg, KEY)).await);
    assert_eq!(projects, ["FIN_ONE", "FIN_TWO"]);

    let cfg = config(
        &s.url,
        "include = [\"FIN_*\"]\n[dss.tags]\ninclude = [\"finance-gitops\"]",
    );
    let (projects, _, _) = known(run(&cfg, &client(&cfg, KEY)).await);
    assert_eq!(projects, ["FIN_ONE", "FIN_SKIP"]);
}

#[tokio::test]
async fn admin_changes_are_seen_on_the_next_discovery() {
    let s = sim().await;
    let cfg = config(&s.url, "");
    let c = client(&cfg, KEY);
    let (before, _, _) = known(run(&cfg, &c).await);
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/_sim/dss/projects", s.url))
        .body(r#"{"key": "BRAND_NEW", "name": "Brand new", "tags": []}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let gone = before[0].clone();
    let r = http
        .delete(format!("{}/_sim/dss/projects/{gone}", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (after, _, listed) = known(run(&cfg, &c).await);
    assert_eq!(listed, 25);
    assert!(after.contains(&"BRAND_NEW".to_string()));
    assert!(!after.contains(&gone));

    // A tag change that opts a project out.
    let cfg = config(&s.url, "[dss.tags]\nexclude = [\"no-gitops\"]");
    let r = http
        .put(format!("{}/_sim/dss/projects/BRAND_NEW/tags", s.url))
        .body(r#"["no-gitops"]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (after, _, _) = known(run(&cfg, &client(&cfg, KEY)).await);
    assert!(!after.contains(&"BRAND_NEW".to_string()));
}

#[tokio::test]
async fn touch_is_visible_as_a_new_version() {
    let s = sim().await;
    let cfg = config(&s.url, "");
    let c = client(&cfg, KEY);
    let key = s.handle.project_keys()[0].clone();
    let v0 = c
        .list_projects()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.key == key)
        .unwrap();
    let v1 = s.handle.touch_project(&key).unwrap();
    let p = c
        .list_projects()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.key == key)
        .unwrap();
    assert_eq!(p.version, Some(v1));
    assert!(p.version > v0.version);
    assert!(p.last_modified_ms > v0.last_modified_ms);
}

#[tokio::test]
async fn outage_empty_listing_and_errors_are_unknown() {
    let s = sim().await;
    let cfg = config(&s.url, "");
    let c = client(&cfg, KEY);

    s.handle.set_outage(true);
    match run(&cfg, &c).await {
        Discovery::Unknown { reason, .. } => {
            assert!(reason.contains("design"), "{reason}");
            assert!(reason.contains("503"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    s.handle.set_outage(false);

    s.handle.set_empty_listing(true);
    assert!(matches!(run(&cfg, &c).await, Discovery::Unknown { .. }));
    s.handle.set_empty_listing(false);

    s.handle.set_error_rate(1.0);
    assert!(matches!(run(&cfg, &c).await, Discovery::Unknown { .. }));
    s.handle.set_error_rate(0.0);

    // Faults off: known again.
    assert!(run(&cfg, &c).await.is_known());

    // Nothing listens there any more.
    let url = s.url.clone();
    s.shutdown().await;
    let cfg = config(&url, "timeout = \"2s\"");
    match run(&cfg, &client(&cfg, KEY)).await {
        Discovery::Unknown { reason, .. } => assert!(reason.contains("design"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn errors_name_node_and_status_but_never_the_key() {
    let s = sim().await;
    let cfg = config(&s.url, "");

    // A wrong key (itself a canary) → 401.
    let wrong = "canary-wrong-91b2";
    let c = client(&cfg, wrong);
    assert!(!format!("{c:?}").contains(wrong));
    let e = c.list_projects().await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    let text = e.to_string();
    assert!(text.contains("design"), "{text}");
    assert!(text.contains("401"), "{text}");
    assert!(text.contains("GET /projects/"), "{text}");
    assert!(text.contains("UnauthorizedException"), "{text}");
    assert!(!text.contains(wrong) && !format!("{e:?}").contains(wrong));

    // The right key, a 500 from DSS.
    s.handle.set_error_rate(1.0);
    let c = client(&cfg, KEY);
    let e = c.list_plugins().await.unwrap_err();
    assert!(matches!(e, DssError::Http { status: 500, .. }));
    let text = e.to_string();
    assert!(text.contains("design") && text.contains("500"), "{text}");
    assert!(!text.contains(KEY) && !format!("{e:?}").contains(KEY));
    match run(&cfg, &c).await {
        Discovery::Unknown { reason, .. } => assert!(!reason.contains(KEY)),
        other => panic!("{other:?}"),
    }

    // Unknown project → 404 with DSS's text.
    s.handle.set_error_rate(0.0);
    let e = c.git_remote("NOPE", "origin").await.unwrap_err();
    assert_eq!(e.status(), Some(404));
    assert!(e.to_string().contains("NOPE"));
}

#[tokio::test]
async fn git_remote_push_plugin_download_and_infras_through_the_client() {
    let s = sim().await;
    let cfg = config(&s.url, "");
    let c = client(&cfg, KEY);
    let key = s.handle.project_keys()[1].clone();

    assert_eq!(c.git_remote(&key, "origin").await.unwrap(), None);
    let out = c.push(&key, None).await.unwrap();
    assert!(!out.success);
    assert!(!out.output.is_empty());

    // The node's pushes land in a simulated GitHub holding the (empty) repo.
    let gh = fleetsync_sim::github::start(
        Default::default(),
        vec![fleetsync_sim::github::SimToken::pat("t")],
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    s.handle.link_github(&gh.handle);
    let url = "https://github.com/acme/dss-x.git";
    c.set_git_remote(&key, "origin", url).await.unwrap();
    let out = c.push(&key, Some("master")).await.unwrap();
    assert!(!out.success);
    assert!(
        out.output.contains("Repository not found"),
        "{}",
        out.output
    );
    assert!(gh.handle.create_empty_repo("acme", "dss-x"));
    assert_eq!(
        c.git_remote(&key, "origin").await.unwrap().as_deref(),
        Some(url)
    );
    assert_eq!(s.handle.remote_of(&key).as_deref(), Some(url));
    let out = c.push(&key, Some("master")).await.unwrap();
    assert!(out.success, "{}", out.output);
    assert_eq!(s.handle.pushes_of(&key), 1);
    assert_eq!(
        gh.handle.branch_head("acme/dss-x", "master"),
        s.handle.branch_head(&key, "master")
    );

    let plugins = c.list_plugins().await.unwrap();
    let dev = plugins.iter().find(|p| p.is_dev).unwrap();
    assert!(!dev.label.is_empty());
    let zip = c.download_plugin(&dev.id).await.unwrap();
    assert!(zip.starts_with(b"PK"));
    assert_eq!(
        c.download_plugin("googlesheets")
            .await
            .unwrap_err()
            .status(),
        Some(404)
    );

    let infras = c.list_infras().await.unwrap();
    assert_eq!(infras.len(), 2);
    assert_eq!(infras[0].id, "staging-automation");
    // DSS's stock stages: Development, Test, Production.
    assert_eq!(infras[0].stage.as_deref(), Some("Test"));
    assert_eq!(c.instance_info().await.unwrap().node_type, "DESIGN");
}

#[tokio::test]
async fn a_bad_client_certificate_is_a_setup_error_naming_the_node() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("client.pem"), "not a PEM at all\n").unwrap();
    let text = r#"
[[dss]]
name = "mtls-node"
url = "https://127.0.0.1:1"
api_key = { env = "FLEETSYNC_TEST_DSS_KEY" }
client_certificate = "client.pem"

[github]
owner = "acme"
auth = { pat = { env = "FLEETSYNC_TEST_GH_TOKEN" } }
"#;
    let cfg = match load_str(&dir.path().join("fleet.toml"), text) {
        Ok(c) => c,
        Err(e) => panic!("config: {e}"),
    };
    let e = DssClient::new(&cfg.raw.dss[0], SecretValue::new(KEY), &cfg.base_dir).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, DssError::Setup { .. }), "{text}");
    assert!(
        text.contains("mtls-node") && text.contains("client.pem"),
        "{text}"
    );
    assert!(!text.contains(KEY));
}
