//! Ownership and integrity: fleetsync writes to and removes only the repos it owns, knows
//! them without its state file, and does not write on from a broken one. One test per case
//! of the ownership issue, each asserting on the simulated GitHub's request log.

mod common;

use common::*;
use fleetsync::metrics::Metrics;
use fleetsync::reconcile::{Engine, RunOptions, RunReport};
use fleetsync_sim::github::{GithubSimSettings, RequestRecord, SimCustomProperty};
use serde_json::json;
use std::sync::Arc;

/// An organisation that defines the marker property (a string only organisation actors
/// may set), with limits roomy enough for a test fleet.
fn owned_github() -> GithubSimSettings {
    GithubSimSettings {
        custom_properties: vec![SimCustomProperty::org_string("fleetsync")],
        orgs: vec!["acme".into(), "elsewhere".into()],
        ..roomy_github()
    }
}

/// A run with metrics, and the metrics' text.
async fn run_with_metrics(f: &Fleet, opts: RunOptions) -> (RunReport, String) {
    let metrics = Arc::new(Metrics::new().unwrap());
    let engine = Engine::new(f.config(), f.store(), Some(metrics.clone()), None).unwrap();
    let r = engine.run(opts).await;
    (r, metrics.render())
}

fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no series {series} in\n{text}"))
}

