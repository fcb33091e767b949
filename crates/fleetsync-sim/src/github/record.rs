//! The request log and traffic counters the simulated GitHub keeps for tests and benchmarks.

use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};

/// One request as the simulator saw it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    pub method: String,
    /// The route template, e.g. `/repos/{owner}/{repo}/contents/{*path}`.
    pub route: String,
    pub path: String,
    pub status: u16,
    /// Counted against the primary hourly limit.
    pub charged: bool,
    /// Secondary-limit points (GET 1, writes 5; 0 when not admitted).
    pub points: u32,
    /// Counted as a content-generating write.
    pub content_write: bool,
    /// Milliseconds since the epoch.
    pub at_ms: i64,
}

/// Totals since start (or the last reset).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TrafficCounters {
    pub requests: u64,
    /// Requests charged against the primary limit.
    pub charged: u64,
    pub not_modified: u64,
    pub points: u64,
    pub content_writes: u64,
    pub primary_limited: u64,
    pub secondary_limited: u64,
    pub injected_errors: u64,
    pub connection_resets: u64,
    pub unauthorized: u64,
    /// Git pushes received (from a simulated DSS node; not REST requests).
    pub git_pushes: u64,
    /// Git fetches served (likewise).
    pub git_fetches: u64,
    /// `"METHOD route status"` → count.
    pub by_route: BTreeMap<String, u64>,
}

impl TrafficCounters {
    /// Requests whose method is not GET/HEAD.
    pub fn writes(&self) -> u64 {
        self.by_route
            .iter()
            .filter(|(k, _)| !k.starts_with("GET ") && !k.starts_with("HEAD "))
            .map(|(_, n)| *n)
            .sum()
    }

    /// Requests to routes whose `"METHOD route"` starts with `prefix`.
    pub fn count(&self, prefix: &str) -> u64 {
        self.by_route
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, n)| *n)
            .sum()
    }
}

/// Log plus counters.
pub struct Record {
    capacity: usize,
    pub log: VecDeque<RequestRecord>,
    pub counters: TrafficCounters,
}

impl Record {
    pub fn new(capacity: usize) -> Self {
        Record {
            capacity,
            log: VecDeque::new(),
            counters: TrafficCounters::default(),
        }
    }

    pub fn reset(&mut self) {
        self.log.clear();
        self.counters = TrafficCounters::default();
    }

    pub fn push(&mut self, r: RequestRecord) {
        let c = &mut self.counters;
        c.requests += 1;
        if r.charged {
            c.charged += 1;
        }
        if r.status == 304 {
            c.not_modified += 1;
        }
        if r.status == 401 {
            c.unauthorized += 1;
        }
        c.points += u64::from(r.points);
        if r.content_write && r.points > 0 {
            c.content_writes += 1;
        }
        *c.by_route
            .entry(format!("{} {} {}", r.method, r.route, r.status))
            .or_default() += 1;
        if self.capacity > 0 {
            if self.log.len() >= self.capacity {
                self.log.pop_front();
            }
            self.log.push_back(r);
        }
    }
}
