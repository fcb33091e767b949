//! Plugin repos hold plugin contents, not a project's: and the upgrade from a release where
//! they held `[repo]`'s contents removes what fleetsync wrote there, only that, and only
//! where GitHub still holds it as written, each removal a step of the plan with its reason.
//! Checked on the simulated GitHub.

mod common;

use common::*;
use fleetsync::plan::{render_text, Action, Reason};

const WORKFLOWS: [&str; 2] = [".github/workflows/pr.yml", ".github/workflows/release.yml"];

fn plugin_repos(f: &Fleet) -> Vec<String> {
    f.gh.handle
        .repo_names()
        .into_iter()
        .filter(|r| r.contains("dss-plugin-"))
        .collect()
}

/// The `[repo]` tables of the fleet, as `[plugin_repo]`: what plugin repos held before.
fn old_plugin_tables(f: &Fleet) -> String {
    fleetsync_harness::fleet_config::repo_tables(&f.dss.url, "templates")
        .replace("[repo", "[plugin_repo")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrading_removes_only_what_fleetsync_wrote_to_plugin_repos_and_says_so() {
    let mut f = Fleet::start(3, 2, roomy_github(), "").await;
    f.tail = old_plugin_tables(&f);
    f.write_config();
    let run = f.run().await;
    assert_eq!(run.status, "succeeded", "{}\n{:?}", run.summary, run.error);
    let plugins = plugin_repos(&f);
    assert_eq!(plugins.len(), 2, "{:?}", f.gh.handle.repo_names());
    let (edited, plain) = (&plugins[0], &plugins[1]);
    for r in &plugins {
        let v = f.gh.handle.repo(r).unwrap();
        assert!(WORKFLOWS.iter().all(|w| v.files.contains_key(*w)), "{r}");
        assert_eq!(v.variables.len(), 6, "{r}");
        assert_eq!(v.secrets.len(), 4, "{r}");
    }
    // Someone edits one workflow, one variable and one secret of a plugin repo, and adds a
    // variable of their own to the other. GitHub shows a secret's `updated_at` to the second:
    // the hand edit comes in a later second than fleetsync's write, as any human one does.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(f.gh.handle.edit_file(
        edited,
        None,
        ".github/workflows/release.yml",
        b"name: ours\non: push\njobs: {}\n"
    ));
    assert!(f
        .gh
        .handle
        .set_variable(edited, "DATAIKU_INFRA_ID_PROD", "hand-set"));
    assert!(f
        .gh
        .handle
        .overwrite_secret(edited, "CLIENT_CERTIFICATE", "theirs"));
    assert!(f.gh.handle.set_variable(plain, "TEAM_VAR", "kept"));
    let projects_before: Vec<_> =
        f.gh.handle
            .repo_names()
            .into_iter()
            .filter(|r| !r.contains("dss-plugin-"))
            .map(|r| f.gh.handle.repo(&r).unwrap())
            .collect();

    // The upgrade: no [plugin_repo] any more (the plugin defaults).
    f.tail = String::new();
    f.write_config();
    let plan = f.plan().await;
    let text = render_text(&plan.plan);
    for rp in &plan.plan.repos {
        let is_plugin = rp.repo.contains("dss-plugin-");
        let deletes: Vec<_> = rp
            .steps
            .iter()
            .filter(|s| s.action == Action::Delete)
            .collect();
        if !is_plugin {
            assert!(deletes.is_empty(), "{}: {deletes:?}", rp.repo);
            continue;
        }
        assert!(
            deletes
                .iter()
                .all(|s| s.reason == Reason::RemovedFromConfig),
            "{deletes:?}"
        );
        let addrs: Vec<String> = deletes.iter().map(|s| s.address.to_string()).collect();
        let expect = if rp.repo == *edited {
            1 + 5 + 3
        } else {
            2 + 6 + 4
        };
        assert_eq!(addrs.len(), expect, "{}: {addrs:?}", rp.repo);
        assert!(addrs.iter().all(|a| !a.ends_with("/TEAM_VAR")), "{addrs:?}");
        if rp.repo == *edited {
            let left: Vec<_> = rp.drift.iter().map(|d| d.address.to_string()).collect();
            for a in [
                format!("file:{edited}/.github/workflows/release.yml"),
                format!("variable:{edited}/DATAIKU_INFRA_ID_PROD"),
                format!("secret:{edited}/CLIENT_CERTIFICATE"),
            ] {
                assert!(left.contains(&a), "{a} not reported: {left:?}");
            }
            assert!(rp
                .drift
                .iter()
                .all(|d| !d.repair && d.what.contains("left in place")));
        }
    }
    assert!(
        text.contains("no longer in the config; fleetsync wrote it"),
        "{text}"
    );
    assert!(text.contains("left in place"), "{text}");

    let run = f.run().await;
    assert_eq!(run.status, "succeeded", "{}\n{:?}", run.summary, run.error);
    let v = f.gh.handle.repo(edited).unwrap();
    assert!(!v.files.contains_key(".github/workflows/pr.yml"));
    assert_eq!(
        v.files
            .get(".github/workflows/release.yml")
            .map(Vec::as_slice),
        Some(&b"name: ours\non: push\njobs: {}\n"[..])
    );
    assert_eq!(
        v.variables.keys().collect::<Vec<_>>(),
        ["DATAIKU_INFRA_ID_PROD"]
    );
    assert_eq!(v.secrets.keys().collect::<Vec<_>>(), ["CLIENT_CERTIFICATE"]);
    // Branches and protection are never removed.
    assert!(v.branches.contains(&"prod".to_string()));
    assert!(v.protection.contains_key("prod"));
    let p = f.gh.handle.repo(plain).unwrap();
    assert!(WORKFLOWS.iter().all(|w| !p.files.contains_key(*w)));
    assert_eq!(p.variables.keys().collect::<Vec<_>>(), ["TEAM_VAR"]);
    assert!(p.secrets.is_empty());
    // Project repos are as they were.
    for before in projects_before {
        let now = f.gh.handle.repo(&before.full_name).unwrap();
        assert_eq!(now.files, before.files, "{}", before.full_name);
        assert_eq!(now.variables, before.variables, "{}", before.full_name);
        assert_eq!(
            now.secrets.keys().collect::<Vec<_>>(),
            before.secrets.keys().collect::<Vec<_>>()
        );
    }
    // What was left in place is fleetsync's no more: the next plan has nothing to do or say.
    let next = f.plan().await;
    assert!(!next.plan.has_changes(), "{}", render_text(&next.plan));
    for rp in &next.plan.repos {
        assert!(rp.drift.is_empty(), "{}: {:?}", rp.repo, rp.drift);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_plugin_repo_gets_the_plugin_check_workflow_and_no_project_variables() {
    let mut f = Fleet::start(2, 2, roomy_github(), "").await;
    std::fs::write(
        f.dir.join("templates/plugin-check.yml"),
        include_str!("../config/templates/plugin-check.yml"),
    )
    .unwrap();
    f.tail = "\n[plugin_repo]\ntopics = [\"dataiku\", \"dss-plugin\"]\n\n[plugin_repo.files]\n\".github/workflows/plugin-check.yml\" = { template = \"templates/plugin-check.yml\" }\n".into();
    f.write_config();
    let run = f.run().await;
    assert_eq!(run.status, "succeeded", "{}\n{:?}", run.summary, run.error);
    let plugins = plugin_repos(&f);
    assert_eq!(plugins.len(), 2);
    for r in &plugins {
        let v = f.gh.handle.repo(r).unwrap();
        let check = v
            .files
            .get(".github/workflows/plugin-check.yml")
            .unwrap_or_else(|| panic!("{r}: {:?}", v.files.keys()));
        let text = String::from_utf8_lossy(check);
        assert!(fleetsync::config::check_workflow(&text).is_ok(), "{text}");
        assert!(WORKFLOWS.iter().all(|w| !v.files.contains_key(*w)), "{r}");
        assert!(v.variables.is_empty() && v.secrets.is_empty(), "{r}");
        assert!(!v.branches.contains(&"prod".to_string()), "{r}");
        assert!(v.topics.contains(&"dss-plugin".to_string()), "{r}");
    }
    // Project repos still get the project workflows and variables.
    let project =
        f.gh.handle
            .repo_names()
            .into_iter()
            .find(|r| !r.contains("dss-plugin-"))
            .unwrap();
    let v = f.gh.handle.repo(&project).unwrap();
    assert!(WORKFLOWS.iter().all(|w| v.files.contains_key(*w)));
    assert!(v.variables.contains_key("DATAIKU_PROJECT_KEY"));
}
