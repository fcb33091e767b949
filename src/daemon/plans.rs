//! Dry runs on demand (`POST /api/v1/plan`), one at a time and coalesced: a request waits
//! for the plan in progress, then is answered by the first plan of the same projects that
//! started after it arrived (made by itself or by a request ahead of it). Eight concurrent
//! requests thus cost at most two observations of the fleet, never eight.

use std::future::Future;
use std::time::Instant;
use tokio::sync::Mutex;

/// Why no plan could be made.
#[derive(Debug, Clone)]
pub struct PlanError {
    /// The request was wrong (an unknown project key), rather than the daemon.
    pub bad_request: bool,
    /// What went wrong.
    pub message: String,
}

/// The last plan made: for which projects, when it started, what it gave.
struct Made {
    projects: Vec<String>,
    started: Instant,
    result: Result<serde_json::Value, PlanError>,
}

/// Serialises and coalesces plans.
#[derive(Default)]
pub struct PlanGate {
    last: Mutex<Option<Made>>,
}

impl PlanGate {
    /// The plan of `projects`: a fresh enough one already made, or `make(projects)`.
    pub async fn plan<F, Fut>(
        &self,
        mut projects: Vec<String>,
        make: F,
    ) -> Result<serde_json::Value, PlanError>
    where
        F: FnOnce(Vec<String>) -> Fut,
        Fut: Future<Output = Result<serde_json::Value, PlanError>>,
    {
        projects.sort();
        projects.dedup();
        let arrived = Instant::now();
        // tokio's Mutex is fair: waiters get it in the order they asked.
        let mut last = self.last.lock().await;
        if let Some(m) = last.as_ref() {
            if m.projects == projects && m.started >= arrived {
                return m.result.clone();
            }
        }
        let started = Instant::now();
        let result = make(projects.clone()).await;
        *last = Some(Made {
            projects,
            started,
            result: result.clone(),
        });
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn concurrent_requests_share_at_most_two_plans() {
        let gate = Arc::new(PlanGate::default());
        let made = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (gate, made) = (gate.clone(), made.clone());
            tasks.push(tokio::spawn(async move {
                gate.plan(vec!["A".into()], |_| async {
                    made.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    Ok(serde_json::json!({"ok": true}))
                })
                .await
            }));
        }
        for t in tasks {
            assert!(t.await.unwrap().is_ok());
        }
        let n = made.load(Ordering::SeqCst);
        assert!((1..=2).contains(&n), "{n} plans for 8 requests");
        // A request after those is served by a new plan, and other projects get their own.
        gate.plan(vec!["A".into()], |_| async {
            made.fetch_add(1, Ordering::SeqCst);
            Ok(serde_json::json!({}))
        })
        .await
        .unwrap();
        assert_eq!(made.load(Ordering::SeqCst), n + 1);
    }
}
