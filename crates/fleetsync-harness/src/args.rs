//! The `fleetsync-harness` command line (clap): `bench` and `chaos`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// fleetsync-harness: measures fleetsync against the simulator (the benchmark and the
/// reliability and security scenarios).
#[derive(Debug, Parser)]
#[command(name = "fleetsync-harness", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measures fleetsync against the simulator: cold start, no-op, per-resource baseline,
    /// one new project, memory at scale (see the README's Performance section).
    Bench(BenchArgs),
    /// Runs the reliability and security scenarios (faults, crashes, discovery failures,
    /// security) against the simulator and prints the figures.
    Chaos(ChaosArgs),
}

/// `fleetsync-harness bench`.
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
    /// Projects of the cold start at GitHub's real limits (scenario 6a).
    #[arg(long, default_value_t = 100)]
    pub limits_projects: usize,
    /// Repos of the no-op and rotation at GitHub's real limits, on GitHub's clock (6b; 0 skips).
    #[arg(long, default_value_t = 1000)]
    pub limits_fleet: usize,
    /// How much faster than GitHub's the clock of 6a runs (simulator and pacer windows).
    #[arg(long, default_value_t = 20)]
    pub time_scale: u32,
    /// Run only scenario 6 (GitHub's real limits).
    #[arg(long)]
    pub github_limits_only: bool,
    /// Managed repos of the memory scenario (0 skips it).
    #[arg(long, default_value_t = 10_000)]
    pub memory_repos: usize,
    /// The fleetd binary (default: the one beside this executable).
    #[arg(long)]
    pub fleetd: Option<PathBuf>,
    /// Print the figures as JSON on stdout (the table goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Keep the temporary folder (configs, state files, fleetd logs).
    #[arg(long)]
    pub keep: bool,
}

/// A scenario of `fleetsync-harness chaos`.
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
    /// Hand-made repos, two installs in one organisation, a state file lost mid-grace.
    Ownership,
}

/// `fleetsync-harness chaos`.
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
    /// DSS projects of each install in the ownership scenario.
    #[arg(long, default_value_t = 60)]
    pub ownership_projects: usize,
    /// Seed of the simulator's fault injection and of the kill points.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// The fleetd binary (default: the one beside this executable).
    #[arg(long)]
    pub fleetd: Option<PathBuf>,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
}
