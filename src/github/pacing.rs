//! Pacing from GitHub's own model of its secondary limits, so fleetsync's own traffic never
//! meets one:
//!
//! - every request costs **points** by method (GET/HEAD 1, POST/PATCH/PUT/DELETE 5), drawn from
//!   a budget **per endpoint** (GitHub: 900 points per minute per REST endpoint). Reads are
//!   paced too: a no-op of 1,000 repos is 1,000 GETs on each of 5 endpoints;
//! - **content-generating** requests (repo creation, contents writes, refs, Git Data commits,
//!   branch moves; [`is_content_write`], classified as the simulator does) also draw on the
//!   identity's content budget (GitHub: 80 per minute and 500 per hour);
//! - every request holds one of `max_in_flight` slots while it is sent (GitHub: 100 at once).
//!
//! Each budget is a sliding window like GitHub's: the points granted in any window never exceed
//! the budget (the window is widened by [`WINDOW_MARGIN`] so latency jitter between this
//! client and GitHub cannot push two requests into one window), and grants are spread at the
//! budget's rate with a small burst rather than sent at once. An endpoint's budget is keyed by
//! its route template only (GitHub does not say whether the method is part of "endpoint"; one
//! budget for all methods is the stricter reading).
//!
//! When GitHub answers with a secondary limit anyway (another client on the same identity),
//! [`Pacer::penalise`] holds that endpoint (or the content budget) for `retry-after` and halves
//! its budget for [`SLOW_WINDOWS`] windows.
//!
//! `time_scale` divides the windows (minute and hour) and nothing else. It exists for runs
//! against the simulator with the same `time_scale`; on GitHub it is 1.

use super::routes;
use http::Method;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Added to every window: two grants a window apart here are still a window apart at GitHub
/// when their latencies differ by less than this (a 24th of a window shortened by
/// `time_scale`, if that is less).
pub const WINDOW_MARGIN: Duration = Duration::from_millis(500);
/// How many windows a budget stays halved after a secondary-limit answer.
pub const SLOW_WINDOWS: u32 = 10;
/// The lowest share of its budget a slowed endpoint keeps.
const SLOW_FLOOR: f64 = 0.125;

/// Whether GitHub counts a request as content-generating (its secondary limit of ~80/min and
/// ~500/h). `route` is the endpoint template as the client names it.
pub fn is_content_write(method: &Method, route: &str) -> bool {
    matches!(
        (method.as_str(), route),
        ("POST", routes::ORG_REPOS)
            | ("PUT", routes::CONTENTS)
            | ("DELETE", routes::CONTENTS)
            | ("POST", routes::GIT_REFS)
            // Git Data API commits (the plugin mirror): a commit, and moving a branch.
            | ("POST", routes::GIT_COMMITS)
            | ("PATCH", routes::GIT_BRANCH_REF)
            // Opening a pull request creates content (GitHub counts pull requests as it
            // counts issues and comments).
            | ("POST", routes::PULLS)
    )
}

/// GitHub's points for one request: 1 for a read, 5 for a write.
pub fn points(method: &Method) -> u32 {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        1
    } else {
        5
    }
}

/// The budgets a pacer keeps (GitHub's numbers by default; see [`PacingLimits::github`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PacingLimits {
    /// Requests in flight at once.
    pub max_in_flight: u32,
    /// Points per minute per endpoint.
    pub points_per_minute: u32,
    /// Content-generating requests per minute.
    pub content_per_minute: u32,
    /// Content-generating requests per hour.
    pub content_per_hour: u32,
    /// Divides the minute and hour windows (1 on GitHub; see the module doc).
    pub time_scale: f64,
}

impl PacingLimits {
    /// GitHub.com's published secondary limits, with in-flight requests kept below 100.
    pub fn github() -> Self {
        PacingLimits {
            max_in_flight: 64,
            points_per_minute: 900,
            content_per_minute: 80,
            content_per_hour: 500,
            time_scale: 1.0,
        }
    }

    fn window(&self, base: Duration) -> Duration {
        let scale = if self.time_scale.is_finite() && self.time_scale >= 1.0 {
            self.time_scale
        } else {
            1.0
        };
        let w = base.div_f64(scale);
        w + WINDOW_MARGIN.min(w / 24)
    }
}

