//! Pacing: a bound on requests in flight (a semaphore) and write pacers (governor) that keep
//! mutating requests under GitHub's secondary limits, spread evenly rather than in bursts, so
//! a cold start of hundreds of repos is a steady queue.
//!
//! GitHub's limits are not one "writes per minute" figure, and pacing them as one wastes most
//! of the budget:
//!
//! - **Content-generating requests** (creating a repo, creating or deleting a file through the
//!   contents API, creating a git ref or commit, moving a branch) are limited to ~80/min and ~500/h per identity. Those,
//!   and only those, are paced by `writes_per_minute` / `writes_per_hour`
//!   ([`is_content_write`] is the classification, the same as the simulator's).
//! - **Every other mutating request** (Actions secrets and variables, branch protection,
//!   topics, repo settings) is limited by points: ~900 points per minute per endpoint, a write
//!   costing 5, i.e. ~180 writes/min on one endpoint. Those are paced per endpoint at
//!   `2 × writes_per_minute` (at least 1/min): at GitHub-safe content rates (≤ 80/min) that is
//!   ≤ 160 writes/min = 800 points on any one endpoint, and it is never the bottleneck, since a
//!   new repo needs at most 1.5 writes on one endpoint (6 variables) per content write (4).
//! - All requests share the in-flight bound (`max_in_flight`, GitHub's concurrency limit).

use super::routes;
use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use http::Method;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

type Limiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock>;
type KeyedLimiter = RateLimiter<&'static str, DefaultKeyedStateStore<&'static str>, DefaultClock>;

/// Whether GitHub counts a request as content-generating (its secondary limit of ~80/min and
/// ~500/h). `route` is the endpoint template as the client names it.
pub fn is_content_write(method: &Method, route: &str) -> bool {
    matches!(
        (method.as_str(), route),
        ("POST", routes::ORG_REPOS)
            | ("PUT", routes::CONTENTS)
            | ("DELETE", routes::CONTENTS)
            | ("POST", routes::GIT_REFS)
            // Git Data API commits (the plugin mirror on main): a commit, and moving a branch.
            | ("POST", routes::GIT_COMMITS)
            | ("PATCH", routes::GIT_BRANCH_REF)
    )
}

/// An even-spacing quota of `per_minute` requests per minute, with a small burst so a short
/// pause (e.g. a read between writes) is not lost.
fn spaced(per_minute: u32) -> Quota {
    let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(Duration::from_secs(60) / n.get())
        .unwrap_or_else(|| Quota::per_minute(n))
        .allow_burst(NonZeroU32::new((n.get() / 30).clamp(1, 5)).unwrap_or(NonZeroU32::MIN))
}

/// Limits shared by every request of a client.
#[derive(Debug, Clone)]
pub struct Pacer {
    in_flight: Arc<Semaphore>,
    per_minute: Arc<Limiter>,
    per_hour: Arc<Limiter>,
    per_endpoint: Arc<KeyedLimiter>,
}

impl Pacer {
    /// A pacer allowing `max_in_flight` requests at once, `writes_per_minute` and
    /// `writes_per_hour` content-generating requests, and `2 × writes_per_minute` other
    /// writes per minute on each endpoint.
    pub fn new(max_in_flight: u32, writes_per_minute: u32, writes_per_hour: u32) -> Self {
        let wph = NonZeroU32::new(writes_per_hour.max(1)).unwrap_or(NonZeroU32::MIN);
        let per_hour = Quota::per_hour(wph);
        Pacer {
            in_flight: Arc::new(Semaphore::new(max_in_flight.max(1) as usize)),
            per_minute: Arc::new(RateLimiter::direct(spaced(writes_per_minute))),
            per_hour: Arc::new(RateLimiter::direct(per_hour)),
            per_endpoint: Arc::new(RateLimiter::keyed(spaced(
                writes_per_minute.saturating_mul(2),
            ))),
        }
    }

    /// Waits for a slot in flight.
    pub async fn slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.in_flight.clone().acquire_owned().await.ok()
    }

    /// Waits until a write (`method` on the endpoint template `route`) may go out.
    pub async fn write_permit(&self, method: &Method, route: &'static str) {
        if is_content_write(method, route) {
            self.per_hour.until_ready().await;
            self.per_minute.until_ready().await;
        } else {
            self.per_endpoint.until_key_ready(&route).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn classifies_content_writes_like_github() {
        assert!(is_content_write(&Method::POST, routes::ORG_REPOS));
        assert!(is_content_write(&Method::PUT, routes::CONTENTS));
        assert!(is_content_write(&Method::POST, routes::GIT_REFS));
        assert!(!is_content_write(&Method::PUT, routes::SECRET));
        assert!(!is_content_write(&Method::POST, routes::VARIABLES));
        assert!(is_content_write(&Method::PATCH, routes::GIT_BRANCH_REF));
        assert!(!is_content_write(&Method::GET, routes::ORG_REPOS));
    }

    #[tokio::test]
    async fn other_writes_do_not_spend_the_content_budget() {
        // 60 content writes/min (burst 2); 120 other writes/min per endpoint (burst 4).
        let p = Pacer::new(4, 60, 1000);
        let vars = routes::VARIABLES;
        for _ in 0..4 {
            p.write_permit(&Method::POST, vars).await;
        }
        assert!(
            p.per_endpoint.check_key(&vars).is_err(),
            "endpoint budget spent"
        );
        assert!(p.per_endpoint.check_key(&routes::SECRET).is_ok());
        let t = Instant::now();
        p.write_permit(&Method::POST, routes::ORG_REPOS).await;
        p.write_permit(&Method::POST, routes::ORG_REPOS).await;
        assert!(t.elapsed() < Duration::from_millis(200));
        assert!(p.per_minute.check().is_err(), "content burst spent");
    }
}