/// A call to the simulated GitHub as the fleet's token (setting up what people did by hand).
async fn gh_call(f: &Fleet, method: reqwest::Method, path: &str, body: serde_json::Value) -> u16 {
    reqwest::Client::new()
        .request(method, format!("{}{path}", f.gh.url))
        .bearer_auth(GH_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A repo a team made by hand at a name fleetsync would create: public, its own `pr.yml`,
/// its own secret, `prod` protected with 3 reviews and the checks `team-ci`, `security-scan`.
async fn hand_made(f: &Fleet, full: &str) {
    let (org, name) = full.split_once('/').unwrap();
    assert!(f.gh.handle.create_repo_directly(org, name));
    assert!(f
        .gh
        .handle
        .edit_file(full, None, ".github/workflows/pr.yml", b"team: pr\n"));
    assert!(f
        .gh
        .handle
        .overwrite_secret(full, "DATAIKU_INSTANCE_DEV_CI_API_TOKEN", "team-secret"));
    let head = f.gh.handle.branch_head(full, "main").unwrap();
    let made = gh_call(
        f,
        reqwest::Method::POST,
        &format!("/repos/{full}/git/refs"),
        json!({"ref": "refs/heads/prod", "sha": head}),
    )
    .await;
    assert_eq!(made, 201);
    let protected = gh_call(
        f,
        reqwest::Method::PUT,
        &format!("/repos/{full}/branches/prod/protection"),
        json!({
            "required_status_checks": {"strict": true, "contexts": ["team-ci", "security-scan"]},
            "enforce_admins": true,
            "required_pull_request_reviews": {"required_approving_review_count": 3},
            "restrictions": null
        }),
    )
    .await;
    assert_eq!(protected, 200);
}

/// The hand-made repo is as its team left it.
fn assert_untouched(f: &Fleet, full: &str) {
    let r = f.gh.handle.repo(full).unwrap();
    assert_eq!(r.visibility, "public", "{full}");
    assert_eq!(r.files[".github/workflows/pr.yml"], b"team: pr\n", "{full}");
    assert_eq!(
        r.secrets["DATAIKU_INSTANCE_DEV_CI_API_TOKEN"].value,
        "team-secret"
    );
    let p = &r.protection["prod"];
    assert_eq!(
        p["required_pull_request_reviews"]["required_approving_review_count"],
        3
    );
    assert_eq!(
        p["required_status_checks"]["contexts"],
        json!(["team-ci", "security-scan"])
    );
    assert!(r.custom_properties.is_empty(), "{:?}", r.custom_properties);
}

fn sql(f: &Fleet, statements: &str) {
    let c = rusqlite::Connection::open(f.dir.join("state.db")).unwrap();
    c.execute_batch(statements).unwrap();
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

/// The requests that are not reads.
fn write_requests(f: &Fleet) -> Vec<RequestRecord> {
    f.gh.handle
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET" && r.method != "HEAD")
        .collect()
}

/// Writes whose path touches `repo` (`owner/name`).
fn writes_to(f: &Fleet, repo: &str) -> Vec<String> {
    let prefix = format!("/repos/{repo}");
    write_requests(f)
        .into_iter()
        .filter(|r| {
            r.path.eq_ignore_ascii_case(&prefix)
                || r.path
                    .to_ascii_lowercase()
                    .starts_with(&format!("{}/", prefix.to_ascii_lowercase()))
        })
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect()
}

fn plugin_repos(f: &Fleet) -> Vec<String> {
    f.gh.handle
        .repo_names()
        .into_iter()
        .filter(|n| n.starts_with("acme/dss-plugin-"))
        .collect()
}

// Case 5: an empty plugin listing, or one that lost most plugins at once, is unknown for
// removals, as a project listing is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case5_empty_or_dropped_plugin_listing_removes_no_plugin_repo() {
    let f = Fleet::start(
        4,
        4,
        roomy_github(),
        "grace_period = \"0s\"\ndeletion_policy = \"delete\"\nmax_deletions_per_run = 100",
    )
    .await;
    converge(&f).await;
    let plugins = plugin_repos(&f);
    assert_eq!(plugins.len(), 4, "{plugins:?}");
    let dev: Vec<String> = f
        .dss
        .handle
        .plugin_ids()
        .into_iter()
        .filter(|id| plugins.contains(&format!("acme/dss-plugin-{}", id.to_lowercase())))
        .collect();
    // Three of four dev plugins vanish: more than max_listing_drop (0.5) at once.
    for id in dev.iter().take(3) {
        assert!(f.dss.handle.remove_plugin(id));
    }
    f.gh.handle.reset_counters();
    let r = f.run().await;
    assert!(
        r.plan
            .unknown_nodes
            .iter()
            .any(|u| u.reason.contains("plugin")),
        "{}",
        fleetsync::plan::render_text(&r.plan)
    );
    assert_eq!(plugin_repos(&f), plugins);
    for p in &plugins {
        assert!(writes_to(&f, p).is_empty(), "{p}: {:?}", writes_to(&f, p));
    }
    // Every dev plugin gone: `/plugins/` answers 200 with no dev plugin at all.
    assert!(f.dss.handle.remove_plugin(&dev[3]));
    f.gh.handle.reset_counters();
    let r = f.run().await;
    assert!(
        r.plan
            .unknown_nodes
            .iter()
            .any(|u| u.reason.contains("plugin")),
        "{}",
        fleetsync::plan::render_text(&r.plan)
    );
    assert_eq!(plugin_repos(&f), plugins);
    for p in &plugins {
        assert!(writes_to(&f, p).is_empty(), "{p}: {:?}", writes_to(&f, p));
    }
    // Projects are still known: the run is not a failure of the whole node.
    assert!(
        r.plan
            .unknown_nodes
            .iter()
            .all(|u| !u.reason.contains("/projects/")),
        "{:?}",
        r.plan.unknown_nodes
    );
}

/// Overwrites one page of the state file with garbage (after a checkpoint, so the page is
/// in the main file): the root page of the ETag cache, a table a run reads only through a
/// best-effort cache.
fn corrupt_a_middle_page(f: &Fleet) {
    let path = f.dir.join("state.db");
    let (page_size, root, pages) = {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
        let ps: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        let root: i64 = c
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = 'etag_cache'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
        (ps as usize, root as usize, pages as usize)
    };
    assert!(root > 1 && root < pages, "root page {root} of {pages}");
    let mut bytes = std::fs::read(&path).unwrap();
    let start = (root - 1) * page_size;
    for (i, b) in bytes[start..start + page_size].iter_mut().enumerate() {
        *b = (i * 7 + 13) as u8;
    }
    std::fs::write(&path, bytes).unwrap();
}

// Case 8a: a state file with a corrupt page is refused at open; nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case8_corrupt_state_file_is_refused_before_any_write() {
    let f = Fleet::start(6, 0, roomy_github(), "").await;
    converge(&f).await;
    // Work for the next run: a variable edited by hand on every repo.
    for n in f.gh.handle.repo_names() {
        assert!(f
            .gh
            .handle
            .set_variable(&n, "DATAIKU_INFRA_ID_PROD", "by-hand"));
    }
    corrupt_a_middle_page(&f);
    f.gh.handle.reset_counters();
    match fleetsync::store::Store::open(&f.dir.join("state.db")) {
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains("quick_check"), "{text}");
            assert!(text.contains("state.db"), "{text}");
        }
        Ok(store) => {
            let engine = fleetsync::reconcile::Engine::new(f.config(), store, None, None).unwrap();
            let r = engine.run(Default::default()).await;
            panic!(
                "a corrupt state file opened; the run wrote {:?} ({})",
                write_requests(&f)
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .collect::<Vec<_>>(),
                r.summary
            );
        }
    }
    assert!(write_requests(&f).is_empty());
}