/// One sliding-window budget: at most `per_window` points granted in any `window`, spread
/// at that rate with a burst of `burst` (a share of the budget).
#[derive(Debug)]
struct Budget {
    per_window: u32,
    window: Duration,
    burst: f64,
    log: VecDeque<(Instant, u32)>,
    spent: u32,
    /// The spreading schedule (GCRA's theoretical arrival time).
    tat: Option<Instant>,
    blocked_until: Option<Instant>,
    /// A reduced share of the budget, until when.
    slow: Option<(f64, Instant)>,
}

impl Budget {
    /// A budget spread over its window with a burst of a tenth of it.
    fn new(per_window: u32, window: Duration) -> Self {
        Budget::with_burst(per_window, window, 0.1)
    }

    /// A budget whose grants may come as a burst of `burst` × the budget (1: not spread).
    fn with_burst(per_window: u32, window: Duration, burst: f64) -> Self {
        Budget {
            per_window: per_window.max(1),
            window,
            burst,
            log: VecDeque::new(),
            spent: 0,
            tat: None,
            blocked_until: None,
            slow: None,
        }
    }

    fn effective(&self, now: Instant) -> u32 {
        match self.slow {
            Some((share, until)) if until > now => {
                ((self.per_window as f64 * share).floor() as u32).max(1)
            }
            _ => self.per_window,
        }
    }

    fn prune(&mut self, now: Instant) {
        while let Some((t, p)) = self.log.front().copied() {
            if now.duration_since(t) < self.window {
                break;
            }
            self.spent = self.spent.saturating_sub(p);
            self.log.pop_front();
        }
    }

    /// `None` when `cost` may be granted now, else the earliest time to ask again.
    fn ready_at(&mut self, cost: u32, now: Instant) -> Option<Instant> {
        self.prune(now);
        if let Some(b) = self.blocked_until.filter(|b| *b > now) {
            return Some(b);
        }
        let budget = self.effective(now);
        let cost = cost.min(budget);
        if self.spent + cost > budget {
            // The time when enough of the oldest grants leave the window.
            let mut freed = 0;
            for (t, p) in &self.log {
                freed += p;
                if self.spent - freed + cost <= budget {
                    return Some(*t + self.window);
                }
            }
            return Some(now + self.window);
        }
        let (next_tat, tolerance) = self.schedule(cost, budget, now);
        let earliest = next_tat.checked_sub(tolerance).unwrap_or(now);
        (earliest > now).then_some(earliest)
    }

    /// The schedule after granting `cost` now, and the burst it tolerates.
    fn schedule(&self, cost: u32, budget: u32, now: Instant) -> (Instant, Duration) {
        let per_point = self.window / budget;
        let burst = ((budget as f64 * self.burst) as u32).max(cost);
        let start = self.tat.filter(|t| *t > now).unwrap_or(now);
        (start + per_point * cost, per_point * burst)
    }

    fn take(&mut self, cost: u32, now: Instant) {
        let budget = self.effective(now);
        let cost = cost.min(budget);
        self.tat = Some(self.schedule(cost, budget, now).0);
        self.log.push_back((now, cost));
        self.spent += cost;
    }

    /// GitHub answered with a secondary limit: hold for `wait`, then run at half the budget.
    fn penalise(&mut self, wait: Duration, now: Instant) {
        let until = now + wait;
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
        let share = match self.slow {
            Some((s, u)) if u > now => (s * 0.5).max(SLOW_FLOOR),
            _ => 0.5,
        };
        self.slow = Some((share, until + self.window * SLOW_WINDOWS));
        self.tat = Some(until);
    }

    fn share(&self, now: Instant) -> f64 {
        match self.slow {
            Some((s, u)) if u > now => s,
            _ => 1.0,
        }
    }
}

/// The content-generating budgets (per minute and per hour), taken together.
#[derive(Debug)]
struct Content {
    minute: Budget,
    hour: Budget,
}

