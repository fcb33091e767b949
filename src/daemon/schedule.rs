//! The cron schedule (tokio-cron-scheduler, UTC): one job that queues a full run. A reload
//! with another schedule replaces the scheduler; `status` shows the next tick.

use super::control::{RunControl, Trigger};
use crate::store::Store;
use chrono::{DateTime, Utc};
use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job, JobScheduler};

/// The running scheduler and its cron expression.
#[derive(Default)]
pub struct Schedule {
    current: Mutex<Option<(JobScheduler, String)>>,
}

impl Schedule {
    /// Schedules full runs on `expr` (replacing the previous schedule unless it is the same).
    pub async fn set(&self, expr: &str, control: &RunControl, store: &Store) -> Result<(), String> {
        let mut cur = self.current.lock().await;
        if cur.as_ref().is_some_and(|(_, e)| e == expr) {
            return Ok(());
        }
        let sched = JobScheduler::new()
            .await
            .map_err(|e| format!("cannot start the scheduler: {e:?}"))?;
        let (c, st) = (control.clone(), store.clone());
        let job = Job::new_async(expr, move |_, _| {
            let (c, st) = (c.clone(), st.clone());
            Box::pin(async move {
                super::serve::enqueue(&c, &st, Trigger::full("schedule"));
            })
        })
        .map_err(|e| format!("invalid schedule {expr:?}: {e:?}"))?;
        sched
            .add(job)
            .await
            .map_err(|e| format!("cannot add the scheduled job: {e:?}"))?;
        sched
            .start()
            .await
            .map_err(|e| format!("cannot start the scheduler: {e:?}"))?;
        if let Some((mut old, _)) = cur.replace((sched, expr.to_string())) {
            if let Err(e) = old.shutdown().await {
                tracing::warn!(error = ?e, "the previous scheduler did not stop cleanly");
            }
        }
        Ok(())
    }

    /// When the next scheduled run is due, if a schedule is running.
    pub async fn next(&self) -> Option<DateTime<Utc>> {
        let mut cur = self.current.lock().await;
        let (sched, _) = cur.as_mut()?;
        match sched.time_till_next_job().await {
            Ok(Some(d)) => chrono::Duration::from_std(d)
                .ok()
                .and_then(|d| Utc::now().checked_add_signed(d)),
            Ok(None) => None,
            Err(e) => {
                tracing::debug!(error = ?e, "cannot read the next tick");
                None
            }
        }
    }

    /// Stops the scheduler.
    pub async fn stop(&self) {
        if let Some((mut s, _)) = self.current.lock().await.take() {
            if let Err(e) = s.shutdown().await {
                tracing::warn!(error = ?e, "the scheduler did not stop cleanly");
            }
        }
    }
}