// Case 8b: a record write that fails (disk full) stops every later GitHub write of the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case8_failed_record_write_stops_further_github_writes() {
    let mut f = Fleet::start(6, 0, roomy_github(), "").await;
    f.pacing.concurrency = 1;
    f.write_config();
    converge(&f).await;
    let repos = f.gh.handle.repo_names();
    for n in &repos {
        assert!(f
            .gh
            .handle
            .set_variable(n, "DATAIKU_INFRA_ID_PROD", "by-hand"));
    }
    sql(
        &f,
        "CREATE TRIGGER disk_full BEFORE INSERT ON resources
         BEGIN SELECT RAISE(ABORT, 'database or disk is full (injected)'); END;",
    );
    f.gh.handle.reset_counters();
    let r = f.run().await;
    assert_eq!(r.status, "failed", "{}", r.summary);
    assert!(
        r.error.as_deref().unwrap_or("").contains("disk is full"),
        "{:?}",
        r.error
    );
    let touched: Vec<&String> = repos
        .iter()
        .filter(|n| !writes_to(&f, n).is_empty())
        .collect();
    assert_eq!(touched.len(), 1, "{touched:?}");
    // The next run (disk still full) writes no secret it already wrote.
    f.gh.handle.reset_counters();
    let r = f.run().await;
    assert_eq!(r.status, "failed", "{}", r.summary);
    assert_eq!(
        f.gh.handle
            .counters()
            .count("PUT /repos/{owner}/{repo}/actions/secrets"),
        0
    );
}

// Case 9: a whitespace-only secret source is an error for the repos that use it (nothing
// written to them), and the repos that do not use it converge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case9_whitespace_secret_source_fails_only_the_repos_using_it() {
    let mut f = Fleet::start(3, 2, roomy_github(), "").await;
    f.tail = "\n[plugin_repo]\ntopics = [\"dss-plugin\"]\n".into();
    f.write_config();
    std::fs::write(f.dir.join("dev-token"), "  \n").unwrap();
    let r = f.run().await;
    assert_ne!(r.status, "succeeded", "{}", r.summary);
    for n in f.gh.handle.repo_names() {
        let repo = f.gh.handle.repo(&n).unwrap();
        for (name, s) in &repo.secrets {
            assert!(!s.value.trim().is_empty(), "{n}: {name} = {:?}", s.value);
        }
    }
    let projects: Vec<String> =
        f.gh.handle
            .repo_names()
            .into_iter()
            .filter(|n| !n.starts_with("acme/dss-plugin-"))
            .collect();
    assert!(projects.is_empty(), "{projects:?}");
    assert_eq!(plugin_repos(&f).len(), 2);
    let errors: Vec<&str> = r.plan.errors.iter().map(|e| e.reason.as_str()).collect();
    assert!(
        !errors.is_empty()
            && errors
                .iter()
                .all(|e| e.contains("dev-token") && e.contains("whitespace")),
        "{errors:?}"
    );
    let failing = errors.len();
    // An empty source fails the same repos, no more.
    std::fs::write(f.dir.join("dev-token"), "").unwrap();
    let r = f.run().await;
    assert_eq!(r.plan.errors.len(), failing, "{:?}", r.plan.errors);
    assert_eq!(plugin_repos(&f).len(), 2);
}

