//! Ownership and integrity: fleetsync writes to and removes only the repos it owns, knows
//! them without its state file, and does not write on from a broken one. One test per case
//! of the ownership issue, each asserting on the simulated GitHub's request log.

mod common;

use common::*;
use fleetsync_sim::github::RequestRecord;

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
