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
    for n in &names {
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
    assert!(per_repo <= 5.0, "requests per repo {per_repo}");
    // Third run: the ETag cache is warm (the second run refreshed it after the writes).
    f.gh.handle.reset_counters();
    let third = f.run().await;
    assert_eq!(third.plan.step_count(), 0);
    let c = f.gh.handle.counters();
    assert_eq!(c.writes(), 0);
    assert!(c.requests as f64 / names.len() as f64 <= 5.0);
    assert!(
        (c.charged as f64) / (names.len() as f64) <= 0.05,
        "charged {} for {} repos",
        c.charged,
        names.len()
    );
}
