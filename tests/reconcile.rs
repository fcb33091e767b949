//! The reconcile engine against the simulator over HTTP: convergence, no-op cost, drift,
//! deletion safety, rotation.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_projects_and_three_plugins_converge_then_noop() {
    // 56 seeded projects, 6 of which carry `no-gitops`: 50 managed.
    let f = Fleet::start(56, 3, roomy_github(), "").await;
    let keys = f.dss.handle.project_keys();
    let first = f.run().await;
    assert_eq!(
        first.status, "succeeded",
        "{}\n{:?}",
        first.summary, first.error
    );
    let names = f.gh.handle.repo_names();
    let projects: Vec<_> = names
        .iter()
        .filter(|n| n.starts_with("acme/dss-") && !n.starts_with("acme/dss-plugin-"))
        .collect();
    let plugins: Vec<_> = names
        .iter()
        .filter(|n| n.starts_with("acme/dss-plugin-"))
        .collect();
    assert_eq!(projects.len(), 50, "{names:?} from {keys:?}");
    assert_eq!(plugins.len(), 3, "{names:?}");
    // Plugin repos (no [plugin_repo] table): their mirrored files and the topics, nothing of
    // a project's.
    for n in &plugins {
        let r = f.gh.handle.repo(n).unwrap();
        assert!(r.files.contains_key("plugin.json"), "{n}");
        assert!(!r.files.keys().any(|p| p.starts_with(".github/")), "{n}");
        assert!(r.secrets.is_empty() && r.variables.is_empty(), "{n}");
        assert!(!r.branches.contains(&"prod".to_string()), "{n}");
        assert!(r.protection.is_empty(), "{n}");
    }
    for n in &projects {
        let r = f.gh.handle.repo(n).unwrap();
        assert!(r.files.contains_key(".github/workflows/pr.yml"), "{n}");
        assert!(r.files.contains_key(".github/workflows/release.yml"), "{n}");
        let pr = String::from_utf8_lossy(&r.files[".github/workflows/pr.yml"]).to_string();
        assert!(pr.contains("${{"), "workflow keeps GitHub expressions: {n}");
        assert_eq!(r.secrets.len(), 4, "{n}");
        assert_eq!(r.secrets["DATAIKU_INSTANCE_DEV_CI_API_TOKEN"].value, CANARY);
        assert_eq!(
            r.secrets["DATAIKU_INSTANCE_PROD_CI_API_TOKEN"].value,
            "prod-token-value"
        );
        assert_eq!(r.variables.len(), 6, "{n}");
        assert!(r.branches.contains(&"prod".to_string()));
        // `prod` is cut after the files, so the release workflow runs on pushes to it.
        let prod = f.gh.handle.branch_files(n, "prod").unwrap();
        assert!(
            prod.contains_key(".github/workflows/release.yml"),
            "{n}: {:?}",
            prod.keys()
        );
        let p = &r.protection["prod"];
        assert_eq!(
            p["required_pull_request_reviews"]["required_approving_review_count"],
            1
        );
        assert_eq!(p["required_status_checks"]["contexts"][0], "dataiku-gitops");
        assert_eq!(p["enforce_admins"]["enabled"], true);
    }
    let key_var = f.gh.handle.repo(projects[0]).unwrap().variables["DATAIKU_PROJECT_KEY"].clone();
    assert!(keys.contains(&key_var));

    // Second run: nothing to do, no writes, ≤ 5 requests per repo, ~0 points charged.
    f.gh.handle.reset_counters();
    let second = f.run().await;
    assert_eq!(second.status, "succeeded", "{}", second.summary);
    assert_eq!(
        second.plan.step_count(),
        0,
        "{}",
        fleetsync::plan::render_text(&second.plan)
    );
    let c = f.gh.handle.counters();
    assert_eq!(c.writes(), 0, "{:?}", c.by_route);
    let per_repo = c.requests as f64 / names.len() as f64;
    eprintln!(
        "first run: {} requests for {} repos; second (no-op) run: {} requests ({per_repo:.2}/repo), {} charged, {} writes",
        first.requests,
        names.len(),
        c.requests,
        c.charged,
        c.writes()
    );
    assert!(per_repo <= 5.0, "requests per repo {per_repo}");
    // Third run: the ETag cache is warm (the second run refreshed it after the writes).
    f.gh.handle.reset_counters();
    let third = f.run().await;
    assert_eq!(third.plan.step_count(), 0);
    let c = f.gh.handle.counters();
    assert_eq!(c.writes(), 0);
    assert!(c.requests as f64 / names.len() as f64 <= 5.0);
    eprintln!(
        "third (no-op, warm ETag cache) run: {} requests, {} not modified, {} charged ({:.3}/repo)",
        c.requests,
        c.not_modified,
        c.charged,
        c.charged as f64 / names.len() as f64
    );
    assert!(
        (c.charged as f64) / (names.len() as f64) <= 0.05,
        "charged {} for {} repos",
        c.charged,
        names.len()
    );
}