// Case 1: a hand-made repo at a name fleetsync would create is a conflict: reported in the
// plan, the store, the metrics; nothing is written to it. The other repos are created with
// the marker in the same request as the repo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case1_hand_made_repo_is_a_conflict_and_never_written() {
    let f = Fleet::start(4, 0, owned_github(), "").await;
    let wanted = f.wanted_project_repos();
    let repo = wanted[0].clone();
    hand_made(&f, &repo).await;
    f.gh.handle.reset_counters();
    let plan = f.plan().await;
    assert!(
        plan.plan
            .conflicts
            .iter()
            .any(|c| c.repo == repo && c.cause == "unmarked"),
        "{}",
        fleetsync::plan::render_text(&plan.plan)
    );
    assert!(fleetsync::plan::render_text(&plan.plan).contains("Conflicts"));
    // The summary line counts them too.
    assert!(
        fleetsync::plan::render_text(&plan.plan).contains(" 1 ownership conflict(s), not written."),
        "{}",
        fleetsync::plan::render_text(&plan.plan)
    );
    assert!(write_requests(&f).is_empty());
    let (r, metrics) = run_with_metrics(&f, RunOptions::default()).await;
    assert_eq!(r.status, "partial", "{}", r.summary);
    assert!(
        writes_to(&f, &repo).is_empty(),
        "{:?}",
        writes_to(&f, &repo)
    );
    assert_untouched(&f, &repo);
    let rec = f.store().get_repo(&repo).unwrap().unwrap();
    assert_eq!(rec.status, "conflict");
    assert!(rec
        .last_error
        .unwrap_or_default()
        .contains("ownership marker"));
    assert_eq!(
        metric(
            &metrics,
            "fleet_ownership_conflicts_total{cause=\"unmarked\"} "
        ),
        1.0
    );
    assert_eq!(
        metric(&metrics, "fleet_repos_managed{status=\"conflict\"} "),
        1.0
    );
    // The others were created marked, the marker in the creating POST (no extra request).
    let install = f.config().install_id.clone();
    for n in &wanted[1..] {
        let v = f.gh.handle.repo(n).unwrap();
        let key = f.store().get_repo(n).unwrap().unwrap().source_key;
        assert_eq!(
            v.custom_properties["fleetsync"],
            json!(format!("fleetsync:{install} project:design/{key}")),
            "{n}"
        );
    }
    assert_eq!(
        f.gh.handle
            .counters()
            .count("PATCH /repos/{owner}/{repo}/properties/values"),
        0
    );
    // A second run: still nothing written to it.
    f.gh.handle.reset_counters();
    let r = f.run().await;
    assert_eq!(r.plan.conflicts.len(), 1, "{}", r.summary);
    assert!(writes_to(&f, &repo).is_empty());
}

// Case 1, adoption: `fleetctl adopt` (a run asked to adopt the repo) writes the marker first
// and then manages the repo; `adopt = "empty"` takes over an empty repo only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case1_adoption_is_explicit_and_marks_first() {
    let mut f = Fleet::start(4, 0, owned_github(), "").await;
    let wanted = f.wanted_project_repos();
    let (busy, empty) = (wanted[0].clone(), wanted[1].clone());
    hand_made(&f, &busy).await;
    let (org, name) = empty.split_once('/').unwrap();
    assert!(f.gh.handle.create_empty_repo(org, name));
    f.github_extra = "adopt = \"empty\"".into();
    f.write_config();
    f.gh.handle.reset_counters();
    let r = f.run().await;
    assert!(writes_to(&f, &busy).is_empty());
    let w = writes_to(&f, &empty);
    assert!(
        w.first()
            .is_some_and(|x| x.starts_with("PATCH /repos/") && x.contains("/properties/values")),
        "{w:?}"
    );
    assert!(r.plan.conflicts.iter().any(|c| c.repo == busy));
    assert!(f
        .gh
        .handle
        .repo(&empty)
        .unwrap()
        .custom_properties
        .contains_key("fleetsync"));
    // Asked to adopt the busy one: the plan shows it first, then the run marks it first.
    let ask = || RunOptions {
        adopt: vec![busy.clone()],
        ..Default::default()
    };
    let engine = f.engine();
    let plan = engine
        .run(RunOptions {
            dry_run: true,
            ..ask()
        })
        .await;
    let text = fleetsync::plan::render_text(&plan.plan);
    assert!(text.contains(&format!("+ marker:{busy}")), "{text}");
    f.gh.handle.reset_counters();
    let r = engine.run(ask()).await;
    assert_eq!(r.status, "succeeded", "{}", r.summary);
    let w = writes_to(&f, &busy);
    assert!(w[0].contains("/properties/values"), "{w:?}");
    assert!(w.len() > 1, "{w:?}");
    let v = f.gh.handle.repo(&busy).unwrap();
    assert_eq!(v.visibility, "private");
    assert_eq!(f.store().get_repo(&busy).unwrap().unwrap().status, "synced");
}

