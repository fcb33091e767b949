//! `fleetd`: the fleetsync daemon. Loads the config, opens the store, and reconciles on the
//! cron schedule and on demand (`POST /api/v1/reconcile`), serving the status API and
//! metrics. `--dev` first starts the built-in simulator and uses the bundled dev config.

use clap::Parser;
use fleetsync::api::{ApiState, Health, Planner};
use fleetsync::config::{load, Config};
use fleetsync::daemon::{self, DaemonParts, RunControl, RunEngine};
use fleetsync::metrics::Metrics;
use fleetsync::plan::{render_json, render_text};
use fleetsync::reconcile::{Engine, RunOptions};
use fleetsync::store::Store;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "fleetd",
    version,
    about = "Keeps GitHub repos in step with Dataiku DSS projects"
)]
struct Args {
    /// The fleet config.
    #[arg(long, short, env = "FLEETSYNC_CONFIG")]
    config: Option<PathBuf>,
    /// Start the built-in simulator (DSS on 127.0.0.1:9471, GitHub on 127.0.0.1:9472) and run
    /// against it, with the bundled dev config written under ./.fleetsync-dev/ (unless
    /// --config is given).
    #[arg(long)]
    dev: bool,
    /// How long to let a running reconcile reach a checkpoint on SIGTERM.
    #[arg(long, default_value = "20")]
    shutdown_grace_secs: u64,
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("fleetd: {msg}");
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    #[cfg(not(feature = "dev"))]
    if args.dev {
        return fail("--dev: this fleetd was built without the simulator (cargo feature `dev`)");
    }
    let config_path = match (&args.config, args.dev) {
        (Some(p), _) => p.clone(),
        (None, true) => match daemon::dev::materialize(std::path::Path::new(".fleetsync-dev")) {
            Ok(p) => p,
            Err(e) => return fail(format!("writing the dev config under .fleetsync-dev/: {e}")),
        },
        (None, false) => PathBuf::from("/etc/fleetd/fleet.toml"),
    };
    let config: Arc<Config> = match load(&config_path) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(2);
        }
    };
    let d = &config.raw.daemon;
    daemon::logging::init(d.log_format, &d.log_level);
    for w in &config.warnings {
        tracing::warn!("{w}");
    }

    #[cfg(feature = "dev")]
    let _sim = if args.dev {
        match fleetsync::dev_sim::start_for_config(&config).await {
            Ok(sim) => {
                println!("fleetd --dev: simulated DSS    {}", sim.dss.url);
                println!("fleetd --dev: simulated GitHub {}", sim.github.url);
                Some(sim)
            }
            Err(e) => return fail(format!("starting the simulator: {e}")),
        }
    } else {
        None
    };

    let state = config.state_path();
    if let Some(dir) = state.parent() {
        if let Err(e) = std::fs::create_dir_all(dir) {
            return fail(format!("state folder {}: {e}", dir.display()));
        }
    }
    let store = match Store::open(&state) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let metrics = match Metrics::new() {
        Ok(m) => Arc::new(m),
        Err(e) => return fail(format!("metrics: {e}")),
    };
    let health = Arc::new(Health::default());
    let engine = match Engine::new(
        config.clone(),
        store.clone(),
        Some(metrics.clone()),
        Some(health.clone()),
    ) {
        Ok(e) => Arc::new(e),
        Err(e) => return fail(e),
    };
    engine.update_repo_metrics();
    let token = match &d.api_token {
        Some(src) => match src.read(&config.base_dir) {
            Ok(t) => Some(t),
            Err(e) => return fail(format!("daemon.api_token: {e}")),
        },
        None => None,
    };
    let planner_engine = engine.clone();
    let planner: Planner = Arc::new(move |projects: Vec<String>| {
        let e = planner_engine.clone();
        Box::pin(async move {
            let report = e
                .run(RunOptions {
                    dry_run: true,
                    projects,
                    ..Default::default()
                })
                .await;
            Ok(json!({"text": render_text(&report.plan), "plan": render_json(&report.plan)}))
        })
    });
    let scrape_engine = engine.clone();
    let scrape_metrics = metrics.clone();
    let api = ApiState {
        store,
        metrics,
        control: RunControl::new(),
        token,
        health,
        planner: Some(planner),
        before_scrape: Some(Arc::new(move || {
            scrape_metrics.observe_github(scrape_engine.github().stats());
        })),
    };
    if args.dev {
        println!(
            "fleetd --dev: status API and metrics on http://{}  (try: cargo run --bin fleetctl -- status --config {})",
            config.listen,
            config_path.display()
        );
    }
    let code = daemon::serve(DaemonParts {
        listen: config.listen,
        schedule: d.schedule.get_ref().clone(),
        run_at_start: args.dev,
        api,
        engine: engine as Arc<dyn RunEngine>,
        shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
    })
    .await;
    ExitCode::from(code)
}
