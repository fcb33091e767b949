//! The daemon's life: bind the API, notify systemd, run reconciles from the queue (one at a
//! time, then prune old runs), enqueue full runs on the cron schedule (and one at start),
//! reload the config on SIGHUP, and on SIGTERM/SIGINT stop taking runs, let the current step
//! finish (the engine checkpoints between steps), flush and exit 0.

use super::control::{RunControl, Trigger};
use super::state::{AppState, RunResult};
use crate::api::router;
use crate::reconcile::RunStatus;
use crate::store::{Retention, Store};
use futures::future::BoxFuture;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Queue a full run at once (`daemon.run_at_start`).
    pub run_at_start: bool,
    /// How long to wait for the current run to checkpoint on shutdown.
    pub shutdown_grace: Duration,
}

/// Binds the API; returns the bound address and a future that serves until shutdown.
pub async fn bind_api(
    listen: SocketAddr,
    state: AppState,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<(SocketAddr, BoxFuture<'static, std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let app = router(state);
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
pub async fn serve(state: AppState, opts: ServeOptions) -> u8 {
    match state.store().mark_interrupted_runs() {
        Ok(n) if n > 0 => tracing::warn!(
            runs = n,
            "marked runs left unfinished by the previous process as interrupted"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "could not update unfinished runs"),
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let listen = state.loaded().config.listen;
    let (addr, api_fut) = match bind_api(listen, state.clone(), stop_rx.clone()).await {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(%listen, error = %e, "cannot bind the API address");
            eprintln!("fleetd: cannot listen on {listen}: {e}");
            return 1;
        }
    };
    tracing::info!(%addr, "status API and metrics listening");
    let api_task = tokio::spawn(api_fut);

    let schedule = state.loaded().config.raw.daemon.schedule.get_ref().clone();
    if let Err(e) = state
        .schedule()
        .set(&schedule, state.control(), state.store())
        .await
    {
        tracing::error!(%schedule, "no scheduled runs: {e}");
    }
    if opts.run_at_start {
        enqueue(state.control(), state.store(), Trigger::full("startup"));
    }

    let (cancel_tx, cancel_rx) = watch::channel(false);
    let loop_task = tokio::spawn(run_loop(state.clone(), cancel_rx));

    notify(&[sd_notify::NotifyState::Ready]);
    let watchdog = watchdog_task();

    wait_for_stop(&state).await;
    tracing::info!("shutting down: no new runs; waiting for the current step to finish");
    notify(&[sd_notify::NotifyState::Stopping]);
    state.control().shutdown();
    let _ = cancel_tx.send(true);
    state.schedule().stop().await;
    let clean = tokio::time::timeout(opts.shutdown_grace, loop_task)
        .await
        .is_ok();
    if !clean {
        tracing::warn!(
            "the current run did not stop within {:?}; its journal lets the next start resume",
            opts.shutdown_grace
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

/// Takes queued runs one at a time until shutdown.
async fn run_loop(state: AppState, cancel: watch::Receiver<bool>) {
    let control = state.control().clone();
    while let Some(q) = control.next().await {
        let store = state.store();
        let project = (!q.trigger.projects.is_empty()).then(|| q.trigger.projects.join(","));
        if let Err(e) = store.begin_run(q.run_id, &q.trigger.source, project.as_deref()) {
            tracing::error!(error = %e, "cannot record the run start");
        }
        state.metrics().run_in_progress.set(1);
        let started = Instant::now();
        tracing::info!(run = q.run_id, trigger = %q.trigger.source, "reconcile run started");
        let res = state.run(q.run_id, &q.trigger, cancel.clone()).await;
        let secs = started.elapsed().as_secs_f64();
        record_metrics(&state, &q.trigger, &res, secs);
        if let Err(e) = store.finish_run(
            q.run_id,
            res.status.as_str(),
            &res.counts,
            res.requests,
            res.points,
            &res.summary,
            res.error.as_deref(),
        ) {
            tracing::error!(error = %e, "cannot record the run end");
        }
        // Tenths of a second: enough for a run, and readable in the log.
        let seconds = (secs * 10.0).round() / 10.0;
        match &res.error {
            Some(error) if res.status != RunStatus::Succeeded => tracing::warn!(
                run = q.run_id, status = %res.status, seconds, summary = %res.summary, %error,
                "reconcile run finished"
            ),
            _ => tracing::info!(
                run = q.run_id, status = %res.status, seconds, summary = %res.summary,
                "reconcile run finished"
            ),
        }
        prune(&state);
        control.done(q.run_id);
    }
}

fn record_metrics(state: &AppState, trigger: &Trigger, res: &RunResult, secs: f64) {
    let m = state.metrics();
    let label = trigger.source.split('+').next().unwrap_or("api");
    m.run_duration.with_label_values(&[label]).observe(secs);
    m.runs
        .with_label_values(&[label, res.status.as_str()])
        .inc();
    if res.status == RunStatus::Succeeded {
        m.last_success.set(chrono::Utc::now().timestamp() as f64);
    }
    m.run_in_progress.set(0);
}

/// Deletes runs and journal rows past the configured retention.
pub fn prune(state: &AppState) {
    let r = &state.loaded().config.raw.daemon.retention;
    let retention = Retention {
        runs: r.runs.0,
        keep_runs: r.keep_runs,
        journal: r.journal.0,
    };
    match state.store().prune(&retention) {
        Ok(p) if p.runs > 0 || p.journal > 0 => {
            tracing::info!(
                runs = p.runs,
                journal = p.journal,
                "pruned rows past daemon.retention"
            )
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot prune old runs and journal rows"),
    }
}

/// Queues a run, reserving its id in the store.
pub fn enqueue(control: &RunControl, store: &Store, trigger: Trigger) {
    match store.suspension() {
        Ok(s) if s.fleet.is_some() => {
            tracing::info!(trigger = %trigger.source, "the fleet is suspended: run not queued (fleetctl resume)");
            return;
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %e, trigger = %trigger.source, "run not queued: cannot read whether the fleet is suspended");
            return;
        }
    }
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

fn notify(states: &[sd_notify::NotifyState]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::debug!(error = %e, "cannot notify systemd");
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
            notify(&[sd_notify::NotifyState::Watchdog]);
            tokio::time::sleep(period).await;
        }
    }))
}

/// Waits for SIGTERM or SIGINT; reloads the config on each SIGHUP meanwhile.
async fn wait_for_stop(state: &AppState) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(mut term), Ok(mut int), Ok(mut hup)) => loop {
                tokio::select! {
                    _ = term.recv() => return,
                    _ = int.recv() => return,
                    _ = hup.recv() => reload(state).await,
                }
            },
            _ => {
                tracing::warn!("cannot listen for signals; stopping on Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = state;
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn reload(state: &AppState) {
    tracing::info!("SIGHUP: reloading the config");
    let reloading = sd_notify::NotifyState::monotonic_usec_now();
    match reloading {
        Ok(usec) => notify(&[sd_notify::NotifyState::Reloading, usec]),
        Err(e) => tracing::debug!(error = %e, "no monotonic clock for systemd"),
    }
    // The outcome is logged and recorded by `reload` itself.
    let _ = state.reload().await;
    notify(&[sd_notify::NotifyState::Ready]);
}
