//! GitHub App auth: one installation token per installation, shared by every worker of a run
//! and by later runs, re-minted once after GitHub refuses it and shortly before it expires.
//! The token requests are counted on the simulated GitHub (`POST
//! /app/installations/{installation_id}/access_tokens`).

mod common;

use common::*;
use fleetsync::config::SecretValue;
use fleetsync::github::{GithubAuthSecret, GithubClient, GithubOptions};
use fleetsync_sim::github::{self, GithubSimSettings, SimApp};

const MINT: &str = "POST /app/installations/{installation_id}/access_tokens 201";

fn app(settings: GithubSimSettings) -> GithubSimSettings {
    GithubSimSettings {
        apps: vec![SimApp {
            app_id: 99,
            installation_id: 7,
            public_key_pem: std::fs::read_to_string("tests/fixtures/sim-app-key.pub.pem").unwrap(),
            workflows: true,
            custom_properties: true,
        }],
        ..settings
    }
}

fn private_key() -> String {
    std::fs::read_to_string("tests/fixtures/sim-app-key.pem").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_of_eight_workers_mints_one_token_and_a_revoked_one_is_reminted_once() {
    let mut f = Fleet::start(24, 2, app(roomy_github()), "").await;
    let key = f.dir.join("app.pem");
    std::fs::write(&key, private_key()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    f.github_auth =
        r#"{ app = { app_id = 99, installation_id = 7, private_key = { file = "app.pem" } } }"#
            .into();
    assert_eq!(f.pacing.concurrency, 8);
    f.write_config();
    let engine = f.engine();

    let cold = engine.run(Default::default()).await;
    assert_eq!(
        cold.status, "succeeded",
        "{}\n{:?}",
        cold.summary, cold.error
    );
    let c = f.gh.handle.counters();
    assert!(
        c.count("POST /orgs/{org}/repos 201") >= 20,
        "{:?}",
        c.by_route
    );
    assert_eq!(
        c.count(MINT),
        1,
        "one token for 8 workers: {:?}",
        c.by_route
    );

    // Steady runs reuse it.
    let noop = engine.run(Default::default()).await;
    assert_eq!(noop.status, "succeeded", "{}", noop.summary);
    assert_eq!(f.gh.handle.counters().count(MINT), 1);

    // Revoked (the simulator expires every token): the requests that meet the 401 share one
    // new token.
    f.gh.handle.expire_installation_tokens();
    let after = engine.run(Default::default()).await;
    assert_eq!(after.status, "succeeded", "{}", after.summary);
    let c = f.gh.handle.counters();
    assert_eq!(c.count(MINT), 2, "{:?}", c.by_route);
    assert!(c.unauthorized >= 1 || c.count("GET /repos/{owner}/{repo} 401") >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_reminted_before_it_expires_without_a_401() {
    let s = github::start(
        app(GithubSimSettings {
            installation_token_ttl_secs: 5,
            ..Default::default()
        }),
        vec![],
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let gh = GithubClient::new(
        GithubOptions::new(
            s.url.clone(),
            GithubAuthSecret::App {
                app_id: 99,
                installation_id: 7,
                private_key_pem: SecretValue::new(private_key()),
            },
        ),
        None,
    )
    .unwrap();
    let many = (0..32).map(|_| gh.get_repo("acme", "missing"));
    for r in futures::future::join_all(many).await {
        assert!(r.unwrap().is_none());
    }
    assert_eq!(s.handle.counters().count(MINT), 1, "32 at once, one mint");
    let expiry = gh.installation_token_expiry().await.unwrap();
    // Within a tenth of the token's life (here 0.4 to 0.5 s) before it expires, the next
    // request mints a new one.
    let until = expiry - chrono::Duration::milliseconds(250);
    tokio::time::sleep((until - chrono::Utc::now()).to_std().unwrap()).await;
    assert!(chrono::Utc::now() < expiry, "still valid");
    assert!(gh.get_repo("acme", "missing").await.unwrap().is_none());
    let c = s.handle.counters();
    assert_eq!(c.count(MINT), 2, "{:?}", c.by_route);
    assert_eq!(
        c.count("GET /repos/{owner}/{repo} 401"),
        0,
        "no request met a 401"
    );
}
