//! Hostile project keys and plugin ids (unicode, path separators, 200 characters, names that
//! collide after lower-casing) each get a clear per-project error; the other projects proceed.
//! And the suspicious-drop rule: a listing that lost most projects removes nothing, while the
//! same listing with the rule off would (the control that shows the rule is what protects).

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_keys_get_a_clear_error_each_and_the_rest_proceeds() {
    let f = Fleet::start(6, 1, roomy_github(), "").await;
    let long = "K".repeat(200);
    let hostile = [
        "PROJÉT_ÜNICODE",
        "../../etc/passwd",
        "A/B",
        "A\\B",
        long.as_str(),
        "COLLIDE_ME",
        "collide_me",
    ];
    for k in hostile {
        f.dss.handle.add_project(k, "hostile", &[]);
    }
    f.dss.handle.add_plugin("plugin/with/slashes", true);
    f.dss.handle.add_plugin("plügin-ünïcode", true);
    let r = f.run().await;
    assert_eq!(r.status, "partial", "{}", r.summary);
    let errors: Vec<String> = r
        .plan
        .errors
        .iter()
        .map(|b| format!("{} => {}", b.repo, b.reason))
        .collect();
    for k in hostile {
        assert!(
            errors.iter().any(|e| e.contains(k)),
            "no error naming {k:?}: {errors:#?}"
        );
    }
    for p in ["plugin/with/slashes", "plügin-ünïcode"] {
        assert!(errors.iter().any(|e| e.contains(p)), "{p}: {errors:#?}");
    }
    assert!(
        errors.iter().all(|e| e.len() < 2_000 && e.contains("=> ")),
        "{errors:#?}"
    );
    // The ordinary projects all have complete repos.
    let names = f.gh.handle.repo_names();
    for k in f.dss.handle.project_keys() {
        let tags = f.dss.handle.project_tags(&k).unwrap_or_default();
        if hostile.contains(&k.as_str()) || tags.iter().any(|t| t == "no-gitops") {
            continue;
        }
        let n = format!("acme/dss-{}", k.to_lowercase());
        assert!(names.contains(&n), "{n} missing from {names:?}");
        assert_eq!(f.gh.handle.repo(&n).unwrap().secrets.len(), 4);
    }
    // Nothing hostile reached GitHub.
    assert!(
        names
            .iter()
            .all(|n| n.is_ascii() && !n.contains("..") && n.matches('/').count() == 1),
        "{names:?}"
    );
    assert_eq!(f.store().integrity_check().unwrap(), "ok");
}

fn removal_config(f: &mut Fleet, max_drop: &str) {
    f.github_extra =
        "grace_period = \"0s\"\ndeletion_policy = \"delete\"\nmax_deletions_per_run = 1000\n"
            .into();
    let text = f.config_text().replace(
        "[dss.tags]",
        &format!("max_listing_drop = {max_drop}\n\n[dss.tags]"),
    );
    std::fs::write(&f.config_path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_that_lost_most_projects_removes_nothing() {
    let mut f = Fleet::start(12, 0, roomy_github(), "").await;
    removal_config(&mut f, "0.5");
    let first = f.run().await;
    assert_eq!(first.status, "succeeded", "{}", first.summary);
    let before = f.gh.handle.repo_names();
    f.dss.handle.set_partial_listing(Some(0.25));
    let r = f.run().await;
    assert_ne!(r.status, "succeeded");
    assert!(
        r.plan.unknown_nodes[0].reason.contains("max_listing_drop"),
        "{:?}",
        r.plan.unknown_nodes
    );
    assert_eq!(f.gh.handle.repo_names(), before, "a repo was removed");
    // A small drop (one project really gone) is accepted and acted on.
    f.dss.handle.set_partial_listing(None);
    let gone = f.dss.handle.project_keys()[0].clone();
    f.dss.handle.remove_project(&gone);
    let r = f.run().await;
    assert!(
        r.plan.unknown_nodes.is_empty(),
        "{:?}",
        r.plan.unknown_nodes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_without_the_rule_a_partial_listing_deletes_repos() {
    let mut f = Fleet::start(12, 0, roomy_github(), "").await;
    removal_config(&mut f, "1.0");
    assert_eq!(f.run().await.status, "succeeded");
    let before = f.gh.handle.repo_names().len();
    f.dss.handle.set_partial_listing(Some(0.25));
    f.run().await;
    assert!(
        f.gh.handle.repo_names().len() < before,
        "with the rule off (and no grace period) the partial listing should delete repos"
    );
}
