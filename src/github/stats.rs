//! Request accounting: totals, primary rate-limit points charged (every answered request
//! except a 304), rate-limit answers, and counts by method, route and status for metrics.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

/// Counters shared by every request of a client.
#[derive(Debug, Default)]
pub struct RequestStats {
    requests: AtomicU64,
    charged: AtomicU64,
    not_modified: AtomicU64,
    rate_limited: AtomicU64,
    secondary_limited: AtomicU64,
    retries: AtomicU64,
    writes: AtomicU64,
    remaining: AtomicI64,
    used: AtomicI64,
    limit: AtomicI64,
    reset: AtomicI64,
    by_route: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// Tells one client's counters from another's (e.g. after a config reload).
    id: u64,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct StatsSnapshot {
    /// Requests that got an answer or failed in transport.
    pub requests: u64,
    /// Requests charged to the primary limit (answered, not 304).
    pub charged: u64,
    /// 304 answers (free).
    pub not_modified: u64,
    /// 403/429 rate-limit answers received.
    pub rate_limited: u64,
    /// Of those, secondary-limit answers.
    pub secondary_limited: u64,
    /// Retries made.
    pub retries: u64,
    /// Mutating requests sent.
    pub writes: u64,
    /// Last `x-ratelimit-remaining` seen (-1 before any).
    pub remaining: i64,
    /// Last `x-ratelimit-used` seen.
    pub used: i64,
    /// Last `x-ratelimit-limit` seen.
    pub limit: i64,
    /// Last `x-ratelimit-reset` seen (epoch seconds).
    pub reset: i64,
}

impl StatsSnapshot {
    /// Counter differences since `earlier` (gauges are kept as they are now).
    pub fn since(&self, earlier: &StatsSnapshot) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.saturating_sub(earlier.requests),
            charged: self.charged.saturating_sub(earlier.charged),
            not_modified: self.not_modified.saturating_sub(earlier.not_modified),
            rate_limited: self.rate_limited.saturating_sub(earlier.rate_limited),
            secondary_limited: self
                .secondary_limited
                .saturating_sub(earlier.secondary_limited),
            retries: self.retries.saturating_sub(earlier.retries),
            writes: self.writes.saturating_sub(earlier.writes),
            ..self.clone()
        }
    }
}

impl RequestStats {
    /// New counters; gauges start at -1 (unknown).
    pub fn new() -> Self {
        let s = RequestStats {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            ..RequestStats::default()
        };
        s.remaining.store(-1, Ordering::Relaxed);
        s.used.store(-1, Ordering::Relaxed);
        s.limit.store(-1, Ordering::Relaxed);
        s
    }

    pub(crate) fn record(&self, method: &str, route: &str, status: u16, write: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if write {
            self.writes.fetch_add(1, Ordering::Relaxed);
        }
        if status == 304 {
            self.not_modified.fetch_add(1, Ordering::Relaxed);
        } else if status != 0 {
            self.charged.fetch_add(1, Ordering::Relaxed);
        }
        let mut m = match self.by_route.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *m.entry((method.to_string(), route.to_string(), status))
            .or_insert(0) += 1;
    }

    pub(crate) fn record_rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_secondary_limited(&self) {
        self.secondary_limited.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_headers(
        &self,
        remaining: Option<i64>,
        used: Option<i64>,
        limit: Option<i64>,
        reset: Option<i64>,
    ) {
        if let Some(v) = remaining {
            self.remaining.store(v, Ordering::Relaxed);
        }
        if let Some(v) = used {
            self.used.store(v, Ordering::Relaxed);
        }
        if let Some(v) = limit {
            self.limit.store(v, Ordering::Relaxed);
        }
        if let Some(v) = reset {
            self.reset.store(v, Ordering::Relaxed);
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            charged: self.charged.load(Ordering::Relaxed),
            not_modified: self.not_modified.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            secondary_limited: self.secondary_limited.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            remaining: self.remaining.load(Ordering::Relaxed),
            used: self.used.load(Ordering::Relaxed),
            limit: self.limit.load(Ordering::Relaxed),
            reset: self.reset.load(Ordering::Relaxed),
        }
    }

    /// Which counters these are: unique per [`RequestStats::new`] in this process.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Requests by (method, route template, status); status 0 = no response.
    pub fn by_route(&self) -> BTreeMap<(String, String, u16), u64> {
        match self.by_route.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}