// Case 2: a repo that is not this install's is never removed, even when the store says it
// is managed (as a silently adopted repo was): the marker is checked on GitHub at removal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case2_unowned_repo_is_never_removed_even_if_the_store_lists_it() {
    let f = Fleet::start(
        4,
        0,
        owned_github(),
        "grace_period = \"0s\"\ndeletion_policy = \"delete\"\nmax_deletions_per_run = 100",
    )
    .await;
    let wanted = f.wanted_project_repos();
    let handmade = wanted[0].clone();
    hand_made(&f, &handmade).await;
    converge_with_conflicts(&f).await;
    // The store lists it as managed and synced (what a silent adoption left behind).
    sql(
        &f,
        &format!("UPDATE repos SET status = 'synced', last_error = NULL WHERE name = '{handmade}'"),
    );
    let key = f.store().get_repo(&handmade).unwrap().unwrap().source_key;
    assert!(f.dss.handle.remove_project(&key));
    f.gh.handle.reset_counters();
    let r = f.run().await;
    assert!(
        writes_to(&f, &handmade).is_empty(),
        "{:?}",
        writes_to(&f, &handmade)
    );
    assert!(f.gh.handle.repo(&handmade).is_some());
    assert_untouched(&f, &handmade);
    assert!(
        r.plan
            .conflicts
            .iter()
            .any(|c| c.repo == handmade && c.cause == "not_owned_at_removal"),
        "{}",
        fleetsync::plan::render_text(&r.plan)
    );
    assert_eq!(
        f.store().get_repo(&handmade).unwrap().unwrap().status,
        "conflict"
    );
    // A repo of its own whose project goes is deleted as configured.
    let own = wanted[1].clone();
    let own_key = f.store().get_repo(&own).unwrap().unwrap().source_key;
    assert!(f.dss.handle.remove_project(&own_key));
    let r = f.run().await;
    assert_eq!(r.counts.get("delete/ok"), Some(&1), "{}", r.summary);
    assert!(f.gh.handle.repo(&own).is_none());
    assert!(f.gh.handle.repo(&handmade).is_some());
}

/// Two runs: the first may create, the second must be a no-op (conflicts allowed).
async fn converge_with_conflicts(f: &Fleet) {
    f.run().await;
    let r = f.run().await;
    assert_eq!(
        r.plan.step_count(),
        0,
        "{}",
        fleetsync::plan::render_text(&r.plan)
    );
}

