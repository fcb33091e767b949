//! The `fleetctl` command line (clap).

pub use super::output::Output;
use crate::config::HumanDuration;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

fn parse_duration(s: &str) -> Result<HumanDuration, String> {
    HumanDuration::parse(s)
}

/// fleetctl: plan, reconcile and inspect a fleetsync-managed fleet of GitHub repos.
#[derive(Debug, Parser)]
#[command(name = "fleetctl", version, about)]
pub struct Cli {
    /// Output format: text (tables), wide (more columns), json or yaml (the API's
    /// document; errors too, on stderr).
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
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
        /// One repo's details: `owner/name`, or the bare name in the configured owner.
        name: Option<String>,
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// Drift events from fleetd.
    Drift {
        /// Only this repo's.
        #[arg(long)]
        repo: Option<String>,
        /// At most this many events, newest first.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// What fleetd did and saw, oldest first: creates, updates, repairs, archives and
    /// deletes, failed steps, drift, guard blocks, sources gone, repo errors, runs, suspend
    /// and resume.
    Events {
        /// Only this repo's.
        #[arg(long)]
        repo: Option<String>,
        /// The newest this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// Run history (or one run) from fleetd.
    Runs {
        /// One run's details.
        id: Option<i64>,
        /// At most this many runs, newest first.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// Runs a reconcile: asks fleetd for one now (`--now`, the default) and follows it, or
    /// runs one in this process (`--local`).
    Reconcile(ReconcileArgs),
    /// Stops fleetd writing to GitHub, for the whole fleet or one repo, until `resume`
    /// (kept in the state file, so it lasts across restarts).
    Suspend {
        /// Only this repo (`owner/name` or the bare name).
        #[arg(long)]
        repo: Option<String>,
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// Lets fleetd write again: the fleet-wide suspension, or one repo's.
    Resume {
        /// Only this repo's suspension.
        #[arg(long)]
        repo: Option<String>,
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// Shows what a reconcile would change, without changing anything.
    Plan(PlanArgs),
    /// Takes over repos that exist without this install's ownership marker: shows the plan,
    /// asks, then writes the marker (the next run manages them).
    Adopt {
        /// The repos (`name` or `owner/name`).
        #[arg(required = true)]
        repos: Vec<String>,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
        /// The fleet config.
        #[arg(
            long,
            short,
            env = "FLEETSYNC_CONFIG",
            default_value = "/etc/fleetd/fleet.toml"
        )]
        config: PathBuf,
    },
    /// The repos' secrets.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Applies a plan saved by `fleetctl plan --out PLAN`: exactly its steps, or nothing
    /// when GitHub or the config changed since (exit 1, saying what moved).
    Apply(ApplyArgs),
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
}

/// `fleetctl plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Limit the plan to these project keys or plugin ids.
    #[arg(long = "project")]
    pub projects: Vec<String>,
    /// Exit codes as terraform's `-detailed-exitcode`: 0 no changes, 2 changes pending,
    /// 1 error (an incomplete plan, ownership conflicts, a bad config).
    #[arg(long)]
    pub exit_code: bool,
    /// Show every file's whole diff (by default each is cut after a few dozen lines).
    #[arg(long)]
    pub diff: bool,
    /// Save the plan, with the state it was made from, for `fleetctl apply PLAN`.
    #[arg(long, value_name = "PLAN", conflicts_with = "remote")]
    pub out: Option<PathBuf>,
    /// Ask the running daemon for a dry run instead of planning in this process.
    #[arg(long)]
    pub remote: bool,
    #[command(flatten)]
    pub daemon: DaemonArgs,
}

/// `fleetctl apply PLAN`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The plan file written by `fleetctl plan --out`.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// The config (default: the file the plan was made with); it must not have changed.
    #[arg(long, short, env = "FLEETSYNC_CONFIG")]
    pub config: Option<PathBuf>,
}

/// `fleetctl reconcile`
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// Ask the running fleetd for a run now (the default).
    #[arg(long)]
    pub now: bool,
    /// Limit the run to these DSS project keys (or plugin ids).
    #[arg(long = "project")]
    pub projects: Vec<String>,
    /// Limit the run to these managed repos (`owner/name` or the bare name).
    #[arg(long = "repo")]
    pub repos: Vec<String>,
    /// Give up waiting after this long (e.g. `90s`, `5m`); the run goes on in fleetd and
    /// fleetctl exits 3.
    #[arg(long, value_parser = parse_duration, conflicts_with_all = ["no_wait", "local"])]
    pub timeout: Option<HumanDuration>,
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

/// `fleetctl secrets …`
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Makes the next run write every secret again (the store forgets what it wrote).
    Rotate {
        /// The fleet config.
        #[arg(
            long,
            short,
            env = "FLEETSYNC_CONFIG",
            default_value = "/etc/fleetd/fleet.toml"
        )]
        config: PathBuf,
    },
}

/// `fleetctl config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a config as fleetd does before running it (the file, its templates with a
    /// sample project, every secret source readable): exit 0 when it is good, 2 with every
    /// error otherwise.
    Check {
        /// The config file.
        #[arg(
            long,
            short,
            env = "FLEETSYNC_CONFIG",
            default_value = "/etc/fleetd/fleet.toml"
        )]
        config: PathBuf,
        /// Do not read the secret sources (checking a config away from the machine, user and
        /// environment that run fleetd).
        #[arg(long)]
        skip_secrets: bool,
    },
}
