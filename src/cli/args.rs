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
#[command(name = "fleetctl", version = crate::build_info::LONG_VERSION, about)]
pub struct Cli {
    /// Output format: text, wide (more columns), json or yaml (the API's document, and
    /// errors as one on stderr).
    #[arg(
        long,
        short = 'o',
        global = true,
        value_enum,
        default_value_t = Output::Text,
        hide_possible_values = true
    )]
    pub output: Output,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How to reach a running fleetd.
#[derive(Debug, Clone, Args)]
pub struct DaemonArgs {
    /// fleetd's address (default: the config's `daemon.listen`, else 127.0.0.1:9464).
    #[arg(long, env = "FLEETSYNC_ADDR")]
    pub addr: Option<String>,
    /// The API token for POSTs (default: the config's `daemon.api_token` source).
    #[arg(long, env = "FLEETSYNC_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The fleet config: fleetd's address and API token are read from it (a local `plan` and
    /// `reconcile --local` run it).
    #[arg(long, short, env = "FLEETSYNC_CONFIG")]
    pub config: Option<PathBuf>,
}

impl DaemonArgs {
    /// Fills `--addr` and `--token` from their deprecated variables (`FLEETD_ADDR`,
    /// `FLEETD_TOKEN`) when neither the flag nor the new variable gave them; one warning for
    /// each old name used, as `lookup` (the environment) reads it.
    pub fn fill_deprecated_env(&mut self, lookup: impl Fn(&str) -> Option<String>) -> Vec<String> {
        let mut warnings = Vec::new();
        let renamed = [
            ("FLEETD_ADDR", "FLEETSYNC_ADDR", &mut self.addr),
            ("FLEETD_TOKEN", "FLEETSYNC_TOKEN", &mut self.token),
        ];
        for (old, new, slot) in renamed {
            if slot.is_some() {
                continue;
            }
            if let Some(value) = lookup(old).filter(|v| !v.is_empty()) {
                *slot = Some(value);
                warnings.push(format!(
                    "warning: the environment variable {old} is deprecated and will be removed; set {new} instead"
                ));
            }
        }
        warnings
    }
}

impl Command {
    /// The daemon connection flags of a command that talks to fleetd.
    pub fn daemon_args_mut(&mut self) -> Option<&mut DaemonArgs> {
        match self {
            Command::Status { daemon }
            | Command::Repos { daemon, .. }
            | Command::Drift { daemon, .. }
            | Command::Events { daemon, .. }
            | Command::Runs { daemon, .. }
            | Command::Suspend { daemon, .. }
            | Command::Resume { daemon, .. } => Some(daemon),
            Command::Reconcile(args) => Some(&mut args.daemon),
            Command::Plan(args) => Some(&mut args.daemon),
            Command::Config { .. }
            | Command::Adopt { .. }
            | Command::Secrets { .. }
            | Command::Apply(_)
            | Command::Sim { .. }
            | Command::Completion { .. } => None,
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a config file.
    Config {
        /// What to do with the config.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Show the fleet: DSS nodes, repos by status, runs, suspension, the config running.
    Status {
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// List the managed repos, or show one with its resources and drift.
    Repos {
        /// One repo's details: `owner/name`, or the bare name in the configured owner.
        name: Option<String>,
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// List drift found on GitHub, newest first.
    Drift {
        /// Only this repo's.
        #[arg(long)]
        repo: Option<String>,
        /// At most this many events, newest first.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// List what fleetd did and saw, oldest first.
    ///
    /// Creates, updates, repairs, archives and deletes, failed steps, drift, guard blocks,
    /// sources gone, repo errors, runs, suspend and resume.
    Events {
        /// Only this repo's.
        #[arg(long)]
        repo: Option<String>,
        /// The newest this many.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// List the runs, or show one with its failed repos and steps.
    Runs {
        /// One run's details.
        id: Option<i64>,
        /// At most this many runs, newest first.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// Run a reconcile now, in fleetd or (`--local`) in this process.
    ///
    /// fleetctl asks the running fleetd for a run (joined to one already queued), prints its
    /// progress until it ends and exits 0 when it succeeded, 1 when it failed or was
    /// partial, 3 when `--timeout` passed first (the run goes on in fleetd).
    Reconcile(ReconcileArgs),
    /// Stop fleetd writing to GitHub, for the fleet or one repo, until `resume`.
    ///
    /// Kept in the state file, so it lasts across restarts.
    Suspend {
        /// Only this repo (`owner/name` or the bare name).
        #[arg(long)]
        repo: Option<String>,
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// Let fleetd write again: end the fleet's suspension, or one repo's.
    Resume {
        /// Only this repo's suspension.
        #[arg(long)]
        repo: Option<String>,
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// Show what a reconcile would change, and why, without changing anything.
    Plan(PlanArgs),
    /// Take over repos that exist without this install's ownership marker.
    ///
    /// Shows the plan the next run would apply to them, asks, then writes the marker; the
    /// next run manages them.
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
    /// Manage the repos' secrets.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Apply a plan saved by `fleetctl plan --out PLAN`.
    ///
    /// Exactly its steps, or nothing when GitHub or the config changed since (exit 1,
    /// saying what moved).
    Apply(ApplyArgs),
    /// Print a shell completion script.
    ///
    /// bash: `source <(fleetctl completion bash)`; zsh: `fleetctl completion zsh >
    /// "${fpath[1]}/_fleetctl"`; fish: `fleetctl completion fish >
    /// ~/.config/fish/completions/fleetctl.fish`.
    Completion {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Serve the simulated DSS node and GitHub a config points at, until Ctrl-C.
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
    /// Limit the plan to this project key or plugin id (repeat the flag for more).
    #[arg(long = "project", value_name = "KEY")]
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
    /// Ask the running fleetd (what fleetctl does without `--local`).
    #[arg(long)]
    pub now: bool,
    /// Limit the run to this DSS project key or plugin id (repeat the flag for more).
    #[arg(long = "project", value_name = "KEY")]
    pub projects: Vec<String>,
    /// Limit the run to this managed repo, `owner/name` or the bare name (repeat for more).
    #[arg(long = "repo", value_name = "REPO")]
    pub repos: Vec<String>,
    /// Give up waiting after this long (e.g. `90s`, `5m`); the run goes on in fleetd and
    /// fleetctl exits 3.
    #[arg(long, value_parser = parse_duration, conflicts_with_all = ["no_wait", "local"])]
    pub timeout: Option<HumanDuration>,
    /// Run it in this process instead, with the fleet config of `--config` (no fleetd may
    /// hold its state).
    #[arg(long, conflicts_with = "now")]
    pub local: bool,
    /// Follow the run until it ends (what fleetctl does without `--no-wait`).
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
    /// Make the next run write every secret again (the store forgets what it wrote).
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
    /// Validate a config as fleetd does before running it.
    ///
    /// The file, its templates rendered for a sample project, every rendered workflow
    /// against GitHub's workflow schema, every secret source readable: exit 0 when it is
    /// good, 2 with every error otherwise.
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
