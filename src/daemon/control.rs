//! Single-flight run control: at most one reconcile runs at a time; a trigger that arrives
//! during a run is coalesced into the next run (several triggers become one run, and a
//! project-limited trigger widens to a full run if a full one is also asked for).

use std::sync::{Arc, Mutex};
use tokio::sync::{watch, Notify};

/// Why a run happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// `schedule`, `api`, `startup`.
    pub source: String,
    /// Limit the run to these project keys (empty: everything).
    pub projects: Vec<String>,
}

impl Trigger {
    /// A full run.
    pub fn full(source: &str) -> Self {
        Trigger {
            source: source.to_string(),
            projects: Vec::new(),
        }
    }

    /// Merges a later trigger into this queued one.
    fn absorb(&mut self, other: Trigger) {
        if self.projects.is_empty() || other.projects.is_empty() {
            self.projects.clear();
        } else {
            for p in other.projects {
                if !self.projects.contains(&p) {
                    self.projects.push(p);
                }
            }
        }
        if self.source != other.source && !self.source.contains(&other.source) {
            self.source = format!("{}+{}", self.source, other.source);
        }
    }
}

/// A run waiting to start, with the id reserved for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// Reserved run id.
    pub run_id: i64,
    /// What it will do.
    pub trigger: Trigger,
}

#[derive(Debug, Default)]
struct Inner {
    running: Option<i64>,
    queued: Option<Queued>,
    shutting_down: bool,
}

/// Shared between the API (which asks for runs) and the run loop (which does them).
#[derive(Debug, Clone)]
pub struct RunControl {
    inner: Arc<Mutex<Inner>>,
    wake: Arc<Notify>,
    finished: watch::Sender<Option<i64>>,
}

/// What `request` did with a trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The run that will serve the trigger.
    pub run_id: i64,
    /// True when the trigger joined a run that was already queued.
    pub coalesced: bool,
}

impl Default for RunControl {
    fn default() -> Self {
        Self::new()
    }
}

impl RunControl {
    /// A controller with nothing running.
    pub fn new() -> Self {
        let (finished, _) = watch::channel(None);
        RunControl {
            inner: Arc::new(Mutex::new(Inner::default())),
            wake: Arc::new(Notify::new()),
            finished,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Asks for a run. `reserve` makes a new run id (a `queued` row) when no run is queued.
    pub fn request<E>(
        &self,
        trigger: Trigger,
        reserve: impl FnOnce(&Trigger) -> Result<i64, E>,
    ) -> Result<Accepted, E> {
        let mut g = self.lock();
        if let Some(q) = g.queued.as_mut() {
            q.trigger.absorb(trigger);
            let run_id = q.run_id;
            drop(g);
            self.wake.notify_one();
            return Ok(Accepted {
                run_id,
                coalesced: true,
            });
        }
        let run_id = reserve(&trigger)?;
        g.queued = Some(Queued { run_id, trigger });
        drop(g);
        self.wake.notify_one();
        Ok(Accepted {
            run_id,
            coalesced: false,
        })
    }

    /// The run loop waits here for the next run; `None` once shutdown began.
    pub async fn next(&self) -> Option<Queued> {
        loop {
            let notified = self.wake.notified();
            {
                let mut g = self.lock();
                if g.shutting_down {
                    return None;
                }
                if g.running.is_none() {
                    if let Some(q) = g.queued.take() {
                        g.running = Some(q.run_id);
                        return Some(q);
                    }
                }
            }
            notified.await;
        }
    }

    /// The run loop reports that the current run ended.
    pub fn done(&self, run_id: i64) {
        {
            let mut g = self.lock();
            if g.running == Some(run_id) {
                g.running = None;
            }
        }
        let _ = self.finished.send(Some(run_id));
        self.wake.notify_one();
    }

    /// The run in progress, if any.
    pub fn running(&self) -> Option<i64> {
        self.lock().running
    }

    /// The queued run, if any.
    pub fn queued(&self) -> Option<Queued> {
        self.lock().queued.clone()
    }

    /// Stops handing out runs; the one in progress finishes.
    pub fn shutdown(&self) {
        self.lock().shutting_down = true;
        self.wake.notify_waiters();
        self.wake.notify_one();
    }

    /// Notified with each finished run id.
    pub fn subscribe(&self) -> watch::Receiver<Option<i64>> {
        self.finished.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn triggers_during_a_run_coalesce_into_one_next_run() {
        let c = RunControl::new();
        let mut next_id = 0;
        let mut reserve = |_t: &Trigger| -> Result<i64, ()> {
            next_id += 1;
            Ok(next_id)
        };
        let a = c.request(Trigger::full("api"), &mut reserve).unwrap();
        assert_eq!(
            a,
            Accepted {
                run_id: 1,
                coalesced: false
            }
        );
        let first = c.next().await.unwrap();
        assert_eq!(first.run_id, 1);
        // Two triggers while run 1 is in progress: one queued run.
        let b = c
            .request(
                Trigger {
                    source: "api".into(),
                    projects: vec!["A".into()],
                },
                &mut reserve,
            )
            .unwrap();
        let d = c.request(Trigger::full("schedule"), &mut reserve).unwrap();
        assert_eq!(b.run_id, 2);
        assert!(!b.coalesced);
        assert_eq!(
            d,
            Accepted {
                run_id: 2,
                coalesced: true
            }
        );
        assert_eq!(c.running(), Some(1));
        // The queued run waits until the first one is done.
        let waiter = {
            let c = c.clone();
            tokio::spawn(async move { c.next().await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        c.done(1);
        let second = waiter.await.unwrap().unwrap();
        assert_eq!(second.run_id, 2);
        assert!(second.trigger.projects.is_empty(), "widened to a full run");
        assert_eq!(second.trigger.source, "api+schedule");
    }

    #[tokio::test]
    async fn project_triggers_merge() {
        let mut t = Trigger {
            source: "api".into(),
            projects: vec!["A".into()],
        };
        t.absorb(Trigger {
            source: "api".into(),
            projects: vec!["B".into(), "A".into()],
        });
        assert_eq!(t.projects, vec!["A".to_string(), "B".to_string()]);
        assert_eq!(t.source, "api");
    }

    #[tokio::test]
    async fn shutdown_releases_the_loop() {
        let c = RunControl::new();
        let w = {
            let c = c.clone();
            tokio::spawn(async move { c.next().await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        c.shutdown();
        assert!(w.await.unwrap().is_none());
    }
}
