//! The `fleetctl` command line (clap).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// fleetctl: plan, reconcile and inspect a fleetsync-managed fleet of GitHub repos.
#[derive(Debug, Parser)]
#[command(name = "fleetctl", version, about)]
pub struct Cli {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Output format of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// For people.
    Text,
    /// For programs.
    Json,
}

/// How to reach a running fleetd.
#[derive(Debug, Clone, Args)]
pub struct DaemonArgs {
    /// fleetd's address (default: the config's `daemon.listen`, else 127.0.0.1:9464).
    #[arg(long, env = "FLEETD_ADDR")]
    pub addr: Option<String>,
    /// The API token for POSTs (default: the config's `daemon.api_token` source).
    #[arg(long, env = "FLEETD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A config to read the address and token from.
    #[arg(long, short, env = "FLEETSYNC_CONFIG")]
    pub config: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with config files.
    Config {
        /// What to do with the config.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Fleet summary from fleetd.
    Status {
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// Managed repos (or one repo with its resources and drift) from fleetd.
    Repos {
        /// One repo's details.
        name: Option<String>,
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// Drift events from fleetd.
    Drift {
        /// Only this repo's.
        #[arg(long)]
        repo: Option<String>,
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// Run history (or one run) from fleetd.
    Runs {
        /// One run's details.
        id: Option<i64>,
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// Ask fleetd to reconcile now.
    /// Runs a reconcile: asks the daemon (`--now`), or runs one in this process (`--local`).
    Reconcile(ReconcileArgs),
    /// Shows what a reconcile would change, without changing anything.
    Plan(PlanArgs),
    /// Runs the reliability and security scenarios (faults, crashes, discovery failures,
    /// security) against the simulator and prints the figures.
    #[cfg(feature = "dev")]
    Chaos(ChaosArgs),
    /// Runs the simulated DSS node and GitHub a config points at, until Ctrl-C.
    Sim {
        /// The fleet config (its `[[dss]]` url, `github.api_url`, credentials and `[sim]`).
        #[arg(
            long,
            short,
            env = "FLEETSYNC_CONFIG",
            default_value = "config/dev.toml"
        )]
        config: PathBuf,
    },
    /// Measures fleetsync against the simulator: cold start, no-op, per-resource baseline,
    /// one new project, memory at scale (see the README's Performance section).
    #[cfg(feature = "dev")]
    Bench(BenchArgs),
}

/// `fleetctl bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// DSS projects of the main fleet.
    #[arg(long, default_value_t = 1000)]
    pub projects: usize,
    /// Dev plugins of the main fleet.
    #[arg(long, default_value_t = 20)]
    pub plugins: usize,
    /// W: content writes per minute the simulated GitHub allows (fleetd paces at 98% of it).
    #[arg(long, default_value_t = 600)]
    pub write_limit: u32,
    /// Latency the simulators add to every request, in milliseconds.
    #[arg(long, default_value_t = 20)]
    pub latency_ms: u64,
    /// `pacing.concurrency` of the benchmark config (repos worked on at once).
    #[arg(long, default_value_t = 16)]
    pub concurrency: u32,
    /// `pacing.max_in_flight` of the benchmark config.
    #[arg(long, default_value_t = 32)]
    pub max_in_flight: u32,
    /// Managed repos of the memory scenario (0 skips it).
    #[arg(long, default_value_t = 10_000)]
    pub memory_repos: usize,
    /// The fleetd binary (default: the one next to this fleetctl).
    #[arg(long)]
    pub fleetd: Option<PathBuf>,
    /// Print the figures as JSON on stdout (the table goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Keep the temporary folder (configs, state files, fleetd logs).
    #[arg(long)]
    pub keep: bool,
}

/// `fleetctl plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Limit the plan to these project keys or plugin ids.
    #[arg(long = "project")]
    pub projects: Vec<String>,
    /// Exit 0 when there are no changes, 1 when changes are pending, 2 on error.
    #[arg(long)]
    pub exit_code: bool,
    /// Ask the running daemon for a dry run instead of planning in this process.
    #[arg(long)]
    pub remote: bool,
    #[command(flatten)]
    pub daemon: DaemonArgs,
}

/// `fleetctl reconcile`
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// Ask the running fleetd for a run now (the default).
    #[arg(long)]
    pub now: bool,
    /// Limit the run to these DSS project keys.
    #[arg(long = "project")]
    pub projects: Vec<String>,
    /// Run the reconcile in this process (no daemon), with the config of `--config`.
    #[arg(long, conflicts_with = "now")]
    pub local: bool,
    /// Wait for the run to finish, printing progress (the default).
    #[arg(long, conflicts_with = "no_wait")]
    pub wait: bool,
    /// Return as soon as the run is queued.
    #[arg(long)]
    pub no_wait: bool,
    #[command(flatten)]
    pub daemon: DaemonArgs,
}

/// A scenario of `fleetctl chaos`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChaosScenario {
    /// 5xx, connection resets, random secondary limits and a GitHub outage during a cold start.
    Faults,
    /// fleetd SIGKILLed and restarted repeatedly during a cold start.
    Crashes,
    /// DSS answering 500, timing out, empty, partial and malformed listings.
    Discovery,
    /// Canary secrets, API tokens, default bind, secret file permissions, status API under load.
    Security,
}

/// `fleetctl chaos`.
#[derive(Debug, Args)]
pub struct ChaosArgs {
    /// Scenarios to run (repeatable; default: all).
    #[arg(long = "scenario", value_enum)]
    pub scenarios: Vec<ChaosScenario>,
    /// DSS projects in the fault scenario's cold start.
    #[arg(long, default_value_t = 500)]
    pub projects: usize,
    /// Seconds of GitHub outage in the middle of the fault scenario's cold start.
    #[arg(long, default_value_t = 60)]
    pub outage_secs: u64,
    /// DSS projects in the crash scenario's cold start.
    #[arg(long, default_value_t = 100)]
    pub crash_projects: usize,
    /// SIGKILLs of fleetd during the crash scenario.
    #[arg(long, default_value_t = 20)]
    pub kills: u32,
    /// Seconds of load (generated in process) on the status API in the security scenario.
    #[arg(long, default_value_t = 30)]
    pub load_secs: u64,
    /// Concurrent connections of that load.
    #[arg(long, default_value_t = 64)]
    pub connections: u32,
    /// Seed of the simulator's fault injection and of the kill points.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// The fleetd binary (default: the one beside fleetctl).
    #[arg(long)]
    pub fleetd: Option<PathBuf>,
    /// Print the figures as JSON (same as `--output json`).
    #[arg(long)]
    pub json: bool,
}

/// `fleetctl config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a config file: exit 0 when it is good, 2 with every error otherwise.
    Check {
        /// The config file.
        #[arg(
            long,
            short,
            env = "FLEETSYNC_CONFIG",
            default_value = "/etc/fleetd/fleet.toml"
        )]
        config: PathBuf,
    },
}
