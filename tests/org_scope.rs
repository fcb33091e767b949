//! Org-scoped secrets and variables (`scope = "org"`), the recommended fleet layout: the 4
//! secrets and 5 of the 6 variables are one organisation secret or variable each, with
//! `visibility = "selected"` and the fleet's repos as their selection; only
//! `DATAIKU_PROJECT_KEY` stays per repo. Checked on the simulated GitHub: what each repo can
//! read, the cost of a cold start, a no-op and a rotation, drift of a value, of a secret and
//! of a selection, and a new project joining the selection with one write.

mod common;

use common::*;

const ORG_SECRETS: [&str; 4] = [
    "CLIENT_CERTIFICATE",
    "DATAIKU_INSTANCE_DEV_CI_API_TOKEN",
    "DATAIKU_INSTANCE_PROD_CI_API_TOKEN",
    "DATAIKU_INSTANCE_STAGING_CI_API_TOKEN",
];
const ORG_VARIABLES: [&str; 5] = [
    "DATAIKU_INFRA_ID_PROD",
    "DATAIKU_INFRA_ID_STAGING",
    "DATAIKU_INSTANCE_DEV_URL",
    "DATAIKU_INSTANCE_PROD_URL",
    "DATAIKU_INSTANCE_STAGING_URL",
];

async fn org_fleet(projects: usize, plugins: usize) -> Fleet {
    let mut f = Fleet::start(projects, plugins, roomy_github(), "").await;
    f.org_scoped = true;
    f.write_config();
    f
}

