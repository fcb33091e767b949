//! The `fleetctl` command line (clap).

use clap::{Parser, Subcommand, ValueEnum};
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

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with config files.
    Config {
        /// What to do with the config.
        #[command(subcommand)]
        command: ConfigCommand,
    },
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
