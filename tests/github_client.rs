//! fleetsync's own GitHub client against the simulator: App auth with pagination through
//! absolute `Link` URLs (the octocrab pitfall), the ETag cache in the store (free 304s),
//! waiting out a secondary limit with `retry-after`, and a file commit with a committer.

use fleetsync::config::SecretValue;
use fleetsync::github::{
    EtagCache, FileWrite, GithubAuthSecret, GithubClient, GithubOptions, RepoCreate,
};
use fleetsync::store::Store;
use fleetsync_sim::github::{self, GithubSimSettings, SimApp, SimToken};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN: &str = "ghp_clientTests";

fn pat(url: &str) -> GithubOptions {
    GithubOptions::new(url, GithubAuthSecret::Pat(SecretValue::new(TOKEN)))
}

#[tokio::test]
async fn app_auth_lists_variables_across_pages() {
    let public = std::fs::read_to_string("tests/fixtures/sim-app-key.pub.pem").unwrap();
    let private = std::fs::read_to_string("tests/fixtures/sim-app-key.pem").unwrap();
    let s = github::start(
        GithubSimSettings {
            apps: vec![SimApp {
                app_id: 99,
                installation_id: 7,
                public_key_pem: public,
                workflows: true,
                custom_properties: true,
            }],
            ..Default::default()
        },
        vec![],
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let opts = GithubOptions::new(
        s.url.clone(),
        GithubAuthSecret::App {
            app_id: 99,
            installation_id: 7,
            private_key_pem: SecretValue::new(private),
        },
    );
    let mut opts = opts;
    opts.limits.content_per_minute = 100_000;
    let gh = GithubClient::new(opts, None).unwrap();
    gh.create_repo(
        "acme",
        &RepoCreate {
            name: "paged".into(),
            description: "d".into(),
            visibility: "private".into(),
            auto_init: true,
            custom_properties: Default::default(),
        },
    )
    .await
    .unwrap();
    for i in 0..65 {
        gh.create_variable("acme", "paged", &format!("V{i:02}"), "x")
            .await
            .unwrap();
    }
    let vars = gh.list_variables("acme", "paged").await.unwrap();
    assert_eq!(
        vars.len(),
        65,
        "three pages of 30, followed with the installation token"
    );
    let c = s.handle.counters();
    assert_eq!(
        c.count("GET /repos/{owner}/{repo}/actions/variables 200"),
        3
    );
    assert_eq!(c.unauthorized, 0);
    // The installation token expires: the next call gets a 401, a new token is minted, and
    // the call goes through.
    s.handle.expire_installation_tokens();
    gh.create_variable("acme", "paged", "AFTER_EXPIRY", "y")
        .await
        .unwrap();
    assert_eq!(
        s.handle.repo("acme/paged").unwrap().variables["AFTER_EXPIRY"],
        "y"
    );
    assert_eq!(
        s.handle
            .counters()
            .count("POST /app/installations/{installation_id}/access_tokens 201"),
        2
    );
}

#[tokio::test]
async fn etag_cache_in_the_store_makes_rereads_free() {
    let s = github::start(
        GithubSimSettings::default(),
        vec![SimToken::pat(TOKEN)],
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.db")).unwrap();
    let cache = |store: &Store| -> Arc<dyn EtagCache> { Arc::new(store.etag_cache().unwrap()) };
    let gh = GithubClient::new(pat(&s.url), Some(cache(&store))).unwrap();
    gh.create_repo(
        "acme",
        &RepoCreate {
            name: "cached".into(),
            description: "d".into(),
            visibility: "private".into(),
            auto_init: true,
            custom_properties: Default::default(),
        },
    )
    .await
    .unwrap();
    gh.get_repo("acme", "cached").await.unwrap().unwrap();
    let charged = s.handle.counters().charged;
    // A new client over the same state file (as after a restart): still a 304.
    drop(gh);
    let store = Store::open(&dir.path().join("s.db")).unwrap();
    let gh2 = GithubClient::new(pat(&s.url), Some(cache(&store))).unwrap();
    let r = gh2.get_repo("acme", "cached").await.unwrap().unwrap();
    assert_eq!(r.name, "cached");
    let c = s.handle.counters();
    assert_eq!(c.not_modified, 1);
    assert_eq!(c.charged, charged, "the 304 is not charged");
}

#[tokio::test]
async fn a_secondary_limit_is_waited_out_then_the_write_succeeds() {
    let s = github::start(
        GithubSimSettings {
            content_writes_per_minute: 1,
            retry_after_override: Some(1),
            ..Default::default()
        },
        vec![SimToken::pat(TOKEN)],
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let mut o = pat(&s.url);
    o.limits.content_per_minute = 100_000;
    o.max_wait = Duration::from_secs(120);
    let gh = GithubClient::new(o, None).unwrap();
    gh.create_repo(
        "acme",
        &RepoCreate {
            name: "one".into(),
            description: String::new(),
            visibility: "private".into(),
            auto_init: true,
            custom_properties: Default::default(),
        },
    )
    .await
    .unwrap();
    // The simulator answers the next content write with 403 + `retry-after: 1`; lifting the
    // limit meanwhile lets the retry pass.
    let h = s.handle.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        h.update_settings(|k| k.content_writes_per_minute = 0);
    });
    let started = Instant::now();
    gh.put_file(
        "acme",
        "one",
        &FileWrite {
            path: "a.txt",
            content: b"x",
            sha: None,
            branch: "main",
            message: "m",
        },
    )
    .await
    .unwrap();
    let c = s.handle.counters();
    assert_eq!(c.secondary_limited, 1);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for retry-after"
    );
    assert_eq!(gh.stats().snapshot().rate_limited, 1);
    // The committer identity reached GitHub under its right key (not octocrab's `commiter`).
    let last_put = s
        .handle
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.method == "PUT")
        .unwrap();
    assert_eq!(last_put.status, 201);
}

