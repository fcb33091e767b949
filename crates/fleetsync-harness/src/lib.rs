//! fleetsync-harness: throw-away fleets on the simulator, and what is measured on them.
//! One harness for fleetsync's integration tests (a dev-dependency), the benchmark and the
//! chaos scenarios; the `fleetsync-harness` binary runs the last two.
//!
//! - [`fleet`]: the simulated DSS node and GitHub, a folder with a config, templates,
//!   secret files and state, and an in-process engine on it;
//! - [`fleetd`]: fleetd as a child process on a fleet (runs through its API, SIGKILL);
//! - [`bench`]: `fleetsync-harness bench` (the README's Performance section);
//! - [`chaos`]: `fleetsync-harness chaos` (the README's Reliability section);
//! - [`load`]: HTTP load generated in process; [`proc_stats`]: `/proc` figures.

pub mod args;
pub mod bench;
pub mod chaos;
pub mod fleet;
pub mod fleet_config;
pub mod fleetd;
pub mod load;
pub mod proc_stats;

pub use args::{BenchArgs, ChaosArgs, ChaosScenario, Cli, Command};
pub use fleet::{free_port, Fleet, FleetSpec, Pacing, Secrets};
pub use fleetd::{fleetd_path, Fleetd};

/// What one invocation printed and its exit code, for the binary to print and return, and
/// for tests to look at.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub stdout: String,
    pub stderr: String,
    pub code: u8,
}

/// Runs one `fleetsync-harness` invocation (logs at `error`, on stderr).
pub async fn run(cli: Cli) -> Report {
    fleetsync::daemon::logging::init(fleetsync::config::LogFormat::Text, "error");
    match cli.command {
        Command::Bench(args) => bench::run(&args).await,
        Command::Chaos(args) => chaos::run(&args).await,
    }
}
