//! Reading GitHub's rate-limit answers: which limit was hit and how long to wait, from
//! `retry-after`, `x-ratelimit-remaining` and `x-ratelimit-reset`.

use http::HeaderMap;
use std::time::Duration;

/// What a response says about rate limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limit {
    /// Not a rate-limit answer.
    None,
    /// The primary (hourly) limit is exhausted; wait until reset.
    Primary { wait: Duration },
    /// A secondary limit; wait `retry-after`, or at least a minute.
    Secondary { wait: Duration },
}

/// A header as an integer.
pub fn header_i64(h: &HeaderMap, name: &str) -> Option<i64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Classifies a response. `now_epoch` is the current time in epoch seconds.
pub fn classify(status: u16, headers: &HeaderMap, body: &str, now_epoch: i64) -> Limit {
    if status != 403 && status != 429 {
        return Limit::None;
    }
    let retry_after =
        header_i64(headers, "retry-after").map(|s| Duration::from_secs(s.max(0) as u64));
    let remaining = header_i64(headers, "x-ratelimit-remaining");
    let reset = header_i64(headers, "x-ratelimit-reset");
    let lower = body.to_ascii_lowercase();
    let secondary_text = lower.contains("secondary rate limit");
    if secondary_text || (retry_after.is_some() && remaining != Some(0)) {
        let wait = retry_after.unwrap_or(Duration::from_secs(60));
        return Limit::Secondary { wait };
    }
    if remaining == Some(0) || lower.contains("api rate limit exceeded") {
        let wait = match (retry_after, reset) {
            (Some(w), _) => w,
            (None, Some(r)) => Duration::from_secs((r - now_epoch).max(1) as u64),
            (None, None) => Duration::from_secs(60),
        };
        return Limit::Primary { wait };
    }
    if status == 429 {
        return Limit::Secondary {
            wait: retry_after.unwrap_or(Duration::from_secs(60)),
        };
    }
    // A 403 with quota left and no rate-limit text is a permission error.
    Limit::None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn secondary_with_retry_after() {
        let h = headers(&[("retry-after", "7"), ("x-ratelimit-remaining", "4000")]);
        let body = r#"{"message":"You have exceeded a secondary rate limit and have been temporarily blocked from content creation."}"#;
        assert_eq!(
            classify(403, &h, body, 0),
            Limit::Secondary {
                wait: Duration::from_secs(7)
            }
        );
    }

    #[test]
    fn primary_waits_until_reset() {
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1100"),
        ]);
        assert_eq!(
            classify(
                403,
                &h,
                r#"{"message":"API rate limit exceeded for user ID 1."}"#,
                1000
            ),
            Limit::Primary {
                wait: Duration::from_secs(100)
            }
        );
    }

    #[test]
    fn permission_403_is_not_a_limit() {
        let h = headers(&[("x-ratelimit-remaining", "4999")]);
        assert_eq!(
            classify(
                403,
                &h,
                r#"{"message":"Resource not accessible by integration"}"#,
                0
            ),
            Limit::None
        );
    }
}
