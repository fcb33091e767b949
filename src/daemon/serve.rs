//! The daemon's life: bind the API, notify systemd, run reconciles from the queue (one at a
//! time), enqueue full runs on the cron schedule, and on SIGTERM/SIGINT stop taking runs,
//! let the current step finish (the engine checkpoints between steps), flush and exit 0.

use super::control::{RunControl, Trigger};
use crate::api::{router, ApiState};
use crate::store::{RunCounts, Store};
use futures::future::BoxFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How a run ended.
#[derive(Debug, Clone, Default)]
pub struct RunResult {
    /// `succeeded`, `partial`, `failed`, `interrupted`.
    pub status: String,
    /// Step counts by `action/outcome`.
    pub counts: RunCounts,
    /// GitHub requests sent.
    pub requests: i64,
    /// Primary rate-limit points charged.
    pub points: i64,
    /// One-line summary.
    pub summary: String,
    /// Why it failed.
    pub error: Option<String>,
}

/// Something that performs a reconcile run (the engine, or a test double).
pub trait RunEngine: Send + Sync + 'static {
    /// Runs the reconcile for `run_id`; stops at the next checkpoint once `cancel` is true.
    fn run<'a>(
        &'a self,
        run_id: i64,
        trigger: &'a Trigger,
        cancel: watch::Receiver<bool>,
    ) -> BoxFuture<'a, RunResult>;
}

/// Everything `serve` needs.
pub struct DaemonParts {
    /// API address.
    pub listen: SocketAddr,
    /// Cron schedule (with seconds).
    pub schedule: String,
    /// Reconcile once at start.
    pub run_at_start: bool,
    /// API state (store, metrics, control, token, health).
    pub api: ApiState,
    /// The engine.
    pub engine: Arc<dyn RunEngine>,
    /// How long to wait for the current run to checkpoint on shutdown.
    pub shutdown_grace: Duration,
}

/// Binds the API; returns the bound address and a future that serves until shutdown.
pub async fn bind_api(
    listen: SocketAddr,
    api: ApiState,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<(SocketAddr, BoxFuture<'static, std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let app = router(api);
    let fut = Box::pin(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|v| *v).await;
            })
            .await
    });
    Ok((addr, fut))
}

/// Runs the daemon until SIGTERM/SIGINT. Returns the process exit code.
pub async fn serve(parts: DaemonParts) -> u8 {
    let DaemonParts {
        listen,
        schedule,
        run_at_start,
        api,
        engine,
        shutdown_grace,
    } = parts;
    let store = api.store.clone();
    let control = api.control.clone();
    let metrics = api.metrics.clone();
    match store.mark_interrupted_runs() {
        Ok(n) if n > 0 => tracing::warn!(
            runs = n,
            "marked runs left unfinished by the previous process as interrupted"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "could not update unfinished runs"),
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let (addr, api_fut) = match bind_api(listen, api, stop_rx.clone()).await {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(%listen, error = %e, "cannot bind the API address");
            eprintln!("fleetd: cannot listen on {listen}: {e}");
            return 1;
        }
    };
    tracing::info!(%addr, "status API and metrics listening");
    let api_task = tokio::spawn(api_fut);

    // Schedule.
    let mut scheduler = match tokio_cron_scheduler::JobScheduler::new().await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(error = ?e, "cannot start the scheduler");
            None
        }
    };
    if let Some(s) = &scheduler {
        let c = control.clone();
        let st = store.clone();
        let job = tokio_cron_scheduler::Job::new_async(schedule.as_str(), move |_, _| {
            let c = c.clone();
            let st = st.clone();
            Box::pin(async move {
                enqueue(&c, &st, Trigger::full("schedule"));
            })
        });
        match job {
            Ok(job) => {
                if let Err(e) = s.add(job).await {
                    tracing::error!(error = ?e, "cannot add the scheduled job");
                } else if let Err(e) = s.start().await {
                    tracing::error!(error = ?e, "cannot start the scheduler");
                }
            }
            Err(e) => tracing::error!(error = ?e, %schedule, "invalid schedule"),
        }
    }
    if run_at_start {
        enqueue(&control, &store, Trigger::full("startup"));
    }

    // The run loop.
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let loop_task = {
        let control = control.clone();
        let store = store.clone();
        let metrics = metrics.clone();
        tokio::spawn(async move {
            while let Some(q) = control.next().await {
                let project =
                    (!q.trigger.projects.is_empty()).then(|| q.trigger.projects.join(","));
                if let Err(e) = store.begin_run(q.run_id, &q.trigger.source, project.as_deref()) {
                    tracing::error!(error = %e, "cannot record the run start");
                }
                metrics.run_in_progress.set(1);
                let started = Instant::now();
                tracing::info!(run = q.run_id, trigger = %q.trigger.source, "reconcile run started");
                let res = engine.run(q.run_id, &q.trigger, cancel_rx.clone()).await;
                let secs = started.elapsed().as_secs_f64();
                let trigger_label = q
                    .trigger
                    .source
                    .split('+')
                    .next()
                    .unwrap_or("api")
                    .to_string();
                metrics
                    .run_duration
                    .with_label_values(&[trigger_label.as_str()])
                    .observe(secs);
                metrics
                    .runs
                    .with_label_values(&[trigger_label.as_str(), res.status.as_str()])
                    .inc();
                if res.status == "succeeded" {
                    metrics
                        .last_success
                        .set(chrono::Utc::now().timestamp() as f64);
                }
                metrics.run_in_progress.set(0);
                if let Err(e) = store.finish_run(
                    q.run_id,
                    &res.status,
                    &res.counts,
                    res.requests,
                    res.points,
                    &res.summary,
                    res.error.as_deref(),
                ) {
                    tracing::error!(error = %e, "cannot record the run end");
                }
                tracing::info!(run = q.run_id, status = %res.status, seconds = secs, summary = %res.summary, "reconcile run finished");
                control.done(q.run_id);
            }
        })
    };

    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    let watchdog = watchdog_task();

    wait_for_signal().await;
    tracing::info!("shutting down: no new runs; waiting for the current step to finish");
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    control.shutdown();
    let _ = cancel_tx.send(true);
    if let Some(mut s) = scheduler.take() {
        let _ = s.shutdown().await;
    }
    let clean = tokio::time::timeout(shutdown_grace, loop_task)
        .await
        .is_ok();
    if !clean {
        tracing::warn!(
            "the current run did not stop within {:?}; its journal lets the next start resume",
            shutdown_grace
        );
    }
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), api_task).await;
    if let Some(w) = watchdog {
        w.abort();
    }
    tracing::info!("stopped");
    0
}

/// Queues a run, reserving its id in the store.
pub fn enqueue(control: &RunControl, store: &Store, trigger: Trigger) {
    let res = control.request(trigger, |t| {
        let p = (!t.projects.is_empty()).then(|| t.projects.join(","));
        store.queue_run(&t.source, p.as_deref(), false)
    });
    match res {
        Ok(a) if a.coalesced => {
            tracing::debug!(run = a.run_id, "trigger coalesced into the queued run")
        }
        Ok(a) => tracing::debug!(run = a.run_id, "run queued"),
        Err(e) => tracing::error!(error = %e, "cannot queue a run"),
    }
}

fn watchdog_task() -> Option<tokio::task::JoinHandle<()>> {
    let mut usec = 0u64;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return None;
    }
    let period = Duration::from_micros(usec / 2);
    Some(tokio::spawn(async move {
        loop {
            let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
            tokio::time::sleep(period).await;
        }
    }))
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
