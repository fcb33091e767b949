//! The DSS side: project remotes linked and pushed once, remotes pointing elsewhere reported,
//! failed pushes recorded and retried, dev plugins mirrored as one commit, infrastructure ids
//! from the deployer, several nodes with prefixes and collisions, opt-in/opt-out tags and
//! metadata overrides.

mod common;

use common::*;
use fleetsync::plan::render_text;
use fleetsync_sim::dss::{self, DssSimSettings};

fn managed_keys(f: &Fleet) -> Vec<String> {
    f.dss
        .handle
        .project_keys()
        .into_iter()
        .filter(|k| {
            f.gh.handle
                .repo(&format!("acme/dss-{}", k.to_lowercase()))
                .is_some()
        })
        .collect()
}

fn remote_host(f: &Fleet) -> String {
    f.gh.url.trim_start_matches("http://").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remotes_are_linked_and_pushed_once() {
    let mut f = Fleet::start(6, 0, roomy_github(), "").await;
    f.node_extra = "[dss.git]\nlink_remote = true".into();
    f.write_config();
    let r = f.run().await;
    assert_eq!(
        r.status,
        "succeeded",
        "{}\n{}",
        r.summary,
        render_text(&r.plan)
    );
    let text = render_text(&r.plan);
    assert!(text.contains("+ dss-remote:design/"), "{text}");
    assert!(text.contains("+ dss-push:design/"), "{text}");
    let host = remote_host(&f);
    for k in managed_keys(&f) {
        assert_eq!(
            f.dss.handle.remote_of(&k).as_deref(),
            Some(format!("git@{host}:acme/dss-{}.git", k.to_lowercase()).as_str())
        );
        assert_eq!(f.dss.handle.pushes_of(&k), 1, "{k}");
    }
    // Idempotent: nothing more on the next run.
    let r = f.run().await;
    assert_eq!(r.plan.step_count(), 0, "{}", render_text(&r.plan));
    for k in managed_keys(&f) {
        assert_eq!(f.dss.handle.pushes_of(&k), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_pointing_elsewhere_is_drift_unless_overwrite_is_on() {
    let mut f = Fleet::start(6, 0, roomy_github(), "").await;
    f.node_extra = "[dss.git]\nlink_remote = true".into();
    f.write_config();
    f.run().await;
    let key = managed_keys(&f)[0].clone();
    // Someone points the project elsewhere in DSS.
    let c = reqwest::Client::new();
    let url = format!("{}/public/api/projects/{key}/git/remotes/origin", f.dss.url);
    let resp = c
        .post(&url)
        .basic_auth(DSS_KEY, Some(""))
        .body(r#"{"url": "git@github.com:someone/else.git"}"#)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let r = f.run().await;
    assert_eq!(r.plan.step_count(), 0);
    let drift: Vec<_> = r.plan.repos.iter().flat_map(|p| p.drift.iter()).collect();
    assert_eq!(drift.len(), 1, "{}", render_text(&r.plan));
    assert!(drift[0].what.contains("someone/else"));
    assert!(render_text(&r.plan).contains("report only"));
    assert_eq!(
        f.dss.handle.remote_of(&key).as_deref(),
        Some("git@github.com:someone/else.git")
    );
    // With overwrite on, it is put back and pushed.
    f.node_extra = "[dss.git]\nlink_remote = true\noverwrite_remote = true".into();
    f.write_config();
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{}", render_text(&r.plan));
    assert!(f
        .dss
        .handle
        .remote_of(&key)
        .unwrap()
        .ends_with(&format!("acme/dss-{}.git", key.to_lowercase())));
    assert_eq!(f.dss.handle.pushes_of(&key), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_push_is_recorded_with_dss_message_and_retried() {
    let mut f = Fleet::start(6, 0, roomy_github(), "").await;
    f.node_extra = "[dss.git]\nlink_remote = true".into();
    f.write_config();
    f.dss
        .handle
        .set_push_failure(Some("remote: Permission to acme denied to deploy-key."));
    let r = f.run().await;
    assert_eq!(r.status, "partial");
    let failed: Vec<String> = r
        .results
        .iter()
        .flat_map(|x| x.results.iter())
        .filter_map(|s| match &s.outcome {
            fleetsync::apply::Outcome::Failed(m) => Some(m.clone()),
            _ => None,
        })
        .collect();
    assert!(!failed.is_empty());
    assert!(
        failed
            .iter()
            .all(|m| m.contains("Permission to acme denied")),
        "{failed:?}"
    );
    let key = managed_keys(&f)[0].clone();
    let repo = format!("acme/dss-{}", key.to_lowercase());
    let rec = f.store().get_repo(&repo).unwrap().unwrap();
    assert!(rec
        .last_error
        .unwrap_or_default()
        .contains("Permission to acme denied"));
    // The next run retries the push.
    f.dss.handle.set_push_failure(None);
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{}", render_text(&r.plan));
    assert_eq!(f.dss.handle.pushes_of(&key), 1);
    let r = f.run().await;
    assert_eq!(r.plan.step_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_plugins_are_mirrored_as_one_commit_when_they_change() {
    let f = Fleet::start(3, 2, roomy_github(), "").await;
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{}", r.summary);
    let plugins: Vec<String> =
        f.gh.handle
            .repo_names()
            .into_iter()
            .filter(|n| n.starts_with("acme/dss-plugin-"))
            .collect();
    assert_eq!(plugins.len(), 2);
    for p in &plugins {
        let v = f.gh.handle.repo(p).unwrap();
        assert!(v.files.contains_key("plugin.json"), "{:?}", v.files.keys());
        // Plugin repos (no [plugin_repo] table) hold no project workflows.
        assert!(!v.files.contains_key(".github/workflows/pr.yml"));
    }
    let r = f.run().await;
    assert_eq!(r.plan.step_count(), 0, "{}", render_text(&r.plan));
    // A new version: one commit with the changed files.
    let id = plugins[0]
        .trim_start_matches("acme/dss-plugin-")
        .to_string();
    assert!(f.dss.handle.set_plugin_version(&id, "9.9.9"));
    f.gh.handle.reset_counters();
    let r = f.run().await;
    assert_eq!(r.status, "succeeded");
    assert_eq!(r.plan.step_count(), 1, "{}", render_text(&r.plan));
    let c = f.gh.handle.counters();
    assert_eq!(c.count("POST /repos/{owner}/{repo}/git/commits 201"), 1);
    assert_eq!(
        c.count("PATCH /repos/{owner}/{repo}/git/refs/heads/{*branch} 200"),
        1
    );
    let v = f.gh.handle.repo(&plugins[0]).unwrap();
    assert!(String::from_utf8_lossy(&v.files["plugin.json"]).contains("9.9.9"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infrastructure_ids_come_from_the_deployer_by_stage() {
    let mut f = Fleet::start(4, 0, roomy_github(), "").await;
    f.node_extra =
        "[dss.infra]\nfill_variables = true\nstaging_stage = \"Test\"\nprod_stage = \"Production\""
            .into();
    f.write_config();
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{}", r.summary);
    let repo = f.gh.handle.repo_names()[0].clone();
    let v = f.gh.handle.repo(&repo).unwrap();
    assert_eq!(
        v.variables["DATAIKU_INFRA_ID_STAGING"],
        "staging-automation"
    );
    assert_eq!(v.variables["DATAIKU_INFRA_ID_PROD"], "prod-automation");
    // A stage that does not exist: a clear per-project error, nothing half-done.
    f.node_extra = "[dss.infra]\nfill_variables = true\nprod_stage = \"Moon\"".into();
    f.write_config();
    let r = f.run().await;
    assert!(
        r.plan.errors.iter().all(|e| e.reason.contains("Moon")),
        "{:?}",
        r.plan.errors
    );
    assert!(!r.plan.errors.is_empty());
    assert_eq!(r.plan.step_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_nodes_with_prefixes_and_collisions_reported_before_creation() {
    let mut f = Fleet::start(4, 0, roomy_github(), "").await;
    let second = dss::start(
        DssSimSettings {
            projects: 4,
            plugins: 0,
            ..Default::default()
        },
        vec![DSS_KEY.into()],
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    // Same seed → the second node has the same project keys: without prefixes they collide.
    f.tail = format!(
        "\n[[dss]]\nname = \"second\"\nurl = \"{}\"\napi_key = {{ file = \"dss-key\" }}\n[dss.tags]\nexclude = [\"no-gitops\"]\n",
        second.url
    );
    f.write_config();
    let r = f.run().await;
    assert!(!r.plan.errors.is_empty());
    assert!(
        r.plan
            .errors
            .iter()
            .all(|e| e.reason.contains("more than one project")),
        "{:?}",
        r.plan.errors
    );
    assert!(
        f.gh.handle.repo_names().is_empty(),
        "nothing created for colliding names"
    );
    // With prefixes, both nodes get their repos.
    f.node_extra = "repo_prefix = \"a-\"".into();
    f.tail = format!(
        "\n[[dss]]\nname = \"second\"\nurl = \"{}\"\napi_key = {{ file = \"dss-key\" }}\nrepo_prefix = \"b-\"\n",
        second.url
    );
    f.write_config();
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{} {:?}", r.summary, r.plan.errors);
    let names = f.gh.handle.repo_names();
    assert!(names.iter().any(|n| n.starts_with("acme/a-dss-")));
    assert!(names.iter().any(|n| n.starts_with("acme/b-dss-")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_opt_in_and_metadata_overrides() {
    let mut f = Fleet::start(6, 0, roomy_github(), "").await;
    let keys = f.dss.handle.project_keys();
    f.dss.handle.set_project_tags(&keys[0], &["gitops"]);
    f.dss.handle.set_project_tags(&keys[1], &["gitops"]);
    f.dss
        .handle
        .set_custom_field(&keys[0], "github_visibility", serde_json::json!("public"));
    f.dss
        .handle
        .set_custom_field(&keys[1], "github_reviews", serde_json::json!(2));
    // Opt-in mode: only projects tagged `gitops` are managed.
    f.config_path = f.config_path.clone();
    let text = f.config_text().replace(
        "[dss.tags]\nexclude = [\"no-gitops\"]",
        "[dss.overrides]\nvisibility_field = \"github_visibility\"\nrequired_reviews_field = \"github_reviews\"\n\n[dss.tags]\ninclude = [\"gitops\"]",
    );
    std::fs::write(&f.config_path, text).unwrap();
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{} {:?}", r.summary, r.plan.errors);
    let names = f.gh.handle.repo_names();
    assert_eq!(names.len(), 2, "{names:?}");
    let a =
        f.gh.handle
            .repo(&format!("acme/dss-{}", keys[0].to_lowercase()))
            .unwrap();
    assert_eq!(a.visibility, "public");
    let b =
        f.gh.handle
            .repo(&format!("acme/dss-{}", keys[1].to_lowercase()))
            .unwrap();
    assert_eq!(b.visibility, "private");
    assert_eq!(
        b.protection["prod"]["required_pull_request_reviews"]["required_approving_review_count"],
        2
    );
    // A bad override value is a per-project error; the other project proceeds.
    f.dss
        .handle
        .set_custom_field(&keys[1], "github_reviews", serde_json::json!("lots"));
    let r = f.run().await;
    assert_eq!(r.plan.errors.len(), 1, "{:?}", r.plan.errors);
    assert!(r.plan.errors[0].reason.contains("github_reviews"));
}
