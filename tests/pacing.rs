//! Pacing at GitHub's real secondary limits (900 points per minute per endpoint, 80 content
//! writes per minute and 500 per hour, 100 requests at once), on a shortened clock: the
//! simulator and the pacer both run with `time_scale = 20`, so GitHub's minute is 3 s here
//! (the budgets are GitHub's own; only the windows are shorter). fleetsync's own traffic must
//! never meet a secondary limit, and must use most of what the limits allow. When another
//! client on the same identity spends an endpoint's budget, fleetsync waits `retry-after`
//! and slows that endpoint.

mod common;

use common::*;
use fleetsync::config::SecretValue;
use fleetsync::github::{routes, GithubAuthSecret, GithubClient, GithubOptions, PacingLimits};
use fleetsync_sim::github::{self, GithubSimSettings, SimToken};
use futures::StreamExt;
use std::time::{Duration, Instant};

const TOKEN: &str = "ghp_pacingTests";
const SCALE: u32 = 20;
/// GitHub's minute on the shortened clock.
const MINUTE: Duration = Duration::from_secs(60 / SCALE as u64);

fn github_limits_scaled() -> GithubSimSettings {
    GithubSimSettings {
        time_scale: SCALE,
        ..Default::default()
    }
}

fn client(url: &str, limits: PacingLimits) -> GithubClient {
    let mut o = GithubOptions::new(url, GithubAuthSecret::Pat(SecretValue::new(TOKEN)));
    o.limits = limits;
    o.max_wait = Duration::from_secs(60);
    GithubClient::new(o, None).unwrap()
}

fn paced() -> PacingLimits {
    PacingLimits {
        time_scale: f64::from(SCALE),
        ..PacingLimits::github()
    }
}

