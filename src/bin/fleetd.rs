//! `fleetd`: the fleetsync daemon. Loads and checks the config, takes the state, and
//! reconciles at start, on the cron schedule and on demand (`POST /api/v1/reconcile`),
//! serving the status API and metrics; SIGHUP reloads the config. `--dev` first starts the
//! built-in simulator and uses the bundled dev config.

use clap::Parser;
use fleetsync::daemon::start::{self, StartOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "fleetd",
    version = fleetsync::build_info::LONG_VERSION,
    about = "Keeps GitHub repos in step with Dataiku DSS projects"
)]
struct Args {
    /// The fleet config (default: /etc/fleetd/fleet.toml).
    #[arg(long, short, env = "FLEETSYNC_CONFIG")]
    config: Option<PathBuf>,
    /// Start the built-in simulator (DSS on 127.0.0.1:9471, GitHub on 127.0.0.1:9472) and run
    /// against it from an empty state, with the bundled dev config written under
    /// ./.fleetsync-dev/config/ (unless --config is given).
    #[arg(long)]
    dev: bool,
    /// How long to let a running reconcile reach a checkpoint on SIGTERM.
    #[arg(long, default_value = "20")]
    shutdown_grace_secs: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    #[cfg(not(feature = "dev"))]
    if args.dev {
        eprintln!(
            "fleetd: --dev: this fleetd was built without the simulator (cargo feature `dev`)"
        );
        return ExitCode::from(start::EXIT_START);
    }
    let path = match start::config_path(args.config.as_deref(), args.dev) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("fleetd: {e}");
            return ExitCode::from(start::EXIT_START);
        }
    };
    let config = match start::load_config(&path) {
        Ok(c) => c,
        Err(code) => return ExitCode::from(code),
    };
    // The state lock first: a second fleetd is refused naming the first, before it binds
    // anything (or, with --dev, resets the state the first one uses).
    let lock = match start::lock(&config) {
        Ok(l) => l,
        Err(code) => return ExitCode::from(code),
    };
    #[cfg(feature = "dev")]
    let _sim = if args.dev {
        match fleetsync::dev_sim::start_for_config(&config).await {
            Ok(sim) => {
                println!("fleetd --dev: simulated DSS    {}", sim.dss.url);
                println!("fleetd --dev: simulated GitHub {}", sim.github.url);
                println!(
                    "fleetd --dev: status API and metrics on http://{}  (try: cargo run --bin fleetctl -- status --config {})",
                    config.listen,
                    path.display()
                );
                Some(sim)
            }
            Err(e) => {
                eprintln!("fleetd: starting the simulator: {e}");
                return ExitCode::from(start::EXIT_START);
            }
        }
    } else {
        None
    };
    let opts = StartOptions {
        dev: args.dev,
        shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
    };
    ExitCode::from(start::run(config, lock, opts).await)
}