// Case 3: two installs in one organisation (two DSS nodes with the same project keys, no
// repo_prefix): the second never writes to or removes the first's repos, and the first
// keeps them converged (no flip-flop).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case3_two_installs_never_touch_each_others_repos() {
    let a = Fleet::start(
        4,
        0,
        owned_github(),
        "grace_period = \"0s\"\ndeletion_policy = \"delete\"",
    )
    .await;
    let b = Fleet::start(
        4,
        0,
        owned_github(),
        "grace_period = \"0s\"\ndeletion_policy = \"delete\"",
    )
    .await;
    // B's config points at A's GitHub (B's own simulated GitHub stays unused).
    let point_at_a = |f: &Fleet| {
        let text = f.config_text().replace(&f.gh.url, &a.gh.url);
        std::fs::write(&f.config_path, text).unwrap();
    };
    point_at_a(&b);
    assert_ne!(a.config().install_id, b.config().install_id);
    converge(&a).await;
    let repos = a.gh.handle.repo_names();
    a.gh.handle.reset_counters();
    let r = b.run().await;
    assert!(write_requests(&a).is_empty(), "{:?}", write_requests(&a));
    assert_eq!(r.plan.conflicts.len(), repos.len(), "{}", r.summary);
    assert!(r.plan.conflicts.iter().all(|c| c.cause == "other_owner"));
    // B's node stops listing a project: B removes nothing (it owns nothing).
    let key = b.dss.handle.project_keys()[0].clone();
    b.dss.handle.remove_project(&key);
    point_at_a(&b);
    let _ = b.run().await;
    let _ = b.run().await;
    assert!(write_requests(&a).is_empty(), "{:?}", write_requests(&a));
    assert_eq!(a.gh.handle.repo_names(), repos);
    // A: nothing to repair, nothing written.
    let r = a.run().await;
    assert_eq!(
        r.plan.step_count(),
        0,
        "{}",
        fleetsync::plan::render_text(&r.plan)
    );
    assert!(write_requests(&a).is_empty());
}

// Case 4: a repo archived by hand is drift: left archived in report mode (its project never
// left), while a repo fleetsync archived itself is unarchived when its project is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case4_hand_archived_repo_is_not_unarchived_in_report_mode() {
    let f = Fleet::start(4, 0, owned_github(), "drift = \"report\"").await;
    converge(&f).await;
    let repo = f.wanted_project_repos()[0].clone();
    assert!(f.gh.handle.set_archived(&repo, true));
    f.gh.handle.reset_counters();
    let r = f.run().await;
    assert!(
        writes_to(&f, &repo).is_empty(),
        "{:?}",
        writes_to(&f, &repo)
    );
    assert!(f.gh.handle.repo(&repo).unwrap().archived);
    let drift: Vec<&str> = r
        .plan
        .repos
        .iter()
        .filter(|p| p.repo == repo)
        .flat_map(|p| p.drift.iter().map(|d| d.what.as_str()))
        .collect();
    assert_eq!(
        drift,
        vec!["archived on GitHub"],
        "{}",
        fleetsync::plan::render_text(&r.plan)
    );
    assert!(f.store().get_repo(&repo).unwrap().unwrap().drifted);
}

/// Deletes the state file (and its WAL and shared-memory files): the database is lost.
fn lose_the_state_file(f: &Fleet) {
    for suffix in ["", "-wal", "-shm"] {
        let p = f.dir.join(format!("state.db{suffix}"));
        if p.exists() {
            std::fs::remove_file(&p).unwrap();
        }
    }
}

