//! GitHub's rate limits, per identity: the primary hourly bucket (reported in `x-ratelimit-*`)
//! and the secondary limits (concurrency, points per minute per endpoint, content-generating
//! requests per minute and per hour, installation-token requests per hour), each answered the
//! way GitHub answers them. The secondary windows are sliding: a request is refused when the
//! window ending now already holds the budget. `time_scale` divides the secondary windows
//! (minute, hour) and the `retry-after` derived from them; the budgets stay GitHub's.

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
    tokens_hour: VecDeque<Instant>,
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

/// The secondary windows under `time_scale` (minute, hour).
fn windows(s: &GithubSimSettings) -> (Duration, Duration) {
    let k = s.time_scale.max(1);
    (MINUTE / k, HOUR / k)
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
        let (minute, hour) = windows(s);
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
                .is_some_and(|(t, _)| now.duration_since(*t) >= minute)
            {
                q.pop_front();
            }
            let spent: u32 = q.iter().map(|(_, p)| *p).sum();
            if spent + points > s.points_per_minute {
                let retry_after = q
                    .front()
                    .map(|(t, _)| minute.saturating_sub(now.duration_since(*t)).as_secs() + 1)
                    .unwrap_or(1);
                return Verdict::Secondary {
                    retry_after,
                    content: false,
                };
            }
        }
        if content_write {
            prune(&mut u.writes_min, now, minute);
            prune(&mut u.writes_hour, now, hour);
            if s.content_writes_per_minute > 0
                && u.writes_min.len() >= s.content_writes_per_minute as usize
            {
                return Verdict::Secondary {
                    retry_after: wait_for(&u.writes_min, now, minute),
                    content: true,
                };
            }
            if s.content_writes_per_hour > 0
                && u.writes_hour.len() >= s.content_writes_per_hour as usize
            {
                return Verdict::Secondary {
                    retry_after: wait_for(&u.writes_hour, now, hour),
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

    /// Counts an installation-token request of `app`; `Some(retry_after)` when the hourly
    /// limit on token requests is reached (GitHub: 2,000 per hour).
    pub fn token_request(&mut self, s: &GithubSimSettings, app: &str, now: Instant) -> Option<u64> {
        let (_, hour) = windows(s);
        let u = self.by_bucket.entry(format!("app:{app}")).or_default();
        prune(&mut u.tokens_hour, now, hour);
        if s.token_requests_per_hour > 0
            && u.tokens_hour.len() >= s.token_requests_per_hour as usize
        {
            return Some(wait_for(&u.tokens_hour, now, hour));
        }
        u.tokens_hour.push_back(now);
        None
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
    fn points_per_endpoint_in_a_sliding_window_with_time_scale() {
        let s = GithubSimSettings {
            points_per_minute: 900,
            time_scale: 10,
            ..Default::default()
        };
        let mut l = Limits::default();
        let t0 = Instant::now();
        for _ in 0..180 {
            assert_eq!(l.admit(&s, "u", "PUT r", 5, false, 0, t0), Verdict::Allowed);
            l.finish("u", true, 0);
        }
        // The 181st write in the (scaled, 6 s) window is refused, with a retry-after that
        // fits the window; another endpoint has its own budget.
        match l.admit(&s, "u", "PUT r", 5, false, 0, t0 + Duration::from_secs(5)) {
            Verdict::Secondary {
                retry_after,
                content,
            } => {
                assert!(!content);
                assert!((1..=2).contains(&retry_after), "{retry_after}");
            }
            other => panic!("expected a secondary limit, got {other:?}"),
        }
        assert_eq!(l.admit(&s, "u", "PUT q", 5, false, 0, t0), Verdict::Allowed);
        l.finish("u", true, 0);
        // Once the window has slid past the first grants, writes go again.
        assert_eq!(
            l.admit(&s, "u", "PUT r", 5, false, 0, t0 + Duration::from_secs(6)),
            Verdict::Allowed
        );
    }

    #[test]
    fn token_requests_per_hour() {
        let s = GithubSimSettings {
            token_requests_per_hour: 2,
            ..Default::default()
        };
        let mut l = Limits::default();
        let now = Instant::now();
        assert_eq!(l.token_request(&s, "1", now), None);
        assert_eq!(l.token_request(&s, "1", now), None);
        assert!(l.token_request(&s, "1", now).is_some());
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