/// Project keys that have a repo.
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

fn first_project_repo(f: &Fleet) -> String {
    f.gh.handle
        .repo_names()
        .into_iter()
        .find(|n| !n.starts_with("acme/dss-plugin-"))
        .unwrap()
}

async fn converge(f: &Fleet) {
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{} {:?}", r.summary, r.error);
    let r = f.run().await;
    assert_eq!(
        r.plan.step_count(),
        0,
        "{}",
        fleetsync::plan::render_text(&r.plan)
    );
}

async fn make_four_manual_changes(f: &Fleet, repo: &str) {
    // Let a second pass so the secret's updated_at moves past fleetsync's write.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(f
        .gh
        .handle
        .set_variable(repo, "DATAIKU_INFRA_ID_PROD", "hand-edited"));
    let mut loosened = f.gh.handle.repo(repo).unwrap().protection["prod"].clone();
    loosened["enforce_admins"]["enabled"] = serde_json::json!(false);
    assert!(f.gh.handle.remove_protection(repo, "prod"));
    assert!(f
        .gh
        .handle
        .edit_file(repo, None, ".github/workflows/pr.yml", b"on: push\n"));
    assert!(f.gh.handle.overwrite_secret(
        repo,
        "DATAIKU_INSTANCE_PROD_CI_API_TOKEN",
        "changed-by-hand"
    ));
    let _ = loosened;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_detected_recorded_and_repaired() {
    let f = Fleet::start(6, 0, roomy_github(), "").await;
    converge(&f).await;
    let repo = first_project_repo(&f);
    let before = f.gh.handle.repo(&repo).unwrap();
    make_four_manual_changes(&f, &repo).await;
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{}", r.summary);
    let drift: Vec<_> = r.plan.repos.iter().flat_map(|p| p.drift.iter()).collect();
    let kinds: std::collections::BTreeSet<_> = drift.iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        vec!["file", "protection", "secret", "variable"],
        "{}",
        fleetsync::plan::render_text(&r.plan)
    );
    let after = f.gh.handle.repo(&repo).unwrap();
    assert_eq!(after.variables["DATAIKU_INFRA_ID_PROD"], "prod-automation");
    assert_eq!(
        after.files[".github/workflows/pr.yml"],
        before.files[".github/workflows/pr.yml"]
    );
    assert_eq!(
        after.secrets["DATAIKU_INSTANCE_PROD_CI_API_TOKEN"].value,
        "prod-token-value"
    );
    assert_eq!(after.protection["prod"]["enforce_admins"]["enabled"], true);
    let events = f.store().list_drift(Some(&repo), 100).unwrap();
    assert_eq!(events.len(), 4, "{events:?}");
    assert!(events.iter().all(|e| e.repaired));
    // And then it is quiet again.
    let r = f.run().await;
    assert_eq!(
        r.plan.step_count(),
        0,
        "{}",
        fleetsync::plan::render_text(&r.plan)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_only_drift_is_recorded_and_left_alone() {
    let f = Fleet::start(6, 0, roomy_github(), "drift = \"report\"").await;
    converge(&f).await;
    let repo = first_project_repo(&f);
    make_four_manual_changes(&f, &repo).await;
    let r = f.run().await;
    assert_eq!(
        r.plan.step_count(),
        0,
        "{}",
        fleetsync::plan::render_text(&r.plan)
    );
    let after = f.gh.handle.repo(&repo).unwrap();
    assert_eq!(after.variables["DATAIKU_INFRA_ID_PROD"], "hand-edited");
    assert!(!after.protection.contains_key("prod"));
    let events = f.store().list_drift(Some(&repo), 100).unwrap();
    assert_eq!(events.len(), 4);
    assert!(events.iter().all(|e| !e.repaired));
    let rec = f.store().get_repo(&repo).unwrap().unwrap();
    assert!(rec.drifted);
    assert_eq!(rec.status, "drifted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_a_secret_source_rewrites_exactly_that_secret() {
    let f = Fleet::start(6, 1, roomy_github(), "").await;
    converge(&f).await;
    std::fs::write(f.dir.join("staging-token"), "rotated-staging-token").unwrap();
    f.gh.handle.reset_counters();
    let r = f.run().await;
    assert_eq!(r.status, "succeeded");
    // The project repos hold the secret; the plugin repo (no [plugin_repo] table) none.
    let repos: Vec<String> =
        f.gh.handle
            .repo_names()
            .into_iter()
            .filter(|n| !n.starts_with("acme/dss-plugin-"))
            .collect();
    assert_eq!(repos.len(), 5, "6 projects, one tagged no-gitops");
    let steps: Vec<_> = r.plan.repos.iter().flat_map(|p| p.steps.iter()).collect();
    assert_eq!(steps.len(), repos.len());
    assert!(steps.iter().all(|s| s
        .address
        .ends_with("/DATAIKU_INSTANCE_STAGING_CI_API_TOKEN")
        && s.reason == fleetsync::plan::Reason::SecretSourceChanged));
    let c = f.gh.handle.counters();
    assert_eq!(c.writes(), repos.len() as u64, "{:?}", c.by_route);
    assert_eq!(
        c.count("PUT /repos/{owner}/{repo}/actions/secrets/{secret_name} 204"),
        repos.len() as u64
    );
    for n in &repos {
        let v = f.gh.handle.repo(n).unwrap();
        assert_eq!(
            v.secrets["DATAIKU_INSTANCE_STAGING_CI_API_TOKEN"].value,
            "rotated-staging-token"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_project_waits_out_the_grace_period_then_is_archived() {
    let f = Fleet::start(6, 0, roomy_github(), "grace_period = \"2s\"").await;
    converge(&f).await;
    let key = managed_keys(&f)[0].clone();
    let repo = format!("acme/dss-{}", key.to_lowercase());
    assert!(f.gh.handle.repo(&repo).is_some());
    assert!(f.dss.handle.remove_project(&key));
    let r = f.run().await;
    assert!(
        r.plan
            .blocked
            .iter()
            .any(|b| b.repo == repo && b.reason.contains("grace period")),
        "{:?}",
        r.plan.blocked
    );
    assert!(!f.gh.handle.repo(&repo).unwrap().archived);
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let r = f.run().await;
    assert_eq!(
        r.counts.get("archive/ok"),
        Some(&1),
        "{}",
        fleetsync::plan::render_text(&r.plan)
    );
    assert!(f.gh.handle.repo(&repo).unwrap().archived);
    assert_eq!(
        f.store().get_repo(&repo).unwrap().unwrap().status,
        "archived"
    );
    // The project comes back: the repo is unarchived.
    f.dss.handle.add_project(&key, "Back again", &[]);
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{}", r.summary);
    assert!(!f.gh.handle.repo(&repo).unwrap().archived);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_policy_deletes_after_the_grace_period() {
    let f = Fleet::start(
        6,
        0,
        roomy_github(),
        "grace_period = \"0s\"\ndeletion_policy = \"delete\"",
    )
    .await;
    converge(&f).await;
    let key = managed_keys(&f)[0].clone();
    let repo = format!("acme/dss-{}", key.to_lowercase());
    f.dss.handle.remove_project(&key);
    let r = f.run().await;
    assert_eq!(
        r.counts.get("delete/ok"),
        Some(&1),
        "{}",
        fleetsync::plan::render_text(&r.plan)
    );
    assert!(f.gh.handle.repo(&repo).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_or_empty_listing_deletes_nothing() {
    let f = Fleet::start(
        6,
        0,
        roomy_github(),
        "grace_period = \"0s\"\ndeletion_policy = \"delete\"",
    )
    .await;
    converge(&f).await;
    let before = f.gh.handle.repo_names();
    f.dss.handle.set_outage(true);
    let r = f.run().await;
    assert_eq!(r.status, "failed");
    assert!(
        r.error.as_deref().unwrap_or("").contains("discovery"),
        "{:?}",
        r.error
    );
    assert_eq!(f.gh.handle.repo_names(), before);
    f.dss.handle.set_outage(false);
    f.dss.handle.set_empty_listing(true);
    let r = f.run().await;
    assert_ne!(r.status, "succeeded");
    assert!(!r.plan.unknown_nodes.is_empty());
    assert_eq!(f.gh.handle.repo_names(), before);
    assert!(f
        .gh
        .handle
        .repo_names()
        .iter()
        .all(|n| !f.gh.handle.repo(n).unwrap().archived));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_maximum_nothing_is_removed_and_the_run_says_why() {
    let f = Fleet::start(
        8,
        0,
        roomy_github(),
        "grace_period = \"0s\"\nmax_deletions_per_run = 2",
    )
    .await;
    converge(&f).await;
    let keys = managed_keys(&f);
    for k in keys.iter().take(3) {
        f.dss.handle.remove_project(k);
    }
    let r = f.run().await;
    assert_eq!(r.plan.step_count(), 0);
    assert_eq!(r.plan.blocked.len(), 3);
    assert!(r
        .plan
        .blocked
        .iter()
        .all(|b| b.reason.contains("max_deletions_per_run = 2")));
    assert!(fleetsync::plan::render_text(&r.plan).contains("max_deletions_per_run"));
    assert!(f
        .gh
        .handle
        .repo_names()
        .iter()
        .all(|n| !f.gh.handle.repo(n).unwrap().archived));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_secret_never_in_plan_json_or_state_file() {
    let f = Fleet::start(4, 0, roomy_github(), "").await;
    let plan = f.plan().await;
    let text = fleetsync::plan::render_text(&plan.plan);
    let json = serde_json::to_string(&fleetsync::plan::render_json(&plan.plan)).unwrap();
    assert!(!text.contains(CANARY) && !json.contains(CANARY));
    let r = f.run().await;
    assert_eq!(r.status, "succeeded");
    let report = serde_json::to_string(&r).unwrap();
    assert!(!report.contains(CANARY));
    assert!(!format!("{r:?}").contains(CANARY));
    // The secret did reach GitHub…
    let repo = f.gh.handle.repo_names()[0].clone();
    assert_eq!(
        f.gh.handle
            .secret_value(&repo, "DATAIKU_INSTANCE_DEV_CI_API_TOKEN")
            .as_deref(),
        Some(CANARY)
    );
    // …but not the state file (nor its WAL).
    drop(r);
    for name in ["state.db", "state.db-wal"] {
        if let Ok(bytes) = std::fs::read(f.dir.join(name)) {
            assert!(
                !bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
                "{name}"
            );
        }
    }
}

// A template change that touches both workflow files of converged repos is one commit per
// branch (Git Data, contents inline in the tree), not one contents PUT per file: one on
// `main`, one on the pull request's branch into the protected `prod`. A change to one file
// stays one contents PUT on `main`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_to_two_files_of_an_existing_repo_is_one_commit() {
    let f = Fleet::start(3, 0, roomy_github(), "").await;
    converge(&f).await;
    let repos = f.wanted_project_repos();
    let templates = f.dir.join("templates");
    for t in ["pr.yml", "release.yml"] {
        let p = templates.join(t);
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, format!("{text}# revised\n")).unwrap();
    }
    f.gh.handle.reset_counters();
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{}", r.summary);
    let c = f.gh.handle.counters();
    assert_eq!(
        c.count("PUT /repos/{owner}/{repo}/contents/{*path}"),
        0,
        "{:?}",
        c.by_route
    );
    assert_eq!(
        c.count("POST /repos/{owner}/{repo}/git/commits"),
        2 * repos.len() as u64,
        "{:?}",
        c.by_route
    );
    assert_eq!(
        c.count("POST /repos/{owner}/{repo}/pulls"),
        repos.len() as u64
    );
    for repo in &repos {
        let files = f.gh.handle.branch_files(repo, "main").unwrap();
        for path in [".github/workflows/pr.yml", ".github/workflows/release.yml"] {
            let text = String::from_utf8_lossy(&files[path]).into_owned();
            assert!(text.ends_with("# revised\n"), "{repo} {path}");
        }
    }
    // The next run has nothing to do.
    f.gh.handle.reset_counters();
    let r = f.run().await;
    assert!(r.summary.contains("0 steps applied"), "{}", r.summary);

    // One file: one contents PUT on main (the pull request's branch gets its commit).
    let p = templates.join("pr.yml");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, format!("{text}# again\n")).unwrap();
    f.gh.handle.reset_counters();
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{}", r.summary);
    let c = f.gh.handle.counters();
    assert_eq!(
        c.count("PUT /repos/{owner}/{repo}/contents/{*path}"),
        repos.len() as u64
    );
    assert_eq!(
        c.count("POST /repos/{owner}/{repo}/git/commits"),
        repos.len() as u64,
        "{:?}",
        c.by_route
    );
}
