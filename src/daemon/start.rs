//! Starting fleetd: find and check the config (as `fleetctl config check` does), set up logs,
//! take the state lock (one writer per state file), open the store, build the [`AppState`]
//! and serve. `--dev` starts from an empty state each time (see [`super::dev`]).

use super::serve::{serve, ServeOptions};
use super::state::{AppState, Loaded};
use crate::api::Health;
use crate::config::{load_for_run, Config};
use crate::metrics::Metrics;
use crate::store::{this_command, StateLock, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Where production fleetd reads its config unless told otherwise.
pub const DEFAULT_CONFIG: &str = "/etc/fleetd/fleet.toml";

/// Exit code for "cannot start with this config or state".
pub const EXIT_START: u8 = 2;

/// The config path: the one given, else the dev config (written on demand), else
/// [`DEFAULT_CONFIG`].
pub fn config_path(given: Option<&Path>, dev: bool) -> Result<PathBuf, String> {
    match (given, dev) {
        (Some(p), _) => Ok(p.to_path_buf()),
        (None, true) => super::dev::materialize(Path::new(super::dev::DEV_DIR))
            .map_err(|e| format!("writing the dev config under {}/: {e}", super::dev::DEV_DIR)),
        (None, false) => Ok(PathBuf::from(DEFAULT_CONFIG)),
    }
}

/// Loads and checks the config, then sets up logging from it. Every error is printed.
pub fn load_config(path: &Path) -> Result<Arc<Config>, u8> {
    let config = match load_for_run(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            eprintln!(
                "fleetd: {} error(s) in {}; nothing started",
                e.0.len(),
                path.display()
            );
            return Err(EXIT_START);
        }
    };
    let d = &config.raw.daemon;
    super::logging::init(d.log_format, &d.log_level);
    for w in config.preflight_warnings() {
        tracing::warn!("{w}");
    }
    Ok(Arc::new(config))
}

/// How to run.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// `--dev`: the state starts empty, as the simulator does.
    pub dev: bool,
    /// How long a running reconcile may take to reach a checkpoint on SIGTERM.
    pub shutdown_grace: Duration,
}

/// Takes the state lock of the config's state file (one writer per state file).
pub fn lock(config: &Config) -> Result<StateLock, u8> {
    StateLock::acquire(&config.state_path(), &this_command()).map_err(|e| {
        tracing::error!("cannot start: {e}");
        eprintln!("fleetd: {e}");
        EXIT_START
    })
}

/// With the state lock held: builds the daemon's state and serves until stopped; the exit
/// code. The lock is released when fleetd exits.
pub async fn run(config: Arc<Config>, lock: StateLock, opts: StartOptions) -> u8 {
    let code = match start(config, &opts).await {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            eprintln!("fleetd: {e}");
            EXIT_START
        }
    };
    drop(lock);
    code
}

async fn start(config: Arc<Config>, opts: &StartOptions) -> Result<u8, String> {
    let state_path = config.state_path();
    if opts.dev {
        super::dev::reset_state(&state_path)
            .map_err(|e| format!("resetting the dev state {}: {e}", state_path.display()))?;
    }
    let store = Store::open(&state_path).map_err(|e| e.to_string())?;
    let metrics = Arc::new(Metrics::new().map_err(|e| format!("metrics: {e}"))?);
    let health = Arc::new(Health::default());
    let loaded =
        Loaded::build(config.clone(), &store, &metrics, &health).map_err(|e| e.to_string())?;
    tracing::info!(
        version = crate::build_info::VERSION,
        commit = crate::build_info::COMMIT,
        built = crate::build_info::BUILD_DATE,
        config = %config.path.display(),
        hash = %super::reload::short(&config.hash),
        state = %state_path.display(),
        "config loaded"
    );
    let state = AppState::new(loaded, store, metrics, health);
    Ok(serve(
        state,
        ServeOptions {
            run_at_start: config.raw.daemon.run_at_start,
            shutdown_grace: opts.shutdown_grace,
        },
    )
    .await)
}
