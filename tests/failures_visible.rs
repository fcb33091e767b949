//! Nothing fails silently: a failure at any stage of a repo (its spec, its observation, its
//! apply) is a recorded error on that repo with its cause, counted in the run's failed
//! figure and status, exported as metrics, logged at WARN with the repo named, and a GitHub
//! that cannot be read makes the daemon not ready.

mod common;

use common::{roomy_github, Fleet};
use fleetsync::api::Health;
use fleetsync::metrics::Metrics;
use fleetsync::reconcile::{Engine, RunOptions, RunReport};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Log lines captured from the run (the test's thread).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

struct Observed {
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    logs: Captured,
}

async fn run_observed(f: &Fleet) -> (RunReport, Observed) {
    run_observed_with(f, RunOptions::default()).await
}

async fn run_observed_with(f: &Fleet, opts: RunOptions) -> (RunReport, Observed) {
    let metrics = Arc::new(Metrics::new().unwrap());
    let health = Arc::new(Health::default());
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let engine = Engine::new(
        f.config(),
        f.store(),
        Some(metrics.clone()),
        Some(health.clone()),
    )
    .unwrap();
    let report = engine.run(opts).await;
    (
        report,
        Observed {
            metrics,
            health,
            logs,
        },
    )
}

/// No retries inside the client: each failure shows at once (the tests are about reporting).
fn single_attempt(f: &Fleet) {
    let text = std::fs::read_to_string(&f.config_path).unwrap();
    let text = text.replacen("[pacing]\n", "[pacing]\nmax_attempts = 1\n", 1);
    std::fs::write(&f.config_path, text).unwrap();
}

fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no series {series} in\n{text}"))
}

fn warn_lines_naming(logs: &str, repo: &str) -> usize {
    logs.lines()
        .filter(|l| l.contains("WARN") && l.contains(repo))
        .count()
}