fn writes(f: &Fleet) -> Vec<String> {
    f.gh.handle
        .counters()
        .by_route
        .iter()
        .filter(|(k, _)| !k.starts_with("GET "))
        .map(|(k, n)| format!("{k} x{n}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_start_selects_every_repo_and_writes_each_org_value_once() {
    let f = org_fleet(20, 2).await;
    let run = f.run().await;
    assert_eq!(run.status, "succeeded", "{}\n{:?}", run.summary, run.error);
    // The project repos read the org values; the plugin repos (no [plugin_repo] table) hold
    // no project variable or secret, so they are in no selection.
    let (plugins, repos): (Vec<String>, Vec<String>) =
        f.gh.handle
            .repo_names()
            .into_iter()
            .partition(|n| n.starts_with("acme/dss-plugin-"));
    assert_eq!(plugins.len(), 2, "{plugins:?}");
    assert!(repos.len() >= 16, "{repos:?}");
    for p in &plugins {
        let view = f.gh.handle.repo(p).unwrap();
        assert!(view.secrets.is_empty() && view.variables.is_empty(), "{p}");
        for s in ORG_SECRETS {
            let o = f.gh.handle.org_secret("acme", s).unwrap();
            assert!(!o.repos.contains(p), "{s} selects {p}");
        }
    }
    let c = f.gh.handle.counters();
    // One write per org secret and variable, for the whole fleet.
    assert_eq!(
        c.count("PUT /orgs/{org}/actions/secrets/{secret_name} 201"),
        4
    );
    assert_eq!(c.count("POST /orgs/{org}/actions/variables 201"), 5);
    assert_eq!(
        c.count("PUT /orgs/{org}/actions/secrets/{secret_name}/repositories"),
        0
    );
    // Per repo: no secret, one variable.
    assert_eq!(
        c.count("PUT /repos/{owner}/{repo}/actions/secrets/{secret_name}"),
        0
    );
    assert_eq!(
        c.count("POST /repos/{owner}/{repo}/actions/variables 201"),
        repos.len() as u64
    );
    assert_eq!(
        c.count("GET /repos/{owner}/{repo}/actions/secrets/public-key"),
        0
    );
    let mut want = repos.clone();
    want.sort();
    for s in ORG_SECRETS {
        let o = f.gh.handle.org_secret("acme", s).unwrap();
        assert_eq!(o.visibility, "selected");
        assert_eq!(o.repos, want, "{s}");
    }
    assert_eq!(
        f.gh.handle
            .org_secret("acme", "DATAIKU_INSTANCE_DEV_CI_API_TOKEN")
            .unwrap()
            .value,
        CANARY
    );
    for v in ORG_VARIABLES {
        let o = f.gh.handle.org_variable("acme", v).unwrap();
        assert_eq!(o.repos, want, "{v}");
    }
    assert_eq!(
        f.gh.handle
            .org_variable("acme", "DATAIKU_INFRA_ID_PROD")
            .unwrap()
            .value,
        "prod-automation"
    );
    for r in &repos {
        let view = f.gh.handle.repo(r).unwrap();
        assert!(view.secrets.is_empty(), "{r}: {:?}", view.secrets.keys());
        assert_eq!(
            view.variables.keys().collect::<Vec<_>>(),
            vec!["DATAIKU_PROJECT_KEY"],
            "{r}"
        );
    }

    // A no-op writes nothing, and the org phase costs a handful of reads for the fleet.
    f.gh.handle.reset_counters();
    let noop = f.run().await;
    assert_eq!(noop.status, "succeeded", "{}", noop.summary);
    assert!(writes(&f).is_empty(), "{:?}", writes(&f));
    let c = f.gh.handle.counters();
    let org_reads = c.count("GET /orgs/");
    assert_eq!(org_reads, 2 + 4 + 5, "{:?}", c.by_route);
    assert!(!f.plan().await.plan.has_changes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_a_fleet_wide_secret_is_one_write() {
    let f = org_fleet(30, 0).await;
    assert_eq!(f.run().await.status, "succeeded");
    f.run().await;
    f.gh.handle.reset_counters();
    let noop = f.run().await;
    assert_eq!(noop.status, "succeeded");
    let noop_requests = f.gh.handle.counters().requests;

    std::fs::write(f.dir.join("prod-token"), "rotated-prod-token").unwrap();
    f.gh.handle.reset_counters();
    let rotated = f.run().await;
    assert_eq!(rotated.status, "succeeded", "{}", rotated.summary);
    let c = f.gh.handle.counters();
    assert_eq!(
        writes(&f),
        vec!["PUT /orgs/{org}/actions/secrets/{secret_name} 204 x1"]
    );
    // The rotation's own requests: the org key (a new client each run here), the write, and
    // the read-back of `updated_at`.
    assert_eq!(c.requests - noop_requests, 3, "{:?}", c.by_route);
    let s =
        f.gh.handle
            .org_secret("acme", "DATAIKU_INSTANCE_PROD_CI_API_TOKEN")
            .unwrap();
    assert_eq!(s.value, "rotated-prod-token");
    assert_eq!(s.repos.len(), f.gh.handle.repo_names().len());
    // And then it is in line again.
    f.gh.handle.reset_counters();
    f.run().await;
    assert!(writes(&f).is_empty(), "{:?}", writes(&f));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_of_a_value_a_secret_and_a_selection_is_repaired_with_one_write_each() {
    let f = org_fleet(12, 0).await;
    assert_eq!(f.run().await.status, "succeeded");
    let repos = f.gh.handle.repo_names();
    f.gh.handle
        .set_org_variable("acme", "DATAIKU_INFRA_ID_PROD", "HACKED");
    f.gh.handle
        .overwrite_org_secret("acme", "CLIENT_CERTIFICATE", "not-the-cert");
    f.gh.handle.toggle_org_selection(
        "acme",
        "DATAIKU_INSTANCE_DEV_CI_API_TOKEN",
        true,
        &repos[0],
        false,
    );
    assert!(f.gh.handle.create_repo_directly("acme", "team-tool"));
    f.gh.handle.toggle_org_selection(
        "acme",
        "DATAIKU_INSTANCE_DEV_URL",
        false,
        "acme/team-tool",
        true,
    );
    // Let the overwrite's `updated_at` be later than fleetsync's (second resolution).
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    f.gh.handle
        .overwrite_org_secret("acme", "CLIENT_CERTIFICATE", "not-the-cert");

    let plan = f.plan().await;
    let org = plan.plan.repos.iter().find(|p| p.repo == "acme").unwrap();
    let mut drift: Vec<&str> = org.drift.iter().map(|d| d.address.as_str()).collect();
    drift.sort();
    assert_eq!(
        drift,
        vec![
            "org-secret:acme/CLIENT_CERTIFICATE",
            "org-secret:acme/DATAIKU_INSTANCE_DEV_CI_API_TOKEN",
            "org-variable:acme/DATAIKU_INFRA_ID_PROD",
            "org-variable:acme/DATAIKU_INSTANCE_DEV_URL",
        ]
    );
    let text = fleetsync::plan::render_text(&plan.plan);
    assert!(
        text.contains("org-secret:acme/DATAIKU_INSTANCE_DEV_CI_API_TOKEN"),
        "{text}"
    );
    assert!(!text.contains("not-the-cert"), "no secret value in a plan");
    eprintln!("{text}");

    f.gh.handle.reset_counters();
    let run = f.run().await;
    assert_eq!(run.status, "succeeded", "{}", run.summary);
    let mut w = writes(&f);
    w.sort();
    assert_eq!(
        w,
        vec![
            "PATCH /orgs/{org}/actions/variables/{name} 204 x1",
            "PUT /orgs/{org}/actions/secrets/{secret_name} 204 x1",
            "PUT /orgs/{org}/actions/secrets/{secret_name}/repositories 204 x1",
            "PUT /orgs/{org}/actions/variables/{name}/repositories 204 x1",
        ]
    );
    assert_eq!(
        f.gh.handle
            .org_variable("acme", "DATAIKU_INFRA_ID_PROD")
            .unwrap()
            .value,
        "prod-automation"
    );
    assert_eq!(
        f.gh.handle
            .org_secret("acme", "CLIENT_CERTIFICATE")
            .unwrap()
            .value,
        "-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n".trim_end_matches('\n')
    );
    let dev =
        f.gh.handle
            .org_secret("acme", "DATAIKU_INSTANCE_DEV_CI_API_TOKEN")
            .unwrap();
    assert!(dev.repos.contains(&repos[0]));
    let url =
        f.gh.handle
            .org_variable("acme", "DATAIKU_INSTANCE_DEV_URL")
            .unwrap();
    assert!(
        !url.repos.contains(&"acme/team-tool".to_string()),
        "{:?}",
        url.repos
    );
    f.gh.handle.reset_counters();
    f.run().await;
    assert!(writes(&f).is_empty(), "{:?}", writes(&f));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_project_joins_every_selection_with_one_write_per_item() {
    let f = org_fleet(10, 0).await;
    assert_eq!(f.run().await.status, "succeeded");
    let before = f.gh.handle.repo_names();
    f.dss.handle.add_project("NEWONE", "A new one", &[]);
    f.gh.handle.reset_counters();
    let run = f.run().await;
    assert_eq!(run.status, "succeeded", "{}", run.summary);
    let after = f.gh.handle.repo_names();
    assert_eq!(after.len(), before.len() + 1);
    let c = f.gh.handle.counters();
    assert_eq!(
        c.count("PUT /orgs/{org}/actions/secrets/{secret_name}/repositories 204"),
        4
    );
    assert_eq!(
        c.count("PUT /orgs/{org}/actions/variables/{name}/repositories 204"),
        5
    );
    assert_eq!(c.count("PUT /orgs/{org}/actions/secrets/{secret_name} "), 0);
    for s in ORG_SECRETS {
        assert!(f
            .gh
            .handle
            .org_secret("acme", s)
            .unwrap()
            .repos
            .contains(&"acme/dss-newone".to_string()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_mode_records_selection_drift_without_repairing_it() {
    let mut f = org_fleet(6, 0).await;
    assert_eq!(f.run().await.status, "succeeded");
    f.github_extra = "drift = \"report\"".into();
    f.write_config();
    let repos = f.gh.handle.repo_names();
    f.gh.handle
        .toggle_org_selection("acme", "DATAIKU_INSTANCE_PROD_URL", false, &repos[1], false);
    f.gh.handle.reset_counters();
    let run = f.run().await;
    assert!(writes(&f).is_empty(), "{:?}", writes(&f));
    assert!(
        run.summary.contains("drift") || !run.plan.repos.is_empty(),
        "{}",
        run.summary
    );
    let events = f.store().list_drift(None, 100).unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.address == "org-variable:acme/DATAIKU_INSTANCE_PROD_URL" && !e.repaired),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_to_org_scope_deletes_the_repo_copies_fleetsync_wrote() {
    // A fleet converged with every secret and variable per repo ...
    let mut f = Fleet::start(6, 0, roomy_github(), "").await;
    assert_eq!(f.run().await.status, "succeeded");
    let repos = f.gh.handle.repo_names();
    assert_eq!(f.gh.handle.repo(&repos[0]).unwrap().secrets.len(), 4);
    // ... and a repo secret someone added by hand, which fleetsync never wrote.
    assert!(f
        .gh
        .handle
        .overwrite_secret(&repos[0], "TEAM_TOKEN", "team"));
    // ... moves to the org-scoped layout: the repos' own copies would hide the org values.
    f.org_scoped = true;
    f.write_config();
    let plan = f.plan().await;
    let text = fleetsync::plan::render_text(&plan.plan);
    assert!(
        text.contains(&format!("- secret:{}/CLIENT_CERTIFICATE", repos[0])),
        "{text}"
    );
    f.gh.handle.reset_counters();
    let run = f.run().await;
    assert_eq!(run.status, "succeeded", "{}\n{:?}", run.summary, run.error);
    let c = f.gh.handle.counters();
    let n = repos.len() as u64;
    assert_eq!(
        c.count("DELETE /repos/{owner}/{repo}/actions/secrets/{secret_name} 204"),
        4 * n
    );
    assert_eq!(
        c.count("DELETE /repos/{owner}/{repo}/actions/variables/{name} 204"),
        5 * n
    );
    for r in &repos {
        let v = f.gh.handle.repo(r).unwrap();
        let kept: Vec<&String> = v.secrets.keys().collect();
        if r == &repos[0] {
            assert_eq!(kept, vec!["TEAM_TOKEN"], "the hand-made secret stays");
        } else {
            assert!(kept.is_empty(), "{r}: {kept:?}");
        }
        assert_eq!(v.variables.len(), 1, "{r}");
    }
    for s in ORG_SECRETS {
        assert_eq!(
            f.gh.handle.org_secret("acme", s).unwrap().repos.len(),
            repos.len()
        );
    }
    // Converged: the next run writes nothing, and no longer reads the repos' secrets.
    f.gh.handle.reset_counters();
    assert_eq!(f.run().await.status, "succeeded");
    assert!(writes(&f).is_empty(), "{:?}", writes(&f));
    assert_eq!(
        f.gh.handle
            .counters()
            .count("GET /repos/{owner}/{repo}/actions/secrets "),
        0
    );
    assert!(f
        .store()
        .list_resources(Some(&repos[1]))
        .unwrap()
        .iter()
        .all(|r| r.kind != "secret"));
}