// Case 6: the state file is lost mid-grace. The next run recognises the repos by their
// markers and says so loudly, rewrites no secret, restarts the grace period from now (the
// tombstoned repo is not removed when the old grace period ends, and is removed after a full
// one from the restart).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case6_lost_state_is_rebuilt_from_markers_without_rewriting_secrets() {
    let grace = std::time::Duration::from_secs(3);
    let f = Fleet::start(6, 1, owned_github(), "grace_period = \"3s\"").await;
    converge(&f).await;
    let repo = f.wanted_project_repos()[0].clone();
    let key = f.store().get_repo(&repo).unwrap().unwrap().source_key;
    assert!(f.dss.handle.remove_project(&key));
    let r = f.run().await;
    assert!(
        r.plan.blocked.iter().any(|b| b.repo == repo),
        "{}",
        r.summary
    );
    let first_tombstone = std::time::Instant::now();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    lose_the_state_file(&f);
    // A plan on the new state file says what a run will do, logs no ERROR, persists nothing
    // (so a second plan says the same).
    for _ in 0..2 {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fleetctl"))
            .args(["plan", "--config"])
            .arg(&f.config_path)
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            stdout.contains("is new: a run will rebuild it from GitHub"),
            "{stdout}\n{stderr}"
        );
        assert!(!stderr.contains("STATE REBUILT"), "{stderr}");
        assert!(!stderr.contains("ERROR"), "{stderr}");
    }
    f.gh.handle.reset_counters();
    let r = f.run().await;
    let restarted = std::time::Instant::now();
    assert!(
        r.plan
            .notices
            .iter()
            .any(|n| n.contains("STATE REBUILT FROM GITHUB")),
        "{:?}",
        r.plan.notices
    );
    assert!(r.plan.conflicts.is_empty(), "{:?}", r.plan.conflicts);
    assert_eq!(
        r.plan.step_count(),
        0,
        "{}",
        fleetsync::plan::render_text(&r.plan)
    );
    let rec = f.store().get_repo(&repo).unwrap().unwrap();
    assert_eq!(rec.source_key, key);
    assert!(f
        .store()
        .list_tombstones()
        .unwrap()
        .iter()
        .any(|t| t.repo == repo));
    // The old grace period ends: not removed.
    let old_due = first_tombstone + grace + std::time::Duration::from_millis(300);
    tokio::time::sleep(old_due.saturating_duration_since(std::time::Instant::now())).await;
    let r = f.run().await;
    assert!(!f.gh.handle.repo(&repo).unwrap().archived, "{}", r.summary);
    assert!(r
        .plan
        .blocked
        .iter()
        .any(|b| b.repo == repo && b.reason.contains("grace")));
    // A full grace period after the restart: archived.
    let new_due = restarted + grace + std::time::Duration::from_millis(300);
    tokio::time::sleep(new_due.saturating_duration_since(std::time::Instant::now())).await;
    let r = f.run().await;
    assert_eq!(r.counts.get("archive/ok"), Some(&1), "{}", r.summary);
    assert!(f.gh.handle.repo(&repo).unwrap().archived);
    // Since the loss: not one secret written.
    assert_eq!(
        f.gh.handle
            .counters()
            .count("PUT /repos/{owner}/{repo}/actions/secrets"),
        0,
        "{:?}",
        f.gh.handle.counters().by_route
    );
}

// Case 6, rotation: `fleetctl secrets rotate` (the store forgets what it wrote) makes the
// next run write every secret again, also after a rebuild.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case6_secrets_rotate_after_a_rebuild_writes_every_secret() {
    let f = Fleet::start(3, 0, owned_github(), "").await;
    converge(&f).await;
    lose_the_state_file(&f);
    converge(&f).await;
    let n = f.store().forget_secret_fingerprints().unwrap();
    assert!(n > 0);
    f.gh.handle.reset_counters();
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{}", r.summary);
    let repos = f.wanted_project_repos().len() as u64;
    assert_eq!(
        f.gh.handle
            .counters()
            .count("PUT /repos/{owner}/{repo}/actions/secrets"),
        4 * repos
    );
}