/// Limits shared by every request of a client.
#[derive(Debug, Clone)]
pub struct Pacer {
    limits: PacingLimits,
    in_flight: Arc<Semaphore>,
    endpoints: Arc<Mutex<HashMap<&'static str, Budget>>>,
    content: Arc<Mutex<Content>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Pacer {
    /// A pacer keeping `limits`.
    pub fn new(limits: PacingLimits) -> Self {
        let minute = limits.window(Duration::from_secs(60));
        let hour = limits.window(Duration::from_secs(3600));
        Pacer {
            limits,
            in_flight: Arc::new(Semaphore::new(limits.max_in_flight.max(1) as usize)),
            endpoints: Arc::new(Mutex::new(HashMap::new())),
            content: Arc::new(Mutex::new(Content {
                minute: Budget::new(limits.content_per_minute, minute),
                // The hour is not spread: GitHub allows its 500 at 80 a minute.
                hour: Budget::with_burst(limits.content_per_hour, hour, 1.0),
            })),
        }
    }

    /// The budgets kept.
    pub fn limits(&self) -> PacingLimits {
        self.limits
    }

    /// Waits for a slot in flight (held while the request is sent and answered).
    pub async fn slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.in_flight.clone().acquire_owned().await.ok()
    }

    /// Waits until `method` on the endpoint template `route` may be sent, and counts it.
    /// Take the slot first: the grant is stamped when it is made, so the request must leave
    /// right after it.
    pub async fn permit(&self, method: &Method, route: &'static str) {
        let cost = points(method);
        let content = is_content_write(method, route);
        loop {
            let wait = match self.try_grant(route, cost, content, Instant::now()) {
                None => return,
                Some(at) => at,
            };
            tokio::time::sleep_until(tokio::time::Instant::from_std(wait)).await;
        }
    }

    /// Grants now (`None`) or says when to try again.
    fn try_grant(
        &self,
        route: &'static str,
        cost: u32,
        content: bool,
        now: Instant,
    ) -> Option<Instant> {
        let minute = self.limits.window(Duration::from_secs(60));
        let mut endpoints = lock(&self.endpoints);
        let ep = endpoints
            .entry(route)
            .or_insert_with(|| Budget::new(self.limits.points_per_minute, minute));
        let mut later = ep.ready_at(cost, now);
        let mut c = lock(&self.content);
        if content {
            later = later.max(c.minute.ready_at(1, now));
            later = later.max(c.hour.ready_at(1, now));
        }
        if later.is_some() {
            return later;
        }
        ep.take(cost, now);
        if content {
            c.minute.take(1, now);
            c.hour.take(1, now);
        }
        None
    }

    /// GitHub answered `route` with a secondary limit (`content`: the content-creation one):
    /// nothing more goes to it for `wait`, then it runs at half its budget for a while.
    pub fn penalise(&self, route: &'static str, content: bool, wait: Duration) {
        let now = Instant::now();
        let minute = self.limits.window(Duration::from_secs(60));
        if content {
            let mut c = lock(&self.content);
            c.minute.penalise(wait, now);
            c.hour.blocked_until = c.minute.blocked_until;
        } else {
            lock(&self.endpoints)
                .entry(route)
                .or_insert_with(|| Budget::new(self.limits.points_per_minute, minute))
                .penalise(wait, now);
        }
    }

    /// The share of its budget an endpoint runs at now (1 unless a secondary limit slowed it).
    pub fn endpoint_share(&self, route: &'static str) -> f64 {
        lock(&self.endpoints)
            .get(route)
            .map_or(1.0, |b| b.share(Instant::now()))
    }