#[tokio::test(flavor = "current_thread")]
async fn a_github_outage_is_a_failed_run_with_every_repo_in_error() {
    let f = Fleet::start(4, 0, roomy_github(), "").await;
    let r = f.run().await;
    assert_eq!(r.status, "succeeded", "{}", r.summary);
    let repos = f.gh.handle.repo_names();
    single_attempt(&f);
    f.gh.handle.update_settings(|s| s.outage = true);
    let (r, o) = run_observed(&f).await;
    assert_eq!(r.status, "failed", "{}", r.summary);
    assert!(
        r.summary
            .contains(&format!("{} repo(s) failed", repos.len())),
        "{}",
        r.summary
    );
    assert!(!r.summary.contains(" 0 repo(s) failed"), "{}", r.summary);
    assert_eq!(r.counts.get("repos/failed"), Some(&(repos.len() as u64)));
    assert!(
        r.error.as_deref().unwrap_or("").contains("503"),
        "{:?}",
        r.error
    );
    for name in &repos {
        let rec = f.store().get_repo(name).unwrap().unwrap();
        assert_eq!(rec.status, "error", "{name}");
        let msg = rec.last_error.unwrap_or_default();
        assert!(
            msg.starts_with("observe: ") && msg.contains("503"),
            "{name}: {msg}"
        );
        assert!(
            warn_lines_naming(&o.logs.text(), name) >= 1,
            "{}",
            o.logs.text()
        );
    }
    let text = o.metrics.render();
    assert_eq!(
        metric(&text, "fleet_repos_managed{status=\"error\"} "),
        repos.len() as f64
    );
    assert_eq!(
        metric(
            &text,
            "fleet_repo_errors_total{cause=\"server_error\",stage=\"observe\"} "
        ),
        repos.len() as f64
    );
    assert_eq!(metric(&text, "fleet_github_up "), 0.0);
    let why = o
        .health
        .github_error()
        .expect("GitHub reported unreachable");
    assert!(why.contains("503"), "{why}");

    // Back up: the errors clear, GitHub is reachable again.
    f.gh.handle.update_settings(|s| s.outage = false);
    let (r, o) = run_observed(&f).await;
    assert_eq!(r.status, "succeeded", "{}", r.summary);
    assert!(o.health.github_error().is_none());
    for name in &repos {
        let rec = f.store().get_repo(name).unwrap().unwrap();
        assert_eq!(rec.status, "synced", "{name}");
        assert!(rec.last_error.is_none());
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_unreadable_secret_source_puts_every_repo_using_it_in_error() {
    let mut f = Fleet::start(4, 0, roomy_github(), "").await;
    f.tail = "[repo.secrets.EXTRA_TOKEN]\nenv = \"FLEETSYNC_TEST_SURELY_UNSET_SECRET\"\n".into();
    f.write_config();
    let text = std::fs::read_to_string(&f.config_path).unwrap();
    // The extra secret must land in [repo.secrets]; the harness's tail comes last.
    assert!(text.contains("FLEETSYNC_TEST_SURELY_UNSET_SECRET"));
    let (r, o) = run_observed(&f).await;
    assert_eq!(r.status, "failed", "{}", r.summary);
    assert!(!r.plan.errors.is_empty());
    for e in &r.plan.errors {
        assert_eq!(e.cause, "secret_source", "{e:?}");
        assert!(
            e.reason.contains("FLEETSYNC_TEST_SURELY_UNSET_SECRET"),
            "{e:?}"
        );
    }
    assert_eq!(
        f.gh.handle.repo_names().len(),
        0,
        "nothing is created half-configured"
    );
    let recs = f.store().list_repos().unwrap();
    assert_eq!(recs.len(), r.plan.errors.len());
    for rec in &recs {
        assert_eq!(rec.status, "error");
        assert!(rec
            .last_error
            .as_deref()
            .unwrap_or("")
            .starts_with("desire: secret EXTRA_TOKEN"));
        assert!(warn_lines_naming(&o.logs.text(), &rec.name) >= 1);
    }
    let text = o.metrics.render();
    assert_eq!(
        metric(&text, "fleet_repos_managed{status=\"error\"} "),
        recs.len() as f64
    );
    assert_eq!(
        metric(
            &text,
            "fleet_repo_errors_total{cause=\"secret_source\",stage=\"desire\"} "
        ),
        recs.len() as f64
    );
}

#[tokio::test(flavor = "current_thread")]
async fn with_errors_on_github_the_summary_counts_match_the_records() {
    let f = Fleet::start(8, 0, roomy_github(), "").await;
    single_attempt(&f);
    f.gh.handle.update_settings(|s| s.error_rate = 0.6);
    let (r, _o) = run_observed(&f).await;
    let failed_steps: u64 = r
        .counts
        .iter()
        .filter(|(k, _)| k.ends_with("/failed") && !k.starts_with("repos/"))
        .map(|(_, v)| *v)
        .sum();
    assert!(
        r.summary
            .contains(&format!("{failed_steps} step(s) failed")),
        "{} vs {:?}",
        r.summary,
        r.counts
    );
    let result_failed: u64 = r
        .results
        .iter()
        .flat_map(|x| x.results.iter())
        .filter(|s| s.outcome.as_str() == "failed")
        .count() as u64;
    assert_eq!(failed_steps, result_failed);
    assert_ne!(r.status, "succeeded", "{}", r.summary);
    // Every repo the run reached has a record; those that failed say why.
    let recs = f.store().list_repos().unwrap();
    assert_eq!(recs.len(), r.repos, "{}", r.summary);
    for rec in recs.iter().filter(|x| x.status == "error") {
        assert!(rec
            .last_error
            .as_deref()
            .is_some_and(|m| !m.trim().is_empty()));
    }
}

// A token revoked in the middle of a cold start: the repos done before it are created, the
// others fail with GitHub's 401 recorded on each of them; the run is partial (not
// succeeded, not failed), its summary counts the failed repos, each is named at WARN, and
// the metrics count them by stage and cause.
#[tokio::test(flavor = "current_thread")]
async fn a_token_revoked_mid_run_is_a_partial_run_with_the_rest_in_error() {
    let mut f = Fleet::start(6, 0, roomy_github(), "").await;
    f.pacing.concurrency = 1;
    f.write_config();
    single_attempt(&f);
    let handle = f.gh.handle.clone();
    let revoked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = revoked.clone();
    let progress: fleetsync::reconcile::ProgressFn = Arc::new(move |p| {
        if p.phase == "repos"
            && p.done >= 2
            && !flag.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            assert!(handle.revoke_token(common::GH_TOKEN));
        }
    });
    let (r, o) = run_observed_with(
        &f,
        RunOptions {
            progress: Some(progress),
            ..Default::default()
        },
    )
    .await;
    assert!(revoked.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(r.status, "partial", "{}", r.summary);
    let created = f.gh.handle.repo_names();
    assert!(created.len() >= 2 && created.len() < 6, "{created:?}");
    let failed = r.counts.get("repos/failed").copied().unwrap_or(0);
    assert!(failed >= 1, "{}", r.summary);
    assert!(
        r.summary.contains(&format!("{failed} repo(s) failed")),
        "{}",
        r.summary
    );
    let recs = f.store().list_repos().unwrap();
    let in_error: Vec<_> = recs.iter().filter(|r| r.status == "error").collect();
    assert_eq!(in_error.len() as u64, failed, "{recs:?}");
    for rec in &in_error {
        let msg = rec.last_error.clone().unwrap_or_default();
        assert!(msg.contains("401"), "{}: {msg}", rec.name);
        assert!(
            warn_lines_naming(&o.logs.text(), &rec.name) >= 1,
            "{}",
            o.logs.text()
        );
    }
    let text = o.metrics.render();
    assert_eq!(
        metric(&text, "fleet_repos_managed{status=\"error\"} "),
        failed as f64
    );
    let counted: f64 = text
        .lines()
        .filter(|l| l.starts_with("fleet_repo_errors_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(counted, failed as f64, "{text}");
}
