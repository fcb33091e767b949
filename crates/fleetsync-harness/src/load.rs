//! HTTP load on one URL, generated in this process: `connections` tokio tasks, each with its
//! own keep-alive connection (a client pooling at most one), send `GET`s back to back for a
//! fixed time and time every answer. Counts transport errors (connect, reset, timeout, a body
//! cut short) apart from answers outside 2xx/3xx, and reports latency percentiles.

use std::time::{Duration, Instant};

/// What one load run saw.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LoadResult {
    /// Requests answered or failed.
    pub requests: u64,
    /// Requests that got no full answer (connect, reset, timeout, truncated body).
    pub socket_errors: u64,
    /// Answers outside 2xx and 3xx.
    pub non_2xx: u64,
    /// Latency of the answered requests, by percentile.
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// Requests per second over the run.
    pub rps: f64,
}

/// What one connection saw.
#[derive(Debug, Default)]
struct ConnResult {
    latencies: Vec<Duration>,
    socket_errors: u64,
    non_2xx: u64,
}

/// Puts `connections` connections on `url` for `duration`; each request may take up to
/// `timeout`.
pub async fn run(
    url: &str,
    connections: u32,
    duration: Duration,
    timeout: Duration,
) -> Result<LoadResult, String> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections.max(1) {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .timeout(timeout)
            .build()
            .map_err(|e| format!("load client: {e}"))?;
        tasks.spawn(connection(client, url.to_string(), deadline));
    }
    let mut all = ConnResult::default();
    while let Some(done) = tasks.join_next().await {
        let c = done.map_err(|e| format!("load task: {e}"))?;
        all.latencies.extend(c.latencies);
        all.socket_errors += c.socket_errors;
        all.non_2xx += c.non_2xx;
    }
    Ok(summarise(all, started.elapsed()))
}

/// One connection's request loop.
async fn connection(client: reqwest::Client, url: String, deadline: Instant) -> ConnResult {
    let mut out = ConnResult::default();
    while Instant::now() < deadline {
        let sent = Instant::now();
        match client.get(&url).send().await {
            Ok(resp) => {
                let status = resp.status();
                match resp.bytes().await {
                    Ok(_) => {
                        out.latencies.push(sent.elapsed());
                        if !(status.is_success() || status.is_redirection()) {
                            out.non_2xx += 1;
                        }
                    }
                    Err(_) => out.socket_errors += 1,
                }
            }
            Err(_) => out.socket_errors += 1,
        }
    }
    out
}

fn summarise(mut all: ConnResult, elapsed: Duration) -> LoadResult {
    all.latencies.sort_unstable();
    let requests = all.latencies.len() as u64 + all.socket_errors;
    LoadResult {
        requests,
        socket_errors: all.socket_errors,
        non_2xx: all.non_2xx,
        p50: percentile(&all.latencies, 50.0),
        p99: percentile(&all.latencies, 99.0),
        max: all.latencies.last().copied().unwrap_or_default(),
        rps: requests as f64 / elapsed.as_secs_f64().max(f64::EPSILON),
    }
}

/// The `p`th percentile (nearest rank) of sorted samples; zero when there are none.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A latency in the units wrk uses (`843.00us`, `12.34ms`, `1.02s`), so figures compare.
pub fn fmt_latency(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.2}us")
    } else if us < 1e6 {
        format!("{:.2}ms", us / 1000.0)
    } else {
        format!("{:.2}s", us / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use axum::routing::get;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&v, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&[], 99.0), Duration::ZERO);
        assert_eq!(fmt_latency(Duration::from_micros(843)), "843.00us");
        assert_eq!(fmt_latency(Duration::from_micros(12_340)), "12.34ms");
    }

    async fn serve(app: axum::Router) -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await });
        format!("http://{addr}/")
    }

    #[tokio::test]
    async fn counts_answers_errors_and_latency() {
        let ok = serve(axum::Router::new().route("/", get(|| async { "ok" }))).await;
        let r = run(&ok, 4, Duration::from_millis(300), Duration::from_secs(5))
            .await
            .unwrap();
        assert!(r.requests > 10, "{r:?}");
        assert_eq!((r.socket_errors, r.non_2xx), (0, 0), "{r:?}");
        assert!(r.p99 > Duration::ZERO && r.p99 <= r.max, "{r:?}");

        let bad = serve(axum::Router::new().route(
            "/",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "no") }),
        ))
        .await;
        let r = run(&bad, 2, Duration::from_millis(200), Duration::from_secs(5))
            .await
            .unwrap();
        assert!(r.non_2xx > 0 && r.non_2xx == r.requests, "{r:?}");

        // Nothing listens: every request is a socket error.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let gone = format!("http://127.0.0.1:{port}/");
        let r = run(&gone, 2, Duration::from_millis(100), Duration::from_secs(1))
            .await
            .unwrap();
        assert!(
            r.socket_errors > 0 && r.socket_errors == r.requests,
            "{r:?}"
        );
    }
}