    /// The share of the content budget in use now.
    pub fn content_share(&self) -> f64 {
        lock(&self.content).minute.share(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn classifies_content_writes_like_github() {
        assert!(is_content_write(&Method::POST, routes::ORG_REPOS));
        assert!(is_content_write(&Method::PUT, routes::CONTENTS));
        assert!(is_content_write(&Method::POST, routes::GIT_REFS));
        assert!(!is_content_write(&Method::PUT, routes::SECRET));
        assert!(!is_content_write(&Method::POST, routes::VARIABLES));
        assert!(is_content_write(&Method::PATCH, routes::GIT_BRANCH_REF));
        assert!(!is_content_write(&Method::GET, routes::ORG_REPOS));
        assert_eq!(points(&Method::GET), 1);
        assert_eq!(points(&Method::PATCH), 5);
    }

    /// Drives a budget with requests as soon as it allows, for `span`; returns grant times.
    fn drive(b: &mut Budget, cost: u32, start: Instant, span: Duration) -> Vec<Instant> {
        let mut now = start;
        let mut grants = Vec::new();
        while now < start + span {
            match b.ready_at(cost, now) {
                None => {
                    b.take(cost, now);
                    grants.push(now);
                }
                Some(at) => now = at.max(now + Duration::from_micros(1)),
            }
        }
        grants
    }

    /// The most points granted in any 60 s window (as GitHub counts them).
    fn worst_minute(grants: &[Instant], cost: u32) -> u32 {
        grants
            .iter()
            .map(|t| {
                grants
                    .iter()
                    .filter(|g| **g >= *t && **g < *t + MIN)
                    .count() as u32
                    * cost
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn no_window_of_a_minute_holds_more_than_the_budget() {
        for (budget, cost) in [(900, 1), (900, 5), (80, 1), (7, 1)] {
            let mut b = Budget::new(budget, MIN + WINDOW_MARGIN);
            let grants = drive(&mut b, cost, Instant::now(), Duration::from_secs(600));
            assert!(worst_minute(&grants, cost) <= budget, "{budget}/{cost}");
            // ... and it is used: at least 95% of the budget over ten minutes.
            let used = grants.len() as f64 * cost as f64 / (10.0 * budget as f64);
            assert!(used > 0.95, "{budget}/{cost}: {used}");
        }
    }

    #[test]
    fn grants_are_spread_not_sent_at_once() {
        let mut b = Budget::new(900, MIN + WINDOW_MARGIN);
        let start = Instant::now();
        let grants = drive(&mut b, 1, start, Duration::from_secs(10));
        // A burst of a tenth of the budget, then ~15 per second: ~240 in 10 s, not 900.
        assert!((200..=260).contains(&grants.len()), "{}", grants.len());
        let in_first_second = grants
            .iter()
            .filter(|g| **g < start + Duration::from_secs(1))
            .count();
        assert!(in_first_second <= 110, "{in_first_second}");
    }

    #[test]
    fn a_secondary_limit_holds_then_halves_the_endpoint() {
        let p = Pacer::new(PacingLimits::github());
        let route = routes::PROTECTION;
        let now = Instant::now();
        assert!(p.try_grant(route, 5, false, now).is_none());
        p.penalise(route, false, Duration::from_secs(30));
        let later = p.try_grant(route, 5, false, Instant::now()).unwrap();
        assert!(
            later >= now + Duration::from_secs(29),
            "held for retry-after"
        );
        assert_eq!(p.endpoint_share(route), 0.5);
        assert_eq!(
            p.endpoint_share(routes::SECRET),
            1.0,
            "other endpoints unchanged"
        );
        p.penalise(route, false, Duration::from_secs(1));
        assert_eq!(p.endpoint_share(route), 0.25);
        // Another endpoint is not held.
        assert!(p
            .try_grant(routes::SECRET, 5, false, Instant::now())
            .is_none());
    }

    #[test]
    fn a_slowed_budget_grants_half() {
        let start = Instant::now();
        let mut b = Budget::new(900, MIN + WINDOW_MARGIN);
        b.penalise(Duration::ZERO, start);
        let grants = drive(&mut b, 5, start, Duration::from_secs(120));
        assert!(
            worst_minute(&grants, 5) <= 450,
            "{}",
            worst_minute(&grants, 5)
        );
    }

    #[test]
    fn content_writes_spend_both_budgets() {
        let limits = PacingLimits {
            content_per_minute: 3,
            ..PacingLimits::github()
        };
        let p = Pacer::new(limits);
        let start = Instant::now();
        let mut granted = 0;
        for i in 0..600 {
            let at = start + Duration::from_millis(100 * i);
            if p.try_grant(routes::ORG_REPOS, 5, true, at).is_none() {
                granted += 1;
            }
        }
        assert_eq!(granted, 3, "the content budget binds within its minute");
        let now = start + Duration::from_secs(59);
        // A write that is not content-generating is not held by it.
        assert!(p.try_grant(routes::VARIABLES, 5, false, now).is_none());
    }

    #[test]
    fn time_scale_shortens_the_windows_only() {
        let l = PacingLimits {
            time_scale: 10.0,
            ..PacingLimits::github()
        };
        assert_eq!(l.window(MIN), Duration::from_millis(6_250));
        assert_eq!(PacingLimits::github().window(MIN), MIN + WINDOW_MARGIN);
        assert_eq!(l.points_per_minute, 900);
    }
}