/// An ETag cache that takes its time, as a slow disk would.
struct SlowCache(Store);

impl EtagCache for SlowCache {
    fn get(
        &self,
        url: &str,
    ) -> Result<Option<fleetsync::store::CachedResponse>, fleetsync::github::etag_cache::CacheError>
    {
        std::thread::sleep(Duration::from_millis(300));
        EtagCache::get(&self.0, url)
    }
    fn put(
        &self,
        url: &str,
        etag: &str,
        body: &[u8],
    ) -> Result<(), fleetsync::github::etag_cache::CacheError> {
        std::thread::sleep(Duration::from_millis(300));
        EtagCache::put(&self.0, url, etag, body)
    }
}

// The ETag cache is called off the async workers: on a single-threaded runtime, another
// task keeps running while a conditional GET waits 2 × 300 ms on the cache. (Called
// inline, the cache would freeze the only worker and the ticker would not tick.)
#[tokio::test(flavor = "current_thread")]
async fn a_slow_etag_cache_does_not_block_the_async_worker() {
    let s = github::start(
        GithubSimSettings::default(),
        vec![SimToken::pat(TOKEN)],
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.db")).unwrap();
    assert!(s.handle.create_repo_directly("acme", "slow"));
    let gh = GithubClient::new(pat(&s.url), Some(Arc::new(SlowCache(store)))).unwrap();
    let ticks = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let ticker = {
        let ticks = ticks.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        })
    };
    tokio::task::yield_now().await;
    let before = ticks.load(std::sync::atomic::Ordering::Relaxed);
    gh.get_repo("acme", "slow").await.unwrap().unwrap();
    let during = ticks.load(std::sync::atomic::Ordering::Relaxed) - before;
    ticker.abort();
    assert!(
        during >= 10,
        "only {during} ticks of 10 ms during a GET that waited 600 ms on the cache"
    );
}