// Case 7: a managed repo renamed by hand is followed (GitHub redirects the old name): no
// duplicate is created, the records move to the new name, the plan says so, and the repo
// is kept converged under its new name. One transferred to another organisation is a
// conflict, never re-created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case7_renamed_repo_is_followed_never_duplicated() {
    let f = Fleet::start(4, 0, owned_github(), "").await;
    converge(&f).await;
    let wanted = f.wanted_project_repos();
    let old = wanted[0].clone();
    let new = format!("{old}-renamed");
    f.gh.handle
        .rename_repo(&old, new.split_once('/').unwrap().1)
        .unwrap();
    f.gh.handle.reset_counters();
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{}", r.summary);
    assert_eq!(f.gh.handle.counters().count("POST /orgs/{org}/repos"), 0);
    assert!(f.gh.handle.repo(&old).is_none() || f.gh.handle.repo(&old).unwrap().full_name == new);
    assert!(f.gh.handle.repo(&new).is_some());
    let text = fleetsync::plan::render_text(&r.plan);
    assert!(text.contains("renamed on GitHub"), "{text}");
    assert!(f.store().get_repo(&old).unwrap().is_none());
    assert!(f.store().get_repo(&new).unwrap().is_some());
    assert!(write_requests(&f).is_empty(), "{:?}", write_requests(&f));
    // Drift on the renamed repo is repaired there.
    assert!(f
        .gh
        .handle
        .set_variable(&new, "DATAIKU_INFRA_ID_PROD", "by-hand"));
    f.gh.handle.reset_counters();
    let r = f.run().await;
    assert_eq!(
        r.plan.step_count(),
        1,
        "{}",
        fleetsync::plan::render_text(&r.plan)
    );
    let w = writes_to(&f, &new);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(f.gh.handle.counters().count("POST /orgs/{org}/repos"), 0);
    let r = f.run().await;
    assert_eq!(r.plan.step_count(), 0);
    // Transferred to another organisation: a conflict; no repo is made in its place.
    let gone = wanted[1].clone();
    f.gh.handle.transfer_repo(&gone, "elsewhere", None).unwrap();
    f.gh.handle.reset_counters();
    let r = f.run().await;
    assert!(
        r.plan
            .conflicts
            .iter()
            .any(|c| c.repo == gone && c.cause == "transferred"),
        "{}",
        fleetsync::plan::render_text(&r.plan)
    );
    assert_eq!(f.gh.handle.counters().count("POST /orgs/{org}/repos"), 0);
    assert!(write_requests(&f).is_empty(), "{:?}", write_requests(&f));
}

// `fleetctl adopt` shows the plan and writes the marker (one request); `fleetctl secrets
// rotate` makes the next run write every secret again; a repo with another owner's
// marker is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleetctl_adopt_and_secrets_rotate() {
    let f = Fleet::start(3, 0, owned_github(), "").await;
    let wanted = f.wanted_project_repos();
    let repo = wanted[0].clone();
    hand_made(&f, &repo).await;
    converge_with_conflicts(&f).await;
    let fleetctl = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fleetctl"))
            .args(args)
            .arg("--config")
            .arg(&f.config_path)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // No terminal to ask on (stdin is not one here): refused, saying how, nothing written.
    f.gh.handle.reset_counters();
    let (code, stdout, stderr) = fleetctl(&["adopt", &repo]);
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("+ marker:{repo}")),
        "the plan first: {stdout}"
    );
    assert!(
        stderr.contains("--yes") && !stderr.contains("[y/N]"),
        "{stderr}"
    );
    assert!(write_requests(&f).is_empty(), "{:?}", write_requests(&f));
    f.gh.handle.reset_counters();
    let (code, stdout, stderr) = fleetctl(&["adopt", "--yes", &repo]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("+ marker:{repo}")), "{stdout}");
    assert!(stdout.contains("adopted"), "{stdout}");
    let writes = write_requests(&f);
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(writes[0].path.ends_with("/properties/values"));
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{}", r.summary);
    assert_eq!(f.gh.handle.repo(&repo).unwrap().visibility, "private");
    // Another owner's repo: refused, nothing written.
    let other = wanted[1].clone();
    f.gh.handle.set_custom_property(
        &other,
        "fleetsync",
        Some("fleetsync:someone-else project:x/Y"),
    );
    f.gh.handle.reset_counters();
    let (code, _, stderr) = fleetctl(&["adopt", "--yes", &other]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("another fleetsync install"), "{stderr}");
    assert!(write_requests(&f).is_empty());
    // Rotation.
    let (code, stdout, stderr) = fleetctl(&["secrets", "rotate"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    f.gh.handle.reset_counters();
    let r = f.run().await;
    // Partial only for the other install's repo, which stays a conflict.
    assert_eq!(r.status, "partial", "{}", r.summary);
    assert!(r.summary.contains("0 step(s) failed"), "{}", r.summary);
    assert!(
        r.summary.contains("1 ownership conflict(s)"),
        "{}",
        r.summary
    );
    let owned = (wanted.len() - 1) as u64;
    assert_eq!(
        f.gh.handle
            .counters()
            .count("PUT /repos/{owner}/{repo}/actions/secrets"),
        4 * owned
    );
}