async fn create(gh: &GithubClient, name: String) {
    gh.create_repo(
        "acme",
        &fleetsync::github::RepoCreate {
            name,
            description: String::new(),
            visibility: "private".into(),
            auto_init: true,
            custom_properties: Default::default(),
        },
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_traffic_never_meets_a_secondary_limit_and_uses_the_budget() {
    let s = github::start(
        github_limits_scaled(),
        vec![SimToken::pat(TOKEN)],
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let gh = client(&s.url, paced());
    create(&gh, "target".into()).await;

    // Three kinds of traffic at once, each over its limit: 1,400 reads of one endpoint
    // (1,400 points), 280 topic writes on another (1,400 points), 150 repo creations
    // (content-generating: 80 a minute).
    let started = Instant::now();
    let reads = futures::stream::iter(0..1_400)
        .map(|_| {
            let gh = gh.clone();
            async move {
                gh.get_repo("acme", "target").await.unwrap().unwrap();
                Instant::now()
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>();
    let writes = futures::stream::iter(0..280)
        .map(|i| {
            let gh = gh.clone();
            async move {
                gh.replace_topics("acme", "target", &[format!("t{i}")])
                    .await
                    .unwrap();
                Instant::now()
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>();
    let creates = futures::stream::iter(0..150)
        .map(|i| {
            let gh = gh.clone();
            async move {
                create(&gh, format!("r{i:03}")).await;
                Instant::now()
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>();
    let (reads, writes, creates) = tokio::join!(reads, writes, creates);

    let c = s.handle.counters();
    assert_eq!(c.secondary_limited, 0, "{:?}", c.by_route);
    assert_eq!(gh.stats().snapshot().rate_limited, 0);
    assert_eq!(c.count("GET /repos/{owner}/{repo} 200"), 1_400);
    assert_eq!(c.count("PUT /repos/{owner}/{repo}/topics 200"), 280);
    assert_eq!(c.count("POST /orgs/{org}/repos 201"), 151);

    // Paced, not sent at once: each stream needs more than one window...
    let last = |v: &[Instant]| v.iter().max().copied().unwrap() - started;
    for (what, took, budget_windows) in [
        ("reads", last(&reads), 1_400.0 / 900.0),
        ("writes", last(&writes), 1_400.0 / 900.0),
        ("creates", last(&creates), 150.0 / 80.0),
    ] {
        assert!(took > MINUTE, "{what} took {took:?}: not paced");
        // ... and most of the allowed rate is used: the floor is the work at the budget's
        // rate; achieved / allowed is floor / took (the pacer keeps a margin and a burst).
        let floor = MINUTE.as_secs_f64() * budget_windows;
        let ratio = floor / took.as_secs_f64();
        eprintln!("{what}: {took:?} (floor {floor:.2}s, ratio {ratio:.2})");
        assert!(ratio > 0.6, "{what}: {took:?} for a floor of {floor:.2}s");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_clients_burst_is_waited_out_and_slows_that_endpoint() {
    let s = github::start(
        github_limits_scaled(),
        vec![SimToken::pat(TOKEN)],
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let ours = client(&s.url, paced());
    create(&ours, "shared".into()).await;
    // Another client on the same token, not paced, spends the topics endpoint's budget.
    let other = client(
        &s.url,
        PacingLimits {
            points_per_minute: 1_000_000,
            content_per_minute: 1_000_000,
            ..paced()
        },
    );
    for i in 0..180 {
        other
            .replace_topics("acme", "shared", &[format!("o{i}")])
            .await
            .unwrap();
    }
    assert_eq!(s.handle.counters().secondary_limited, 0);
    let t = Instant::now();
    ours.replace_topics("acme", "shared", &["ours".to_string()])
        .await
        .unwrap();
    let st = ours.stats().snapshot();
    assert_eq!(
        st.secondary_limited, 1,
        "one secondary-limit answer, then a wait"
    );
    assert!(
        t.elapsed() >= Duration::from_secs(1),
        "waited for retry-after"
    );
    assert_eq!(s.handle.counters().secondary_limited, 1);
    assert_eq!(ours.pacer().endpoint_share(routes::TOPICS), 0.5);
    assert_eq!(ours.pacer().endpoint_share(routes::REPO), 1.0);
    assert_eq!(
        s.handle.repo("acme/shared").unwrap().topics,
        vec!["ours".to_string()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_start_and_a_noop_at_githubs_limits_meet_no_secondary_limit() {
    // 64 projects (7 tagged no-gitops): 57 repos, each 4 content writes (228: nearly three
    // windows of 80), 6 variable writes on one endpoint (1,710 points: two windows of 900).
    let mut f = Fleet::start(64, 0, github_limits_scaled(), "").await;
    f.pacing = fleetsync_harness::Pacing {
        concurrency: 16,
        max_in_flight: 64,
        writes_per_minute: 80,
        writes_per_hour: 500,
        points_per_minute: 900,
        time_scale: SCALE,
        request_timeout: None,
    };
    f.write_config();
    let engine = f.engine();
    let started = Instant::now();
    let cold = engine.run(Default::default()).await;
    let cold_took = started.elapsed();
    assert_eq!(
        cold.status, "succeeded",
        "{}\n{:?}",
        cold.summary, cold.error
    );
    let c = f.gh.handle.counters();
    assert_eq!(c.secondary_limited, 0, "{:?}", c.by_route);
    let repos = f.gh.handle.repo_names().len() as u64;
    assert_eq!(c.count("POST /orgs/{org}/repos 201"), repos);
    assert!(repos >= 55, "{repos}");
    assert!(
        cold_took > MINUTE * 2,
        "{} content writes at 80 a minute need more than two minutes: {cold_took:?}",
        c.content_writes
    );
    f.gh.handle.reset_counters();
    let noop = engine.run(Default::default()).await;
    assert_eq!(noop.status, "succeeded", "{}", noop.summary);
    let c = f.gh.handle.counters();
    assert_eq!(c.secondary_limited, 0);
    assert_eq!(c.writes(), 0, "{:?}", c.by_route);
}
