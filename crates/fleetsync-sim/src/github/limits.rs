//! GitHub's rate limits, per identity: the primary hourly bucket (reported in `x-ratelimit-*`)
//! and the secondary limits (concurrency, points per minute per endpoint, content-generating
//! requests per minute and per hour), each answered the way GitHub answers them.

use super::settings::GithubSimSettings;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// One identity's usage.
#[derive(Default)]
pub struct Usage {
    pub used: u64,
    pub reset_at: i64,
    pub in_flight: u32,
    writes_min: VecDeque<Instant>,
    writes_hour: VecDeque<Instant>,
    points: HashMap<String, VecDeque<(Instant, u32)>>,
}

/// Every identity's usage.
#[derive(Default)]
pub struct Limits {
    pub by_bucket: HashMap<String, Usage>,
}

/// What a request ran into.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Allowed,
    /// Primary bucket empty; wait until the reset.
    Primary,
    /// A secondary limit; `retry_after` in seconds, `content` for the content-creation wording.
    Secondary {
        retry_after: u64,
        content: bool,
    },
}

/// The primary-limit figures for the `x-ratelimit-*` headers.
#[derive(Debug, Clone, Copy)]
pub struct PrimaryView {
    pub limit: u64,
    pub used: u64,
    pub reset: i64,
}

impl PrimaryView {
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }
}

fn prune(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
        q.pop_front();
    }
}

fn wait_for(q: &VecDeque<Instant>, now: Instant, window: Duration) -> u64 {
    q.front()
        .map(|t| window.saturating_sub(now.duration_since(*t)).as_secs() + 1)
        .unwrap_or(1)
}

impl Limits {
    fn usage(&mut self, bucket: &str, epoch: i64) -> &mut Usage {
        let u = self.by_bucket.entry(bucket.to_string()).or_default();
        if u.reset_at <= epoch {
            u.used = 0;
            u.reset_at = epoch + 3600;
        }
        u
    }

    /// Primary figures for a bucket.
    pub fn primary(&mut self, s: &GithubSimSettings, bucket: &str, epoch: i64) -> PrimaryView {
        let u = self.usage(bucket, epoch);
        PrimaryView {
            limit: s.primary_limit,
            used: u.used,
            reset: u.reset_at,
        }
    }

    /// Checks and (when allowed) counts a request against the secondary limits; also checks
    /// that the primary bucket is not empty. The primary charge itself happens later (a 304 is
    /// free).
    #[allow(clippy::too_many_arguments)]
    pub fn admit(
        &mut self,
        s: &GithubSimSettings,
        bucket: &str,
        route_key: &str,
        points: u32,
        content_write: bool,
        epoch: i64,
        now: Instant,
    ) -> Verdict {
        let u = self.usage(bucket, epoch);
        if u.used >= s.primary_limit {
            return Verdict::Primary;
        }
        if s.max_concurrent > 0 && u.in_flight >= s.max_concurrent {
            return Verdict::Secondary {
                retry_after: 1,
                content: false,
            };
        }
        if s.points_per_minute > 0 {
            let q = u.points.entry(route_key.to_string()).or_default();
            while q
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) >= MINUTE)
            {
                q.pop_front();
            }
            let spent: u32 = q.iter().map(|(_, p)| *p).sum();
            if spent + points > s.points_per_minute {
                let retry_after = q
                    .front()
                    .map(|(t, _)| MINUTE.saturating_sub(now.duration_since(*t)).as_secs() + 1)
                    .unwrap_or(1);
                return Verdict::Secondary {
                    retry_after,
                    content: false,
                };
            }
        }
        if content_write {
            prune(&mut u.writes_min, now, MINUTE);
            prune(&mut u.writes_hour, now, HOUR);
            if s.content_writes_per_minute > 0
                && u.writes_min.len() >= s.content_writes_per_minute as usize
            {
                return Verdict::Secondary {
                    retry_after: wait_for(&u.writes_min, now, MINUTE),
                    content: true,
                };
            }
            if s.content_writes_per_hour > 0
                && u.writes_hour.len() >= s.content_writes_per_hour as usize
            {
                return Verdict::Secondary {
                    retry_after: wait_for(&u.writes_hour, now, HOUR),
                    content: true,
                };
            }
            u.writes_min.push_back(now);
            u.writes_hour.push_back(now);
        }
        if s.points_per_minute > 0 {
            u.points
                .entry(route_key.to_string())
                .or_default()
                .push_back((now, points));
        }
        u.in_flight += 1;
        Verdict::Allowed
    }

    /// A request admitted by [`Limits::admit`] finished; `charge` if it counts (not a 304).
    pub fn finish(&mut self, bucket: &str, charge: bool, epoch: i64) {
        let u = self.usage(bucket, epoch);
        u.in_flight = u.in_flight.saturating_sub(1);
        if charge {
            u.used += 1;
        }
    }

    /// Charges a request that was not admitted through [`Limits::admit`] (e.g. a rejection).
    pub fn charge(&mut self, bucket: &str, epoch: i64) {
        let u = self.usage(bucket, epoch);
        u.used += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_writes_per_minute_block_with_retry_after() {
        let s = GithubSimSettings {
            content_writes_per_minute: 2,
            ..Default::default()
        };
        let mut l = Limits::default();
        let now = Instant::now();
        for _ in 0..2 {
            assert_eq!(l.admit(&s, "u", "r", 5, true, 0, now), Verdict::Allowed);
            l.finish("u", true, 0);
        }
        match l.admit(&s, "u", "r", 5, true, 0, now) {
            Verdict::Secondary {
                retry_after,
                content,
            } => {
                assert!(content);
                assert!((1..=61).contains(&retry_after));
            }
            other => panic!("expected a secondary limit, got {other:?}"),
        }
    }

    #[test]
    fn primary_bucket_empties() {
        let s = GithubSimSettings {
            primary_limit: 1,
            ..Default::default()
        };
        let mut l = Limits::default();
        let now = Instant::now();
        assert_eq!(l.admit(&s, "u", "r", 1, false, 10, now), Verdict::Allowed);
        l.finish("u", true, 10);
        assert_eq!(l.admit(&s, "u", "r", 1, false, 10, now), Verdict::Primary);
    }
}
