//! Pacing: a bound on requests in flight (a semaphore) and a write pacer (governor) holding
//! mutating requests to the configured per-minute and per-hour rates, spread evenly rather
//! than in bursts, so a cold start of hundreds of repos is a steady queue under GitHub's
//! secondary limits.

use governor::clock::DefaultClock;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

type Limiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock>;

/// Limits shared by every request of a client.
#[derive(Debug, Clone)]
pub struct Pacer {
    in_flight: Arc<Semaphore>,
    per_minute: Arc<Limiter>,
    per_hour: Arc<Limiter>,
}

impl Pacer {
    /// A pacer allowing `max_in_flight` requests at once and the given write rates.
    pub fn new(max_in_flight: u32, writes_per_minute: u32, writes_per_hour: u32) -> Self {
        let wpm = NonZeroU32::new(writes_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let wph = NonZeroU32::new(writes_per_hour.max(1)).unwrap_or(NonZeroU32::MIN);
        // Even spacing: one write every 60/W seconds, with a small burst so a short pause
        // (e.g. a read between writes) is not lost.
        let per_minute = Quota::with_period(Duration::from_secs(60) / wpm.get())
            .unwrap_or_else(|| Quota::per_minute(wpm))
            .allow_burst(NonZeroU32::new((wpm.get() / 30).clamp(1, 5)).unwrap_or(NonZeroU32::MIN));
        let per_hour = Quota::per_hour(wph);
        Pacer {
            in_flight: Arc::new(Semaphore::new(max_in_flight.max(1) as usize)),
            per_minute: Arc::new(RateLimiter::direct(per_minute)),
            per_hour: Arc::new(RateLimiter::direct(per_hour)),
        }
    }

    /// Waits for a slot in flight.
    pub async fn slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.in_flight.clone().acquire_owned().await.ok()
    }

    /// Waits until a write may go out.
    pub async fn write_permit(&self) {
        self.per_hour.until_ready().await;
        self.per_minute.until_ready().await;
    }
}
